//! A service's overall gRPC health: SERVING only while both the broker connection (reported by
//! the supervisor) and the database (probed here) are up. A service that cannot reach its
//! database can take no referral and apply no message, so it must not look ready to a load
//! balancer or an orchestrator.

use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often the database is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// A probe that takes longer than this counts as the database being unreachable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Readiness {
    inner: Arc<Inner>,
}

struct Inner {
    health: HealthReporter,
    /// The names reported besides the overall "" (the service's gRPC APIs).
    services: Vec<String>,
    broker: AtomicBool,
    database: AtomicBool,
    /// Held while publishing, so that the last status set follows the last change.
    publishing: tokio::sync::Mutex<()>,
}

impl Readiness {
    /// Starts with neither the broker nor the database known to be up.
    pub fn new(health: HealthReporter, services: Vec<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                health,
                services,
                broker: AtomicBool::new(false),
                database: AtomicBool::new(false),
                publishing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub async fn set_broker(&self, up: bool) {
        crate::metrics::set_broker_connected(up);
        self.inner.broker.store(up, Ordering::SeqCst);
        self.publish().await;
    }

    pub async fn set_database(&self, up: bool) {
        let was = self.inner.database.swap(up, Ordering::SeqCst);
        if was != up {
            if up {
                tracing::info!("the database is reachable again");
            } else {
                tracing::error!(
                    alarm = "database_unreachable",
                    "the database does not answer; health is NOT_SERVING until it does"
                );
            }
        }
        self.publish().await;
    }

    /// The overall status as it stands.
    pub fn status(&self) -> ServingStatus {
        if self.inner.broker.load(Ordering::SeqCst) && self.inner.database.load(Ordering::SeqCst) {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    }

    /// Reports the current status under "" and every API name.
    pub async fn publish(&self) {
        let _one_at_a_time = self.inner.publishing.lock().await;
        let status = self.status();
        self.inner.health.set_service_status("", status).await;
        for name in &self.inner.services {
            self.inner.health.set_service_status(name, status).await;
        }
    }

    /// Probes the database with `SELECT 1` every [`PROBE_INTERVAL`] until `stop`.
    pub async fn probe_database(self, pool: PgPool, stop: CancellationToken) {
        loop {
            let probe = sqlx::query("SELECT 1").execute(&pool);
            let up = matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(_)));
            self.set_database(up).await;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(PROBE_INTERVAL) => {}
            }
        }
    }
}
