//! Intake's table of referrals. Personal data is sealed; status and decision are not personal.

use chrono::{DateTime, Utc};
use prost::Message;
use refroute_platform::crypto::Sealer;
use refroute_proto::v1::{Decision, Referral, ReferralStatus};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Clone)]
pub struct Store {
    pub pool: PgPool,
    sealer: Sealer,
}

/// A referral row as stored.
pub struct Stored {
    pub referral: Referral,
    pub request_hash: Vec<u8>,
    /// The organisation (its id) whose certificate created the referral.
    pub referrer_id: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    referrer_id: String,
    request_hash: Vec<u8>,
    status: String,
    decision: Option<Vec<u8>>,
    sealed_referral: Vec<u8>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored referral {0} cannot be opened (wrong data key or corrupt record)")]
    Sealed(Uuid),
}

/// What [`Store::set_outcome`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum SetOutcome {
    Applied,
    /// An outcome decided at `latest`, not before this one, is already shown: nothing changed.
    Stale {
        latest: Option<DateTime<Utc>>,
    },
    UnknownReferral,
}

pub fn status_name(status: ReferralStatus) -> &'static str {
    status.as_str_name()
}

impl Store {
    pub fn new(pool: PgPool, sealer: Sealer) -> Self {
        Self { pool, sealer }
    }

    /// Inserts unless the referrer has used `request_id` already. Returns false when it has.
    pub async fn insert(
        &self,
        conn: &mut PgConnection,
        referral: &Referral,
        referrer_id: &str,
        request_id: &str,
        request_hash: &[u8],
    ) -> Result<bool, sqlx::Error> {
        let id: Uuid = referral.id.parse().expect("server-assigned UUID");
        let sealed = self.sealer.seal(&referral.id, &referral.encode_to_vec());
        let done = sqlx::query(
            "INSERT INTO intake.referrals (id, referrer_id, request_id, request_hash, referring_organisation, received_area_code, status, sealed_referral) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (referrer_id, request_id) DO NOTHING",
        )
        .bind(id)
        .bind(referrer_id)
        .bind(request_id)
        .bind(request_hash)
        .bind(&referral.referring_organisation)
        .bind(&referral.received_area_code)
        .bind(status_name(ReferralStatus::Received))
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn by_request_id(
        &self,
        referrer_id: &str,
        request_id: &str,
    ) -> Result<Option<Stored>, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, referrer_id, request_hash, status, decision, sealed_referral, updated_at FROM intake.referrals WHERE referrer_id = $1 AND request_id = $2",
        )
        .bind(referrer_id)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| self.open(r)).transpose()
    }

    pub async fn by_id(&self, id: Uuid) -> Result<Option<Stored>, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, referrer_id, request_hash, status, decision, sealed_referral, updated_at FROM intake.referrals WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| self.open(r)).transpose()
    }

    /// The referral, locked until `conn`'s transaction ends, so two changes cannot interleave.
    pub async fn lock(
        &self,
        conn: &mut PgConnection,
        id: Uuid,
    ) -> Result<Option<Stored>, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, referrer_id, request_hash, status, decision, sealed_referral, updated_at FROM intake.referrals WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(conn)
        .await?;
        row.map(|r| self.open(r)).transpose()
    }

    /// Stores an amended referral, sealed again, back to RECEIVED and without a decision: it
    /// waits for triage to decide it again. `decided_at` stays: the outcome that comes next must
    /// be newer than the one it replaces, so a replayed old outcome cannot apply.
    pub async fn amend_for_triage(
        &self,
        conn: &mut PgConnection,
        referral: &Referral,
    ) -> Result<(), sqlx::Error> {
        let id: Uuid = referral.id.parse().expect("stored referrals have UUIDs");
        let sealed = self.sealer.seal(&referral.id, &referral.encode_to_vec());
        sqlx::query(
            "UPDATE intake.referrals SET sealed_referral = $2, status = $3, decision = NULL, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(sealed)
        .bind(status_name(ReferralStatus::Received))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Records triage's outcome, decided at `decided_at`, unless the referral already shows an
    /// outcome decided at that time or later (outcome events can arrive out of order, or be
    /// replayed from a dead-letter queue).
    pub async fn set_outcome(
        &self,
        conn: &mut PgConnection,
        id: Uuid,
        status: ReferralStatus,
        decision: &Decision,
        decided_at: DateTime<Utc>,
    ) -> Result<SetOutcome, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE intake.referrals SET status = $2, decision = $3, decided_at = $4, updated_at = now() \
             WHERE id = $1 AND (decided_at IS NULL OR decided_at < $4)",
        )
        .bind(id)
        .bind(status_name(status))
        .bind(decision.encode_to_vec())
        .bind(decided_at)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(SetOutcome::Applied);
        }
        let latest: Option<(Option<DateTime<Utc>>,)> =
            sqlx::query_as("SELECT decided_at FROM intake.referrals WHERE id = $1")
                .bind(id)
                .fetch_optional(conn)
                .await?;
        Ok(match latest {
            None => SetOutcome::UnknownReferral,
            Some((latest,)) => SetOutcome::Stale { latest },
        })
    }

    fn open(&self, row: Row) -> Result<Stored, StoreError> {
        let plain = self
            .sealer
            .open(&row.id.to_string(), &row.sealed_referral)
            .map_err(|_| StoreError::Sealed(row.id))?;
        let mut referral =
            Referral::decode(plain.as_slice()).map_err(|_| StoreError::Sealed(row.id))?;
        referral.status = ReferralStatus::from_str_name(&row.status)
            .unwrap_or(ReferralStatus::Unspecified) as i32;
        referral.decision = row
            .decision
            .and_then(|d| Decision::decode(d.as_slice()).ok());
        referral.update_time = Some(refroute_platform::wire::timestamp(row.updated_at));
        Ok(Stored {
            referral,
            request_hash: row.request_hash,
            referrer_id: row.referrer_id,
        })
    }
}
