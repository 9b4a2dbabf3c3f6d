//! Owns one broker connection per service. On loss it reports NOT_SERVING on gRPC health,
//! reconnects with backoff, redeclares the exchanges and the service's own queues (those of its
//! consumers; see [`topology::declare`]) and restarts every worker (consumers and
//! the outbox relay) on fresh channels. A worker that fails on its own (its channel closed by
//! the broker, a panic) is restarted alone on a fresh channel, with backoff, while the
//! connection and the other workers carry on. Publishing only goes through the outbox, so
//! anything in flight when the connection dropped is simply published again.

use super::consumer::{Consumer, ConsumerContext};
use super::topology::{self, QueueSpec};
use crate::readiness::Readiness;
use crate::settings::AmqpSettings;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use lapin::types::{LongString, ShortString};
use lapin::{Channel, Connection, ConnectionProperties};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The longest the supervisor waits on a single broker handshake, declaration or close.
const BROKER_CALL_LIMIT: Duration = Duration::from_secs(15);

type WorkerFn = dyn Fn(WorkerSession) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync;

/// What a worker is given for one channel's life.
#[derive(Clone)]
pub struct WorkerSession {
    pub channel: Channel,
    /// Cancelled when the service stops or the connection is lost.
    pub stop: CancellationToken,
    pub amqp: Arc<AmqpSettings>,
    /// The service's gRPC health, for workers that report a status of their own.
    pub health: HealthReporter,
    /// The service's short name (`intake`, ...).
    pub service: &'static str,
}

/// Something that runs on its own channel for the life of a connection.
#[derive(Clone)]
pub struct Worker {
    name: &'static str,
    /// The queue a consumer takes from; its health is reported under the queue's name.
    queue: Option<&'static QueueSpec>,
    run: Arc<WorkerFn>,
}

impl Worker {
    pub fn new<F, Fut>(name: &'static str, f: F) -> Self
    where
        F: Fn(Channel, CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self {
            name,
            queue: None,
            run: Arc::new(move |session: WorkerSession| Box::pin(f(session.channel, session.stop))),
        }
    }

    /// The consumer of `queue` driving `handler` in the inbox transaction of `context`. Its
    /// prefetch is `amqp.prefetch`; its health is reported under the queue's name.
    pub fn consumer<H: super::Handler>(
        queue: &'static QueueSpec,
        context: ConsumerContext,
        handler: H,
    ) -> Self {
        let consumer = Arc::new(Consumer::new(queue, context, handler));
        Self {
            name: queue.name,
            queue: Some(queue),
            run: Arc::new(move |session| Box::pin(consumer.clone().run(session))),
        }
    }

    /// The outbox relay.
    pub fn relay(relay: super::Relay) -> Self {
        Self {
            name: "outbox-relay",
            queue: None,
            run: Arc::new(move |session| {
                // RabbitMQ refuses a user_id that is not the connection's user, so a consumer
                // can trust it to name the publisher.
                let user = topology::user_of(session.amqp.uri_for(session.service).expose());
                Box::pin(
                    relay
                        .clone()
                        .publishing_as(user)
                        .run(session.channel, session.stop),
                )
            }),
        }
    }
}

pub struct Supervisor {
    settings: Arc<AmqpSettings>,
    /// The service's short name: it connects with `amqp.logins.<service>` (or `amqp.uri`).
    service: &'static str,
    connection_name: String,
    health: HealthReporter,
    readiness: Readiness,
    workers: Vec<Worker>,
}

enum SessionEnd {
    Shutdown,
    Lost(String),
}

impl Supervisor {
    /// The connection is named `refroute-<service>`: what operators (and the fault tests) see
    /// in `rabbitmqctl list_connections`. `readiness` carries the broker's state into the
    /// service's overall health.
    pub fn new(
        settings: AmqpSettings,
        service: &'static str,
        health: HealthReporter,
        readiness: Readiness,
        workers: Vec<Worker>,
    ) -> Self {
        Self {
            settings: Arc::new(settings),
            service,
            connection_name: format!("refroute-{service}"),
            health,
            readiness,
            workers,
        }
    }

    /// tonic-health starts the overall status at SERVING. Call this before the gRPC server
    /// accepts its first call, so nobody is told SERVING before the broker is connected.
    pub async fn mark_not_serving(&self) {
        self.report(ServingStatus::NotServing).await;
    }

    /// The queues this service consumes, which it declares (with their dead-letter queues).
    /// What this service declares on connecting. Sharing one broker user, it declares every
    /// queue: a topic exchange drops an event for a queue that does not exist yet as long as
    /// some other queue takes it, so a publisher that started before a consumer's first start
    /// would lose that consumer's copy. With its own user it may declare only its own queues;
    /// the whole topology is then declared once beforehand (`refroute declare-topology`).
    fn queues_to_declare(&self) -> Vec<&'static QueueSpec> {
        if self.settings.checks_publishers() {
            self.workers.iter().filter_map(|w| w.queue).collect()
        } else {
            topology::QUEUES.to_vec()
        }
    }

    pub async fn run(self, stop: CancellationToken) {
        let initial = Duration::from_millis(self.settings.reconnect_initial_ms);
        let max = Duration::from_millis(self.settings.reconnect_max_ms);
        let mut backoff = initial;
        loop {
            match self.session(&stop).await {
                Ok(SessionEnd::Shutdown) => break,
                Ok(SessionEnd::Lost(why)) => {
                    tracing::warn!(connection = %self.connection_name, reason = %why, "broker connection lost; reconnecting");
                    backoff = initial;
                }
                Err(e) => {
                    tracing::warn!(connection = %self.connection_name, error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot reach the broker");
                }
            }
            self.report(ServingStatus::NotServing).await;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(max);
        }
        self.report(ServingStatus::NotServing).await;
    }

    async fn session(&self, stop: &CancellationToken) -> anyhow::Result<SessionEnd> {
        let props = ConnectionProperties::default()
            .with_connection_name(LongString::from(self.connection_name.as_str()));
        // A broker that accepts TCP but never answers must not stall the supervisor for ever.
        let conn = within(
            "the AMQP handshake",
            Connection::connect(self.settings.uri_for(self.service).expose(), props),
        )
        .await??;
        let mut events = Box::pin(conn.events_listener());
        let setup = conn.create_channel().await?;
        within(
            "declaring the topology",
            topology::declare(&setup, &self.settings, &self.queues_to_declare()),
        )
        .await??;
        let _ = within(
            "closing the setup channel",
            setup.close(200, ShortString::from("topology declared")),
        )
        .await;

        let session_stop = stop.child_token();
        let mut workers = Running::default();
        for index in 0..self.workers.len() {
            self.start_worker(&conn, index, Duration::ZERO, &session_stop, &mut workers)
                .await?;
        }
        self.report(ServingStatus::Serving).await;
        tracing::info!(connection = %self.connection_name, "connected to the broker");

        let initial = Duration::from_millis(self.settings.reconnect_initial_ms);
        let max = Duration::from_millis(self.settings.reconnect_max_ms);
        let mut restart_delay = vec![initial; self.workers.len()];
        let end = loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break SessionEnd::Shutdown,
                Some(done) = workers.tasks.join_next_with_id() => {
                    // A worker that stopped because shutdown began is not a failure.
                    if stop.is_cancelled() {
                        break SessionEnd::Shutdown;
                    }
                    let (id, why) = match done {
                        Ok((id, Ok(()))) => (id, "stopped".to_string()),
                        Ok((id, Err(e))) => (id, format!("{e:#}")),
                        Err(e) => (e.id(), format!("panicked: {e}")),
                    };
                    let Some(ended) = workers.channels.remove(&id) else {
                        continue;
                    };
                    let name = self.workers[ended.index].name;
                    if !conn.status().connected() {
                        break SessionEnd::Lost(format!("{name}: {why}"));
                    }
                    // One worker's trouble (a channel the broker closed, a handler that
                    // panicked) restarts that worker alone: closing the connection would return
                    // every other queue's unacknowledged messages, and RabbitMQ 3.10 counts
                    // each return against the delivery limit.
                    let delay = &mut restart_delay[ended.index];
                    if ended.started.elapsed() > Duration::from_secs(60) {
                        *delay = initial;
                    }
                    tracing::warn!(
                        connection = %self.connection_name,
                        worker = name,
                        reason = %why,
                        restart_in_ms = delay.as_millis() as u64,
                        "worker stopped; restarting it on a fresh channel"
                    );
                    // Its unacknowledged messages return to their queue now.
                    let _ = within(
                        "closing a worker's channel",
                        ended.channel.close(200, ShortString::from("worker restarting")),
                    )
                    .await;
                    if let Err(e) = self
                        .start_worker(&conn, ended.index, *delay, &session_stop, &mut workers)
                        .await
                    {
                        break SessionEnd::Lost(format!("reopening a channel for {name}: {e:#}"));
                    }
                    *delay = (*delay * 2).min(max);
                }
                why = first_error(&mut events) => break SessionEnd::Lost(why),
            }
        };
        let mut tasks = workers.tasks;
        if matches!(end, SessionEnd::Lost(_)) {
            self.report(ServingStatus::NotServing).await;
        }

        // Let workers finish the message in hand, then close.
        session_stop.cancel();
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
        }
        if within(
            "closing the connection",
            conn.close(200, ShortString::from("refroute shutting down")),
        )
        .await
        .is_err()
        {
            tracing::warn!(connection = %self.connection_name, "dropping the connection unconfirmed");
        }
        Ok(end)
    }

    /// Runs worker `index` on a new channel of `conn`, after `delay`.
    async fn start_worker(
        &self,
        conn: &Connection,
        index: usize,
        delay: Duration,
        stop: &CancellationToken,
        running: &mut Running,
    ) -> anyhow::Result<()> {
        let channel = within("opening a channel", conn.create_channel()).await??;
        let fut = (self.workers[index].run)(WorkerSession {
            channel: channel.clone(),
            stop: stop.clone(),
            amqp: self.settings.clone(),
            health: self.health.clone(),
            service: self.service,
        });
        let stop = stop.clone();
        let handle = running.tasks.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep(delay) => {}
            }
            fut.await
        });
        running.channels.insert(
            handle.id(),
            Started {
                index,
                channel,
                started: Instant::now(),
            },
        );
        Ok(())
    }

    async fn report(&self, status: ServingStatus) {
        self.readiness
            .set_broker(status == ServingStatus::Serving)
            .await;
        // A consumer reports SERVING itself once it runs (and is not stuck); without the
        // broker, none can be.
        if status == ServingStatus::NotServing {
            for queue in self.workers.iter().filter_map(|w| w.queue) {
                self.health.set_service_status(queue.name, status).await;
            }
        }
    }
}

/// The workers of one session: their tasks, and for each task the worker and its channel.
#[derive(Default)]
struct Running {
    tasks: JoinSet<anyhow::Result<()>>,
    channels: HashMap<tokio::task::Id, Started>,
}

struct Started {
    index: usize,
    channel: Channel,
    started: Instant,
}

/// Runs one broker call with [`BROKER_CALL_LIMIT`].
async fn within<T>(what: &str, call: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(BROKER_CALL_LIMIT, call)
        .await
        .map_err(|_| anyhow::anyhow!("{what} took longer than {BROKER_CALL_LIMIT:?}"))
}

async fn first_error(
    events: &mut (impl futures_util::Stream<Item = lapin::Event> + Unpin),
) -> String {
    while let Some(event) = events.next().await {
        match event {
            lapin::Event::Error(e) => return format!("connection error: {e}"),
            lapin::Event::ConnectionBlocked(why) => {
                tracing::warn!(reason = %why, "broker blocked publishing on this connection")
            }
            _ => {}
        }
    }
    "connection event stream ended".to_string()
}
