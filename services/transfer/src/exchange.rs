//! `ExchangeService`: the edge other deployments call. An offer is checked here, once, with the
//! same parse intake uses, so what is stored can be triaged; a peer may offer only from the
//! areas it serves, and read and answer only the transfers addressed to those areas.

use crate::changed::{self, Announcer};
use crate::courier::action;
use crate::error::{self, TransferError};
use crate::state::{Answer, Direction, State};
use crate::store::{self, Row};
use chrono::DateTime;
use prost::Message;
use refroute_domain::{AreaCode, Directory};
use refroute_platform::access::Caller;
use refroute_platform::audit::{self, Entry};
use refroute_platform::messaging::TraceContext;
use refroute_proto::v1::exchange_service_server::ExchangeService;
use refroute_proto::v1::{
    self, AnswerReceipt, AnswerTransferRequest, GetTransferStatusRequest, OfferTransferRequest,
    TransferKind, TransferReceipt, TransferReceived, referral::Details,
};
use sqlx::PgPool;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub struct ExchangeApi {
    pub pool: PgPool,
    pub announcer: Arc<Announcer>,
    pub directory: Arc<Directory>,
    /// The area this deployment receives transfers for.
    pub area: AreaCode,
}

fn timestamp(t: DateTime<chrono::Utc>) -> pbjson_types::Timestamp {
    pbjson_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// The checks an offer must pass whoever sends it: its kind, its case and that case's parse.
fn check_offer(
    offer: &OfferTransferRequest,
    directory: &Directory,
) -> Result<(TransferKind, &'static str), TransferError> {
    let kind = match TransferKind::try_from(offer.kind) {
        Ok(k @ (TransferKind::MaracToMarac | TransferKind::PreventHandover)) => k,
        _ => {
            return Err(TransferError::invalid(
                "kind",
                "must be TRANSFER_KIND_MARAC_TO_MARAC or TRANSFER_KIND_PREVENT_HANDOVER",
            ));
        }
    };
    let referral = offer
        .referral
        .as_ref()
        .ok_or_else(|| TransferError::invalid("referral", "is required"))?;
    let (panel, fits) = match (kind, &referral.details) {
        (TransferKind::PreventHandover, Some(Details::Prevent(_))) => ("PREVENT", true),
        (TransferKind::MaracToMarac, Some(Details::DomesticAbuse(_))) => ("MARAC", true),
        (TransferKind::PreventHandover, _) => ("PREVENT", false),
        _ => ("MARAC", false),
    };
    if !fits {
        return Err(TransferError::invalid(
            "referral",
            match kind {
                TransferKind::PreventHandover => "a Prevent handover carries prevent details",
                _ => "a MARAC-to-MARAC transfer carries domestic_abuse details",
            },
        ));
    }
    if referral.id != offer.transfer_id {
        return Err(TransferError::invalid(
            "referral.id",
            "must be the transfer id (the case the receiver makes is known by it)",
        ));
    }
    let today = referral
        .create_time
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.date_naive())
        .ok_or_else(|| {
            TransferError::invalid(
                "referral.create_time",
                "is required: dates are judged on it",
            )
        })?;
    let cx = refroute_wire::referral::Context { directory, today };
    // Its violations name fields from `referral.` down, as the offer's do.
    refroute_wire::referral::parse(referral, &cx).map_err(TransferError::Invalid)?;
    Ok((kind, panel))
}

impl ExchangeApi {
    fn receipt(row: &Row) -> TransferReceipt {
        TransferReceipt {
            transfer_id: row.id.to_string(),
            receipt_id: row.receipt_id.map(|r| r.to_string()).unwrap_or_default(),
            receive_time: Some(timestamp(row.created_at)),
        }
    }

    /// A repeated offer: the same receipt, if it is the same offer from the same peer.
    fn repeated(
        &self,
        row: &Row,
        caller: &Caller,
        offer: &OfferTransferRequest,
    ) -> Result<TransferReceipt, TransferError> {
        let same = row.direction() == Direction::Inbound
            && row.peer_id.as_deref() == Some(caller.id())
            && changed::offered(row, &self.announcer.sealer)
                .map_err(TransferError::store)?
                .encode_to_vec()
                == offer.encode_to_vec();
        if !same {
            return Err(TransferError::Conflict(row.id));
        }
        Ok(Self::receipt(row))
    }

    async fn offer(
        &self,
        caller: &Caller,
        offer: OfferTransferRequest,
    ) -> Result<TransferReceipt, Status> {
        let id = error::transfer_id("transfer_id", &offer.transfer_id)?;
        let from = AreaCode::parse(&offer.from_area_code)
            .map_err(|e| TransferError::invalid("from_area_code", e.to_string()))?;
        caller.require_serves(&from, &offer.transfer_id)?;
        if AreaCode::parse(&offer.to_area_code).ok().as_ref() != Some(&self.area) {
            return Err(caller.refuse_destination(&offer.to_area_code, &offer.transfer_id));
        }
        let (kind, panel) = check_offer(&offer, &self.directory)?;
        let mut tx = self.pool.begin().await.map_err(TransferError::from)?;
        if let Some(row) = store::get(&mut tx, id).await.map_err(TransferError::from)? {
            return Ok(self.repeated(&row, caller, &offer)?);
        }
        let force = Some(offer.to_police_force_code.trim()).filter(|f| !f.is_empty());
        let stored = store::Offered {
            id,
            from_area_code: from.as_str(),
            to_area_code: self.area.as_str(),
            panel,
            kind: kind.as_str_name(),
            to_police_force_code: force,
            peer_id: caller.id(),
            receipt_id: Uuid::now_v7(),
            sealed_case: self
                .announcer
                .sealer
                .seal(&offer.transfer_id, &offer.encode_to_vec()),
        };
        if !store::insert_offered(&mut tx, &stored)
            .await
            .map_err(TransferError::from)?
        {
            // Another call with the same id committed first.
            drop(tx);
            let mut conn = self.pool.acquire().await.map_err(TransferError::from)?;
            let row = store::get(&mut conn, id)
                .await
                .map_err(TransferError::from)?
                .ok_or(TransferError::NotFound(id))?;
            return Ok(self.repeated(&row, caller, &offer)?);
        }
        let trace = TraceContext::start();
        let detail = format!(
            "offered by {} ({}) from {}",
            caller.name(),
            caller.id(),
            self.directory.name(&from)
        );
        let row = self
            .announcer
            .step(&mut tx, id, State::Received, &detail, &trace)
            .await
            .map_err(TransferError::store)?;
        let received = TransferReceived {
            transfer_id: offer.transfer_id.clone(),
            kind: kind as i32,
            from_area_code: from.to_string(),
            to_area_code: self.area.to_string(),
            to_police_force_code: offer.to_police_force_code.clone(),
            sender_decision: offer.decision.clone(),
            referral: offer.referral.clone(),
            from_peer_id: caller.id().to_string(),
        };
        self.announcer
            .outbox
            .enqueue(&mut tx, &received, &offer.transfer_id, &trace)
            .await
            .map_err(TransferError::from)?;
        let case = offer.referral.as_ref();
        let entry = Entry::new(
            crate::SCHEMA,
            caller.id(),
            action::RECEIVED,
            audit::REFERRAL,
            &offer.transfer_id,
        )
        .fields(case.map(audit::fields_of).unwrap_or_default())
        .lawful_basis(audit::lawful_basis(case.and_then(|c| c.details.as_ref())));
        audit::append(&mut tx, &entry)
            .await
            .map_err(TransferError::from)?;
        tx.commit().await.map_err(TransferError::from)?;
        self.announcer.outbox.notify_committed();
        Ok(Self::receipt(&row))
    }

    /// An outbound transfer the caller may see: one addressed to an area it serves.
    async fn addressed(&self, caller: &Caller, id: Uuid) -> Result<Row, Status> {
        let mut conn = self.pool.acquire().await.map_err(TransferError::from)?;
        let row = store::get(&mut conn, id)
            .await
            .map_err(TransferError::from)?
            .filter(|r| r.direction() == Direction::Outbound)
            .ok_or(TransferError::NotFound(id))?;
        let to = AreaCode::parse(&row.to_area_code).map_err(TransferError::store)?;
        caller.require_addressee(&to, &id.to_string())?;
        Ok(row)
    }

    async fn answer(
        &self,
        caller: &Caller,
        req: AnswerTransferRequest,
    ) -> Result<AnswerReceipt, Status> {
        let id = error::transfer_id("transfer_id", &req.transfer_id)?;
        let answer = Answer::from_wire(req.answer).ok_or_else(|| {
            TransferError::invalid(
                "answer",
                "must be TRANSFER_ANSWER_ACCEPTED or TRANSFER_ANSWER_DECLINED",
            )
        })?;
        let reason = error::reason("reason", &req.reason, answer == Answer::Declined)?;
        let by = error::reason("answered_by", &req.answered_by, false)?;
        let row = self.addressed(caller, id).await?;
        let mut tx = self.pool.begin().await.map_err(TransferError::from)?;
        if store::answered(&mut tx, id, answer, &reason)
            .await
            .map_err(TransferError::from)?
        {
            let who = if by.is_empty() {
                caller.name().to_string()
            } else {
                format!("{} ({by})", caller.name())
            };
            let detail = match answer {
                Answer::Accepted => format!("accepted by {who}"),
                Answer::Declined => format!("declined by {who}: {reason}"),
            };
            self.announcer
                .step(&mut tx, id, answer.state(), &detail, &TraceContext::start())
                .await
                .map_err(TransferError::store)?;
            tx.commit().await.map_err(TransferError::from)?;
            self.announcer.outbox.notify_committed();
        } else if Answer::of_state(row.state()) != Some(answer) {
            return Err(TransferError::WrongState(format!(
                "transfer {id} is {}: it cannot now be {}",
                row.state().as_str(),
                answer.state().as_str()
            ))
            .into());
        }
        Ok(AnswerReceipt {
            transfer_id: id.to_string(),
            record_time: Some(timestamp(chrono::Utc::now())),
        })
    }
}

#[tonic::async_trait]
impl ExchangeService for ExchangeApi {
    async fn offer_transfer(
        &self,
        request: Request<OfferTransferRequest>,
    ) -> Result<Response<TransferReceipt>, Status> {
        let caller = Caller::of(&request)?;
        self.offer(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn answer_transfer(
        &self,
        request: Request<AnswerTransferRequest>,
    ) -> Result<Response<AnswerReceipt>, Status> {
        let caller = Caller::of(&request)?;
        self.answer(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_transfer_status(
        &self,
        request: Request<GetTransferStatusRequest>,
    ) -> Result<Response<v1::Transfer>, Status> {
        let caller = Caller::of(&request)?;
        let id = error::transfer_id("transfer_id", &request.get_ref().transfer_id)?;
        let row = self.addressed(&caller, id).await?;
        let mut conn = self.pool.acquire().await.map_err(TransferError::from)?;
        let steps = store::steps(&mut conn, id)
            .await
            .map_err(TransferError::from)?;
        Ok(Response::new(changed::to_wire(&row, &steps)))
    }
}
