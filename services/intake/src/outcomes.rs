//! Follows triage's outcome events so `GetReferral` answers with the current status and reason.

use crate::store::{SetOutcome, Store};
use chrono::{DateTime, Utc};
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming};
use refroute_proto::v1::{
    Decision, ReferralBelowThreshold, ReferralDeclined, ReferralNeedsReview, ReferralRouted,
    ReferralStatus, TransferRequested,
};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct OutcomeHandler {
    store: Store,
}

impl OutcomeHandler {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// What an outcome event says of a referral: its id, the status it takes and the decision;
/// `None` for a case transferred here from another deployment (its `transfer_id` is set), which
/// intake never held: its referrer is the sending deployment's, told there.
fn decode(message: &Incoming) -> Result<Option<(String, ReferralStatus, Decision)>, HandleError> {
    let (id, status, decision, transfer_id) = match message.message_type.as_str() {
        ReferralRouted::TYPE => {
            let e: ReferralRouted = message.decode()?;
            (
                e.referral.map(|r| r.id),
                ReferralStatus::Routed,
                e.decision,
                e.transfer_id,
            )
        }
        ReferralBelowThreshold::TYPE => {
            let e: ReferralBelowThreshold = message.decode()?;
            (
                Some(e.referral_id),
                ReferralStatus::BelowThreshold,
                e.decision,
                e.transfer_id,
            )
        }
        ReferralDeclined::TYPE => {
            let e: ReferralDeclined = message.decode()?;
            (
                Some(e.referral_id),
                ReferralStatus::Declined,
                e.decision,
                e.transfer_id,
            )
        }
        ReferralNeedsReview::TYPE => {
            let e: ReferralNeedsReview = message.decode()?;
            (
                e.referral.map(|r| r.id),
                ReferralStatus::NeedsReview,
                e.decision,
                e.transfer_id,
            )
        }
        TransferRequested::TYPE => {
            // Its transfer_id is the transfer out of a referral intake holds: never skipped.
            let e: TransferRequested = message.decode()?;
            (
                Some(e.referral_id),
                ReferralStatus::TransferRequested,
                e.decision,
                String::new(),
            )
        }
        other => {
            return Err(HandleError::permanent(format!(
                "unexpected message type '{}'",
                other.escape_debug()
            )));
        }
    };
    if !transfer_id.is_empty() {
        tracing::debug!(
            transfer_id = %transfer_id.escape_debug(),
            status = status.as_str_name(),
            "outcome of a case transferred in from another deployment; intake holds no referral for it"
        );
        return Ok(None);
    }
    match (id, decision) {
        (Some(id), Some(decision)) => Ok(Some((id, status, decision))),
        _ => Err(HandleError::permanent(
            "outcome event without referral id or decision",
        )),
    }
}

/// When the decision was made: the order outcomes are applied in.
pub fn decided_at(decision: &Decision) -> Result<DateTime<Utc>, HandleError> {
    decision
        .decide_time
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .ok_or_else(|| {
            HandleError::permanent(
                "outcome whose decision has no valid decide_time: it cannot be ordered",
            )
        })
}

impl Handler for OutcomeHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let Some((id, status, decision)) = decode(message)? else {
            return Ok(());
        };
        let referral_id: Uuid = id.parse().map_err(|_| {
            HandleError::permanent(format!("referral id '{}' is not a UUID", id.escape_debug()))
        })?;
        let decided_at = decided_at(&decision)?;
        match self
            .store
            .set_outcome(tx, referral_id, status, &decision, decided_at)
            .await?
        {
            SetOutcome::Applied => {
                tracing::info!(status = status.as_str_name(), "referral outcome recorded")
            }
            SetOutcome::Stale { latest } => tracing::warn!(
                status = status.as_str_name(),
                %decided_at,
                latest = ?latest,
                "an outcome older than the one the referral shows arrived late or was replayed; ignored"
            ),
            SetOutcome::UnknownReferral => {
                return Err(HandleError::permanent(format!(
                    "outcome for unknown referral {referral_id}"
                )));
            }
        }
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
            referral: None,
            transfer_id: String::new(),
        };
        let (got, status, d) = decode(&incoming(&declined)).unwrap().unwrap();
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
            transfer_id: String::new(),
        };
        let (got, status, d) = decode(&incoming(&review)).unwrap().unwrap();
        assert_eq!(
            (got.as_str(), status),
            (id.as_str(), ReferralStatus::NeedsReview)
        );
        assert_eq!(d.outcome(), Outcome::NeedsReview);
    }

    #[test]
    fn outcomes_of_cases_transferred_in_are_skipped_not_dead_lettered() {
        let transfer_id = Uuid::now_v7().to_string();
        let referral = || {
            Some(Referral {
                id: transfer_id.clone(),
                ..Default::default()
            })
        };
        let routed = ReferralRouted {
            referral: referral(),
            decision: decision(Outcome::Routed),
            transfer_id: transfer_id.clone(),
        };
        assert!(decode(&incoming(&routed)).unwrap().is_none());
        let below = ReferralBelowThreshold {
            referral_id: transfer_id.clone(),
            decision: decision(Outcome::BelowThreshold),
            referral: None,
            transfer_id: transfer_id.clone(),
        };
        assert!(decode(&incoming(&below)).unwrap().is_none());
        let declined = ReferralDeclined {
            referral_id: transfer_id.clone(),
            decision: None,
            referral: None,
            transfer_id: transfer_id.clone(),
        };
        assert!(decode(&incoming(&declined)).unwrap().is_none());
        let review = ReferralNeedsReview {
            referral: referral(),
            decision: decision(Outcome::NeedsReview),
            transfer_id: transfer_id.clone(),
        };
        assert!(decode(&incoming(&review)).unwrap().is_none());
        // A transfer out of a referral intake holds names its transfer too: that one applies.
        let out = TransferRequested {
            transfer_id: transfer_id.clone(),
            referral_id: Uuid::now_v7().to_string(),
            decision: decision(Outcome::TransferRequested),
            ..Default::default()
        };
        let (_, status, _) = decode(&incoming(&out)).unwrap().unwrap();
        assert_eq!(status, ReferralStatus::TransferRequested);
    }

    #[test]
    fn outcomes_are_ordered_by_their_decide_time() {
        let mut d = decision(Outcome::Routed).unwrap();
        assert!(matches!(decided_at(&d), Err(HandleError::Permanent(_))));
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        d.decide_time = Some(refroute_platform::wire::timestamp(at));
        assert_eq!(decided_at(&d).unwrap(), at);
        d.decide_time.as_mut().unwrap().nanos = -1;
        assert!(decided_at(&d).is_err());
    }

    #[test]
    fn an_outcome_without_its_referral_or_decision_is_permanent() {
        let review = ReferralNeedsReview {
            referral: None,
            decision: decision(Outcome::NeedsReview),
            transfer_id: String::new(),
        };
        assert!(matches!(
            decode(&incoming(&review)),
            Err(HandleError::Permanent(_))
        ));
        let declined = ReferralDeclined {
            referral_id: Uuid::now_v7().to_string(),
            decision: None,
            referral: None,
            transfer_id: String::new(),
        };
        assert!(matches!(
            decode(&incoming(&declined)),
            Err(HandleError::Permanent(_))
        ));
    }
}
