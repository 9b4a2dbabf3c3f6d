//! Live fan-out of newly queued cases to coordinators watching a queue. The consumer announces
//! each case with `pg_notify` inside its transaction; every notification replica listens, so a
//! watcher sees cases whichever replica queued them.

use crate::queue::{QUEUED_CHANNEL, QueueStore};
use refroute_proto::v1::Case;
use uuid::Uuid;

/// Turns the commit-time announcements of [`QUEUED_CHANNEL`] into cases for this replica's
/// watchers. Announcements made while the listening connection is down are lost, which is why
/// a watcher that reconnects lists the queue first.
pub async fn announce_queued_cases(
    store: QueueStore,
    routed: tokio::sync::broadcast::Sender<Case>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        match listen(&store, &routed, &stop).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "queue announcements interrupted; listening again");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

async fn listen(
    store: &QueueStore,
    routed: &tokio::sync::broadcast::Sender<Case>,
    stop: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect_with(&store.pool).await?;
    listener.listen(QUEUED_CHANNEL).await?;
    loop {
        let notification = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            n = listener.recv() => n?,
        };
        let Ok(id) = notification.payload().parse::<Uuid>() else {
            tracing::warn!(
                payload = notification.payload(),
                "ignoring a malformed queue announcement"
            );
            continue;
        };
        if let Some(case) = store.get(id).await? {
            // No watcher is not an error: the case is in the queue either way.
            let _ = routed.send(case);
        }
    }
}
