//! `refroute dead-letters`: look at what a queue gave up on, and send it back once fixed.
//! Replayed messages keep their message id, so a consumer that did apply one ignores it.

use anyhow::Context;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Confirmation, Connection, ConnectionProperties};
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::messaging::topology::{QUEUES, dead_letter_queue};
use sqlx::PgPool;

/// Who the audit log says replayed dead letters: the CLI acts with the database owner's
/// credentials, so the person is whoever holds them.
pub const ACTOR: &str = "refroute-cli";

pub struct DeadLetter {
    pub message_id: String,
    pub message_type: String,
    pub routing_key: String,
    pub reason: String,
    pub bytes: usize,
}

fn known_queue(queue: &str) -> anyhow::Result<&'static str> {
    QUEUES
        .iter()
        .map(|q| q.name)
        .find(|q| *q == queue)
        .with_context(|| {
            let names: Vec<_> = QUEUES.iter().map(|q| q.name).collect();
            format!("unknown queue '{queue}'; one of: {}", names.join(", "))
        })
}

async fn connect(uri: &str) -> anyhow::Result<Connection> {
    Connection::connect(
        uri,
        ConnectionProperties::default().with_connection_name("refroute-cli".into()),
    )
    .await
    .context("connecting to RabbitMQ")
}

/// Why the broker dead-lettered a message (`rejected`, `delivery_limit`, ...), from the header
/// RabbitMQ stamps on the first death.
fn death_reason(props: &lapin::BasicProperties) -> String {
    let header = props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-first-death-reason").cloned());
    match header {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        Some(AMQPValue::ShortString(s)) => s.to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".into(),
    }
}

/// Lists up to `limit` dead letters of `queue` without removing them.
pub async fn list(uri: &str, queue: &str, limit: usize) -> anyhow::Result<Vec<DeadLetter>> {
    let queue = known_queue(queue)?;
    let conn = connect(uri).await?;
    let channel = conn.create_channel().await?;
    let dlq = dead_letter_queue(queue);
    let mut found = Vec::new();
    // Fetched without ack: closing the channel puts every one back.
    while found.len() < limit {
        let Some(m) = channel
            .basic_get(ShortString::from(dlq.as_str()), BasicGetOptions::default())
            .await?
        else {
            break;
        };
        let p = &m.delivery.properties;
        found.push(DeadLetter {
            message_id: p
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            message_type: p.kind().as_ref().map(|s| s.to_string()).unwrap_or_default(),
            routing_key: m.delivery.routing_key.to_string(),
            reason: death_reason(p),
            bytes: m.delivery.data.len(),
        });
    }
    channel.close(200, ShortString::from("listed")).await?;
    conn.close(200, ShortString::from("done")).await?;
    Ok(found)
}

/// Moves up to `limit` dead letters back onto `queue`. Each is acked off the dead-letter queue
/// only after the broker confirms the republish and the replay is in the audit log (`audit_db`),
/// so a crash part-way loses nothing, and a replay the log cannot record stops the run (the
/// message, republished but not acked, stays dead-lettered too; its id keeps it from applying
/// twice).
pub async fn replay(
    uri: &str,
    audit_db: &PgPool,
    queue: &str,
    limit: usize,
) -> anyhow::Result<usize> {
    let queue = known_queue(queue)?;
    let conn = connect(uri).await?;
    let channel = conn.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let dlq = dead_letter_queue(queue);
    // Only what is there now: a message that fails again lands back on the dead-letter queue
    // and must not be picked up again by this same run.
    let present = channel
        .queue_declare(
            ShortString::from(dlq.as_str()),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?
        .message_count() as usize;
    let mut replayed = 0;
    while replayed < limit.min(present) {
        let Some(m) = channel
            .basic_get(ShortString::from(dlq.as_str()), BasicGetOptions::default())
            .await?
        else {
            break;
        };
        let confirm = channel
            .basic_publish(
                ShortString::from(""),
                ShortString::from(queue),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &m.delivery.data,
                m.delivery.properties.clone(),
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) => {
                let p = &m.delivery.properties;
                // Events carry their referral's id as correlation id.
                let (kind, id) = match p.correlation_id() {
                    Some(referral) => (audit::REFERRAL, referral.to_string()),
                    None => (
                        "message",
                        p.message_id()
                            .as_ref()
                            .map(|s| s.to_string())
                            .unwrap_or_default(),
                    ),
                };
                let entry = Entry::new("cli", ACTOR, action::DEAD_LETTER_REPLAYED, kind, &id);
                let mut conn = audit_db.acquire().await?;
                audit::append(&mut conn, &entry)
                    .await
                    .context("recording the replay in the audit log")?;
                m.delivery.acker.ack(BasicAckOptions::default()).await?;
                replayed += 1;
            }
            other => anyhow::bail!("broker did not accept the replayed message: {other:?}"),
        }
    }
    conn.close(200, ShortString::from("done")).await?;
    Ok(replayed)
}
