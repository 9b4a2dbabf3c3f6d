//! Every SQL statement triage runs while deciding a referral.

use chrono::NaiveDate;
use prost::Message;
use refroute_domain::{Decision, PriorMaracReferral};
use refroute_proto::v1;
use refroute_wire::decision;
use sqlx::PgConnection;
use uuid::Uuid;

/// Holds the victim's lock until the transaction ends, so that two triage replicas deciding
/// referrals of the same victim at once take turns: each reads the other's incidents and MARAC
/// referrals, and no repeat or escalation falls between them.
pub async fn lock_victim(conn: &mut PgConnection, victim_key: &[u8]) -> Result<(), sqlx::Error> {
    let mut first = [0u8; 8];
    first.copy_from_slice(&victim_key[..8]);
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(i64::from_be_bytes(first))
        .execute(conn)
        .await?;
    Ok(())
}

/// Remembers a referral that went to a MARAC, for the victim's later referrals.
pub async fn record_marac_referral(
    conn: &mut PgConnection,
    referral_id: Uuid,
    victim_key: &[u8],
    referred_on: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO triage.marac_referrals (referral_id, victim_key, referred_on) VALUES ($1, $2, $3)",
    )
    .bind(referral_id)
    .bind(victim_key)
    .bind(referred_on)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn marac_history(
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
pub async fn earlier_incidents(
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
pub async fn record_incidents(
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

/// Whether a decision already stored for the case may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// One that waits for the residence (a referral received here: its referrer may supply it).
    WaitingForResidence,
    /// None (a case received by transfer: nobody here supplies anything for it, and a person
    /// resolves its review through the transfer), so a repeated offer changes nothing.
    Never,
}

/// Stores the decision; false when the referral was decided already. Under
/// [`Replace::WaitingForResidence`], a decision that waits for the residence may be replaced (the
/// referrer has since supplied it): one to wait for review, or a Community MARAC routing whose
/// invitation waits (`RESIDENCE_UNRESOLVED` among the criteria met either way). It moves to
/// `triage.superseded_decisions` first. Every other decision is final.
pub async fn record_decision(
    conn: &mut PgConnection,
    referral_id: Uuid,
    d: &Decision,
    wire: &v1::Decision,
    rule_set_sha256: &str,
    replace: Replace,
) -> Result<bool, sqlx::Error> {
    const REVIEW: &str = "OUTCOME_NEEDS_REVIEW";
    const UNRESOLVED: &str = "CRITERION_RESIDENCE_UNRESOLVED";
    let replaceable = replace == Replace::WaitingForResidence;
    sqlx::query(
        "INSERT INTO triage.superseded_decisions SELECT d.*, now() FROM triage.decisions d \
         WHERE d.referral_id = $1 AND $4 AND (d.outcome = $2 OR $3 = ANY(d.criteria_met))",
    )
    .bind(referral_id)
    .bind(REVIEW)
    .bind(UNRESOLVED)
    .bind(replaceable)
    .execute(&mut *conn)
    .await?;
    let name = |c| decision::criterion(c).as_str_name();
    let stored = sqlx::query(
        "INSERT INTO triage.decisions (referral_id, pathway, outcome, destination_area, criterion, criteria_met, reason, rule_set, rule_set_version, rules_area, dash_yes_count, decided_at, panel, rule_set_sha256, decision) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), $12, $13, $14) \
         ON CONFLICT (referral_id) DO UPDATE SET pathway = EXCLUDED.pathway, outcome = EXCLUDED.outcome, \
           destination_area = EXCLUDED.destination_area, criterion = EXCLUDED.criterion, criteria_met = EXCLUDED.criteria_met, \
           reason = EXCLUDED.reason, rule_set = EXCLUDED.rule_set, rule_set_version = EXCLUDED.rule_set_version, \
           rules_area = EXCLUDED.rules_area, dash_yes_count = EXCLUDED.dash_yes_count, decided_at = EXCLUDED.decided_at, \
           panel = EXCLUDED.panel, rule_set_sha256 = EXCLUDED.rule_set_sha256, decision = EXCLUDED.decision \
         WHERE $17 AND (triage.decisions.outcome = $15 OR $16 = ANY(triage.decisions.criteria_met))",
    )
    .bind(referral_id)
    .bind(decision::pathway(d.pathway).as_str_name())
    .bind(decision::outcome(d.outcome).as_str_name())
    .bind(d.destination.as_str())
    .bind(d.criterion.map(name))
    .bind(d.criteria_met.iter().map(|c| name(*c)).collect::<Vec<_>>())
    .bind(&d.reason)
    .bind(&d.rule_set)
    .bind(d.rule_set_version as i32)
    .bind(d.rules_area.as_str())
    .bind(d.dash_yes_count as i32)
    .bind(decision::panel(d.panel).as_str_name())
    .bind(rule_set_sha256)
    .bind(wire.encode_to_vec())
    .bind(REVIEW)
    .bind(UNRESOLVED)
    .bind(replaceable)
    .execute(conn)
    .await?;
    Ok(stored.rows_affected() == 1)
}
