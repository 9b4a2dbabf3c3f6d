//! `refroute keys rotate`: re-seals every sealed record under the current data key, so an old
//! key can be retired. Services keep running throughout: they are configured with the old and the
//! new key (new records already sealed under the new one) and read either while this runs.
//!
//! [`SEALED`] is the one list of sealed columns; [`NOT_SEALED`] names every other `bytea` column
//! and why it is not sealed. [`coverage`] compares both with the database, and rotation refuses
//! to run while a `bytea` column is in neither, so a new sealed column cannot be forgotten.

use anyhow::{Context, bail};
use refroute_platform::crypto::{HEADER_LEN, Sealer, sealed_header};
use sqlx::PgPool;
use uuid::Uuid;

/// A column of sealed records.
pub struct SealedColumn {
    pub schema: &'static str,
    pub table: &'static str,
    pub column: &'static str,
    /// The unique uuid column whose text form is the record id each value is sealed to (its
    /// associated data), as the service passes it to `Sealer::seal`.
    pub record_id: &'static str,
}

impl SealedColumn {
    /// `schema.table.column`.
    pub fn name(&self) -> String {
        format!("{}.{}.{}", self.schema, self.table, self.column)
    }

    pub fn table_name(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

const fn sealed(
    schema: &'static str,
    table: &'static str,
    column: &'static str,
    record_id: &'static str,
) -> SealedColumn {
    SealedColumn {
        schema,
        table,
        column,
        record_id,
    }
}

/// Every sealed column, with the record id it is sealed to (grep `seal(` across services).
pub const SEALED: &[SealedColumn] = &[
    // services/intake/src/store.rs: the referral, sealed to its id.
    sealed("intake", "referrals", "sealed_referral", "id"),
    // services/notification/src/queue.rs: the case, sealed to its referral id.
    sealed("notification", "queue_cases", "sealed_case", "referral_id"),
    // services/notification/src/notice.rs and invitation.rs: what a delivery will send (or the
    // decision an invitation waits on), sealed to the delivery id.
    sealed("notification", "deliveries", "sealed_payload", "id"),
    // services/transfer/src/lib.rs: the minimised case, sealed to the transfer id.
    sealed("transfer", "transfers", "sealed_case", "id"),
    // services/platform/src/messaging/outbox.rs: every event, sealed to its message id.
    sealed("intake", "outbox", "payload", "message_id"),
    sealed("triage", "outbox", "payload", "message_id"),
    sealed("transfer", "outbox", "payload", "message_id"),
    sealed("notification", "outbox", "payload", "message_id"),
];

/// Every `bytea` column that is not sealed, `schema.table.column`, and why.
pub const NOT_SEALED: &[(&str, &str)] = &[
    (
        "transfer.transfers.ack_code_hash",
        "SHA-256 of a transfer's single-use acknowledgement code: a check value, no personal data",
    ),
    (
        "intake.referrals.request_hash",
        "keyed hash of the request (identity key), to tell a retry from a reused request id",
    ),
    (
        "intake.referrals.decision",
        "the decision's wire form: no personal data (reasons never quote free text)",
    ),
    (
        "triage.decisions.decision",
        "the decision's wire form: no personal data (reasons never quote free text)",
    ),
    (
        "triage.superseded_decisions.decision",
        "a superseded decision's wire form: no personal data",
    ),
    (
        "triage.marac_referrals.victim_key",
        "keyed hash of the victim (identity key)",
    ),
    (
        "triage.police_incidents.victim_key",
        "keyed hash of the victim (identity key)",
    ),
    (
        "public._sqlx_migrations.checksum",
        "checksums of the applied migrations",
    ),
    (
        "audit.entries.prev_hash",
        "SHA-256 of the previous audit entry (names and ids only, never values)",
    ),
    ("audit.entries.hash", "SHA-256 of the audit entry"),
    ("audit.head.hash", "SHA-256 of the latest audit entry"),
];

/// How the database's `bytea` columns differ from [`SEALED`] and [`NOT_SEALED`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// `bytea` columns in neither list: sealed or not, nobody has said.
    pub unlisted: Vec<String>,
    /// Listed columns the database does not have (a list out of date).
    pub missing: Vec<String>,
}

impl Coverage {
    pub fn is_complete(&self) -> bool {
        self.unlisted.is_empty() && self.missing.is_empty()
    }
}

/// Compares every `bytea` column of every table outside PostgreSQL's own schemas with the lists.
pub async fn coverage(pool: &PgPool) -> anyhow::Result<Coverage> {
    let columns: Vec<(String,)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname || '.' || a.attname \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE a.atttypid = 'bytea'::regtype AND a.attnum > 0 AND NOT a.attisdropped \
           AND c.relkind IN ('r', 'p') \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' \
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .context("listing bytea columns")?;
    let columns: Vec<String> = columns.into_iter().map(|(c,)| c).collect();
    let listed: Vec<String> = SEALED
        .iter()
        .map(SealedColumn::name)
        .chain(NOT_SEALED.iter().map(|(c, _)| c.to_string()))
        .collect();
    Ok(Coverage {
        unlisted: columns
            .iter()
            .filter(|c| !listed.contains(c))
            .cloned()
            .collect(),
        missing: listed
            .into_iter()
            .filter(|c| !columns.contains(c))
            .collect(),
    })
}

/// How many records of one sealed column a rotation re-sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    pub column: String,
    pub records: u64,
}

/// Re-seals every record of every [`SEALED`] column that is not under the current key, `batch`
/// records to a transaction. A record a service changes meanwhile is left as the service wrote
/// it (the update applies only to the value that was read). Running it again re-seals nothing.
pub async fn rotate(pool: &PgPool, sealer: &Sealer, batch: i64) -> anyhow::Result<Vec<Resealed>> {
    anyhow::ensure!(batch > 0, "the batch size must be at least 1");
    let coverage = coverage(pool).await?;
    if !coverage.is_complete() {
        bail!(
            "the list of sealed columns (services/cli/src/keys.rs) is out of date: not listed {:?}, \
             listed but absent {:?}; add each to SEALED or NOT_SEALED",
            coverage.unlisted,
            coverage.missing
        );
    }
    let mut report = Vec::new();
    for column in SEALED {
        let records = rotate_column(pool, sealer, column, batch).await?;
        tracing::info!(column = %column.name(), records, "re-sealed");
        report.push(Resealed {
            column: column.name(),
            records,
        });
    }
    Ok(report)
}

async fn rotate_column(
    pool: &PgPool,
    sealer: &Sealer,
    column: &SealedColumn,
    batch: i64,
) -> anyhow::Result<u64> {
    let SealedColumn {
        schema,
        table,
        column: sealed,
        record_id: id,
    } = column;
    let header = sealed_header(sealer.current()).to_vec();
    let mut resealed = 0;
    let mut after: Option<Uuid> = None;
    loop {
        // Keyset order by record id, skipping what is already under the current key: each batch
        // is short, and a record that cannot be re-sealed is never read twice in one run.
        let select = format!(
            "SELECT {id}, {sealed} FROM {schema}.{table} \
             WHERE {id} {} $1 AND substring({sealed} from 1 for {HEADER_LEN}) IS DISTINCT FROM $2 \
             ORDER BY {id} LIMIT $3",
            if after.is_some() { ">" } else { ">=" }
        );
        let update =
            format!("UPDATE {schema}.{table} SET {sealed} = $1 WHERE {id} = $2 AND {sealed} = $3");
        let mut tx = pool.begin().await?;
        let rows: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(select))
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(&header)
            .bind(batch)
            .fetch_all(&mut *tx)
            .await
            .with_context(|| format!("reading {}", column.table_name()))?;
        let Some((last, _)) = rows.last() else {
            return Ok(resealed);
        };
        after = Some(*last);
        for (record, old) in &rows {
            let record_id = record.to_string();
            let plain = sealer.open(&record_id, old).with_context(|| {
                format!(
                    "{} of record {record_id} cannot be opened (every key records may be sealed \
                     under must be in security.data_keys)",
                    column.name()
                )
            })?;
            let done = sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                .bind(sealer.seal(&record_id, &plain))
                .bind(record)
                .bind(old)
                .execute(&mut *tx)
                .await
                .with_context(|| format!("re-sealing {}", column.name()))?;
            resealed += done.rows_affected();
        }
        tx.commit().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_listed_once() {
        let mut names: Vec<String> = SEALED
            .iter()
            .map(SealedColumn::name)
            .chain(NOT_SEALED.iter().map(|(c, _)| c.to_string()))
            .collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all);
        for schema in ["intake", "triage", "transfer", "notification"] {
            assert!(
                SEALED
                    .iter()
                    .any(|c| c.schema == schema && c.table == "outbox"),
                "{schema}.outbox"
            );
        }
    }
}
