//! The coordinator queues: stored sealed, listed by area and panel in the order cases arrived.

use crate::SCHEMA;
use chrono::{DateTime, Utc};
use prost::Message;
use refroute_platform::crypto::Sealer;
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming, inbox};
use refroute_platform::wire::timestamp;
use refroute_proto::v1::{Case, Panel, ReferralRouted, referral};
use sqlx::PgPool;
use uuid::Uuid;

const CONSUMER: &str = "notification.referral-routed";

#[derive(Clone)]
pub struct QueueStore {
    pub pool: PgPool,
    sealer: Sealer,
}

#[derive(sqlx::FromRow)]
struct Row {
    referral_id: Uuid,
    sealed_case: Vec<u8>,
    routed_at: DateTime<Utc>,
}

/// Where a listing resumes: after this arrival time and referral id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub routed_at: DateTime<Utc>,
    pub referral_id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.routed_at.timestamp_micros(), self.referral_id)
    }

    pub fn decode(token: &str) -> Option<Self> {
        let (micros, id) = token.split_once('_')?;
        Some(Self {
            routed_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            referral_id: id.parse().ok()?,
        })
    }
}

impl QueueStore {
    pub fn new(pool: PgPool, sealer: Sealer) -> Self {
        Self { pool, sealer }
    }

    fn open(&self, row: Row) -> anyhow::Result<Case> {
        let plain = self
            .sealer
            .open(&row.referral_id.to_string(), &row.sealed_case)?;
        let mut case = Case::decode(plain.as_slice())?;
        case.route_time = Some(timestamp(row.routed_at));
        Ok(case)
    }

    /// Up to `limit` cases after `after`, oldest first, and the cursor of the last one if more remain.
    pub async fn list(
        &self,
        area: &str,
        panel: Panel,
        after: Option<Cursor>,
        limit: i64,
    ) -> anyhow::Result<(Vec<Case>, Option<Cursor>)> {
        let (at, id) = after
            .map(|c| (c.routed_at, c.referral_id))
            .unwrap_or((DateTime::<Utc>::UNIX_EPOCH, Uuid::nil()));
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT referral_id, sealed_case, routed_at FROM notification.queue_cases \
             WHERE area_code = $1 AND panel = $2 AND (routed_at, referral_id) > ($3, $4) \
             ORDER BY routed_at, referral_id LIMIT $5",
        )
        .bind(area)
        .bind(panel.as_str_name())
        .bind(at)
        .bind(id)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() as i64 > limit;
        let rows: Vec<Row> = rows.into_iter().take(limit as usize).collect();
        let next = more.then(|| {
            let last = rows.last().expect("limit >= 1");
            Cursor {
                routed_at: last.routed_at,
                referral_id: last.referral_id,
            }
        });
        let cases = rows
            .into_iter()
            .map(|r| self.open(r))
            .collect::<anyhow::Result<_>>()?;
        Ok((cases, next))
    }

    pub async fn get(&self, referral_id: Uuid) -> anyhow::Result<Option<Case>> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT referral_id, sealed_case, routed_at FROM notification.queue_cases WHERE referral_id = $1",
        )
        .bind(referral_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| self.open(r)).transpose()
    }
}

/// PostgreSQL channel on which a newly queued case's referral id is announced at commit, so
/// that every notification replica can tell its own watchers.
pub const QUEUED_CHANNEL: &str = "refroute_queue_cases";

/// Consumes `referral.routed` into the queue of the decision's area and panel.
pub struct RoutedHandler {
    store: QueueStore,
}

impl RoutedHandler {
    pub fn new(store: QueueStore) -> Self {
        Self { store }
    }
}

fn to_case(event: ReferralRouted) -> Result<Case, HandleError> {
    let bad = |why: &str| HandleError::Permanent(anyhow::anyhow!("{} {why}", ReferralRouted::TYPE));
    let referral = event.referral.ok_or_else(|| bad("without a referral"))?;
    let decision = event.decision.ok_or_else(|| bad("without a decision"))?;
    let domestic_abuse = referral
        .details
        .map(|referral::Details::DomesticAbuse(da)| da);
    Ok(Case {
        referral_id: referral.id,
        area_code: decision.destination_area_code.clone(),
        panel: decision.panel,
        referring_organisation: referral.referring_organisation,
        referrer_reference: referral.referrer_reference,
        received_area_code: referral.received_area_code,
        domestic_abuse,
        decision: Some(decision),
        route_time: None,
    })
}

impl Handler for RoutedHandler {
    async fn handle(&self, message: &Incoming) -> Result<(), HandleError> {
        let case = to_case(ReferralRouted::decode(message.payload.as_slice())?)?;
        let referral_id: Uuid = case
            .referral_id
            .parse()
            .map_err(|_| HandleError::Permanent(anyhow::anyhow!("referral id is not a UUID")))?;
        let panel = Panel::try_from(case.panel).unwrap_or(Panel::Unspecified);
        let criterion = case
            .decision
            .as_ref()
            .map(|d| d.criterion().as_str_name())
            .unwrap_or("CRITERION_UNSPECIFIED");
        let sealed = self
            .store
            .sealer
            .seal(&case.referral_id, &case.encode_to_vec());

        let mut tx = self.store.pool.begin().await?;
        if !inbox::claim(&mut tx, SCHEMA, CONSUMER, message.message_id).await? {
            return Ok(());
        }
        let routed_at: Option<(DateTime<Utc>,)> = sqlx::query_as(
            "INSERT INTO notification.queue_cases (referral_id, area_code, panel, criterion, sealed_case) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (referral_id) DO NOTHING RETURNING routed_at",
        )
        .bind(referral_id)
        .bind(&case.area_code)
        .bind(panel.as_str_name())
        .bind(criterion)
        .bind(sealed)
        .fetch_optional(&mut *tx)
        .await?;
        if routed_at.is_some() {
            // Delivered to listeners only if, and when, this transaction commits.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(QUEUED_CHANNEL)
                .bind(&case.referral_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if routed_at.is_some() {
            tracing::info!(area = %case.area_code, panel = panel.as_str_name(), criterion, "case queued for coordinator");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_garbage() {
        let c = Cursor {
            routed_at: DateTime::from_timestamp_micros(1_763_900_000_123_456).unwrap(),
            referral_id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode("12_notauuid"), None);
    }
}
