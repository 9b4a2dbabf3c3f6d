//! How a transient database failure meets `x-delivery-limit` on RabbitMQ 3.10, where a quorum
//! queue counts every return of a message against the limit, a closed channel or connection
//! included. The failure here is deterministic: a test transaction holds an ACCESS EXCLUSIVE
//! lock on `triage.decisions`, and the services' `lock_timeout` turns triage's wait for it into
//! SQLSTATE 55P03, a transient error, on every attempt. A permanent error (permission denied)
//! is dead-lettered at once instead.

mod support;

use refroute_e2e::{Sample, TestSystem, spawn_system_with};
use refroute_proto::v1::{GetReferralRequest, ReferralStatus};
use std::time::{Duration, Instant};
use support::{wait_health_of, wait_ready};
use tonic_health::pb::health_check_response::ServingStatus;

const QUEUE: &str = "triage.referral-received";
const DLQ: &str = "triage.referral-received.dlq";

/// A system whose connections give up waiting for a lock after 200 ms, dead-letter after
/// `delivery_limit` returns, and call a consumer stuck after one second.
async fn system(delivery_limit: u32) -> TestSystem {
    spawn_system_with(|s| {
        s.amqp.delivery_limit = delivery_limit;
        s.amqp.stuck_alarm_secs = 1;
        let url = format!("{}?options[lock_timeout]=200", s.database.url.expose());
        s.database.url = refroute_platform::Secret::new(url);
    })
    .await
}

/// Holds triage's decisions table until the returned transaction ends.
async fn lock_decisions(system: &TestSystem) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = system.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE triage.decisions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

async fn status(system: &TestSystem, id: &str) -> ReferralStatus {
    system
        .intake
        .clone()
        .get_referral(GetReferralRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner()
        .status()
}

async fn stuck_gauge(system: &TestSystem) -> String {
    let scraped = system.scrape("triage").await.unwrap();
    scraped
        .lines()
        .find(|l| l.starts_with(&format!("refroute_consumer_stuck{{queue=\"{QUEUE}\"}}")))
        .unwrap_or_else(|| panic!("no stuck gauge for {QUEUE} in\n{scraped}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_database_uses_up_no_deliveries_however_often_the_broker_connection_drops() {
    let system = system(2).await;
    let lock = lock_decisions(&system).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = system
            .submit(Sample::new(format!("Patience Waiting {i}")).yes(15))
            .await;
        ids.push(r.id);
    }

    // Stuck: alarmed on the queue's own health name and gauge, while the service as a whole
    // still holds its broker connection.
    wait_health_of(
        &system,
        "triage",
        QUEUE,
        ServingStatus::NotServing,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        stuck_gauge(&system).await,
        format!("refroute_consumer_stuck{{queue=\"{QUEUE}\"}} 1")
    );
    wait_health_of(
        &system,
        "triage",
        "",
        ServingStatus::Serving,
        Duration::from_secs(5),
    )
    .await;

    // More connection losses than the limit allows returns. The first returns the messages in
    // hand (one delivery each); triage then retries the message it was failing on from its own
    // copy before taking any more, so the later losses find nothing in hand.
    for _ in 0..4 {
        system.close_broker_connection("triage").await.unwrap();
        wait_health_of(
            &system,
            "triage",
            "",
            ServingStatus::Serving,
            Duration::from_secs(30),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            support::ready_messages(&system, DLQ).await,
            0,
            "no message has reached the dead-letter queue"
        );
    }
    // Nothing is in hand: all three wait in the queue behind the copy triage retries.
    assert_eq!(
        wait_ready(&system, QUEUE, 3, Duration::from_secs(5)).await,
        3
    );
    for id in &ids {
        assert_eq!(status(&system, id).await, ReferralStatus::Received);
    }

    lock.rollback().await.unwrap();
    for id in &ids {
        assert_eq!(system.outcome(id).await.status(), ReferralStatus::Routed);
    }
    assert_eq!(support::ready_messages(&system, DLQ).await, 0);
    wait_health_of(
        &system,
        "triage",
        QUEUE,
        ServingStatus::Serving,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        stuck_gauge(&system).await,
        format!("refroute_consumer_stuck{{queue=\"{QUEUE}\"}} 0")
    );
    // Each decided once, though the first was attempted from two copies.
    system
        .assert_count(
            "SELECT count(*) FROM triage.outbox WHERE routing_key = 'referral.routed.v1'",
            3,
            Duration::from_secs(1),
        )
        .await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_restart_while_a_message_fails_costs_one_delivery_until_the_limit_dead_letters_it() {
    const LIMIT: u32 = 1;
    let mut system = system(LIMIT).await;
    let lock = lock_decisions(&system).await;
    let mut ids = Vec::new();
    for i in 0..2 {
        let r = system
            .submit(Sample::new(format!("Ida Interrupted {i}")).yes(15))
            .await;
        ids.push(r.id);
    }

    // A restart forgets the copy the consumer kept: each one returns the messages in hand,
    // and RabbitMQ 3.10 counts it. After `delivery_limit` returns they are still redelivered;
    // the next return dead-letters them.
    let mut restarts = 0;
    let start = Instant::now();
    while support::ready_messages(&system, DLQ).await < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "not dead-lettered after {restarts} restarts"
        );
        wait_health_of(
            &system,
            "triage",
            QUEUE,
            ServingStatus::NotServing,
            Duration::from_secs(30),
        )
        .await;
        system.stop("triage").await.unwrap();
        system.start("triage").await.unwrap();
        restarts += 1;
        wait_ready(&system, DLQ, 2, Duration::from_secs(2)).await;
    }
    assert_eq!(
        restarts,
        LIMIT + 1,
        "dead-lettered by the return after delivery_limit returns"
    );
    let dead = refroute_cli::dead_letters::list(&system.amqp_uri(), QUEUE, 10)
        .await
        .unwrap();
    let reasons: Vec<&str> = dead.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(reasons, ["delivery_limit", "delivery_limit"]);
    for id in &ids {
        assert_eq!(status(&system, id).await, ReferralStatus::Received);
    }

    // Once the database is well again, a replay routes them.
    lock.rollback().await.unwrap();
    let replayed = refroute_cli::dead_letters::replay(&system.amqp_uri(), &system.pool, QUEUE, 10)
        .await
        .unwrap();
    assert_eq!(replayed, 2);
    for id in &ids {
        assert_eq!(system.outcome(id).await.status(), ReferralStatus::Routed);
    }
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_error_is_dead_lettered_at_once_with_an_alarm_that_quotes_no_data() {
    let mut system = system(5).await;
    // Triage as its real binary, so that its log can be read.
    system.stop("triage").await.unwrap();
    let triage = system.spawn_binary_with("triage", &[], true).await.unwrap();
    sqlx::query("REVOKE INSERT ON triage.decisions FROM refroute_triage")
        .execute(&system.pool)
        .await
        .unwrap();
    let refused = system.submit(Sample::new("Percy Permission").yes(15)).await;
    assert_eq!(
        wait_ready(&system, DLQ, 1, Duration::from_secs(30)).await,
        1,
        "dead-lettered, not retried"
    );
    let dead = refroute_cli::dead_letters::list(&system.amqp_uri(), QUEUE, 10)
        .await
        .unwrap();
    assert_eq!(dead[0].reason, "rejected");

    let log = triage.log_text();
    let alarm = log
        .lines()
        .find(|l| l.contains("message_dead_lettered"))
        .unwrap_or_else(|| panic!("no alarm in\n{log}"));
    assert!(alarm.contains(QUEUE), "{alarm}");
    assert!(alarm.contains("SQLSTATE 42501"), "{alarm}");
    assert!(!log.contains("Percy"), "{log}");
    assert!(
        !log.contains("transient failure; retrying"),
        "a permission error is not retried: {log}"
    );

    // Behind it, the queue moves once the grant is back.
    sqlx::query("GRANT INSERT ON triage.decisions TO refroute_triage")
        .execute(&system.pool)
        .await
        .unwrap();
    let behind = system.decide(Sample::new("Quentin Queued").yes(15)).await;
    assert_eq!(behind.status(), ReferralStatus::Routed);
    assert_eq!(status(&system, &refused.id).await, ReferralStatus::Received);
    drop(triage);
    system.shutdown().await;
}
