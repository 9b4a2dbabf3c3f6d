//! `TransferService`: this deployment's own people. The sending coordinator follows its
//! transfers; the receiving coordinator accepts or declines one received here; a transfer to a
//! destination with no deployment is closed by recording its acknowledgement. Transfers name no
//! person, so listing one discloses nothing the audit log must record.

use crate::changed::{self, Announcer};
use crate::courier::{action, code_hash};
use crate::error::{self, TransferError};
use crate::state::{Answer, Direction, State, panel_of};
use crate::store::{self, Row};
use refroute_domain::AreaCode;
use refroute_platform::access::{Caller, Role};
use refroute_platform::audit::{self, Entry};
use refroute_platform::messaging::TraceContext;
use refroute_proto::v1::transfer_service_server::TransferService;
use refroute_proto::v1::{
    self, AcknowledgeTransferRequest, DecideTransferRequest, GetTransferRequest,
    ListTransfersRequest, ListTransfersResponse, TransferDirection,
};
use sqlx::PgPool;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// At most this many transfers in one listing.
const LIST_LIMIT: i64 = 500;

pub struct TransferApi {
    pub pool: PgPool,
    pub announcer: Arc<Announcer>,
}

/// The queue a transfer belongs to on this side: the sender's (from) or the receiver's (to).
fn queue_of(row: &Row, side: Direction) -> Option<(AreaCode, v1::Panel)> {
    let area = match side {
        Direction::Outbound => &row.from_area_code,
        Direction::Inbound => &row.to_area_code,
    };
    Some((AreaCode::parse(area).ok()?, panel_of(changed::kind_of(row))))
}

/// Whether the caller may see the transfer: operators all; coordinators of its queue here.
fn visible(caller: &Caller, row: &Row) -> bool {
    caller.organisation().has(Role::Operator)
        || queue_of(row, row.direction())
            .is_some_and(|(area, panel)| caller.coordinates(&area, panel))
}

impl TransferApi {
    async fn load(&self, id: Uuid) -> Result<(Row, Vec<store::Step>), TransferError> {
        let mut conn = self.pool.acquire().await?;
        let row = store::get(&mut conn, id)
            .await?
            .ok_or(TransferError::NotFound(id))?;
        let steps = store::steps(&mut conn, id).await?;
        Ok((row, steps))
    }

    /// The transfer, if the caller may see it (else the refusal, naming its queue).
    async fn seen(&self, caller: &Caller, id: Uuid) -> Result<(Row, Vec<store::Step>), Status> {
        let (row, steps) = self.load(id).await?;
        if !visible(caller, &row) {
            let (area, panel) = queue_of(&row, row.direction()).ok_or_else(|| {
                TransferError::store(anyhow::anyhow!("transfer {id} names no valid area"))
            })?;
            caller.require_case(&area, panel, &id.to_string())?;
        }
        Ok((row, steps))
    }

    async fn current(&self, id: Uuid) -> Result<v1::Transfer, Status> {
        let (row, steps) = self.load(id).await?;
        Ok(changed::to_wire(&row, &steps))
    }

    async fn decide(
        &self,
        caller: &Caller,
        req: DecideTransferRequest,
    ) -> Result<v1::Transfer, Status> {
        let id = error::transfer_id("transfer_id", &req.transfer_id)?;
        let answer = Answer::from_wire(req.answer).ok_or_else(|| {
            TransferError::invalid(
                "answer",
                "must be TRANSFER_ANSWER_ACCEPTED or TRANSFER_ANSWER_DECLINED",
            )
        })?;
        let reason = error::reason("reason", &req.reason, answer == Answer::Declined)?;
        let (row, _) = self.load(id).await?;
        // The receiving queue's coordinator, whichever way it goes; then only one received here.
        let (area, panel) = queue_of(&row, Direction::Inbound).ok_or_else(|| {
            TransferError::store(anyhow::anyhow!("transfer {id} names no valid area"))
        })?;
        caller.require_case(&area, panel, &id.to_string())?;
        if row.direction() != Direction::Inbound {
            return Err(TransferError::WrongState(format!(
                "transfer {id} was sent from here: the receiving deployment accepts or declines it"
            ))
            .into());
        }
        let by = format!("{} coordinator {}", panel_name(panel), caller.name());
        let mut tx = self.pool.begin().await.map_err(TransferError::from)?;
        if store::decided(&mut tx, id, answer, &reason, &by)
            .await
            .map_err(TransferError::from)?
        {
            let detail = match answer {
                Answer::Accepted => format!("accepted by {by}"),
                Answer::Declined => format!("declined by {by}: {reason}"),
            };
            self.announcer
                .step(&mut tx, id, answer.state(), &detail, &TraceContext::start())
                .await
                .map_err(TransferError::store)?;
            let entry = Entry::new(
                crate::SCHEMA,
                caller.id(),
                action::DECIDED,
                audit::REFERRAL,
                &id.to_string(),
            )
            .fields(vec![format!("answer:{}", answer.state().as_str())]);
            audit::append(&mut tx, &entry)
                .await
                .map_err(TransferError::from)?;
            tx.commit().await.map_err(TransferError::from)?;
            self.announcer.outbox.notify_committed();
        } else if Answer::of_state(row.state()) != Some(answer) {
            return Err(TransferError::WrongState(format!(
                "transfer {id} is {} already",
                row.state().as_str()
            ))
            .into());
        }
        self.current(id).await
    }

    async fn acknowledge(
        &self,
        caller: &Caller,
        req: AcknowledgeTransferRequest,
    ) -> Result<v1::Transfer, Status> {
        let id = error::transfer_id("transfer_id", &req.transfer_id)?;
        let mut missing = Vec::new();
        if req.acknowledgement_code.trim().is_empty() {
            missing.push(refroute_platform::grpc::Violation::new(
                "acknowledgement_code",
                "is required: the code the destination's message carried",
            ));
        }
        if req.acknowledged_by.trim().is_empty() {
            missing.push(refroute_platform::grpc::Violation::new(
                "acknowledged_by",
                "is required: who at the destination acknowledged it",
            ));
        }
        if !missing.is_empty() {
            return Err(TransferError::Invalid(missing).into());
        }
        let by = error::reason("acknowledged_by", &req.acknowledged_by, true)?;
        let (row, _) = self.seen(caller, id).await?;
        let mut tx = self.pool.begin().await.map_err(TransferError::from)?;
        if store::acknowledged(&mut tx, id, &code_hash(&req.acknowledgement_code), &by)
            .await
            .map_err(TransferError::from)?
        {
            let detail = format!("acknowledged by {by}, recorded by {}", caller.name());
            self.announcer
                .step(
                    &mut tx,
                    id,
                    State::Acknowledged,
                    &detail,
                    &TraceContext::start(),
                )
                .await
                .map_err(TransferError::store)?;
            let entry = Entry::new(
                crate::SCHEMA,
                caller.id(),
                action::ACKNOWLEDGED,
                audit::REFERRAL,
                &row.referral_id.to_string(),
            );
            audit::append(&mut tx, &entry)
                .await
                .map_err(TransferError::from)?;
            tx.commit().await.map_err(TransferError::from)?;
            self.announcer.outbox.notify_committed();
            return self.current(id).await;
        }
        Err(match (row.direction(), row.state(), row.route.as_deref()) {
            (Direction::Inbound, ..) => TransferError::WrongState(format!("transfer {id} was received here: it is answered, not acknowledged")),
            (_, State::Acknowledged, _) => TransferError::WrongState(format!("transfer {id} is acknowledged already")),
            (_, State::Offered, Some("contact")) => TransferError::invalid("acknowledgement_code", "does not match the code sent with this transfer"),
            (_, state, _) => TransferError::WrongState(format!(
                "transfer {id} is {} and {}: only a transfer sent to a destination's contact is acknowledged",
                state.as_str(),
                row.route.as_deref().map(|r| format!("travels by {r}")).unwrap_or_else(|| "not yet sent".into())
            )),
        }
        .into())
    }
}

fn panel_name(panel: v1::Panel) -> &'static str {
    match panel {
        v1::Panel::Channel => "Channel panel",
        _ => "MARAC",
    }
}

#[tonic::async_trait]
impl TransferService for TransferApi {
    async fn list_transfers(
        &self,
        request: Request<ListTransfersRequest>,
    ) -> Result<Response<ListTransfersResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let area = match req.area_code.trim() {
            "" => None,
            a => Some(
                AreaCode::parse(a)
                    .map_err(|e| TransferError::invalid("area_code", e.to_string()))?
                    .to_string(),
            ),
        };
        let direction = match TransferDirection::try_from(req.direction) {
            Ok(TransferDirection::Unspecified) => None,
            Ok(TransferDirection::Outbound) => Some(Direction::Outbound),
            Ok(TransferDirection::Inbound) => Some(Direction::Inbound),
            Err(_) => {
                return Err(
                    TransferError::invalid("direction", "is not a TransferDirection").into(),
                );
            }
        };
        let rows = store::list(&self.pool, area.as_deref(), direction, LIST_LIMIT)
            .await
            .map_err(TransferError::from)?;
        let transfers = rows
            .iter()
            .filter(|r| visible(&caller, r))
            .map(|r| changed::to_wire(r, &[]))
            .collect();
        Ok(Response::new(ListTransfersResponse { transfers }))
    }

    async fn get_transfer(
        &self,
        request: Request<GetTransferRequest>,
    ) -> Result<Response<v1::Transfer>, Status> {
        let caller = Caller::of(&request)?;
        let id = error::transfer_id("transfer_id", &request.get_ref().transfer_id)?;
        let (row, steps) = self.seen(&caller, id).await?;
        Ok(Response::new(changed::to_wire(&row, &steps)))
    }

    async fn decide_transfer(
        &self,
        request: Request<DecideTransferRequest>,
    ) -> Result<Response<v1::Transfer>, Status> {
        let caller = Caller::of(&request)?;
        self.decide(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn acknowledge_transfer(
        &self,
        request: Request<AcknowledgeTransferRequest>,
    ) -> Result<Response<v1::Transfer>, Status> {
        let caller = Caller::of(&request)?;
        self.acknowledge(&caller, request.into_inner())
            .await
            .map(Response::new)
    }
}
