//! What every service does the same way: bind its listener, run its gRPC server beside a
//! broker supervisor that owns the outbox relay and the service's consumers, and stop both on
//! the same signal. A service only says what it serves and what it consumes.

use crate::access::AccessLayer;
use crate::grpc::GrpcServer;
use crate::messaging::{Outbox, Supervisor, Worker};
use crate::readiness::Readiness;
use crate::settings::{GrpcSettings, Settings};
use crate::{db, shutdown, telemetry};
use anyhow::Context;
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Binds `addr` (`host:port`; port 0 picks a free one, which tests use).
pub async fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// A service's moving parts, ready to run.
pub struct Parts {
    /// Short name: `intake`, `triage`, ...; the broker connection is `refroute-<name>`.
    pub name: &'static str,
    pub server: GrpcServer,
    pub outbox: Outbox,
    pub consumers: Vec<Worker>,
    /// Where `GET /metrics` is served.
    pub metrics_addr: String,
}

/// Runs the gRPC server and the broker supervisor until `stop`, then waits for both to drain.
pub async fn run(
    parts: Parts,
    settings: &Settings,
    pool: PgPool,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    // Cancelled by the caller's signal, or here if the gRPC server fails, so that nothing the
    // service started outlives it.
    let stop = stop.child_token();
    let tls = crate::tls::acceptor(&settings.tls).context("mutual TLS for the gRPC server")?;
    let access = AccessLayer::new(
        parts.name,
        Arc::new(crate::access::organisations(&settings.access)?),
    );
    let metrics_listener = bind(&parts.metrics_addr).await?;
    let metrics = tokio::spawn(crate::metrics::serve(
        metrics_listener,
        pool.clone(),
        parts.outbox.schema(),
        stop.clone(),
    ));
    let housekeeping = tokio::spawn(crate::messaging::housekeeping::run(
        pool.clone(),
        parts.outbox.schema(),
        settings.retention.clone(),
        stop.clone(),
    ));
    let relay = parts.outbox.relay(
        pool.clone(),
        settings.amqp.exchange.clone(),
        Duration::from_millis(settings.amqp.outbox_poll_ms),
        parts.name,
    );
    let mut workers = vec![Worker::relay(relay)];
    workers.extend(parts.consumers);
    let readiness = Readiness::new(parts.server.health(), parts.server.api_names());
    let supervisor = Supervisor::new(
        settings.amqp.clone(),
        parts.name,
        parts.server.health(),
        readiness.clone(),
        workers,
    );
    supervisor.mark_not_serving().await;
    let database = tokio::spawn(readiness.probe_database(pool.clone(), stop.clone()));
    let broker = tokio::spawn(supervisor.run(stop.clone()));
    tracing::info!(service = parts.name, addr = %listener.local_addr()?, "serving");

    // Graceful, but bounded: a client that never hangs up must not keep a stopping service
    // alive past its orchestrator's patience.
    let deadline = async {
        stop.cancelled().await;
        tokio::time::sleep(DRAIN_LIMIT).await;
    };
    let served = tokio::select! {
        served = parts.server.serve(listener, tls, access, stop.clone()) => served,
        _ = deadline => {
            tracing::warn!(service = parts.name, "calls still open after {DRAIN_LIMIT:?}; stopping anyway");
            Ok(())
        }
    };
    stop.cancel();
    for (what, task) in [
        ("broker supervisor", broker),
        ("pruning", housekeeping),
        ("database probe", database),
    ] {
        if tokio::time::timeout(DRAIN_LIMIT, task).await.is_err() {
            tracing::warn!(
                service = parts.name,
                "{what} did not stop within {DRAIN_LIMIT:?}"
            );
        }
    }
    match tokio::time::timeout(DRAIN_LIMIT, metrics).await {
        Ok(joined) => joined??,
        Err(_) => tracing::warn!(
            service = parts.name,
            "metrics endpoint did not stop within {DRAIN_LIMIT:?}"
        ),
    }
    served?;
    tracing::info!(service = parts.name, "stopped");
    Ok(())
}

/// How long a stopping service waits for in-flight calls and messages.
const DRAIN_LIMIT: Duration = Duration::from_secs(20);

/// A service binary's `main`: configuration, telemetry, database, listener, SIGTERM.
pub async fn launch<F, Fut>(
    name: &'static str,
    grpc: fn(&Settings) -> &GrpcSettings,
    run: F,
) -> anyhow::Result<()>
where
    F: FnOnce(Settings, PgPool, TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let settings = Settings::load().context("loading configuration")?;
    telemetry::init(&settings.telemetry);
    let pool = db::connect_as_service(&settings.database, name)
        .await
        .context(
            "logging in to PostgreSQL as the service's own role (has `refroute migrate` run?)",
        )?;
    let listener = bind(&grpc(&settings).grpc_addr).await?;
    run(settings, pool, listener, shutdown::on_signal()).await
}
