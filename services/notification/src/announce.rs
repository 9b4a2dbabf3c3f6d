//! Live fan-out of newly queued cases to coordinators watching a queue. The consumer announces
//! each case with `pg_notify` inside its transaction; every notification replica listens, so a
//! watcher sees cases whichever replica queued them.
//!
//! PostgreSQL keeps no notification for a listener that is not connected, so the stream cannot
//! promise every case. What it promises instead is never to be silent about a loss: whenever an
//! announcement may have gone missing (the listening connection dropped, a queued case could
//! not be read) every watcher is sent [`Announcement::Gap`], and a watcher that subscribes while
//! nobody is listening is refused at once. Either way the coordinator lists the queue again.

use crate::queue::{QUEUED_CHANNEL, QueueStore};
use refroute_proto::v1::Case;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long the announcer waits before listening again after it lost its connection.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// What this replica's watchers are told.
#[derive(Clone, Debug)]
pub enum Announcement {
    /// A case was queued (or moved from review to a panel) and committed.
    Case(Box<Case>),
    /// Announcements may have been lost here, for the reason given: every watcher must list
    /// its queue again.
    Gap(&'static str),
}

/// The broadcast of [`Announcement`]s, and whether a subscriber would hear of every case
/// committed from now on.
#[derive(Clone)]
pub struct Announcements {
    sender: broadcast::Sender<Announcement>,
    listening: Arc<AtomicBool>,
}

impl Announcements {
    /// `capacity` announcements may wait for the slowest watcher before it is told it fell behind.
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            listening: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Every announcement from now on; or, while nobody is listening for them, why not.
    pub fn subscribe(&self) -> Result<broadcast::Receiver<Announcement>, &'static str> {
        // Subscribe first, then look: a loss flagged after this point reaches the receiver as
        // a Gap, and one flagged before it is seen here (the flag is cleared before a Gap is
        // sent).
        let receiver = self.sender.subscribe();
        if self.listening.load(Ordering::SeqCst) {
            Ok(receiver)
        } else {
            Err("the service is not listening for queue announcements right now")
        }
    }

    fn case(&self, case: Case) {
        // No watcher is not an error: the case is in the queue either way.
        let _ = self.sender.send(Announcement::Case(Box::new(case)));
    }

    /// Tells every watcher that announcements may have been lost. `still_listening` is false
    /// when nothing is listening until [`Announcements::listening_again`].
    fn gap(&self, why: &'static str, still_listening: bool) {
        if !still_listening {
            self.listening.store(false, Ordering::SeqCst);
        }
        let _ = self.sender.send(Announcement::Gap(why));
    }

    fn listening_again(&self) {
        self.listening.store(true, Ordering::SeqCst);
    }
}

/// The listening half: turns the commit-time announcements of [`QUEUED_CHANNEL`] into
/// [`Announcement`]s for this replica's watchers.
pub struct Announcer {
    store: QueueStore,
    announcements: Announcements,
    listener: PgListener,
}

impl Announcer {
    /// Listens before returning, so a service that serves watchers only after this has never
    /// refused one for want of a listener.
    pub async fn listen(
        store: QueueStore,
        announcements: Announcements,
    ) -> Result<Self, sqlx::Error> {
        let listener = connect(&store).await?;
        announcements.listening_again();
        Ok(Self {
            store,
            announcements,
            listener,
        })
    }

    /// Runs until `stop`, listening again whenever the connection is lost.
    pub async fn run(self, stop: CancellationToken) {
        let Self {
            store,
            announcements,
            listener,
        } = self;
        let mut listener = Some(listener);
        loop {
            let mut current = match listener.take() {
                Some(l) => l,
                None => match connect(&store).await {
                    Ok(l) => {
                        tracing::info!("listening for queue announcements again");
                        announcements.listening_again();
                        l
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for queue announcements; trying again");
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(RECONNECT_DELAY) => continue,
                        }
                    }
                },
            };
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                next = current.try_recv() => next,
            };
            match next {
                Ok(Some(notification)) => {
                    relay(&store, &announcements, notification.payload()).await;
                    listener = Some(current);
                }
                // `None` is sqlx saying the connection was lost; an error is as bad. Anything
                // committed from now until LISTEN runs again is never delivered here.
                Ok(None) | Err(_) => {
                    if let Err(e) = &next {
                        tracing::warn!(error = %e, "queue announcements interrupted");
                    } else {
                        tracing::warn!("queue announcements interrupted: connection lost");
                    }
                    announcements.gap("the service lost its connection to the database", false);
                    // Dropped, not reconnected in place: a fresh listener tells us when it is
                    // listening again.
                    drop(current);
                }
            }
        }
    }
}

async fn connect(store: &QueueStore) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(&store.pool).await?;
    // A lost connection must come back to us as `None`, not be mended inside `try_recv`.
    listener.eager_reconnect(false);
    listener.listen(QUEUED_CHANNEL).await?;
    Ok(listener)
}

/// Reads the announced case and passes it on. A case that cannot be read now is a case the
/// watchers will not see, so they are told.
async fn relay(store: &QueueStore, announcements: &Announcements, payload: &str) {
    let Ok(id) = payload.parse::<Uuid>() else {
        tracing::warn!("ignoring a malformed queue announcement");
        return;
    };
    match store.get(id).await {
        Ok(Some(case)) => announcements.case(case),
        // Gone again already (a review resolved at once): it is in no queue to watch.
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), referral_id = %id, "announced case cannot be read");
            announcements.gap("a newly queued case could not be read", true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str) -> Case {
        Case {
            referral_id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn nobody_listening_refuses_a_subscriber_at_once() {
        let a = Announcements::new(8);
        assert!(
            a.subscribe().is_err(),
            "not listening before the first LISTEN"
        );
        a.listening_again();
        let mut rx = a.subscribe().expect("listening");
        a.case(case("1"));
        a.gap("lost", false);
        assert!(matches!(rx.try_recv(), Ok(Announcement::Case(c)) if c.referral_id == "1"));
        assert!(matches!(rx.try_recv(), Ok(Announcement::Gap("lost"))));
        assert!(a.subscribe().is_err(), "refused until listening again");
        a.listening_again();
        assert!(a.subscribe().is_ok());
    }

    #[test]
    fn an_unreadable_case_is_a_gap_but_the_listener_stays() {
        let a = Announcements::new(8);
        a.listening_again();
        let mut rx = a.subscribe().unwrap();
        a.gap("unreadable", true);
        assert!(matches!(rx.try_recv(), Ok(Announcement::Gap("unreadable"))));
        assert!(a.subscribe().is_ok(), "later subscribers miss nothing");
    }
}
