//! `refroute.v1.IntakeService`.

use crate::store::{Store, StoreError};
use crate::validate;
use chrono::Utc;
use prost::Message;
use refroute_domain::{AreaCode, Directory};
use refroute_platform::crypto::IdentityHasher;
use refroute_platform::grpc::{Violation, invalid_argument, status_with_reason, unavailable};
use refroute_platform::messaging::{Outbox, TraceContext};
use refroute_platform::wire::timestamp;
use refroute_proto::v1::intake_service_server::IntakeService;
use refroute_proto::v1::{
    CreateReferralRequest, GetReferralRequest, Person, Referral, ReferralReceived, ReferralStatus,
    Residence, SupplyResidenceRequest, referral,
};
use std::sync::Arc;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

pub struct IntakeApi {
    store: Store,
    hasher: IdentityHasher,
    outbox: Outbox,
    receiving_area: AreaCode,
    /// The areas referrals may name (shipped directory plus the deployment's file).
    directory: Arc<Directory>,
}

impl IntakeApi {
    pub fn new(
        store: Store,
        hasher: IdentityHasher,
        outbox: Outbox,
        receiving_area: AreaCode,
        directory: Arc<Directory>,
    ) -> Self {
        Self {
            store,
            hasher,
            outbox,
            receiving_area,
            directory,
        }
    }

    /// Keyed hash of what the client sent, so a retry can be told from a different request
    /// that reuses the same request_id.
    fn request_hash(&self, client_referral: &Referral) -> Vec<u8> {
        self.hasher
            .digest(&[b"create-referral", &client_referral.encode_to_vec()])
    }

    async fn replay(&self, request_id: &str, hash: &[u8]) -> Result<Referral, Status> {
        let stored = self
            .store
            .by_request_id(request_id)
            .await
            .map_err(store_status)?
            .ok_or_else(|| unavailable("referral vanished during a retry", "request_id race"))?;
        if stored.request_hash == hash {
            tracing::info!(referral_id = %stored.referral.id, "retried CreateReferral answered with the original referral");
            Ok(stored.referral)
        } else {
            Err(status_with_reason(
                Code::AlreadyExists,
                "REQUEST_ID_REUSED",
                format!(
                    "request_id '{request_id}' was already used for a different referral ({}); use a new request_id for a new referral",
                    stored.referral.id
                ),
            ))
        }
    }
}

/// The person whose residence decides where a referral goes: the victim of domestic abuse, the
/// subject of a Community MARAC or Prevent referral.
fn resident(referral: &mut Referral) -> Option<&mut Person> {
    match referral.details.as_mut()? {
        referral::Details::DomesticAbuse(d) => d.victim.as_mut(),
        referral::Details::CommunityMarac(c) => c.subject.as_mut(),
        referral::Details::Prevent(p) => p.subject.as_mut(),
    }
}

impl IntakeApi {
    /// Puts the supplied residence on a referral waiting for review and announces it to triage
    /// again, in one transaction; a retry of the same change answers with the referral.
    async fn supply(
        &self,
        id: Uuid,
        residence: Residence,
        trace: &TraceContext,
    ) -> Result<Referral, Status> {
        let db_down = |e: sqlx::Error| unavailable("referral store unavailable", e);
        let mut tx = self.store.pool.begin().await.map_err(db_down)?;
        let Some(stored) = self.store.lock(&mut tx, id).await.map_err(store_status)? else {
            return Err(status_with_reason(
                Code::NotFound,
                "REFERRAL_NOT_FOUND",
                format!("no referral {id}"),
            ));
        };
        let mut referral = stored.referral;
        let status = referral.status();
        let person = resident(&mut referral)
            .ok_or_else(|| Status::internal("stored referral has no person to place"))?;
        if status != ReferralStatus::NeedsReview {
            if person.residence.as_ref() == Some(&residence) {
                return Ok(referral);
            }
            return Err(status_with_reason(
                Code::FailedPrecondition,
                "NOT_IN_REVIEW",
                format!(
                    "referral {id} is {}, not waiting for review: only a referral in REFERRAL_STATUS_NEEDS_REVIEW takes a residence",
                    status.as_str_name()
                ),
            ));
        }
        person.residence = Some(residence);
        referral.status = ReferralStatus::Received as i32;
        referral.decision = None;
        referral.update_time = Some(timestamp(Utc::now()));
        self.store
            .amend_for_triage(&mut tx, &referral)
            .await
            .map_err(db_down)?;
        self.commit_for_triage(tx, &referral, trace).await?;
        tracing::info!("residence supplied; referral sent to triage again");
        Ok(referral)
    }

    /// Adds `referral.received` to the transaction that stored the referral, and commits both:
    /// triage hears of every stored referral, and of nothing that was not stored.
    async fn commit_for_triage(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        referral: &Referral,
        trace: &TraceContext,
    ) -> Result<(), Status> {
        let db_down = |e: sqlx::Error| unavailable("referral store unavailable", e);
        let event = ReferralReceived {
            referral: Some(referral.clone()),
        };
        self.outbox
            .enqueue(&mut tx, &event, &referral.id, trace)
            .await
            .map_err(db_down)?;
        tx.commit().await.map_err(db_down)?;
        self.outbox.notify_committed();
        Ok(())
    }

    /// Stores a new referral and its `referral.received` event in one transaction, or answers
    /// a retry with the original.
    async fn store_new(
        &self,
        referral: Referral,
        request_id: &str,
        hash: &[u8],
        trace: &TraceContext,
    ) -> Result<Referral, Status> {
        let db_down = |e: sqlx::Error| unavailable("referral store unavailable", e);
        let mut tx = self.store.pool.begin().await.map_err(db_down)?;
        let inserted = self
            .store
            .insert(&mut tx, &referral, request_id, hash)
            .await
            .map_err(db_down)?;
        if !inserted {
            drop(tx);
            return self.replay(request_id, hash).await;
        }
        self.commit_for_triage(tx, &referral, trace).await?;
        tracing::info!(
            area = %referral.received_area_code,
            pathway = referral.pathway().as_str_name(),
            "referral received"
        );
        Ok(referral)
    }
}

fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::Database(e) => unavailable("referral store unavailable", e),
        StoreError::Sealed(id) => {
            tracing::error!(referral_id = %id, "sealed referral cannot be opened");
            Status::internal("stored referral cannot be read; operators have been alerted")
        }
    }
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn create_referral(
        &self,
        request: Request<CreateReferralRequest>,
    ) -> Result<Response<Referral>, Status> {
        let request = request.into_inner();
        let today = Utc::now().date_naive();
        validate::validate(&request, today, &self.directory).map_err(|v| invalid_argument(&v))?;

        let client_referral = request.referral.expect("validated");
        let hash = self.request_hash(&client_referral);
        let now = Utc::now();
        let mut referral = client_referral;
        referral.id = Uuid::now_v7().to_string();
        referral.pathway =
            validate::pathway_of(referral.details.as_ref().expect("validated")) as i32;
        referral.received_area_code = self.receiving_area.to_string();
        referral.status = ReferralStatus::Received as i32;
        referral.decision = None;
        referral.create_time = Some(timestamp(now));
        referral.update_time = Some(timestamp(now));

        let trace = TraceContext::start();
        let span = tracing::info_span!("create_referral", referral_id = %referral.id, trace_id = %trace.trace_id);
        self.store_new(referral, &request.request_id, &hash, &trace)
            .instrument(span)
            .await
            .map(Response::new)
    }

    async fn supply_residence(
        &self,
        request: Request<SupplyResidenceRequest>,
    ) -> Result<Response<Referral>, Status> {
        let request = request.into_inner();
        let id = validate::validate_supplied_residence(
            &request,
            Utc::now().date_naive(),
            &self.directory,
        )
        .map_err(|v| invalid_argument(&v))?;
        let residence = request.residence.expect("validated");
        let trace = TraceContext::start();
        let span =
            tracing::info_span!("supply_residence", referral_id = %id, trace_id = %trace.trace_id);
        self.supply(id, residence, &trace)
            .instrument(span)
            .await
            .map(Response::new)
    }

    async fn get_referral(
        &self,
        request: Request<GetReferralRequest>,
    ) -> Result<Response<Referral>, Status> {
        let id = request.into_inner().id;
        let Ok(uuid) = id.trim().parse::<Uuid>() else {
            return Err(invalid_argument(&[Violation::new(
                "id",
                format!("'{id}' is not a referral id (a UUID)"),
            )]));
        };
        match self.store.by_id(uuid).await.map_err(store_status)? {
            Some(stored) => Ok(Response::new(stored.referral)),
            None => Err(status_with_reason(
                Code::NotFound,
                "REFERRAL_NOT_FOUND",
                format!("no referral {id}"),
            )),
        }
    }
}
