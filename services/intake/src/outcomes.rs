//! Follows triage's outcome events so `GetReferral` answers with the current status and reason.

use crate::SCHEMA;
use crate::store::Store;
use prost::Message;
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming, inbox};
use refroute_proto::v1::{
    Decision, ReferralBelowThreshold, ReferralDeclined, ReferralNeedsReview, ReferralRouted,
    ReferralStatus, TransferRequested,
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
        ReferralDeclined::TYPE => {
            let e = ReferralDeclined::decode(body)?;
            (Some(e.referral_id), ReferralStatus::Declined, e.decision)
        }
        ReferralNeedsReview::TYPE => {
            let e = ReferralNeedsReview::decode(body)?;
            (
                e.referral.map(|r| r.id),
                ReferralStatus::NeedsReview,
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

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_platform::messaging::TraceContext;
    use refroute_proto::v1::{Outcome, Referral};

    fn incoming<E: Event>(event: &E) -> Incoming {
        Incoming {
            message_id: Uuid::now_v7(),
            message_type: E::TYPE.to_string(),
            routing_key: E::ROUTING_KEY.to_string(),
            correlation_id: String::new(),
            trace: TraceContext::start(),
            payload: event.encode_to_vec(),
        }
    }

    fn decision(outcome: Outcome) -> Option<Decision> {
        Some(Decision {
            outcome: outcome as i32,
            ..Default::default()
        })
    }

    #[test]
    fn declined_and_needs_review_set_their_status() {
        let id = Uuid::now_v7().to_string();
        let declined = ReferralDeclined {
            referral_id: id.clone(),
            decision: decision(Outcome::Declined),
        };
        let (got, status, d) = decode(&incoming(&declined)).unwrap();
        assert_eq!(
            (got.as_str(), status),
            (id.as_str(), ReferralStatus::Declined)
        );
        assert_eq!(d.outcome(), Outcome::Declined);

        let review = ReferralNeedsReview {
            referral: Some(Referral {
                id: id.clone(),
                ..Default::default()
            }),
            decision: decision(Outcome::NeedsReview),
        };
        let (got, status, d) = decode(&incoming(&review)).unwrap();
        assert_eq!(
            (got.as_str(), status),
            (id.as_str(), ReferralStatus::NeedsReview)
        );
        assert_eq!(d.outcome(), Outcome::NeedsReview);
    }

    #[test]
    fn an_outcome_without_its_referral_or_decision_is_permanent() {
        let review = ReferralNeedsReview {
            referral: None,
            decision: decision(Outcome::NeedsReview),
        };
        assert!(matches!(
            decode(&incoming(&review)),
            Err(HandleError::Permanent(_))
        ));
        let declined = ReferralDeclined {
            referral_id: Uuid::now_v7().to_string(),
            decision: None,
        };
        assert!(matches!(
            decode(&incoming(&declined)),
            Err(HandleError::Permanent(_))
        ));
    }
}
