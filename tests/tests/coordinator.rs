//! CoordinatorService: reading and watching a MARAC queue.

use refroute_e2e::{Sample, spawn_system};
use refroute_proto::v1::{Criterion, GetCaseRequest, Panel, WatchQueueRequest, referral};
use std::time::Duration;
use tokio_stream::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_receives_a_case_routed_after_it_connected() {
    let system = spawn_system().await;
    let mut coordinator = system.coordinator.clone();
    let mut stream = coordinator
        .watch_queue(WatchQueueRequest {
            area_code: "E09000001".into(),
            panel: Panel::Marac as i32,
        })
        .await
        .unwrap()
        .into_inner();

    let mut intake = system.intake.clone();
    // A case for Hackney first: the City's watcher must not see it.
    let elsewhere = system
        .submit(Sample::new("Wendy Elsewhere").yes(18).lives_in("E09000012"))
        .await;
    system.outcome(&elsewhere.id).await;
    let sample = Sample::new("Willa Watched").yes(17).reference("COLP-77");
    let created = intake
        .create_referral(sample.request())
        .await
        .unwrap()
        .into_inner();

    let case = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("a case within 20 s")
        .expect("stream open")
        .expect("a case, not an error");
    assert_eq!(case.referral_id, created.id);
    assert_eq!(case.area_code, "E09000001");
    assert_eq!(case.referrer_reference, "COLP-77");
    assert_eq!(
        case.decision.as_ref().unwrap().criterion(),
        Criterion::VisibleHighRisk
    );
    assert!(case.route_time.is_some());
    let victim = case
        .domestic_abuse
        .as_ref()
        .unwrap()
        .victim
        .as_ref()
        .unwrap();
    assert_eq!(victim.full_name, "Willa Watched");

    let read = coordinator
        .get_case(GetCaseRequest {
            referral_id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.referral_id, created.id);
    assert_eq!(read.decision, case.decision);
    let Some(referral::Details::DomesticAbuse(_)) = created.details else {
        panic!("created referral keeps its details")
    };
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_pages_in_arrival_order_and_personal_data_is_sealed_at_rest() {
    let system = spawn_system().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let created = system
            .submit(Sample::new(format!("Paige Page{i}")).yes(16))
            .await;
        system.outcome(&created.id).await;
        ids.push(created.id);
    }
    let mut coordinator = system.coordinator.clone();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = coordinator
            .list_queue(refroute_proto::v1::ListQueueRequest {
                area_code: "E09000001".into(),
                panel: Panel::Marac as i32,
                page_size: 2,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.cases.len() <= 2);
        seen.extend(page.cases.into_iter().map(|c| c.referral_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ids);

    // No victim name appears in any stored byte: not in clear columns, not in sealed ones.
    let checks = [
        ("intake.referrals", "sealed_referral"),
        ("intake.outbox", "payload"),
        ("triage.outbox", "payload"),
        ("notification.queue_cases", "sealed_case"),
        ("triage.decisions", "''::bytea"),
        ("triage.marac_referrals", "victim_key"),
    ];
    for (table, blob) in checks {
        let sql = format!(
            "SELECT count(*) FROM {table} t WHERE position('Paige'::bytea in {blob}) > 0 OR t::text LIKE '%Paige%'"
        );
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&system.pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} holds a name in clear");
    }
    // The check itself can see a name: intake's table does hold the referrer's organisation.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM intake.referrals t WHERE t::text LIKE '%City of London Police%'",
    )
    .fetch_one(&system.pool)
    .await
    .unwrap();
    assert_eq!(n, 5);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_on_one_replica_sees_cases_queued_by_another() {
    let system = spawn_system().await;
    // A second notification replica, as a real process, consuming the same queue.
    let (mut replica, addr) = system.spawn_binary("notification").await.unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut coordinator =
        refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient::new(channel);
    let mut stream = coordinator
        .watch_queue(WatchQueueRequest {
            area_code: "E09000001".into(),
            panel: Panel::Marac as i32,
        })
        .await
        .unwrap()
        .into_inner();

    let mut submitted = std::collections::BTreeSet::new();
    for i in 0..6 {
        submitted.insert(
            system
                .submit(Sample::new(format!("Replica Watch {i}")).yes(16))
                .await
                .id,
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < submitted.len() {
        let case = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("cases keep arriving")
            .expect("stream open")
            .expect("a case");
        seen.insert(case.referral_id);
    }
    assert_eq!(seen, submitted);
    // Whichever replica consumed each event, every case is queued once.
    system
        .assert_count(
            "SELECT count(*) FROM notification.queue_cases",
            6,
            Duration::from_secs(10),
        )
        .await;
    replica.kill().await.unwrap();
    system.shutdown().await;
}
