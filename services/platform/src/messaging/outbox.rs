//! The transactional outbox. A service writes its state change and the event in one database
//! transaction ([`Outbox::enqueue`]); the [`Relay`] publishes committed events with publisher
//! confirms and `mandatory`, and marks a row published only on a plain ack. A message the broker
//! returns as unroutable is an alarm and stays in the outbox to be retried.

use super::{Event, TraceContext};
use crate::crypto::Sealer;
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const BATCH: i64 = 200;

/// Writes events into a service's outbox table and wakes its relay after commit.
#[derive(Clone)]
pub struct Outbox {
    schema: &'static str,
    sealer: Sealer,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(schema: &'static str, sealer: Sealer) -> Self {
        Self {
            schema,
            sealer,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Adds `event` to the outbox inside the caller's transaction. Returns its message id.
    pub async fn enqueue<E: Event>(
        &self,
        conn: &mut PgConnection,
        event: &E,
        correlation_id: &str,
        trace: &TraceContext,
    ) -> sqlx::Result<Uuid> {
        let message_id = Uuid::now_v7();
        let sql = format!(
            "INSERT INTO {}.outbox (message_id, routing_key, message_type, correlation_id, traceparent, payload) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            self.schema
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(message_id)
            .bind(E::ROUTING_KEY)
            .bind(E::TYPE)
            .bind(correlation_id)
            .bind(trace.child().to_header())
            .bind(
                self.sealer
                    .seal(&message_id.to_string(), &event.encode_to_vec()),
            )
            .execute(conn)
            .await?;
        Ok(message_id)
    }

    pub fn schema(&self) -> &'static str {
        self.schema
    }

    /// Call after the transaction commits, so the relay publishes without waiting for its poll.
    pub fn notify_committed(&self) {
        self.wake.notify_one();
    }

    pub fn relay(
        &self,
        pool: PgPool,
        exchange: String,
        poll: Duration,
        app_id: &'static str,
    ) -> Relay {
        Relay {
            pool,
            schema: self.schema,
            exchange,
            poll,
            app_id,
            user_id: None,
            sealer: self.sealer.clone(),
            wake: self.wake.clone(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: i64,
    message_id: Uuid,
    routing_key: String,
    message_type: String,
    correlation_id: String,
    traceparent: String,
    payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("publisher confirms are not enabled on the relay channel")]
    ConfirmsOff,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Publishes a service's outbox. Runs on its own channel for as long as the connection lives.
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    schema: &'static str,
    exchange: String,
    poll: Duration,
    app_id: &'static str,
    /// The broker user the relay's connection logs in as, sent as `user_id`.
    user_id: Option<String>,
    sealer: Sealer,
    wake: Arc<Notify>,
}

impl Relay {
    /// Sends `user` (the connection's own broker user) as every message's `user_id`.
    pub fn publishing_as(mut self, user: Option<String>) -> Self {
        self.user_id = user;
        self
    }

    /// Returns `Ok` on shutdown and `Err` when the channel fails (the supervisor reconnects).
    pub async fn run(self, channel: Channel, stop: CancellationToken) -> anyhow::Result<()> {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        loop {
            let idle = match self.publish_batch(&channel).await {
                Ok(Batch {
                    published,
                    held_back,
                }) => {
                    if held_back > 0 {
                        // Unroutable events: retry, but not in a hot loop.
                        tokio::time::sleep(self.poll * 4).await;
                    }
                    published < BATCH as usize
                }
                Err(e @ (RelayError::Broker(_) | RelayError::ConfirmsOff)) => return Err(e.into()),
                Err(RelayError::Database(e)) => {
                    tracing::warn!(error = %e, schema = self.schema, "outbox relay cannot reach the database; retrying");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = self.wake.notified() => {},
                    _ = tokio::time::sleep(self.poll) => {},
                }
            } else if stop.is_cancelled() {
                return Ok(());
            }
        }
    }

    async fn publish_batch(&self, channel: &Channel) -> Result<Batch, RelayError> {
        let mut tx = self.pool.begin().await?;
        let claim = format!(
            "SELECT id, message_id, routing_key, message_type, correlation_id, traceparent, payload \
             FROM {}.outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            self.schema
        );
        let rows: Vec<Pending> = sqlx::query_as(sqlx::AssertSqlSafe(claim))
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Ok(Batch::default());
        }

        let mut confirms = Vec::with_capacity(rows.len());
        let mut held_back = 0;
        for row in &rows {
            let Ok(payload) = self.sealer.open(&row.message_id.to_string(), &row.payload) else {
                held_back += 1;
                tracing::error!(alarm = "outbox_unreadable", message_id = %row.message_id, "outbox event cannot be opened with the data key; it stays unpublished");
                continue;
            };
            let confirm = channel
                .basic_publish(
                    ShortString::from(self.exchange.as_str()),
                    ShortString::from(row.routing_key.as_str()),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &payload,
                    self.properties(row),
                )
                .await?;
            confirms.push((row, confirm));
        }

        let mut published = Vec::with_capacity(rows.len());
        for (row, confirm) in confirms {
            match confirm.await? {
                Confirmation::Ack(None) => {
                    crate::metrics::increment(
                        "refroute_events_published_total",
                        &[("routing_key", &row.routing_key)],
                    );
                    published.push(row.id)
                }
                Confirmation::Ack(Some(returned)) => {
                    held_back += 1;
                    crate::metrics::increment(
                        "refroute_events_unroutable_total",
                        &[("routing_key", &row.routing_key)],
                    );
                    tracing::error!(
                        alarm = "unroutable_event",
                        message_id = %row.message_id,
                        routing_key = %row.routing_key,
                        reply = %returned.reply_text,
                        "the broker returned an event no queue is bound for; it stays in the outbox"
                    );
                }
                Confirmation::Nack(_) => {
                    held_back += 1;
                    tracing::warn!(message_id = %row.message_id, "broker nacked an event; it will be republished");
                }
                Confirmation::NotRequested => return Err(RelayError::ConfirmsOff),
            }
        }

        let mark = format!(
            "UPDATE {}.outbox SET published_at = now() WHERE id = ANY($1)",
            self.schema
        );
        sqlx::query(sqlx::AssertSqlSafe(mark))
            .bind(&published)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::debug!(
            count = published.len(),
            schema = self.schema,
            "outbox events published"
        );
        Ok(Batch {
            published: published.len(),
            held_back,
        })
    }

    fn properties(&self, row: &Pending) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert(
            ShortString::from("traceparent"),
            AMQPValue::LongString(LongString::from(row.traceparent.as_str())),
        );
        let properties = BasicProperties::default();
        let properties = match &self.user_id {
            Some(user) => properties.with_user_id(ShortString::from(user.as_str())),
            None => properties,
        };
        properties
            .with_message_id(ShortString::from(row.message_id.to_string()))
            .with_correlation_id(ShortString::from(row.correlation_id.as_str()))
            .with_content_type(ShortString::from("application/x-protobuf"))
            .with_type(ShortString::from(row.message_type.as_str()))
            .with_app_id(ShortString::from(self.app_id))
            .with_delivery_mode(2)
            .with_timestamp(chrono::Utc::now().timestamp() as u64)
            .with_headers(headers)
    }
}

#[derive(Default)]
struct Batch {
    published: usize,
    held_back: usize,
}
