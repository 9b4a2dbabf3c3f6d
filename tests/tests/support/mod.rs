//! Broker and health helpers shared by the delivery-limit and event-order tests.

#![allow(dead_code)]

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use refroute_e2e::TestSystem;
use std::time::{Duration, Instant};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

/// An event as it left an outbox: what a dead-letter replay or a late relay would publish.
pub struct Published {
    pub routing_key: String,
    pub message_type: String,
    pub correlation_id: String,
    pub payload: Vec<u8>,
}

/// The (opened) events `schema`'s outbox holds for `referral_id` under `routing_key`, oldest
/// first.
pub async fn outbox_events(
    system: &TestSystem,
    schema: &str,
    routing_key: &str,
    referral_id: &str,
) -> Vec<Published> {
    let sealer = refroute_platform::keys::load(&system.settings)
        .unwrap()
        .sealer;
    let rows: Vec<(uuid::Uuid, String, String, Vec<u8>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT message_id, message_type, correlation_id, payload FROM {schema}.outbox \
             WHERE routing_key = $1 AND correlation_id = $2 ORDER BY id"
        )))
        .bind(routing_key)
        .bind(referral_id)
        .fetch_all(&system.pool)
        .await
        .unwrap();
    rows.into_iter()
        .map(|(id, message_type, correlation_id, sealed)| Published {
            routing_key: routing_key.to_string(),
            message_type,
            correlation_id,
            payload: sealer.open(&id.to_string(), &sealed).unwrap(),
        })
        .collect()
}

/// Publishes `event` to the events exchange under a new message id, with the properties the
/// relay sets, and waits for the broker's confirm. Returns the message id.
pub async fn publish(system: &TestSystem, event: &Published) -> uuid::Uuid {
    let conn = Connection::connect(&system.amqp_uri(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let message_id = uuid::Uuid::now_v7();
    let mut headers = FieldTable::default();
    headers.insert(
        ShortString::from("traceparent"),
        AMQPValue::LongString(LongString::from(format!(
            "00-{}-{}-01",
            uuid::Uuid::new_v4().simple(),
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        ))),
    );
    let props = BasicProperties::default()
        .with_message_id(ShortString::from(message_id.to_string()))
        .with_correlation_id(ShortString::from(event.correlation_id.as_str()))
        .with_content_type(ShortString::from("application/x-protobuf"))
        .with_type(ShortString::from(event.message_type.as_str()))
        .with_delivery_mode(2)
        .with_headers(headers);
    let confirm = channel
        .basic_publish(
            ShortString::from(system.settings.amqp.exchange.as_str()),
            ShortString::from(event.routing_key.as_str()),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &event.payload,
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(
        matches!(confirm, lapin::Confirmation::Ack(None)),
        "published and routed: {confirm:?}"
    );
    conn.close(200, ShortString::from("published"))
        .await
        .unwrap();
    message_id
}

/// Waits until `schema`'s inbox holds `message_id`: the consumer has applied (or deliberately
/// ignored) the message and committed.
pub async fn wait_applied(system: &TestSystem, schema: &str, message_id: uuid::Uuid) {
    system
        .assert_count(
            &format!("SELECT count(*) FROM {schema}.inbox WHERE message_id = '{message_id}'"),
            1,
            Duration::from_secs(30),
        )
        .await;
}

/// Messages waiting in `queue` (ready, not those a consumer holds).
pub async fn ready_messages(system: &TestSystem, queue: &str) -> u32 {
    let conn = Connection::connect(&system.amqp_uri(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let count = channel
        .queue_declare(
            ShortString::from(queue),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap()
        .message_count();
    let _ = conn.close(200, ShortString::from("counted")).await;
    count
}

/// Waits until `queue` has `want` ready messages; returns the last count seen.
pub async fn wait_ready(system: &TestSystem, queue: &str, want: u32, within: Duration) -> u32 {
    let start = Instant::now();
    loop {
        let n = ready_messages(system, queue).await;
        if n == want || start.elapsed() > within {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The gRPC health `service` of `name` reports for the health service name `key` ("" for the
/// service as a whole, a queue's name for its consumer).
pub async fn health_of(system: &TestSystem, name: &str, key: &str) -> Option<ServingStatus> {
    let channel = system.channel(name).await.ok()?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: key.to_string(),
        })
        .await
        .ok()?
        .into_inner()
        .status();
    Some(status)
}

/// Waits until `name` reports `want` for `key`.
pub async fn wait_health_of(
    system: &TestSystem,
    name: &str,
    key: &str,
    want: ServingStatus,
    within: Duration,
) {
    let start = Instant::now();
    loop {
        let now = health_of(system, name, key).await;
        if now == Some(want) {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{name} health {key:?} is {now:?}, not {want:?}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
