//! Runs one queue's consumer: decode the envelope, hand the message to the service's handler,
//! and settle it. Success acks; a permanent failure (undecodable, invalid) is rejected without
//! requeue so it is dead-lettered at once; a transient failure (database down) is retried in
//! place with backoff, so an outage does not burn the message's delivery limit.

use super::TraceContext;
use futures_util::StreamExt;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

/// A message as a handler sees it.
#[derive(Debug)]
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
    /// Retrying cannot help: dead-letter now.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
    /// May succeed later (database or network trouble).
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        HandleError::Transient(e.into())
    }
}

impl From<prost::DecodeError> for HandleError {
    fn from(e: prost::DecodeError) -> Self {
        HandleError::Permanent(anyhow::anyhow!("undecodable payload: {e}"))
    }
}

pub trait Handler: Send + Sync + 'static {
    /// Applies the message's effect. Must be idempotent: claim the message id in the inbox in
    /// the same transaction as the effect.
    fn handle(&self, message: &Incoming) -> impl Future<Output = Result<(), HandleError>> + Send;
}

impl Incoming {
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

/// Consumes `queue` until `stop` or until the channel fails (then `Err`, and the supervisor
/// reconnects; unacked messages return to the queue and the inbox absorbs any repeat).
pub async fn consume<H: Handler>(
    channel: Channel,
    queue: &'static str,
    prefetch: u16,
    handler: Arc<H>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            ShortString::from(queue),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            next = consumer.next() => next,
        };
        match next {
            None => anyhow::bail!("consumer of {queue} was cancelled by the broker"),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(delivery)) => settle(queue, delivery, handler.as_ref(), &stop).await?,
        }
    }
}

async fn settle<H: Handler>(
    queue: &'static str,
    delivery: Delivery,
    handler: &H,
    stop: &CancellationToken,
) -> lapin::Result<()> {
    let incoming = match Incoming::from_delivery(&delivery) {
        Ok(m) => m,
        Err(why) => {
            tracing::error!(queue, reason = %why, "malformed envelope; dead-lettering");
            delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await?;
            settled(queue, "dead_lettered");
            return Ok(());
        }
    };
    let span = tracing::info_span!(
        "message",
        queue,
        message_id = %incoming.message_id,
        referral_id = %incoming.correlation_id,
        kind = %incoming.message_type,
        trace_id = %incoming.trace.trace_id,
    );
    let mut backoff = Duration::from_millis(100);
    loop {
        match handler.handle(&incoming).instrument(span.clone()).await {
            Ok(()) => {
                delivery.acker.ack(BasicAckOptions::default()).await?;
                settled(queue, "acked");
                return Ok(());
            }
            Err(HandleError::Permanent(e)) => {
                span.in_scope(
                    || tracing::error!(error = %e, "cannot be processed; dead-lettering"),
                );
                delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await?;
                settled(queue, "dead_lettered");
                return Ok(());
            }
            Err(HandleError::Transient(e)) => {
                settled(queue, "retried");
                span.in_scope(|| tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "transient failure; retrying"));
                tokio::select! {
                    _ = stop.cancelled() => {
                        delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
                        return Ok(());
                    }
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn settled(queue: &'static str, result: &'static str) {
    crate::metrics::increment(
        "refroute_messages_total",
        &[("queue", queue), ("result", result)],
    );
}
