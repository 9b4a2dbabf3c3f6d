//! Every SQL statement about `notification.deliveries`: recording what [`crate::plan`] owes, in
//! the consumer's transaction; claiming what is due and recording how each send went, for
//! [`crate::sender`]; and listing a referral's deliveries for `ListDeliveries`.
//!
//! A row's message is sealed with its id as associated data: the database alone shows who was
//! told (an organisation and its address, which an operator must see) but not what.

use crate::do_not_inform::MustNotBeTold;
use crate::plan::{Planned, Planner};
use chrono::{DateTime, Utc};
use refroute_platform::audit::{self, Entry};
use refroute_platform::crypto::Sealer;
use refroute_platform::messaging::HandleError;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// `deliveries.state`.
pub mod state {
    pub const PENDING: &str = "PENDING";
    pub const SENT: &str = "SENT";
    pub const FAILED: &str = "FAILED";
    pub const GIVEN_UP: &str = "GIVEN_UP";
    pub const REFUSED: &str = "REFUSED";
    pub const NO_RECIPIENT: &str = "NO_RECIPIENT";
}

/// What audit entries about deliveries record.
pub mod action {
    /// A notification was accepted by the recipient's mail server or endpoint: who was told
    /// what (the fields), when.
    pub const SENT: &str = "notification.sent";
    /// A notification was never sent: its recipient must not be told.
    pub const REFUSED: &str = "notification.refused";
    /// A referral's deliveries were listed to a caller (ListDeliveries).
    pub const LISTED: &str = "deliveries.listed";
}

/// The sealed part of a delivery: the message, and what the sender checks again before it goes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Prepared {
    pub subject: String,
    pub text: String,
    /// The webhook body.
    pub json: String,
    /// What of the referral the message discloses (field names), for the audit entry.
    pub fields: Vec<String>,
    pub lawful_basis: Option<String>,
    pub must_not_be_told: MustNotBeTold,
    /// The person or desk behind the channel (a name: sealed).
    pub contact: Option<String>,
}

impl Prepared {
    fn of(planned: &Planned) -> Self {
        let content = planned.content.as_ref();
        Self {
            subject: content.map(|c| c.subject.clone()).unwrap_or_default(),
            text: content.map(|c| c.text.clone()).unwrap_or_default(),
            // The body names its notification, as the header does, so a receiver that stores
            // bodies alone can still tell a repeat.
            json: content
                .map(|c| {
                    let mut json = c.json.clone();
                    if let Some(body) = json.as_object_mut() {
                        body.insert("notification_id".into(), planned.id.to_string().into());
                    }
                    json.to_string()
                })
                .unwrap_or_default(),
            fields: content.map(|c| c.fields.clone()).unwrap_or_default(),
            lawful_basis: planned.lawful_basis.clone(),
            must_not_be_told: planned.must_not_be_told.clone(),
            contact: planned.recipient.as_ref().and_then(|r| r.contact.clone()),
        }
    }
}

/// What an audit entry about delivery `id` is about: its referral, or for an alert about no
/// referral, the delivery itself.
pub fn audited_record(referral_id: Option<Uuid>, id: Uuid) -> (&'static str, String) {
    match referral_id {
        Some(r) => (audit::REFERRAL, r.to_string()),
        None => (DELIVERY, id.to_string()),
    }
}

/// The record kind of an audit entry about a delivery that concerns no referral.
pub const DELIVERY: &str = "delivery";

/// The audit entry of a refusal: the recipient named, nothing disclosed.
pub fn refusal_entry(referral_id: Option<Uuid>, id: Uuid, recipient_id: &str, kind: &str) -> Entry {
    let (record_kind, record_id) = audited_record(referral_id, id);
    Entry::new(
        crate::SCHEMA,
        recipient_id,
        action::REFUSED,
        record_kind,
        &record_id,
    )
    .fields(vec![format!("kind:{kind}")])
}

/// Records `planned` in the consumer's transaction. A refusal is alarmed here and its audit
/// entry returned, for the handler to append last; a notification owed to nobody is alarmed.
pub async fn record(
    tx: &mut PgConnection,
    sealer: &Sealer,
    planned: &[Planned],
) -> Result<Vec<Entry>, sqlx::Error> {
    let mut refusals = Vec::new();
    for p in planned {
        let (state, due, last_error) = match (&p.recipient, p.refused) {
            (_, Some(why)) => (state::REFUSED, false, format!("not sent: {why}")),
            (None, None) => (
                state::NO_RECIPIENT,
                false,
                p.unaddressed_because().to_string(),
            ),
            (Some(_), None) => (state::PENDING, true, String::new()),
        };
        let (id, organisation, role, channel, address, personal_data) = match &p.recipient {
            Some(r) => (
                r.id.as_str(),
                r.organisation.as_str(),
                r.role.as_str(),
                r.address.kind(),
                Some(r.address.as_str()),
                r.personal_data,
            ),
            None => match &p.unaddressed {
                Some((organisation, role)) => {
                    ("", organisation.as_str(), role.as_str(), "", None, false)
                }
                None => ("", "", crate::notice::UNRESOLVED, "", None, false),
            },
        };
        let sealed = sealer.seal(
            &p.id.to_string(),
            &serde_json::to_vec(&Prepared::of(p)).expect("a prepared message serialises"),
        );
        let inserted = sqlx::query(
            "INSERT INTO notification.deliveries \
             (id, referral_id, kind, to_area_code, recipient_role, recipient_organisation, recipient_address, \
              state, sealed_payload, recipient_id, channel, personal_data, last_error, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, CASE WHEN $14 THEN now() END) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(p.id)
        .bind(p.referral_id)
        .bind(p.kind.as_str())
        .bind(&p.area_code)
        .bind(role)
        .bind(organisation)
        .bind(address)
        .bind(state)
        .bind(sealed)
        .bind(id)
        .bind(channel)
        .bind(personal_data)
        .bind(&last_error)
        .bind(due)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            continue;
        }
        count(p.kind.as_str(), channel, state);
        match state {
            state::REFUSED => {
                tracing::warn!(
                    alarm = "notification_refused",
                    notification_id = %p.id,
                    referral_id = ?p.referral_id,
                    kind = p.kind.as_str(),
                    recipient = id,
                    "notification refused: {last_error}; nothing was sent to it, everyone else is told"
                );
                refusals.push(refusal_entry(p.referral_id, p.id, id, p.kind.as_str()));
            }
            state::NO_RECIPIENT => tracing::warn!(
                alarm = "notification_without_recipient",
                notification_id = %p.id,
                referral_id = ?p.referral_id,
                kind = p.kind.as_str(),
                area = %p.area_code,
                "notification owed to nobody: {last_error}; add one (directory.file) and send it \
                 by hand"
            ),
            _ => tracing::info!(
                notification_id = %p.id,
                kind = p.kind.as_str(),
                recipient = id,
                channel,
                "notification due"
            ),
        }
    }
    Ok(refusals)
}

/// Counts a delivery reaching `state`, by kind and channel.
pub fn count(kind: &str, channel: &str, state: &str) {
    refroute_platform::metrics::increment(
        "refroute_notifications_total",
        &[("kind", kind), ("channel", channel), ("state", state)],
    );
}

/// What the consumers need to owe notifications: the planner, and the sealer of what is owed.
#[derive(Clone)]
pub struct Notifier {
    pub planner: Planner,
    sealer: Sealer,
}

impl Notifier {
    pub fn new(planner: Planner, sealer: Sealer) -> Self {
        Self { planner, sealer }
    }

    /// Records `planned` in the consumer's transaction, the audit entries of refusals last.
    pub async fn owe(&self, tx: &mut PgConnection, planned: &[Planned]) -> Result<(), HandleError> {
        let refusals = record(tx, &self.sealer, planned).await?;
        if !refusals.is_empty() {
            audit::append_all(tx, &refusals).await?;
        }
        Ok(())
    }
}

/// A due delivery, claimed by one sender.
#[derive(Debug, sqlx::FromRow)]
pub struct Due {
    pub id: Uuid,
    pub referral_id: Option<Uuid>,
    pub kind: String,
    pub to_area_code: String,
    pub recipient_id: String,
    pub recipient_role: String,
    pub recipient_organisation: String,
    pub recipient_address: Option<String>,
    pub channel: String,
    pub personal_data: bool,
    /// Including this one.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub sealed_payload: Vec<u8>,
}

impl Due {
    pub fn open(&self, sealer: &Sealer) -> anyhow::Result<Prepared> {
        let plain = sealer.open(&self.id.to_string(), &self.sealed_payload)?;
        Ok(serde_json::from_slice(&plain)?)
    }
}

/// Claims the delivery due longest, if any, by moving its next attempt `lease` ahead (past the
/// attempt's timeout), so no other sender takes it meanwhile and a sender that dies leaves it
/// due again.
pub async fn claim(pool: &PgPool, lease: Duration) -> Result<Option<Due>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE notification.deliveries SET attempts = attempts + 1, updated_at = now(), \
           next_attempt_at = now() + make_interval(secs => $1) \
         WHERE id = (SELECT id FROM notification.deliveries \
                     WHERE state IN ('PENDING', 'FAILED') AND next_attempt_at <= now() \
                     ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, referral_id, kind, to_area_code, recipient_id, recipient_role, \
           recipient_organisation, recipient_address, channel, personal_data, attempts, \
           created_at, sealed_payload",
    )
    .bind(lease.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// Records that the recipient has the message, with its audit entry, in one transaction.
pub async fn sent(pool: &PgPool, id: Uuid, entry: &Entry) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE notification.deliveries SET state = 'SENT', sent_at = now(), updated_at = now(), \
         last_error = '', next_attempt_at = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, entry).await?;
    tx.commit().await
}

/// Records a transient failure: due again at `next`.
pub async fn failed(
    pool: &PgPool,
    id: Uuid,
    error: &str,
    next: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notification.deliveries SET state = 'FAILED', last_error = $2, \
         next_attempt_at = $3, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(next)
    .execute(pool)
    .await
    .map(drop)
}

/// Records that it will not be tried again.
pub async fn given_up(pool: &PgPool, id: Uuid, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notification.deliveries SET state = 'GIVEN_UP', last_error = $2, \
         next_attempt_at = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(pool)
    .await
    .map(drop)
}

/// Records a refusal found at send time, with its audit entry.
pub async fn refused(pool: &PgPool, id: Uuid, why: &str, entry: &Entry) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE notification.deliveries SET state = 'REFUSED', last_error = $2, \
         next_attempt_at = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(format!("not sent: {why}"))
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, entry).await?;
    tx.commit().await
}

/// One delivery as `ListDeliveries` shows it.
#[derive(Debug, sqlx::FromRow)]
pub struct Listed {
    pub id: Uuid,
    pub referral_id: Option<Uuid>,
    pub kind: String,
    pub to_area_code: String,
    pub recipient_id: String,
    pub recipient_role: String,
    pub recipient_organisation: String,
    pub recipient_address: Option<String>,
    pub channel: String,
    pub personal_data: bool,
    pub state: String,
    pub attempts: i32,
    pub last_error: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Every delivery of a referral, oldest first.
pub async fn of_referral(pool: &PgPool, referral_id: Uuid) -> Result<Vec<Listed>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, referral_id, kind, to_area_code, recipient_id, recipient_role, \
           recipient_organisation, recipient_address, channel, personal_data, state, attempts, \
           last_error, created_at, sent_at, next_attempt_at \
         FROM notification.deliveries WHERE referral_id = $1 ORDER BY created_at, id",
    )
    .bind(referral_id)
    .fetch_all(pool)
    .await
}
