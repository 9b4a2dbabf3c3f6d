//! Runs one queue's consumer and owns the inbox transaction, so a handler holds only its effect:
//! begin, claim the message id in the service's inbox (a duplicate is acked and nothing else
//! happens), hand the message and the transaction to the handler, commit, wake the outbox relay.
//!
//! Errors are classified where they arise ([`HandleError`]). A permanent failure (undecodable,
//! wrong type, a data or constraint error) is rejected without requeue, so it is dead-lettered
//! at once and raised as `alarm=message_dead_lettered`. A transient failure (the database is
//! unreachable, a deadlock) is retried in place with backoff, holding the message: that uses up
//! none of its deliveries while the channel stays up. A message still failing after
//! `amqp.stuck_alarm_secs` raises `alarm=consumer_stuck`, sets `refroute_consumer_stuck{queue}`
//! to 1 and the gRPC health of the queue's name to NOT_SERVING, until it settles.
//!
//! RabbitMQ 3.10 counts every return of a message to a quorum queue against its
//! `x-delivery-limit`, a channel or connection closing included. So when the channel goes away
//! while a message is failing, the consumer keeps a copy of that message and, on its next
//! channel, retries the copy before it subscribes again: reconnects during an outage then find
//! no message in hand and cost nothing more. Only the message in hand and those prefetched when
//! the channel first went (or the service restarted) are counted once each time.

use super::supervisor::WorkerSession;
use super::topology::{self, QueueSpec};
use super::{Event, Outbox, TraceContext, inbox};
use crate::settings::AmqpSettings;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use sqlx::{PgConnection, PgPool};
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic_health::ServingStatus;
use tracing::Instrument;
use uuid::Uuid;

/// The longest pause between two in-place retries of a transiently failing message.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// A message as a handler sees it.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub message_id: Uuid,
    pub message_type: String,
    pub routing_key: String,
    pub correlation_id: String,
    pub trace: TraceContext,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Retrying cannot help: dead-letter now. The message is logged, so it must hold no
    /// personal data.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
    /// May succeed later (database or network trouble).
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
}

impl HandleError {
    /// A failure that no retry can cure; `why` is logged and must hold no personal data.
    pub fn permanent(why: impl Display) -> Self {
        HandleError::Permanent(anyhow::anyhow!("{why}"))
    }

    /// A failure that may pass (something the message needs is not reachable yet).
    pub fn transient(why: impl Display) -> Self {
        HandleError::Transient(anyhow::anyhow!("{why}"))
    }
}

/// Whether a failure can pass by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    Transient,
    Permanent,
}

/// How a PostgreSQL error is treated, by its SQLSTATE. Transient: the connection (class 08),
/// serialisation failures and deadlocks (40001, 40P01), the server shutting down or not yet
/// accepting connections (57P01, 57P02, 57P03), lack of resources (class 53), and the timing
/// failures a lock or statement timeout produces (55P03, 57014), and a server that has become a
/// read-only standby in a failover (25006). Everything else the database says is about this
/// message or this code and will say it again: data exceptions (22), integrity (23), syntax
/// and permissions (42, including 42501 and an undefined table), and any unknown code.
pub fn sqlstate_retry(code: Option<&str>) -> Retry {
    let Some(code) = code else {
        return Retry::Permanent;
    };
    let transient = code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "55P03" | "57014" | "25006"
        );
    if transient {
        Retry::Transient
    } else {
        Retry::Permanent
    }
}

/// A fixed description of an SQLSTATE class, for logs that must not echo the database's own
/// message (which can quote the values that failed).
fn sqlstate_class(code: &str) -> &'static str {
    match code.get(..2).unwrap_or("") {
        "08" => "connection exception",
        "22" => "data exception",
        "23" => "integrity constraint violation",
        "25" => "invalid transaction state",
        "40" => "transaction rollback",
        "42" => "syntax error or access rule violation",
        "53" => "insufficient resources",
        "55" => "object not in prerequisite state",
        "57" => "operator intervention",
        "58" => "system error",
        "XX" => "internal error",
        _ => "database error",
    }
}

/// How an sqlx error is treated, and a description of it that holds no value from the data.
pub fn classify(e: &sqlx::Error) -> (Retry, String) {
    use sqlx::Error as E;
    match e {
        E::Database(db) => {
            let code = db.code();
            let code = code.as_deref();
            let mut why = match code {
                Some(c) => format!("SQLSTATE {c} ({})", sqlstate_class(c)),
                None => "database error without an SQLSTATE".to_string(),
            };
            // Schema object names, never values.
            if let Some(table) = db.table() {
                why.push_str(&format!(" on table {table}"));
            }
            if let Some(constraint) = db.constraint() {
                why.push_str(&format!(" (constraint {constraint})"));
            }
            (sqlstate_retry(code), why)
        }
        E::Io(e) => (Retry::Transient, format!("database I/O: {}", e.kind())),
        E::Tls(_) => (Retry::Transient, "database TLS failure".into()),
        E::PoolTimedOut => (
            Retry::Transient,
            "no database connection within the pool's timeout".into(),
        ),
        E::PoolClosed => (Retry::Transient, "the database pool is closed".into()),
        E::WorkerCrashed => (
            Retry::Transient,
            "the database connection's worker crashed".into(),
        ),
        E::Protocol(_) => (Retry::Transient, "database protocol error".into()),
        E::BeginFailed => (Retry::Transient, "could not begin a transaction".into()),
        E::RowNotFound => (
            Retry::Permanent,
            "a row the handler needs is missing".into(),
        ),
        E::ColumnNotFound(c) => (Retry::Permanent, format!("no column {c}")),
        E::ColumnIndexOutOfBounds { .. } => (Retry::Permanent, "column index out of bounds".into()),
        E::ColumnDecode { index, .. } => (
            Retry::Permanent,
            format!("column {index} cannot be decoded"),
        ),
        E::TypeNotFound { type_name } => (Retry::Permanent, format!("no type {type_name}")),
        E::Encode(_) => (Retry::Permanent, "a value cannot be encoded".into()),
        E::Decode(_) => (Retry::Permanent, "a value cannot be decoded".into()),
        _ => (Retry::Permanent, "database client error".into()),
    }
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        match classify(&e) {
            (Retry::Transient, why) => HandleError::transient(why),
            (Retry::Permanent, why) => HandleError::permanent(why),
        }
    }
}

impl From<prost::DecodeError> for HandleError {
    fn from(e: prost::DecodeError) -> Self {
        HandleError::permanent(format!("undecodable payload: {e}"))
    }
}

pub trait Handler: Send + Sync + 'static {
    /// Apply the effect inside `tx`; the consumer has already claimed the message id in the
    /// inbox, and commits (and wakes the outbox relay) after you return Ok.
    fn handle(
        &self,
        tx: &mut PgConnection,
        message: &Incoming,
    ) -> impl Future<Output = Result<(), HandleError>> + Send;
}

/// What the consumer needs of its service: the pool its transaction runs on, the schema whose
/// inbox it claims in, and the outbox to wake after a commit (when the service has one).
#[derive(Clone)]
pub struct ConsumerContext {
    pub pool: PgPool,
    pub schema: &'static str,
    pub outbox: Option<Outbox>,
}

impl Incoming {
    /// The payload as `E`, refusing a message whose `type` property names another event.
    pub fn decode<E: Event>(&self) -> Result<E, HandleError> {
        if self.message_type != E::TYPE {
            return Err(HandleError::permanent(format!(
                "message type '{}' where {} was expected",
                self.message_type.escape_debug(),
                E::TYPE
            )));
        }
        Ok(E::decode(self.payload.as_slice())?)
    }

    fn from_delivery(d: &Delivery) -> Result<Self, String> {
        let p = &d.properties;
        let message_id = p
            .message_id()
            .as_ref()
            .ok_or("no message_id property")?
            .as_str()
            .parse::<Uuid>()
            .map_err(|e| format!("message_id is not a UUID: {e}"))?;
        let traceparent = p.headers().as_ref().and_then(|h| {
            h.inner().get("traceparent").and_then(|v| match v {
                AMQPValue::LongString(s) => Some(s.to_string()),
                AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
                _ => None,
            })
        });
        Ok(Self {
            message_id,
            message_type: p
                .kind()
                .as_ref()
                .map(|k| k.as_str().to_string())
                .unwrap_or_default(),
            routing_key: d.routing_key.as_str().to_string(),
            correlation_id: p
                .correlation_id()
                .as_ref()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            trace: TraceContext::from_header(traceparent.as_deref()),
            payload: d.data.clone(),
        })
    }
}

/// A message that has been failing transiently, kept across channels (see the module docs).
struct Failing {
    incoming: Incoming,
    since: Instant,
    alarmed: bool,
}

/// One queue's consumer. It lives as long as the service: its channels come and go.
pub(crate) struct Consumer<H> {
    queue: &'static QueueSpec,
    context: ConsumerContext,
    handler: H,
    failing: Mutex<Option<Failing>>,
}

/// What an attempt at a message came to.
enum Applied {
    Done,
    Duplicate,
}

impl<H: Handler> Consumer<H> {
    pub(crate) fn new(queue: &'static QueueSpec, context: ConsumerContext, handler: H) -> Self {
        crate::metrics::set_gauge("refroute_consumer_stuck", &[("queue", queue.name)], 0);
        Self {
            queue,
            context,
            handler,
            failing: Mutex::new(None),
        }
    }

    fn name(&self) -> &'static str {
        self.queue.name
    }

    /// Consumes until the session stops (`Ok`) or the channel fails (`Err`; a fresh channel
    /// follows, and unacked messages return to the queue, where the inbox absorbs any repeat).
    pub(crate) async fn run(self: Arc<Self>, session: WorkerSession) -> anyhow::Result<()> {
        let queue = self.name();
        let stuck_after = Duration::from_secs(session.amqp.stuck_alarm_secs);
        if !self.is_alarmed() {
            session
                .health
                .set_service_status(queue, ServingStatus::Serving)
                .await;
        }
        // First the message that was failing when the last channel went: until it succeeds,
        // or turns out permanent, nothing more is taken from the queue.
        let held = self
            .failing
            .lock()
            .expect("consumer lock")
            .as_ref()
            .map(|f| f.incoming.clone());
        if let Some(incoming) = held {
            tracing::info!(queue, message_id = %incoming.message_id, "retrying the message that was failing before subscribing again");
            let span = self.span(&incoming);
            let mut backoff = FIRST_BACKOFF;
            loop {
                match self.attempt(&incoming).instrument(span.clone()).await {
                    Ok(_) => {
                        // Its copy on the broker is now a duplicate the inbox will absorb.
                        self.settled_ok(&session).await;
                        break;
                    }
                    Err(HandleError::Permanent(e)) => {
                        // The copy on the broker fails the same way when it comes and is
                        // dead-lettered then.
                        span.in_scope(|| tracing::warn!(reason = %e, "the held message cannot be processed; its redelivery will be dead-lettered"));
                        self.settled_ok(&session).await;
                        break;
                    }
                    Err(HandleError::Transient(e)) => {
                        self.still_failing(&incoming, &e, backoff, stuck_after, &session, &span)
                            .await;
                        tokio::select! {
                            _ = session.stop.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        if !session.channel.status().connected() {
                            anyhow::bail!("the channel of {queue} closed");
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }

        session
            .channel
            .basic_qos(session.amqp.prefetch, BasicQosOptions::default())
            .await?;
        let mut consumer = session
            .channel
            .basic_consume(
                ShortString::from(queue),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        loop {
            let next = tokio::select! {
                _ = session.stop.cancelled() => return Ok(()),
                next = consumer.next() => next,
            };
            match next {
                None => anyhow::bail!("consumer of {queue} was cancelled by the broker"),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(delivery)) => self.settle(delivery, stuck_after, &session).await?,
            }
        }
    }

    fn span(&self, incoming: &Incoming) -> tracing::Span {
        tracing::info_span!(
            "message",
            queue = self.name(),
            message_id = %incoming.message_id,
            referral_id = %incoming.correlation_id,
            kind = %incoming.message_type,
            trace_id = %incoming.trace.trace_id,
        )
    }

    /// One try: the inbox claim, the handler's effect and the commit, in one transaction.
    async fn attempt(&self, incoming: &Incoming) -> Result<Applied, HandleError> {
        let mut tx = self.context.pool.begin().await?;
        if !inbox::claim(
            &mut tx,
            self.context.schema,
            self.name(),
            incoming.message_id,
        )
        .await?
        {
            return Ok(Applied::Duplicate);
        }
        self.handler.handle(&mut tx, incoming).await?;
        tx.commit().await?;
        if let Some(outbox) = &self.context.outbox {
            outbox.notify_committed();
        }
        Ok(Applied::Done)
    }

    async fn settle(
        &self,
        delivery: Delivery,
        stuck_after: Duration,
        session: &WorkerSession,
    ) -> anyhow::Result<()> {
        let queue = self.name();
        let incoming = match Incoming::from_delivery(&delivery) {
            Ok(m) => m,
            Err(why) => {
                tracing::error!(
                    alarm = "message_dead_lettered",
                    queue,
                    message_id = "none",
                    reason = %why,
                    "malformed envelope; dead-lettering"
                );
                delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await?;
                settled(queue, "dead_lettered");
                return Ok(());
            }
        };
        // A dead letter's copy was checked (or refused) by the consumer that dead-lettered it;
        // its alert is owed whoever published it.
        let checked = match self.queue.source {
            topology::Source::Events => check_publisher(&delivery, &session.amqp),
            topology::Source::DeadLetters => Ok(()),
        };
        if let Err(why) = checked {
            tracing::error!(
                alarm = "message_dead_lettered",
                queue,
                message_id = %incoming.message_id,
                reason = %why,
                "not published by the service that publishes its routing key; dead-lettering"
            );
            delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await?;
            settled(queue, "dead_lettered");
            return Ok(());
        }
        let span = self.span(&incoming);
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.attempt(&incoming).instrument(span.clone()).await {
                Ok(applied) => {
                    if matches!(applied, Applied::Duplicate) {
                        span.in_scope(|| tracing::debug!("duplicate; already applied"));
                    }
                    delivery.acker.ack(BasicAckOptions::default()).await?;
                    settled(queue, "acked");
                    self.settled_ok(session).await;
                    return Ok(());
                }
                Err(HandleError::Permanent(e)) => {
                    span.in_scope(|| {
                        tracing::error!(
                            alarm = "message_dead_lettered",
                            queue,
                            message_id = %incoming.message_id,
                            reason = %e,
                            "cannot be processed; dead-lettering"
                        )
                    });
                    delivery
                        .acker
                        .reject(BasicRejectOptions { requeue: false })
                        .await?;
                    settled(queue, "dead_lettered");
                    self.settled_ok(session).await;
                    return Ok(());
                }
                Err(HandleError::Transient(e)) => {
                    settled(queue, "retried");
                    self.still_failing(&incoming, &e, backoff, stuck_after, session, &span)
                        .await;
                    tokio::select! {
                        _ = session.stop.cancelled() => {
                            // Shutting down (or the connection went): the message returns to
                            // the queue when the channel closes, and the copy kept here is
                            // retried first next time. Not nacked: the broker could hand it
                            // straight back before the channel closes, and return it twice.
                            return Ok(());
                        }
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    if !session.channel.status().connected() {
                        // The broker closed the channel (e.g. its consumer_timeout): let the
                        // supervisor open a fresh one.
                        anyhow::bail!("the channel of {queue} closed while a message was failing");
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn is_alarmed(&self) -> bool {
        self.failing
            .lock()
            .expect("consumer lock")
            .as_ref()
            .is_some_and(|f| f.alarmed)
    }

    /// Records a transient failure of `incoming`, raising the stuck alarm once it has lasted.
    async fn still_failing(
        &self,
        incoming: &Incoming,
        error: &anyhow::Error,
        backoff: Duration,
        stuck_after: Duration,
        session: &WorkerSession,
        span: &tracing::Span,
    ) {
        let raise = {
            let mut failing = self.failing.lock().expect("consumer lock");
            let f = match failing.as_mut() {
                Some(f) if f.incoming.message_id == incoming.message_id => f,
                _ => failing.insert(Failing {
                    incoming: incoming.clone(),
                    since: Instant::now(),
                    alarmed: false,
                }),
            };
            let raise = !f.alarmed && f.since.elapsed() >= stuck_after;
            if raise {
                f.alarmed = true;
            }
            raise.then(|| f.since.elapsed())
        };
        span.in_scope(|| {
            tracing::warn!(error = %error, retry_in_ms = backoff.as_millis() as u64, "transient failure; retrying")
        });
        if let Some(failing_for) = raise {
            let queue = self.name();
            span.in_scope(|| {
                tracing::error!(
                    alarm = "consumer_stuck",
                    queue,
                    message_id = %incoming.message_id,
                    failing_secs = failing_for.as_secs(),
                    error = %error,
                    "a message has been failing for longer than amqp.stuck_alarm_secs; the queue waits behind it"
                )
            });
            crate::metrics::set_gauge("refroute_consumer_stuck", &[("queue", queue)], 1);
            session
                .health
                .set_service_status(queue, ServingStatus::NotServing)
                .await;
            announce_stuck(session, queue, incoming, failing_for).await;
        }
    }

    /// The message in hand settled: clear any stuck alarm.
    async fn settled_ok(&self, session: &WorkerSession) {
        let was = self.failing.lock().expect("consumer lock").take();
        if let Some(f) = was {
            let queue = self.name();
            if f.alarmed {
                tracing::warn!(
                    alarm = "consumer_stuck",
                    queue,
                    message_id = %f.incoming.message_id,
                    failing_secs = f.since.elapsed().as_secs(),
                    "the stuck message settled; the queue moves again"
                );
            }
            crate::metrics::set_gauge("refroute_consumer_stuck", &[("queue", queue)], 0);
            session
                .health
                .set_service_status(queue, ServingStatus::Serving)
                .await;
        }
    }
}

/// Tells the operators (through notification's `notification.alerts` queue) that `queue` is
/// stuck on `incoming`. Published on the consumer's own channel, not through the outbox: what is
/// failing is often the database the outbox lives in. At most once an episode; if the broker
/// does not take it, the log line and the gauge still say so.
async fn announce_stuck(
    session: &WorkerSession,
    queue: &'static str,
    incoming: &Incoming,
    failing_for: Duration,
) {
    use lapin::BasicProperties;
    use lapin::options::BasicPublishOptions;
    use prost::Message;
    let event = refroute_proto::v1::ConsumerStuck {
        service: session.service.to_string(),
        queue: queue.to_string(),
        message_id: incoming.message_id.to_string(),
        correlation_id: incoming.correlation_id.clone(),
        failing_secs: failing_for.as_secs() as u32,
    };
    let mut properties = BasicProperties::default()
        .with_message_id(ShortString::from(Uuid::now_v7().to_string()))
        .with_correlation_id(ShortString::from(incoming.correlation_id.as_str()))
        .with_content_type(ShortString::from("application/x-protobuf"))
        .with_type(ShortString::from(refroute_proto::v1::ConsumerStuck::TYPE))
        .with_delivery_mode(2);
    // RabbitMQ checks user_id against the connection's user, so consumers can trust it.
    if let Some(user) = topology::user_of(session.amqp.uri_for(session.service).expose()) {
        properties = properties.with_user_id(ShortString::from(user));
    }
    let published = session
        .channel
        .basic_publish(
            ShortString::from(session.amqp.exchange.as_str()),
            ShortString::from(refroute_proto::v1::ConsumerStuck::ROUTING_KEY),
            BasicPublishOptions::default(),
            &event.encode_to_vec(),
            properties,
        )
        .await;
    if let Err(e) = published {
        tracing::warn!(queue, error = %e, "could not tell the operators the consumer is stuck");
    }
}

/// When per-service broker users are configured (`amqp.users`), a message must carry the
/// `user_id` of the service that publishes its routing key; RabbitMQ has checked that `user_id`
/// against the publishing connection. Anyone else who can write to the exchange (another
/// service's user, a mistaken tool) is refused. Names only users and keys, never data.
fn check_publisher(delivery: &Delivery, amqp: &AmqpSettings) -> Result<(), String> {
    if !amqp.checks_publishers() {
        return Ok(());
    }
    let key = delivery.routing_key.as_str();
    let kind = delivery
        .properties
        .kind()
        .as_ref()
        .map_or("", |k| k.as_str());
    let Some(publisher) = topology::publisher_of(key, kind) else {
        return Err(format!(
            "no service publishes routing key {key} (type {})",
            kind.escape_debug()
        ));
    };
    let user = delivery.properties.user_id().as_ref().map(|u| u.as_str());
    if publisher == topology::ANY_SERVICE {
        let known = crate::db::SERVICES
            .iter()
            .any(|s| amqp.expected_user(s).is_some() && amqp.expected_user(s) == user);
        return if known {
            Ok(())
        } else {
            Err(format!(
                "{key} may be published by any service's broker user, and this is none of theirs"
            ))
        };
    }
    let expected = amqp.expected_user(publisher).unwrap_or_default();
    match user {
        Some(user) if user == expected => Ok(()),
        Some(user) => Err(format!(
            "{key} is published by {publisher} (broker user {expected}), not by broker user {}",
            user.escape_debug()
        )),
        None => Err(format!(
            "{key} is published by {publisher} (broker user {expected}); this has no user_id"
        )),
    }
}

fn settled(queue: &'static str, result: &'static str) {
    crate::metrics::increment(
        "refroute_messages_total",
        &[("queue", queue), ("result", result)],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_contention_states_are_transient() {
        for code in [
            "08000", "08003", "08006", "08P01", "40001", "40P01", "57P01", "57P02", "57P03",
            "53000", "53100", "53200", "53300", "55P03", "57014", "25006",
        ] {
            assert_eq!(sqlstate_retry(Some(code)), Retry::Transient, "{code}");
        }
    }

    #[test]
    fn data_integrity_and_permission_states_are_permanent() {
        for code in [
            "22008", // date out of range: the -5000-01-01 incident date
            "22P02", "22001", "23505", "23503", "23502", "23514", "42501", // permission
            "42P01", // undefined table
            "42703", "42601", "XX000", "P0001", "0A000",
        ] {
            assert_eq!(sqlstate_retry(Some(code)), Retry::Permanent, "{code}");
        }
        assert_eq!(sqlstate_retry(None), Retry::Permanent);
    }

    #[test]
    fn client_side_errors_are_classified_by_kind() {
        use sqlx::Error as E;
        let transient = [
            E::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            E::PoolTimedOut,
            E::PoolClosed,
            E::WorkerCrashed,
            E::Protocol("unexpected message".into()),
            E::Tls("handshake".into()),
        ];
        for e in &transient {
            assert_eq!(classify(e).0, Retry::Transient, "{e}");
        }
        let permanent = [
            E::RowNotFound,
            E::ColumnNotFound("x".into()),
            E::TypeNotFound {
                type_name: "t".into(),
            },
            E::Encode("e".into()),
            E::Decode("d".into()),
            E::ColumnDecode {
                index: "0".into(),
                source: "bad".into(),
            },
        ];
        for e in &permanent {
            assert_eq!(classify(e).0, Retry::Permanent, "{e}");
        }
        assert!(matches!(
            HandleError::from(E::PoolTimedOut),
            HandleError::Transient(_)
        ));
        assert!(matches!(
            HandleError::from(E::RowNotFound),
            HandleError::Permanent(_)
        ));
    }

    #[test]
    fn the_reason_names_the_state_not_the_value() {
        assert_eq!(
            sqlstate_class("22008"),
            "data exception",
            "a fixed description stands in for the server's message"
        );
        assert_eq!(sqlstate_class("23505"), "integrity constraint violation");
        assert_eq!(
            sqlstate_class("42501"),
            "syntax error or access rule violation"
        );
        let (_, why) = classify(&sqlx::Error::ColumnDecode {
            index: "3".into(),
            source: "Paige Test is not a number".into(),
        });
        assert!(!why.contains("Paige"), "{why}");
    }

    #[test]
    fn decode_checks_the_type_property() {
        use refroute_proto::v1::{CaseHeard, ReferralDeclined};
        let heard = CaseHeard {
            referral_id: "r".into(),
            ..Default::default()
        };
        let incoming = |kind: &str| Incoming {
            message_id: Uuid::now_v7(),
            message_type: kind.into(),
            routing_key: CaseHeard::ROUTING_KEY.into(),
            correlation_id: String::new(),
            trace: TraceContext::start(),
            payload: prost::Message::encode_to_vec(&heard),
        };
        let ok: CaseHeard = incoming(CaseHeard::TYPE).decode().unwrap();
        assert_eq!(ok.referral_id, "r");
        let wrong = incoming(ReferralDeclined::TYPE).decode::<CaseHeard>();
        assert!(matches!(wrong, Err(HandleError::Permanent(_))));
        let untyped = incoming("").decode::<CaseHeard>();
        assert!(matches!(untyped, Err(HandleError::Permanent(_))));
        let mut garbage = incoming(CaseHeard::TYPE);
        garbage.payload = vec![0xff, 0xff, 0xff];
        assert!(matches!(
            garbage.decode::<CaseHeard>(),
            Err(HandleError::Permanent(_))
        ));
    }
}
