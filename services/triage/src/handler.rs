//! Consumes `referral.received`: resolve, decide, record, announce, in one transaction.

use crate::case::{self, Prepared};
use crate::rulebook::RuleBook;
use chrono::{NaiveDate, Utc};
use prost::Message;
use refroute_domain::{
    Decision, Directory, Outcome, PriorMaracReferral, community, marac, prevent,
};
use refroute_geography::PostcodeTable;
use refroute_platform::crypto::IdentityHasher;
use refroute_platform::messaging::{HandleError, Handler, Incoming, Outbox};
use refroute_proto::v1::{
    self, ReferralBelowThreshold, ReferralDeclined, ReferralNeedsReview, ReferralReceived,
    ReferralRouted, ResidenceNoticeRequested, TransferRequested,
};
use sqlx::PgConnection;
use std::sync::Arc;
use uuid::Uuid;

pub struct TriageHandler {
    pub rules: RuleBook,
    pub directory: Arc<Directory>,
    pub postcodes: Arc<PostcodeTable>,
    pub hasher: IdentityHasher,
    pub outbox: Outbox,
}

fn permanent(e: anyhow::Error) -> HandleError {
    HandleError::Permanent(e)
}

impl Handler for TriageHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: ReferralReceived = message.decode()?;
        let referral = event
            .referral
            .ok_or_else(|| permanent(anyhow::anyhow!("referral.received without a referral")))?;
        let referral_id: Uuid = referral.id.parse().map_err(|_| {
            permanent(anyhow::anyhow!(
                "referral id '{}' is not a UUID",
                referral.id
            ))
        })?;
        let referred_on = referral
            .create_time
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .unwrap_or_else(Utc::now)
            .date_naive();
        let prepared = case::prepare(
            &referral,
            &case::Inputs {
                postcodes: &self.postcodes,
                directory: &self.directory,
                hasher: &self.hasher,
                referred_on,
            },
        )
        .map_err(permanent)?;
        // One rule set for the whole decision, even if a reload lands meanwhile.
        let loaded = self.rules.current();

        let (decision, victim_key) = match &prepared {
            Prepared::DomesticAbuse { case, victim_key } => {
                let history = marac_history(tx, victim_key, referral_id).await?;
                let mut case = case.clone();
                case.earlier_incident_dates =
                    earlier_incidents(tx, victim_key, referral_id).await?;
                let d = marac::decide(&case, &history, &loaded.rules, &self.directory);
                record_incidents(tx, victim_key, referral_id, &case.police_incident_dates).await?;
                (d, Some(victim_key))
            }
            Prepared::CommunityMarac(c) => {
                (community::decide(c, &loaded.rules, &self.directory), None)
            }
            Prepared::Prevent(c) => (prevent::decide(c, &loaded.rules, &self.directory), None),
        };
        let now = Utc::now();
        let wire = case::to_wire(&decision, now);
        if !record(tx, referral_id, &decision, &wire, &loaded.sha256).await? {
            // The same referral announced twice under different message ids: decided already.
            tracing::warn!("referral already triaged; ignoring the repeat announcement");
            return Ok(());
        }
        let went_to_marac = matches!(
            decision.outcome,
            Outcome::Routed | Outcome::TransferRequested
        );
        if let (Some(key), true) = (victim_key, went_to_marac) {
            sqlx::query("INSERT INTO triage.marac_referrals (referral_id, victim_key, referred_on) VALUES ($1, $2, $3)")
                .bind(referral_id)
                .bind(key)
                .bind(referred_on)
                .execute(&mut *tx)
                .await?;
        }
        self.announce(tx, &referral, &decision, wire, &message.trace)
            .await?;

        let pathway = case::pathway(decision.pathway).as_str_name();
        let outcome = case::outcome(decision.outcome).as_str_name();
        let criterion = decision
            .criterion
            .map(|c| case::criterion(c).as_str_name())
            .unwrap_or("NONE");
        refroute_platform::metrics::increment(
            "refroute_decisions_total",
            &[
                ("pathway", pathway),
                ("outcome", outcome),
                ("criterion", criterion),
            ],
        );
        tracing::info!(
            pathway,
            outcome,
            criterion,
            destination = %decision.destination,
            rule_set = %decision.rule_set,
            rule_set_version = decision.rule_set_version,
            "referral triaged"
        );
        Ok(())
    }
}

async fn marac_history(
    conn: &mut PgConnection,
    victim_key: &[u8],
    referral_id: Uuid,
) -> Result<Vec<PriorMaracReferral>, sqlx::Error> {
    let rows: Vec<(NaiveDate, Option<NaiveDate>)> = sqlx::query_as(
        "SELECT referred_on, heard_on FROM triage.marac_referrals WHERE victim_key = $1 AND referral_id <> $2",
    )
    .bind(victim_key)
    .bind(referral_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(referred_on, heard_on)| PriorMaracReferral {
            referred_on,
            heard_on,
        })
        .collect())
}

/// Police-reported incident dates the same victim's other referrals gave.
async fn earlier_incidents(
    conn: &mut PgConnection,
    victim_key: &[u8],
    referral_id: Uuid,
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    let rows: Vec<(NaiveDate,)> = sqlx::query_as(
        "SELECT DISTINCT incident_date FROM triage.police_incidents WHERE victim_key = $1 AND referral_id <> $2",
    )
    .bind(victim_key)
    .bind(referral_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(d,)| d).collect())
}

/// Remembers this referral's incident dates for the victim's later referrals. Idempotent: the
/// referral is part of the key, so a repeated announcement adds nothing.
async fn record_incidents(
    conn: &mut PgConnection,
    victim_key: &[u8],
    referral_id: Uuid,
    dates: &[NaiveDate],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO triage.police_incidents (victim_key, incident_date, referral_id) \
         SELECT $1, d, $2 FROM UNNEST($3::date[]) AS d ON CONFLICT DO NOTHING",
    )
    .bind(victim_key)
    .bind(referral_id)
    .bind(dates)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores the decision; false when the referral was decided already. A decision to wait for
/// review is the one that may be replaced (the referrer has since supplied the residence): it
/// moves to `triage.superseded_decisions` first. Every other decision is final.
async fn record(
    conn: &mut PgConnection,
    referral_id: Uuid,
    d: &Decision,
    wire: &v1::Decision,
    rule_set_sha256: &str,
) -> Result<bool, sqlx::Error> {
    const REVIEW: &str = "OUTCOME_NEEDS_REVIEW";
    sqlx::query(
        "INSERT INTO triage.superseded_decisions SELECT d.*, now() FROM triage.decisions d \
         WHERE d.referral_id = $1 AND d.outcome = $2",
    )
    .bind(referral_id)
    .bind(REVIEW)
    .execute(&mut *conn)
    .await?;
    let name = |c| case::criterion(c).as_str_name();
    let stored = sqlx::query(
        "INSERT INTO triage.decisions (referral_id, pathway, outcome, destination_area, criterion, criteria_met, reason, rule_set, rule_set_version, rules_area, dash_yes_count, decided_at, panel, rule_set_sha256, decision) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), $12, $13, $14) \
         ON CONFLICT (referral_id) DO UPDATE SET pathway = EXCLUDED.pathway, outcome = EXCLUDED.outcome, \
           destination_area = EXCLUDED.destination_area, criterion = EXCLUDED.criterion, criteria_met = EXCLUDED.criteria_met, \
           reason = EXCLUDED.reason, rule_set = EXCLUDED.rule_set, rule_set_version = EXCLUDED.rule_set_version, \
           rules_area = EXCLUDED.rules_area, dash_yes_count = EXCLUDED.dash_yes_count, decided_at = EXCLUDED.decided_at, \
           panel = EXCLUDED.panel, rule_set_sha256 = EXCLUDED.rule_set_sha256, decision = EXCLUDED.decision \
         WHERE triage.decisions.outcome = $15",
    )
    .bind(referral_id)
    .bind(case::pathway(d.pathway).as_str_name())
    .bind(case::outcome(d.outcome).as_str_name())
    .bind(d.destination.as_str())
    .bind(d.criterion.map(name))
    .bind(d.criteria_met.iter().map(|c| name(*c)).collect::<Vec<_>>())
    .bind(&d.reason)
    .bind(&d.rule_set)
    .bind(d.rule_set_version as i32)
    .bind(d.rules_area.as_str())
    .bind(d.dash_yes_count as i32)
    .bind(case::panel(d.panel).as_str_name())
    .bind(rule_set_sha256)
    .bind(wire.encode_to_vec())
    .bind(REVIEW)
    .execute(conn)
    .await?;
    Ok(stored.rows_affected() == 1)
}

impl TriageHandler {
    /// The outcome event, and for a Community MARAC case whose person lives elsewhere, one
    /// notice per area of residence: all in the decision's transaction.
    async fn announce(
        &self,
        tx: &mut PgConnection,
        referral: &v1::Referral,
        d: &Decision,
        wire: v1::Decision,
        trace: &refroute_platform::messaging::TraceContext,
    ) -> Result<(), sqlx::Error> {
        let id = &referral.id;
        match d.outcome {
            Outcome::Routed => {
                for area in &d.notify_areas {
                    let notice = ResidenceNoticeRequested {
                        notice_id: Uuid::now_v7().to_string(),
                        referral_id: id.clone(),
                        panel_area_code: d.destination.to_string(),
                        residence_area_code: area.to_string(),
                        decision: Some(wire.clone()),
                        referral: Some(minimise(referral.clone())),
                    };
                    self.outbox.enqueue(tx, &notice, id, trace).await?;
                }
                let event = ReferralRouted {
                    referral: Some(referral.clone()),
                    decision: Some(wire),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::BelowThreshold => {
                let event = ReferralBelowThreshold {
                    referral_id: id.clone(),
                    decision: Some(wire),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::Declined => {
                let event = ReferralDeclined {
                    referral_id: id.clone(),
                    decision: Some(wire),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::NeedsReview => {
                let event = ReferralNeedsReview {
                    referral: Some(referral.clone()),
                    decision: Some(wire),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::TransferRequested => {
                let event = TransferRequested {
                    transfer_id: Uuid::now_v7().to_string(),
                    referral_id: id.clone(),
                    from_area_code: d.rules_area.to_string(),
                    to_area_code: d.destination.to_string(),
                    kind: wire.transfer_kind,
                    to_police_force_code: wire.destination_police_force_code.clone(),
                    decision: Some(wire),
                    referral: Some(minimise(referral.clone())),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
        }
    }
}

/// What a receiving panel, police force or statutory service needs of the case and nothing
/// more: the sender's own reference and processing state stay behind. `do_not_inform` travels,
/// so the receiver never tells them either.
fn minimise(mut referral: v1::Referral) -> v1::Referral {
    referral.referrer_reference.clear();
    referral.status = v1::ReferralStatus::Unspecified as i32;
    referral.decision = None;
    referral.update_time = None;
    referral
}
