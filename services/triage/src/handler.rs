//! Consumes `referral.received`: decide, record, announce, in one transaction.

use crate::SCHEMA;
use crate::case;
use chrono::Utc;
use prost::Message;
use refroute_domain::{Outcome, PriorMaracReferral, RuleSet, decide};
use refroute_platform::crypto::IdentityHasher;
use refroute_platform::messaging::{HandleError, Handler, Incoming, Outbox, inbox};
use refroute_proto::v1::{
    self, ReferralBelowThreshold, ReferralReceived, ReferralRouted, TransferRequested,
};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

const CONSUMER: &str = "triage.referral-received";

pub struct TriageHandler {
    pool: PgPool,
    rules: Arc<RuleSet>,
    hasher: IdentityHasher,
    outbox: Outbox,
}

impl TriageHandler {
    pub fn new(pool: PgPool, rules: Arc<RuleSet>, hasher: IdentityHasher, outbox: Outbox) -> Self {
        Self {
            pool,
            rules,
            hasher,
            outbox,
        }
    }
}

fn permanent(e: anyhow::Error) -> HandleError {
    HandleError::Permanent(e)
}

impl Handler for TriageHandler {
    async fn handle(&self, message: &Incoming) -> Result<(), HandleError> {
        let event = ReferralReceived::decode(message.payload.as_slice())?;
        let referral = event
            .referral
            .ok_or_else(|| permanent(anyhow::anyhow!("referral.received without a referral")))?;
        let referral_id: Uuid = referral.id.parse().map_err(|_| {
            permanent(anyhow::anyhow!(
                "referral id '{}' is not a UUID",
                referral.id
            ))
        })?;
        let case = case::to_case(&referral).map_err(permanent)?;
        let victim = case::domestic_abuse(&referral)
            .map_err(permanent)?
            .victim
            .clone()
            .unwrap_or_default();
        let victim_key = self
            .hasher
            .person_key(&victim.full_name, &victim.date_of_birth);
        let referred_on = referral
            .create_time
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .unwrap_or_else(Utc::now)
            .date_naive();

        let mut tx = self.pool.begin().await?;
        if !inbox::claim(&mut tx, SCHEMA, CONSUMER, message.message_id).await? {
            return Ok(());
        }
        let history: Vec<(chrono::NaiveDate,)> = sqlx::query_as(
            "SELECT referred_on FROM triage.marac_referrals WHERE victim_key = $1 AND referral_id <> $2",
        )
        .bind(&victim_key)
        .bind(referral_id)
        .fetch_all(&mut *tx)
        .await?;
        let history: Vec<PriorMaracReferral> = history
            .into_iter()
            .map(|(referred_on,)| PriorMaracReferral { referred_on })
            .collect();

        let decision = decide(&case, &history, &self.rules);
        let now = Utc::now();
        let wire = case::to_wire(&decision, now);
        let inserted = sqlx::query(
            "INSERT INTO triage.decisions (referral_id, pathway, outcome, destination_area, criterion, criteria_met, reason, rule_set, rule_set_version, rules_area, dash_yes_count, decided_at) \
             VALUES ($1, 'DOMESTIC_ABUSE', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (referral_id) DO NOTHING",
        )
        .bind(referral_id)
        .bind(case::outcome(decision.outcome).as_str_name())
        .bind(decision.destination.as_str())
        .bind(decision.criterion.map(|c| case::criterion(c).as_str_name()))
        .bind(decision.criteria_met.iter().map(|c| case::criterion(*c).as_str_name()).collect::<Vec<_>>())
        .bind(&decision.reason)
        .bind(&decision.rule_set)
        .bind(decision.rule_set_version as i32)
        .bind(decision.rules_area.as_str())
        .bind(decision.dash_yes_count as i32)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // The same referral announced twice under different message ids: decided already.
            tracing::warn!("referral already triaged; ignoring the repeat announcement");
            tx.commit().await?;
            return Ok(());
        }
        if decision.outcome != Outcome::BelowThreshold {
            sqlx::query("INSERT INTO triage.marac_referrals (referral_id, victim_key, referred_on) VALUES ($1, $2, $3)")
                .bind(referral_id)
                .bind(&victim_key)
                .bind(referred_on)
                .execute(&mut *tx)
                .await?;
        }

        let trace = &message.trace;
        match decision.outcome {
            Outcome::Routed => {
                let event = ReferralRouted {
                    referral: Some(referral.clone()),
                    decision: Some(wire),
                };
                self.outbox
                    .enqueue(&mut tx, &event, &referral.id, trace)
                    .await?;
            }
            Outcome::BelowThreshold => {
                let event = ReferralBelowThreshold {
                    referral_id: referral.id.clone(),
                    decision: Some(wire),
                };
                self.outbox
                    .enqueue(&mut tx, &event, &referral.id, trace)
                    .await?;
            }
            Outcome::TransferRequested => {
                let event = TransferRequested {
                    transfer_id: Uuid::now_v7().to_string(),
                    referral_id: referral.id.clone(),
                    from_area_code: case.received_area.to_string(),
                    to_area_code: case.residence.to_string(),
                    decision: Some(wire),
                    referral: Some(minimise(referral.clone())),
                };
                self.outbox
                    .enqueue(&mut tx, &event, &referral.id, trace)
                    .await?;
            }
        }
        tx.commit().await?;
        self.outbox.notify_committed();
        refroute_platform::metrics::increment(
            "refroute_decisions_total",
            &[
                ("pathway", "DOMESTIC_ABUSE"),
                ("outcome", case::outcome(decision.outcome).as_str_name()),
                (
                    "criterion",
                    decision
                        .criterion
                        .map(|c| case::criterion(c).as_str_name())
                        .unwrap_or("NONE"),
                ),
            ],
        );
        tracing::info!(
            outcome = ?decision.outcome,
            criterion = ?decision.criterion,
            destination = %decision.destination,
            rule_set = %decision.rule_set,
            rule_set_version = decision.rule_set_version,
            "referral triaged"
        );
        Ok(())
    }
}

/// What a receiving MARAC needs of the case and nothing more: the sender's own reference and
/// processing state stay behind. `do_not_inform` travels, so the receiver never tells them either.
fn minimise(mut referral: v1::Referral) -> v1::Referral {
    referral.referrer_reference.clear();
    referral.status = v1::ReferralStatus::Unspecified as i32;
    referral.decision = None;
    referral.update_time = None;
    referral
}
