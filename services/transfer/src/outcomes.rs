//! Consumes the receiving triage's outcomes that answer a received transfer without a
//! coordinator: below this area's own threshold, or not accepted by its panel's rules. The
//! transfer is declined with the decision's reason, and the answer goes back to the sender.

use crate::changed::Announcer;
use crate::courier::action;
use crate::state::{Answer, State};
use crate::store;
use refroute_platform::audit::{self, Entry};
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming};
use refroute_proto::v1::{Decision, ReferralBelowThreshold, ReferralDeclined};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct OutcomeHandler {
    pub announcer: Announcer,
}

/// The transfer an outcome answers, and the decision that answers it; None for a referral made
/// here.
fn answered(message: &Incoming) -> Result<Option<(String, Decision)>, HandleError> {
    let (transfer_id, decision) = match message.message_type.as_str() {
        ReferralBelowThreshold::TYPE => {
            let e: ReferralBelowThreshold = message.decode()?;
            (e.transfer_id, e.decision)
        }
        ReferralDeclined::TYPE => {
            let e: ReferralDeclined = message.decode()?;
            (e.transfer_id, e.decision)
        }
        other => {
            return Err(HandleError::permanent(format!(
                "unexpected message type '{}'",
                other.escape_debug()
            )));
        }
    };
    if transfer_id.is_empty() {
        return Ok(None);
    }
    let decision = decision
        .ok_or_else(|| HandleError::permanent("outcome of a transfer without a decision"))?;
    Ok(Some((transfer_id, decision)))
}

impl Handler for OutcomeHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let Some((transfer_id, decision)) = answered(message)? else {
            return Ok(());
        };
        let id: Uuid = transfer_id
            .parse()
            .map_err(|_| HandleError::permanent("transfer_id is not a UUID"))?;
        let by = format!(
            "the rules of {} ({} v{})",
            decision.rules_area_code, decision.rule_set, decision.rule_set_version
        );
        if !store::decided(tx, id, Answer::Declined, &decision.reason, &by).await? {
            // Answered already (a coordinator, or this same outcome delivered twice).
            return Ok(());
        }
        let detail = format!("declined by {by}: {}", decision.reason);
        self.announcer
            .step(tx, id, State::Declined, &detail, &message.trace)
            .await
            .map_err(crate::classified)?;
        let entry = Entry::new(
            crate::SCHEMA,
            crate::SCHEMA,
            action::DECIDED,
            audit::REFERRAL,
            &transfer_id,
        )
        .fields(vec![format!("answer:{}", State::Declined.as_str())]);
        audit::append(tx, &entry).await?;
        Ok(())
    }
}
