//! Keeps the outbox and inbox from growing for ever. Published events are kept a while for
//! inspection; applied message ids are kept well past any redelivery the broker could still
//! make, so forgetting them cannot let a duplicate through.

use crate::settings::RetentionSettings;
use sqlx::PgPool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows removed by one pass.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub outbox: u64,
    pub inbox: u64,
}

pub async fn prune(
    pool: &PgPool,
    schema: &'static str,
    retention: &RetentionSettings,
) -> sqlx::Result<Pruned> {
    let outbox = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {schema}.outbox WHERE published_at < now() - make_interval(hours => $1)"
    )))
    .bind(retention.outbox_published_hours as i32)
    .execute(pool)
    .await?
    .rows_affected();
    let inbox = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {schema}.inbox WHERE received_at < now() - make_interval(hours => $1)"
    )))
    .bind(retention.inbox_hours as i32)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Pruned { outbox, inbox })
}

/// Prunes every `prune_interval_secs` until `stop`. Database trouble is logged and retried at
/// the next interval; it never stops the service.
pub async fn run(
    pool: PgPool,
    schema: &'static str,
    retention: RetentionSettings,
    stop: CancellationToken,
) {
    let every = Duration::from_secs(retention.prune_interval_secs.max(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match prune(&pool, schema, &retention).await {
            Ok(p) if p != Pruned::default() => {
                tracing::info!(
                    schema,
                    outbox = p.outbox,
                    inbox = p.inbox,
                    "pruned old outbox and inbox rows"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(schema, error = %e, "pruning failed; will retry"),
        }
    }
}
