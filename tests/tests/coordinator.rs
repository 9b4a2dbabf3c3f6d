//! CoordinatorService: reading and watching a MARAC queue.

use refroute_e2e::{CommunitySample, PreventSample, Sample, spawn_system};
use refroute_proto::v1::{
    Criterion, GetCaseRequest, Panel, RecordHearingRequest, ReferralStatus, Residence,
    SupplyResidenceRequest, WatchQueueRequest, referral, residence,
};
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
async fn the_queue_pages_in_arrival_order() {
    let system = spawn_system().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let created = system
            .submit(Sample::new(format!("Paige Page{i}")).yes(16))
            .await;
        system.outcome(&created.id).await;
        ids.push(created.id);
    }
    // Routed is what intake knows; the queue is notification's, a moment later.
    system
        .assert_count(
            "SELECT count(*) FROM notification.queue_cases",
            5,
            Duration::from_secs(20),
        )
        .await;
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
    system.shutdown().await;
}

/// What must never be found in clear anywhere in the database: the people's names (in any case),
/// a date of birth and the free text the referrals below carry.
const PERSONAL: [&str; 6] = ["Paige", "paige", "PAIGE", "1987-06-05", "Quokka", "quokka"];

/// The schemas the services write, the audit log included.
const SCHEMAS: [&str; 5] = ["intake", "triage", "transfer", "notification", "audit"];

/// Every column of every table in the services' schemas that holds one of `markers`, as
/// `schema.table.column`, and how many columns were searched. A bytea column is searched for the
/// marker's bytes (PostgreSQL shows bytea as hex, so a text search could never see inside it);
/// any other column as text, whatever its type (text, arrays, dates, jsonb).
async fn columns_holding(pool: &sqlx::PgPool, markers: &[&str]) -> (Vec<String>, Vec<String>) {
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.table_schema::text, c.table_name::text, c.column_name::text, c.data_type::text \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = ANY($1) AND t.table_type = 'BASE TABLE' ORDER BY 1, 2, 3",
    )
    .bind(SCHEMAS.map(String::from).to_vec())
    .fetch_all(pool)
    .await
    .unwrap();
    let mut hits = Vec::new();
    let mut searched = Vec::new();
    for (schema, table, column, kind) in columns {
        let name = format!("{schema}.{table}.{column}");
        let found = if kind == "bytea" {
            format!("position(convert_to($1, 'UTF8') in \"{column}\") > 0")
        } else {
            format!("\"{column}\"::text LIKE '%' || $1 || '%'")
        };
        let sql = format!("SELECT count(*) FROM \"{schema}\".\"{table}\" WHERE {found}");
        for marker in markers {
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(*marker)
                .fetch_one(pool)
                .await
                .unwrap_or_else(|e| panic!("searching {name}: {e}"));
            if n > 0 {
                hits.push(format!("{name} ({marker:?} in {n} rows)"));
            }
        }
        searched.push(name);
    }
    (hits, searched)
}

/// Sealed at rest, checked where it could fail: after referrals that reach every table that
/// holds a case (a routed case with police incidents and a hearing, a transfer, a Community
/// MARAC residence notice, a review entry, a review supplied and decided again, a Prevent case),
/// every column of every table is searched, bytea included, every outbox included, and the search
/// is shown to find a name planted in a scratch table first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_table_holds_personal_data_in_clear() {
    let system = spawn_system().await;
    let mut intake = system.intake.clone();
    let routed = system
        .decide(
            Sample::new("Paige Routed")
                .yes(16)
                .born("1987-06-05")
                .professional_judgement("Quokka told the officer")
                .police_incidents(3),
        )
        .await;
    assert_eq!(routed.status(), ReferralStatus::Routed);
    let transferred = system
        .decide(
            Sample::new("Paige Transferred")
                .yes(16)
                .lives_in("E09000012"),
        )
        .await;
    assert_eq!(transferred.status(), ReferralStatus::TransferRequested);
    let noticed = system
        .decide(
            CommunitySample::new("Paige Community")
                .vulnerable("Quokka bites")
                .lives_in("E09000012"),
        )
        .await;
    assert_eq!(noticed.status(), ReferralStatus::Routed);
    assert_eq!(
        noticed.decision.as_ref().unwrap().notify_area_codes,
        ["E09000012"]
    );
    let review = system
        .decide(
            Sample::new("Paige Review")
                .yes(16)
                .lives_at_postcode("EC2M"),
        )
        .await;
    assert_eq!(review.status(), ReferralStatus::NeedsReview);
    let supplied = system
        .decide(
            Sample::new("Paige Supplied")
                .yes(16)
                .lives_at_postcode("EC2M"),
        )
        .await;
    assert_eq!(supplied.status(), ReferralStatus::NeedsReview);
    intake
        .supply_residence(SupplyResidenceRequest {
            referral_id: supplied.id.clone(),
            residence: Some(Residence {
                kind: Some(residence::Kind::Postcode("EC2M 7PY".into())),
            }),
        })
        .await
        .unwrap();
    assert_eq!(
        system.outcome(&supplied.id).await.status(),
        ReferralStatus::Routed
    );
    let mut prevent = PreventSample::new("Paige Prevent");
    prevent.concern_summary = "Quokka forum posts".into();
    assert_eq!(
        system.decide(prevent).await.status(),
        ReferralStatus::Routed
    );
    // Routed to MARAC: notification has it once its consumer has run.
    let id = routed.id.parse::<uuid::Uuid>().unwrap();
    system
        .assert_count(
            &format!("SELECT count(*) FROM notification.queue_cases WHERE referral_id = '{id}'"),
            1,
            Duration::from_secs(20),
        )
        .await;
    system
        .coordinator
        .clone()
        .record_hearing(RecordHearingRequest {
            referral_id: routed.id.clone(),
            meeting_date: chrono::Utc::now().date_naive().to_string(),
        })
        .await
        .unwrap();

    // Every table a case passes through has rows by now (or the search below proves nothing).
    for (table, at_least) in [
        ("intake.referrals", 6),
        ("intake.outbox", 7),
        ("triage.decisions", 6),
        ("triage.superseded_decisions", 1),
        ("triage.marac_referrals", 3),
        ("triage.police_incidents", 3),
        ("triage.outbox", 7),
        ("transfer.transfers", 1),
        ("notification.queue_cases", 4),
        ("notification.deliveries", 1),
        ("notification.outbox", 1),
    ] {
        let start = std::time::Instant::now();
        loop {
            let (n,): (i64,) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&system.pool)
                    .await
                    .unwrap();
            if n >= at_least {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{table} has {n} rows, want at least {at_least}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // The search can fail: a name and free text planted in clear, as bytes and as text, are found.
    sqlx::query("CREATE TABLE notification.scan_probe (raw bytea, said text)")
        .execute(&system.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO notification.scan_probe VALUES (convert_to('to Paige Probe', 'UTF8'), NULL), \
         (NULL, 'a quokka said')",
    )
    .execute(&system.pool)
    .await
    .unwrap();
    let (hits, searched) = columns_holding(&system.pool, &PERSONAL).await;
    sqlx::query("DROP TABLE notification.scan_probe")
        .execute(&system.pool)
        .await
        .unwrap();
    for column in [
        "intake.referrals.sealed_referral",
        "intake.referrals.decision",
        "intake.outbox.payload",
        "triage.outbox.payload",
        "transfer.outbox.payload",
        "notification.outbox.payload",
        "triage.decisions.decision",
        "triage.decisions.reason",
        "triage.superseded_decisions.decision",
        "triage.marac_referrals.victim_key",
        "triage.police_incidents.victim_key",
        "transfer.transfers.sealed_case",
        "notification.queue_cases.sealed_case",
        "notification.deliveries.sealed_payload",
        "notification.deliveries.recipient_organisation",
    ] {
        assert!(
            searched.iter().any(|s| s == column),
            "{column} was not searched"
        );
    }
    assert_eq!(
        hits,
        [
            "notification.scan_probe.raw (\"Paige\" in 1 rows)",
            "notification.scan_probe.said (\"quokka\" in 1 rows)",
        ],
        "personal data in clear (beyond the planted probe), {} columns searched",
        searched.len()
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_on_one_replica_sees_cases_queued_by_another() {
    let system = spawn_system().await;
    // A second notification replica, as a real process, consuming the same queue.
    let (mut replica, addr) = system.spawn_binary("notification").await.unwrap();
    let channel = refroute_e2e::channel_as(refroute_e2e::HARNESS, addr)
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
