//! Follows triage's outcome events so `GetReferral` answers with the current status and reason.

use crate::SCHEMA;
use crate::store::Store;
use prost::Message;
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming, inbox};
use refroute_proto::v1::{
    Decision, ReferralBelowThreshold, ReferralRouted, ReferralStatus, TransferRequested,
};
use uuid::Uuid;

const CONSUMER: &str = "intake.referral-outcomes";

pub struct OutcomeHandler {
    store: Store,
}

impl OutcomeHandler {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn decode(message: &Incoming) -> Result<(String, ReferralStatus, Decision), HandleError> {
    let body = message.payload.as_slice();
    let (id, status, decision) = match message.message_type.as_str() {
        ReferralRouted::TYPE => {
            let e = ReferralRouted::decode(body)?;
            (e.referral.map(|r| r.id), ReferralStatus::Routed, e.decision)
        }
        ReferralBelowThreshold::TYPE => {
            let e = ReferralBelowThreshold::decode(body)?;
            (
                Some(e.referral_id),
                ReferralStatus::BelowThreshold,
                e.decision,
            )
        }
        TransferRequested::TYPE => {
            let e = TransferRequested::decode(body)?;
            (
                Some(e.referral_id),
                ReferralStatus::TransferRequested,
                e.decision,
            )
        }
        other => {
            return Err(HandleError::Permanent(anyhow::anyhow!(
                "unexpected message type '{other}'"
            )));
        }
    };
    match (id, decision) {
        (Some(id), Some(decision)) => Ok((id, status, decision)),
        _ => Err(HandleError::Permanent(anyhow::anyhow!(
            "outcome event without referral id or decision"
        ))),
    }
}

impl Handler for OutcomeHandler {
    async fn handle(&self, message: &Incoming) -> Result<(), HandleError> {
        let (id, status, decision) = decode(message)?;
        let referral_id: Uuid = id.parse().map_err(|_| {
            HandleError::Permanent(anyhow::anyhow!("referral id '{id}' is not a UUID"))
        })?;
        let mut tx = self.store.pool.begin().await?;
        if !inbox::claim(&mut tx, SCHEMA, CONSUMER, message.message_id).await? {
            return Ok(());
        }
        if !self
            .store
            .set_outcome(&mut tx, referral_id, status, &decision)
            .await?
        {
            return Err(HandleError::Permanent(anyhow::anyhow!(
                "outcome for unknown referral {referral_id}"
            )));
        }
        tx.commit().await?;
        tracing::info!(status = status.as_str_name(), "referral outcome recorded");
        Ok(())
    }
}
