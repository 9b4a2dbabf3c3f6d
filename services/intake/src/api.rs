//! `refroute.v1.IntakeService`.

use crate::error::IntakeError;
use crate::store::Store;
use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;
use refroute_domain::{AreaCode, Directory};
use refroute_platform::access::Caller;
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::crypto::IdentityHasher;
use refroute_platform::grpc::Violation;
use refroute_platform::messaging::{Outbox, TraceContext};
use refroute_proto::v1::intake_service_server::IntakeService;
use refroute_proto::v1::{
    CreateReferralRequest, GetReferralRequest, Person, Referral, ReferralReceived, ReferralStatus,
    SupplyResidenceRequest, referral,
};
use refroute_wire::decision::timestamp;
use refroute_wire::referral::Context;
use refroute_wire::request::{self, SuppliedResidence};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

/// How much of an id a refusal quotes: enough to recognise, never a 64 KiB echo.
const QUOTED_ID: usize = 40;

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

    fn context(&self, today: NaiveDate) -> Context<'_> {
        Context {
            directory: &self.directory,
            today,
        }
    }

    /// Keyed hash of what the client sent, so a retry can be told from a different request
    /// that reuses the same request_id.
    fn request_hash(&self, client_referral: &Referral) -> Vec<u8> {
        self.hasher
            .digest(&[b"create-referral", &client_referral.encode_to_vec()])
    }

    /// Creates a referral from `caller`: it is the referring organisation, whatever the body
    /// says, and its request ids are its own.
    async fn create(
        &self,
        caller: &Caller,
        mut request: CreateReferralRequest,
    ) -> Result<Referral, Status> {
        if let Some(referral) = request.referral.as_mut() {
            referral.referring_organisation =
                caller.referring_organisation(&referral.referring_organisation)?;
        }
        let now = Utc::now();
        let new = request::create(
            &request,
            &self.receiving_area,
            &self.context(now.date_naive()),
        )
        .map_err(IntakeError::Invalid)?;
        let hash = self.request_hash(request.referral.as_ref().unwrap_or(&new.wire));
        let mut referral = new.wire;
        referral.id = Uuid::now_v7().to_string();
        // Whom to tell of the outcome: the certificate's organisation, never what the body says.
        referral.referrer_id = caller.id().to_string();
        referral.status = ReferralStatus::Received as i32;
        referral.decision = None;
        referral.create_time = Some(timestamp(now));
        referral.update_time = Some(timestamp(now));

        let trace = TraceContext::start();
        let span = tracing::info_span!("create_referral", referral_id = %referral.id, trace_id = %trace.trace_id);
        Ok(self
            .store_new(referral, caller.id(), &new.request_id, &hash, &trace)
            .instrument(span)
            .await?)
    }

    async fn replay(
        &self,
        referrer_id: &str,
        request_id: &str,
        hash: &[u8],
    ) -> Result<Referral, IntakeError> {
        let stored = self
            .store
            .by_request_id(referrer_id, request_id)
            .await?
            // The row that took the request_id is committed before the conflict is reported.
            .ok_or(IntakeError::RequestIdReused)?;
        if stored.request_hash == hash {
            tracing::info!(referral_id = %stored.referral.id, "retried CreateReferral answered with the original referral");
            // The referrer is its caller: the retry is answered to whoever made the referral.
            self.disclose(referrer_id, stored.referral).await
        } else {
            Err(IntakeError::RequestIdReused)
        }
    }

    /// Stores a new referral and its `referral.received` event in one transaction, or answers
    /// a retry with the original.
    async fn store_new(
        &self,
        referral: Referral,
        referrer_id: &str,
        request_id: &str,
        hash: &[u8],
        trace: &TraceContext,
    ) -> Result<Referral, IntakeError> {
        let mut tx = self.store.pool.begin().await?;
        if !self
            .store
            .insert(&mut tx, &referral, referrer_id, request_id, hash)
            .await?
        {
            drop(tx);
            return self.replay(referrer_id, request_id, hash).await;
        }
        // The referrer is the caller (the access layer's organisation).
        let created = Entry::of_referral(
            crate::SCHEMA,
            referrer_id,
            action::REFERRAL_CREATED,
            &referral,
        );
        self.commit_for_triage(tx, &referral, trace, &[created])
            .await?;
        tracing::info!(
            area = %referral.received_area_code,
            pathway = referral.pathway().as_str_name(),
            "referral received"
        );
        Ok(referral)
    }

    /// Puts the supplied residence on a referral waiting for it (in review, or a Community MARAC
    /// case whose invitation waits) and announces it to triage again, in one transaction; a
    /// retry of the same change answers with the referral.
    async fn supply(
        &self,
        caller: &Caller,
        supplied: SuppliedResidence,
        trace: &TraceContext,
    ) -> Result<Referral, Status> {
        let id = supplied.referral_id;
        let mut tx = self.store.pool.begin().await.map_err(IntakeError::from)?;
        let stored = self
            .store
            .lock(&mut tx, id)
            .await
            .map_err(IntakeError::from)?
            .ok_or(IntakeError::NotFound(id))?;
        caller.require_referrer_of(&stored.referrer_id, &id.to_string())?;
        Ok(self
            .amend(audit::actor(caller), tx, stored, supplied, trace)
            .await?)
    }

    /// Puts the residence on the locked referral and sends it to triage again.
    async fn amend(
        &self,
        actor: &str,
        tx: sqlx::Transaction<'_, sqlx::Postgres>,
        stored: crate::store::Stored,
        supplied: SuppliedResidence,
        trace: &TraceContext,
    ) -> Result<Referral, IntakeError> {
        let id = supplied.referral_id;
        let mut referral = stored.referral;
        let status = referral.status();
        let waiting = status == ReferralStatus::NeedsReview
            || referral
                .decision
                .as_ref()
                .is_some_and(refroute_wire::decision::awaits_residence);
        let person = resident(&mut referral).ok_or(IntakeError::Unparseable(id))?;
        if !waiting {
            if person.residence.as_ref() == Some(&supplied.wire) {
                drop(tx);
                return self.disclose(actor, referral).await;
            }
            return Err(IntakeError::NotInReview {
                id,
                status: status.as_str_name(),
            });
        }
        person.residence = Some(supplied.wire);
        // What triage will parse: the amended referral, judged on the day it was made.
        let made_on = referral
            .create_time
            .as_ref()
            .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
            .map(|t| t.date_naive())
            .ok_or(IntakeError::Unparseable(id))?;
        refroute_wire::referral::parse(&referral, &self.context(made_on))
            .map_err(|_| IntakeError::Unparseable(id))?;
        referral.status = ReferralStatus::Received as i32;
        referral.decision = None;
        referral.update_time = Some(timestamp(Utc::now()));
        let mut tx = tx;
        self.store.amend_for_triage(&mut tx, &referral).await?;
        let supplied = Entry::new(
            crate::SCHEMA,
            actor,
            action::RESIDENCE_SUPPLIED,
            audit::REFERRAL,
            &referral.id,
        )
        .fields(vec![residence_path(&referral).into()])
        .lawful_basis(audit::lawful_basis(referral.details.as_ref()));
        // The answer carries the whole referral back: that is a disclosure too.
        let disclosed =
            Entry::of_referral(crate::SCHEMA, actor, action::REFERRAL_DISCLOSED, &referral);
        self.commit_for_triage(tx, &referral, trace, &[supplied, disclosed])
            .await?;
        tracing::info!("residence supplied; referral sent to triage again");
        Ok(referral)
    }

    /// Adds `referral.received` and the audit entries of the change to the transaction that
    /// stored the referral, and commits them all: triage hears of every stored referral, and of
    /// nothing that was not stored, and the audit log records exactly what was.
    async fn commit_for_triage(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        referral: &Referral,
        trace: &TraceContext,
        entries: &[Entry],
    ) -> Result<(), IntakeError> {
        let event = ReferralReceived {
            referral: Some(referral.clone()),
        };
        self.outbox
            .enqueue(&mut tx, &event, &referral.id, trace)
            .await?;
        // Last before the commit: the audit head stays locked until then.
        audit::append_all(&mut tx, entries).await?;
        tx.commit().await?;
        self.outbox.notify_committed();
        Ok(())
    }

    /// Records that `actor` is shown `referral`, before it is shown: no record, no answer.
    async fn disclose(&self, actor: &str, referral: Referral) -> Result<Referral, IntakeError> {
        let entry = Entry::of_referral(crate::SCHEMA, actor, action::REFERRAL_DISCLOSED, &referral);
        audit::disclose(&self.store.pool, &[entry]).await?;
        Ok(referral)
    }

    /// A referral, to the organisation that made it.
    async fn get(&self, caller: &Caller, id: &str) -> Result<Referral, Status> {
        let uuid = id.trim().parse::<Uuid>().map_err(|_| {
            let quoted: String = id.chars().take(QUOTED_ID).collect();
            IntakeError::Invalid(vec![Violation::new(
                "id",
                format!("'{quoted}' is not a referral id (a UUID)"),
            )])
        })?;
        let stored = self
            .store
            .by_id(uuid)
            .await
            .map_err(IntakeError::from)?
            .ok_or(IntakeError::NotFound(uuid))?;
        caller.require_referrer_of(&stored.referrer_id, &stored.referral.id)?;
        Ok(self.disclose(audit::actor(caller), stored.referral).await?)
    }
}

/// Where the residence of [`resident`] is, as an audit field path.
fn residence_path(referral: &Referral) -> &'static str {
    match referral.details {
        Some(referral::Details::DomesticAbuse(_)) => "domestic_abuse.victim.residence",
        Some(referral::Details::CommunityMarac(_)) => "community_marac.subject.residence",
        Some(referral::Details::Prevent(_)) | None => "prevent.subject.residence",
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

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn create_referral(
        &self,
        request: Request<CreateReferralRequest>,
    ) -> Result<Response<Referral>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            self.create(&caller, request.into_inner()).await?,
        ))
    }

    async fn supply_residence(
        &self,
        request: Request<SupplyResidenceRequest>,
    ) -> Result<Response<Referral>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let supplied = request::supply(&request, &self.context(Utc::now().date_naive()))
            .map_err(IntakeError::Invalid)?;
        let trace = TraceContext::start();
        let span = tracing::info_span!("supply_residence", referral_id = %supplied.referral_id, trace_id = %trace.trace_id);
        Ok(Response::new(
            self.supply(&caller, supplied, &trace)
                .instrument(span)
                .await?,
        ))
    }

    async fn get_referral(
        &self,
        request: Request<GetReferralRequest>,
    ) -> Result<Response<Referral>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            self.get(&caller, &request.into_inner().id).await?,
        ))
    }
}
