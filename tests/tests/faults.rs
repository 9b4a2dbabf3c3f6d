//! Faults: broker connections cut mid-stream, a service stopped mid-flow, a poison message.
//! Each test counts by id: nothing lost, nothing twice.

use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use refroute_e2e::{Sample, spawn_system};
use refroute_proto::v1::ReferralStatus;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tonic_health::pb::health_check_response::ServingStatus;

const N: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_arrive_exactly_once_when_broker_connections_are_force_closed_mid_stream() {
    // A reconnect delay long enough that the NOT_SERVING window is seen even on a busy machine.
    let system = refroute_e2e::spawn_system_with(|s| s.amqp.reconnect_initial_ms = 1000).await;

    // Submit a steady stream of referrals in the background.
    let mut intake = system.intake.clone();
    let submitter = tokio::spawn(async move {
        let mut ids = Vec::new();
        for i in 0..N {
            let request = Sample::new(format!("Flow Victim {i}")).yes(16).request();
            let created = loop {
                // A create may meet a moment of trouble; retrying with the same request_id is safe.
                match intake.create_referral(request.clone()).await {
                    Ok(r) => break r.into_inner(),
                    Err(e) if e.code() == tonic::Code::Unavailable => {
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    Err(e) => panic!("create failed: {e}"),
                }
            };
            ids.push(created.id);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        ids
    });

    // Cut each service's connection while referrals flow, and watch triage's health dip.
    tokio::time::sleep(Duration::from_millis(250)).await;
    system.close_broker_connection("triage").await.unwrap();
    let dipped = saw_status(
        &system,
        "triage",
        ServingStatus::NotServing,
        Duration::from_secs(3),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    system
        .close_broker_connection("notification")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    system.close_broker_connection("intake").await.unwrap();

    let submitted: Vec<String> = submitter.await.unwrap();
    assert!(
        dipped,
        "triage reported NOT_SERVING while its broker connection was down"
    );
    for name in ["intake", "triage", "notification"] {
        system
            .wait_health(name, ServingStatus::Serving, Duration::from_secs(20))
            .await
            .unwrap();
    }

    let queued = system
        .count_until(
            "SELECT count(*) FROM notification.queue_cases",
            N as i64,
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(queued, N as i64, "every referral reaches the queue");
    let queue: Vec<String> = system
        .queue("E09000001")
        .await
        .into_iter()
        .map(|c| c.referral_id)
        .collect();
    let unique: BTreeSet<&String> = queue.iter().collect();
    assert_eq!(
        unique,
        submitted.iter().collect::<BTreeSet<_>>(),
        "exactly the submitted referrals"
    );

    // Each referral was created once, and decided and announced once whatever was redelivered:
    // one event per referral in each outbox, none under a second message id.
    for sql in [
        "SELECT count(*) FROM intake.referrals",
        "SELECT count(*) FROM intake.outbox",
        "SELECT count(*) FROM triage.outbox",
        "SELECT count(DISTINCT correlation_id) FROM triage.outbox",
    ] {
        system.assert_count(sql, N as i64, Duration::ZERO).await;
    }
    system.assert_nothing_twice(Duration::from_secs(10)).await;
    for id in &submitted {
        assert_eq!(system.outcome(id).await.status(), ReferralStatus::Routed);
    }
    system.shutdown().await;
}

async fn saw_status(
    system: &refroute_e2e::TestSystem,
    name: &str,
    want: ServingStatus,
    within: Duration,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if system.health(name).await.ok() == Some(want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_posted_while_triage_is_stopped_are_routed_once_it_returns() {
    let mut system = spawn_system().await;
    system.stop("triage").await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let created = system
            .submit(Sample::new(format!("Paused {i}")).yes(15))
            .await;
        ids.push(created.id);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (waiting,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM intake.referrals WHERE status = 'REFERRAL_STATUS_RECEIVED'",
    )
    .fetch_one(&system.pool)
    .await
    .unwrap();
    assert_eq!(waiting, 5, "nothing is decided while triage is down");

    system.start("triage").await.unwrap();
    for id in &ids {
        assert_eq!(system.outcome(id).await.status(), ReferralStatus::Routed);
    }
    system
        .assert_count(
            "SELECT count(*) FROM notification.queue_cases",
            5,
            Duration::from_secs(10),
        )
        .await;
    system.assert_nothing_twice(Duration::from_secs(10)).await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_message_is_dead_lettered_without_blocking_the_referrals_behind_it() {
    let system = spawn_system().await;
    let conn = Connection::connect(&system.amqp_uri(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let poison = [
        // Not protobuf at all.
        (
            Some(uuid::Uuid::now_v7().to_string()),
            b"\xff\xff\xff not a referral".to_vec(),
        ),
        // No message id: the envelope itself is unusable.
        (None, b"".to_vec()),
    ];
    for (message_id, body) in poison {
        let mut props =
            BasicProperties::default().with_type(ShortString::from("refroute.v1.ReferralReceived"));
        if let Some(id) = message_id {
            props = props.with_message_id(ShortString::from(id));
        }
        channel
            .basic_publish(
                ShortString::from("refroute.events"),
                ShortString::from("referral.received.v1"),
                BasicPublishOptions::default(),
                &body,
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    for i in 0..3 {
        let created = system
            .submit(Sample::new(format!("Behind Poison {i}")).yes(15))
            .await;
        assert_eq!(
            system.outcome(&created.id).await.status(),
            ReferralStatus::Routed
        );
    }

    let dlq = "triage.referral-received.dlq";
    let depth = || async {
        channel
            .queue_declare(
                ShortString::from(dlq),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap()
            .message_count()
    };
    let start = Instant::now();
    while depth().await < 2 && start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        depth().await,
        2,
        "both poison messages are in the dead-letter queue"
    );

    // An operator can see them and replay them; still poison, they come back to the DLQ.
    let listed =
        refroute_cli::dead_letters::list(&system.amqp_uri(), "triage.referral-received", 10)
            .await
            .unwrap();
    assert_eq!(listed.len(), 2);
    let reasons: Vec<&str> = listed.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(reasons, ["rejected", "rejected"], "the broker records why");
    let replayed = refroute_cli::dead_letters::replay(
        &system.amqp_uri(),
        &system.pool,
        "triage.referral-received",
        10,
    )
    .await
    .unwrap();
    assert_eq!(replayed, 2);
    // Each replay is in the audit log, under the CLI's name.
    let (audited,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit.entries WHERE action = 'dead_letters.replayed' AND service = 'cli' AND actor = $1",
    )
    .bind(refroute_cli::dead_letters::ACTOR)
    .fetch_one(&system.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);
    let start = Instant::now();
    while depth().await < 2 && start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(depth().await, 2);
    conn.close(200, ShortString::from("done")).await.unwrap();
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_taken_while_the_broker_refuses_the_services_flow_once_it_lets_them_in() {
    let system = refroute_e2e::spawn_system_with_broker_closed().await;
    for name in refroute_e2e::SERVICES {
        assert_eq!(
            system.health(name).await.unwrap(),
            ServingStatus::NotServing,
            "{name}"
        );
    }
    // Intake still takes referrals: they wait in its outbox.
    let mut ids = Vec::new();
    for i in 0..3 {
        let created = system
            .submit(Sample::new(format!("Outage {i}")).yes(15))
            .await;
        ids.push(created.id);
    }
    system
        .assert_count(
            "SELECT count(*) FROM intake.outbox WHERE published_at IS NULL",
            3,
            Duration::ZERO,
        )
        .await;

    system.open_broker().await.unwrap();
    for id in &ids {
        assert_eq!(system.outcome(id).await.status(), ReferralStatus::Routed);
    }
    for name in refroute_e2e::SERVICES {
        system
            .wait_health(name, ServingStatus::Serving, Duration::from_secs(20))
            .await
            .unwrap();
    }
    system
        .assert_count(
            "SELECT count(*) FROM notification.queue_cases",
            3,
            Duration::from_secs(10),
        )
        .await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_published_events_and_applied_ids_are_pruned_and_nothing_else() {
    let system = refroute_e2e::spawn_system_with(|s| s.retention.prune_interval_secs = 1).await;
    let created = system.submit(Sample::new("Recent Referral").yes(15)).await;
    system.outcome(&created.id).await;
    // Age one published event and one applied id past their retention.
    sqlx::query("INSERT INTO intake.outbox (message_id, routing_key, message_type, correlation_id, traceparent, payload, published_at) VALUES ($1, 'x', 'x', 'x', 'x', '', now() - interval '8 days')")
        .bind(uuid::Uuid::now_v7())
        .execute(&system.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO triage.inbox (consumer, message_id, received_at) VALUES ('triage.referral-received', $1, now() - interval '31 days')")
        .bind(uuid::Uuid::now_v7())
        .execute(&system.pool)
        .await
        .unwrap();
    system
        .assert_count(
            "SELECT count(*) FROM intake.outbox",
            1,
            Duration::from_secs(10),
        )
        .await;
    system
        .assert_count(
            "SELECT count(*) FROM triage.inbox",
            1,
            Duration::from_secs(10),
        )
        .await;
    // The recent ones stay.
    let (recent,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM intake.outbox WHERE correlation_id = $1")
            .bind(&created.id)
            .fetch_one(&system.pool)
            .await
            .unwrap();
    assert_eq!(recent, 1);
    system.shutdown().await;
}

/// Triage backends of this test's database waiting for a lock on `triage.decisions`: a triage
/// process that is deciding a referral and cannot write its decision yet.
async fn triage_waiting_on_decisions(system: &refroute_e2e::TestSystem) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND query ILIKE '%triage.decisions%'",
    )
    .fetch_one(&system.pool)
    .await
    .unwrap();
    n
}

async fn decisions(system: &refroute_e2e::TestSystem) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM triage.decisions")
        .fetch_one(&system.pool)
        .await
        .unwrap();
    n
}

/// Each kill lands while the process is part-way through a referral: the test holds a lock that
/// stops triage writing its decision, sees a triage transaction waiting on it with messages
/// delivered and unacknowledged, kills the process, and then sees those messages back on the
/// queue with nothing of the interrupted decision committed. The replacement decides them once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triage_process_killed_mid_stream_loses_nothing_and_repeats_nothing() {
    // A steady stream, and a few more posted in each round while the lock is held, so the
    // triage about to be killed always has a referral in hand, however fast the stream went.
    const BACKGROUND: usize = 26;
    const PER_ROUND: usize = 2;
    const REFERRALS: usize = BACKGROUND + 2 * PER_ROUND;
    const QUEUE: &str = "triage.referral-received";
    let mut system = spawn_system().await;
    // Swap the in-process triage for the real binary, which can be SIGKILLed.
    system.stop("triage").await.unwrap();
    let (mut triage, _) = system.spawn_binary("triage").await.unwrap();

    let intake = system.intake.clone();
    let submitter = tokio::spawn(async move {
        let mut ids = Vec::new();
        for i in 0..BACKGROUND {
            let request = Sample::new(format!("Killed Mid Stream {i}"))
                .yes(16)
                .request();
            ids.push(
                intake
                    .clone()
                    .create_referral(request)
                    .await
                    .unwrap()
                    .into_inner()
                    .id,
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ids
    });

    let mut posted_in_rounds = Vec::new();
    for round in 1..=2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Triage's next decision waits for this lock, inside its transaction, message unacked.
        let mut hold = system.pool.begin().await.unwrap();
        sqlx::query("LOCK TABLE triage.decisions IN SHARE MODE")
            .execute(&mut *hold)
            .await
            .unwrap();
        for j in 0..PER_ROUND {
            let request = Sample::new(format!("Killed In Round {round} {j}"))
                .yes(16)
                .request();
            let mut intake = system.intake.clone();
            posted_in_rounds.push(
                intake
                    .create_referral(request)
                    .await
                    .unwrap()
                    .into_inner()
                    .id,
            );
        }
        let start = Instant::now();
        while triage_waiting_on_decisions(&system).await == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "round {round}: triage never started a decision"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let decided = decisions(&system).await;
        // RabbitMQ 3.10 refreshes a quorum queue's counts every few seconds: poll, don't read once.
        let start = Instant::now();
        let in_hand = loop {
            let (_, unacked) = system.queue_depth(QUEUE).await.unwrap();
            if unacked >= 1 {
                break unacked;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "round {round}: the broker counts no message delivered to triage and unacknowledged"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };

        triage.kill().await.unwrap();
        hold.rollback().await.unwrap();

        // What it held is back on the queue, and its decision in progress was never committed.
        let start = Instant::now();
        loop {
            let (ready, unacked) = system.queue_depth(QUEUE).await.unwrap();
            if unacked == 0 && ready >= in_hand {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "round {round}: {in_hand} message(s) held by the killed triage did not return \
                 to the queue ({ready} ready, {unacked} unacknowledged)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            decisions(&system).await,
            decided,
            "round {round}: the killed process committed a decision"
        );
        eprintln!(
            "round {round}: killed holding {in_hand} message(s) with {decided} decided so far"
        );
        triage = system.spawn_binary("triage").await.unwrap().0;
    }
    let mut submitted = submitter.await.unwrap();
    submitted.extend(posted_in_rounds);

    // The replacement decided everything, each referral once.
    let queued = system
        .count_until(
            "SELECT count(*) FROM notification.queue_cases",
            REFERRALS as i64,
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(queued, REFERRALS as i64);
    let queue: BTreeSet<String> = system
        .queue("E09000001")
        .await
        .into_iter()
        .map(|c| c.referral_id)
        .collect();
    assert_eq!(queue, submitted.iter().cloned().collect::<BTreeSet<_>>());
    for sql in [
        "SELECT count(*) FROM triage.outbox",
        "SELECT count(DISTINCT correlation_id) FROM triage.outbox",
        "SELECT count(*) FROM triage.inbox",
    ] {
        system
            .assert_count(sql, REFERRALS as i64, Duration::ZERO)
            .await;
    }
    system.assert_nothing_twice(Duration::from_secs(10)).await;
    triage.kill().await.unwrap();
    system.shutdown().await;
}
