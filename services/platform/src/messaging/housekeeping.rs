//! Keeps the outbox and inbox from growing for ever. Published events are kept a while for
//! inspection; applied message ids are kept well past any redelivery the broker could still
//! make, so forgetting them cannot let a duplicate through.

use crate::settings::RetentionSettings;
use sqlx::PgPool;
use sqlx::postgres::types::PgInterval;
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
        "DELETE FROM {schema}.outbox WHERE published_at < now() - $1::interval"
    )))
    .bind(interval(retention.outbox_published()))
    .execute(pool)
    .await?
    .rows_affected();
    let inbox = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {schema}.inbox WHERE received_at < now() - $1::interval"
    )))
    .bind(interval(retention.inbox()))
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Pruned { outbox, inbox })
}

/// `age` as a PostgreSQL interval, in whole days and the microseconds left over, so that no
/// retention a `u32` of hours can express wraps round to a negative interval (which would
/// delete every row). Settings refuse more than ten years; an interval beyond the range of a
/// timestamp makes the prune fail, deleting nothing.
fn interval(age: Duration) -> PgInterval {
    const DAY: u64 = 86_400;
    let secs = age.as_secs();
    PgInterval {
        months: 0,
        days: i32::try_from(secs / DAY).unwrap_or(i32::MAX),
        microseconds: ((secs % DAY) * 1_000_000) as i64,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_becomes_a_positive_interval_whatever_its_size() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let i = interval(hours(30));
        assert_eq!(
            (i.months, i.days, i.microseconds),
            (0, 1, 6 * 3_600_000_000)
        );
        // The largest u32 of hours, which `as i32` turned into -1 hour.
        let i = interval(hours(u64::from(u32::MAX)));
        assert_eq!(i.days, 178_956_970);
        assert!(i.microseconds >= 0 && i.days > 0);
        assert_eq!(interval(Duration::ZERO).days, 0);
    }
}
