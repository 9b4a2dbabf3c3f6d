//! A transfer as the wire shows it, and the one place a state change is announced: every
//! change appends a step and enqueues `transfer.state_changed` in the transaction that made it.

use crate::state::{Direction, panel_of};
use crate::store::{self, Row, Step};
use prost::Message;
use refroute_platform::crypto::Sealer;
use refroute_platform::messaging::{Outbox, TraceContext};
use refroute_proto::v1::{self, TransferKind, TransferRequested, TransferStateChanged};
use sqlx::PgConnection;
use uuid::Uuid;

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> pbjson_types::Timestamp {
    pbjson_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn kind_of(row: &Row) -> TransferKind {
    TransferKind::from_str_name(&row.kind).unwrap_or(TransferKind::MaracToMarac)
}

/// The transfer, with its history. It names no person.
pub fn to_wire(row: &Row, steps: &[Step]) -> v1::Transfer {
    let kind = kind_of(row);
    v1::Transfer {
        transfer_id: row.id.to_string(),
        kind: kind as i32,
        direction: row.direction().to_wire() as i32,
        state: row.state().to_wire() as i32,
        from_area_code: row.from_area_code.clone(),
        to_area_code: row.to_area_code.clone(),
        to_police_force_code: row.to_police_force_code.clone().unwrap_or_default(),
        panel: panel_of(kind) as i32,
        referral_id: row.referral_id.to_string(),
        route: row.route.clone().unwrap_or_default(),
        receipt_id: row.receipt_id.map(|r| r.to_string()).unwrap_or_default(),
        reason: row.reason.clone().unwrap_or_default(),
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
        deliver_by: row.deliver_by.map(timestamp),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        last_error: row.last_error.clone().unwrap_or_default(),
        history: steps
            .iter()
            .map(|s| v1::TransferStep {
                state: crate::state::State::parse(&s.state)
                    .map(|s| s.to_wire() as i32)
                    .unwrap_or(0),
                time: Some(timestamp(s.at)),
                detail: s.detail.clone(),
            })
            .collect(),
    }
}

/// The sender's record of what triage asked for: the minimised case, its decision and referrer.
pub fn requested(row: &Row, sealer: &Sealer) -> anyhow::Result<TransferRequested> {
    let plain = sealer.open(&row.id.to_string(), &row.sealed_case)?;
    Ok(TransferRequested::decode(plain.as_slice())?)
}

/// What the receiver was offered.
pub fn offered(row: &Row, sealer: &Sealer) -> anyhow::Result<v1::OfferTransferRequest> {
    let plain = sealer.open(&row.id.to_string(), &row.sealed_case)?;
    Ok(v1::OfferTransferRequest::decode(plain.as_slice())?)
}

/// Whoever moved the transfer and how.
pub struct Announcer {
    pub outbox: Outbox,
    pub sealer: Sealer,
}

impl Announcer {
    /// Appends the step to `id` (now in `state`) and announces the transfer as it now stands.
    pub async fn step(
        &self,
        tx: &mut PgConnection,
        id: Uuid,
        state: crate::state::State,
        detail: &str,
        trace: &TraceContext,
    ) -> anyhow::Result<Row> {
        store::add_step(tx, id, state, detail).await?;
        let row = store::get(tx, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("transfer {id} vanished in its own transaction"))?;
        let steps = store::steps(tx, id).await?;
        let mut event = TransferStateChanged {
            transfer: Some(to_wire(&row, &steps)),
            ..Default::default()
        };
        if row.direction() == Direction::Outbound {
            let asked = requested(&row, &self.sealer)?;
            event.referral = asked.referral;
            event.decision = asked.decision;
            event.referrer_id = asked.referrer_id;
            event.referrer_reference = asked.referrer_reference;
        }
        self.outbox
            .enqueue(tx, &event, &row.referral_id.to_string(), trace)
            .await?;
        tracing::info!(
            transfer_id = %id,
            direction = row.direction().as_str(),
            state = state.as_str(),
            detail,
            "transfer step"
        );
        Ok(row)
    }
}
