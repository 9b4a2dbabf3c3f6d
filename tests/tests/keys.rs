//! Data keys: the public development keys are refused outside a development deployment, every
//! sealed column is known to the rotation, and `refroute keys rotate` moves every record of a
//! running system to a new key while it is read, so the old key can be removed.

use base64::Engine;
use refroute_cli::keys::{SEALED, coverage, rotate};
use refroute_cli::migrate;
use refroute_e2e::{CommunitySample, PreventSample, SERVICES, Sample, TestSystem, spawn_system};
use refroute_platform::crypto::{KeyId, Sealer, sealed_header, sealed_key_id};
use refroute_platform::{Secret, Settings, db};
use refroute_proto::v1::{
    GetCaseRequest, GetReferralRequest, Panel, RecordHearingRequest, ReferralStatus,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const CITY: &str = "E09000001";
const HACKNEY: &str = "E09000012";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_with_the_public_development_keys_refuses_to_start_naming_what_to_set() {
    // The defaults as shipped: public keys, and no development flag.
    let settings = Settings::defaults().unwrap();
    assert!(!settings.deployment.development);
    for name in SERVICES {
        // Never connected: a service that got as far as its database would time out below.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stop = CancellationToken::new();
        let settings = settings.clone();
        let run = async move {
            match name {
                "intake" => refroute_intake::run(settings, pool, listener, stop).await,
                "triage" => refroute_triage::run(settings, pool, listener, stop).await,
                "transfer" => refroute_transfer::run(settings, pool, listener, stop).await,
                _ => refroute_notification::run(settings, pool, listener, stop).await,
            }
        };
        let refused = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .unwrap_or_else(|_| panic!("{name} did not refuse to start"))
            .expect_err("refused");
        let message = format!("{refused:#}");
        for wanted in [
            "security.data_keys.1 is the public development key",
            "set REFROUTE__SECURITY__DATA_KEYS__1",
            "security.identity_key is the public development key",
            "REFROUTE__DEPLOYMENT__DEVELOPMENT=true for a development deployment",
        ] {
            assert!(
                message.contains(wanted),
                "{name}: {wanted:?} not in {message}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bytea_column_of_the_schema_is_listed_as_sealed_or_not() {
    let settings = Settings::defaults().unwrap();
    let name = format!("refroute_test_{}", uuid::Uuid::new_v4().simple());
    let database = migrate::with_database(&settings.database, &name);
    migrate::run(&database).await.unwrap();
    let pool = db::connect(&database).await.unwrap();
    let found = coverage(&pool).await.unwrap();
    assert!(
        found.is_complete(),
        "add these to SEALED or NOT_SEALED in services/cli/src/keys.rs: {found:?}"
    );
    // The check can fail: a new sealed column nobody listed is found, and rotation refuses.
    sqlx::query("ALTER TABLE transfer.transfers ADD COLUMN sealed_note bytea")
        .execute(&pool)
        .await
        .unwrap();
    let found = coverage(&pool).await.unwrap();
    assert_eq!(found.unlisted, ["transfer.transfers.sealed_note"]);
    let mut dev = settings.clone();
    dev.deployment.development = true;
    let sealer = refroute_platform::keys::load(&dev).unwrap().sealer;
    let refused = rotate(&pool, &sealer, 10).await.unwrap_err().to_string();
    assert!(
        refused.contains("transfer.transfers.sealed_note"),
        "{refused}"
    );
    pool.close().await;
    let admin = db::connect(&migrate::with_database(&settings.database, "postgres"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE \"{name}\" WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

/// The key id of every record of every sealed column, by column; each record is also opened
/// with `sealer` under the record id the list names.
async fn key_ids(system: &TestSystem, sealer: &Sealer) -> BTreeMap<String, Vec<Option<KeyId>>> {
    let mut ids = BTreeMap::new();
    for column in SEALED {
        let rows: Vec<(uuid::Uuid, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {}, {} FROM {}",
            column.record_id,
            column.column,
            column.table_name()
        )))
        .fetch_all(&system.pool)
        .await
        .unwrap();
        for (id, sealed) in &rows {
            sealer
                .open(&id.to_string(), sealed)
                .unwrap_or_else(|e| panic!("{} of {id}: {e}", column.name()));
        }
        ids.insert(
            column.name(),
            rows.iter().map(|(_, s)| sealed_key_id(s)).collect(),
        );
    }
    ids
}

fn count_under(ids: &BTreeMap<String, Vec<Option<KeyId>>>, key: KeyId) -> BTreeMap<String, u64> {
    ids.iter()
        .map(|(c, ids)| {
            let n = ids.iter().filter(|id| **id == Some(key)).count() as u64;
            (c.clone(), n)
        })
        .collect()
}

/// Restarts every service, one at a time, with the system's current settings.
async fn restart_all(system: &mut TestSystem) {
    for name in SERVICES {
        system.stop(name).await.unwrap();
        system.start(name).await.unwrap();
    }
}

fn random_key() -> Secret {
    let mut bytes = uuid::Uuid::new_v4().as_bytes().to_vec();
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    Secret::new(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Reads every referral and every queued case over gRPC until stopped, counting reads; any
/// failed read is kept.
async fn read_everything(
    system: &TestSystem,
    referrals: Vec<String>,
    cases: Vec<String>,
    stop: Arc<AtomicBool>,
    reads: Arc<AtomicU64>,
) -> Vec<String> {
    let mut intake = system.intake.clone();
    let mut coordinator = system.coordinator.clone();
    let mut failed = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        for id in &referrals {
            match intake
                .get_referral(GetReferralRequest { id: id.clone() })
                .await
            {
                Ok(r) if r.get_ref().status != ReferralStatus::Received as i32 => {}
                other => failed.push(format!("GetReferral {id}: {other:?}")),
            }
        }
        for panel in [Panel::Marac, Panel::CommunityMarac, Panel::Channel] {
            if let Err(e) = refroute_cli::whole_queue_of(&mut coordinator, CITY, panel).await {
                failed.push(format!("ListQueue {panel:?}: {e:?}"));
            }
        }
        for id in &cases {
            if let Err(e) = coordinator
                .get_case(GetCaseRequest {
                    referral_id: id.clone(),
                })
                .await
            {
                failed.push(format!("GetCase {id}: {e:?}"));
            }
        }
        reads.fetch_add(1, Ordering::SeqCst);
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_moves_every_sealed_record_to_the_new_key_while_the_services_read_them() {
    // Key 1: the development key every test system starts with.
    let mut system = spawn_system().await;
    assert_eq!(system.settings.security.data_key_id, 1);

    // Every pathway, and every table a case is sealed in.
    let routed = system.decide(Sample::new("Kim Rotate").yes(16)).await;
    assert_eq!(routed.status(), ReferralStatus::Routed);
    let transferred = system
        .decide(Sample::new("Kim Transfer").yes(16).lives_in(HACKNEY))
        .await;
    assert_eq!(transferred.status(), ReferralStatus::TransferRequested);
    let community = system
        .decide(
            CommunitySample::new("Kim Community")
                .vulnerable("Ferret letters")
                .lives_in(HACKNEY),
        )
        .await;
    assert_eq!(community.status(), ReferralStatus::Routed);
    assert_eq!(
        community.decision.as_ref().unwrap().notify_area_codes,
        [HACKNEY]
    );
    let prevent = system.decide(PreventSample::new("Kim Prevent")).await;
    assert_eq!(prevent.status(), ReferralStatus::Routed);
    let handover = system
        .decide(PreventSample::new("Kim Handover").lives_in("E09000033"))
        .await;
    assert_eq!(handover.status(), ReferralStatus::TransferRequested);
    let queued = [&routed.id, &community.id, &prevent.id];
    for id in queued {
        system
            .assert_count(
                &format!(
                    "SELECT count(*) FROM notification.queue_cases WHERE referral_id = '{id}'"
                ),
                1,
                Duration::from_secs(20),
            )
            .await;
    }
    system
        .coordinator
        .clone()
        .record_hearing(RecordHearingRequest {
            referral_id: routed.id.clone(),
            meeting_date: chrono::Utc::now().date_naive().to_string(),
        })
        .await
        .unwrap();
    // Both transfers go to their destination's directory contact (no peer serves either):
    // wait until the courier has sent them, so that every event and delivery they make is there
    // before the sealed records are counted.
    for (sql, want) in [
        (
            "SELECT count(*) FROM transfer.transfers WHERE state = 'OFFERED'",
            2,
        ),
        (
            "SELECT count(*) FROM notification.deliveries WHERE kind = 'TRANSFER_CONTACT'",
            2,
        ),
        (
            "SELECT count(*) FROM transfer.outbox WHERE routing_key = 'transfer.contact_requested.v1'",
            2,
        ),
    ] {
        system
            .assert_count(sql, want, Duration::from_secs(20))
            .await;
    }
    let sealer_1 = refroute_platform::keys::load(&system.settings)
        .unwrap()
        .sealer;

    // Every sealed column has rows, all under key 1.
    let start = Instant::now();
    let before = loop {
        let ids = key_ids(&system, &sealer_1).await;
        let empty: Vec<&String> = ids
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(c, _)| c)
            .collect();
        if empty.is_empty() {
            break ids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no rows in {empty:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for (column, ids) in &before {
        assert!(ids.iter().all(|id| *id == Some(1)), "{column}: {ids:?}");
    }
    let under_1 = count_under(&before, 1);

    // Keys {1, 2}, sealing under 2: each service restarted in turn, as a rolling deploy would.
    system
        .settings
        .security
        .data_keys
        .insert("2".into(), random_key());
    system.settings.security.data_key_id = 2;
    restart_all(&mut system).await;
    let sealer_12 = refroute_platform::keys::load(&system.settings)
        .unwrap()
        .sealer;
    let after_restart = system.decide(Sample::new("Kim Afterwards").yes(16)).await;
    assert_eq!(after_restart.status(), ReferralStatus::Routed);

    // Rotate, two records to a transaction, while every referral and case is read.
    let referrals: Vec<String> = [
        &routed,
        &transferred,
        &community,
        &prevent,
        &handover,
        &after_restart,
    ]
    .iter()
    .map(|r| r.id.clone())
    .collect();
    let cases: Vec<String> = queued.iter().map(|id| id.to_string()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = read_everything(
        &system,
        referrals.clone(),
        cases.clone(),
        stop.clone(),
        reads.clone(),
    );
    // The referral the rotation reaches last is held, so it stops half-way (some referrals
    // under key 2, the rest and every other table under key 1) for as long as reads go on.
    let mut hold = system.pool.begin().await.unwrap();
    let (held,): (uuid::Uuid,) = sqlx::query_as(
        "SELECT id FROM intake.referrals WHERE substring(sealed_referral from 1 for 3) = $1 \
         ORDER BY id DESC LIMIT 1 FOR UPDATE",
    )
    .bind(sealed_header(1).to_vec())
    .fetch_one(&mut *hold)
    .await
    .unwrap();
    let rotated = AtomicBool::new(false);
    let rotation = async {
        let report = rotate(&system.pool, &sealer_12, 2).await.unwrap();
        rotated.store(true, Ordering::SeqCst);
        report
    };
    let control = async {
        let rounds = |n: u64| {
            let reads = reads.clone();
            async move {
                let from = reads.load(Ordering::SeqCst);
                while reads.load(Ordering::SeqCst) < from + n {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };
        let sql = "SELECT count(*) FROM intake.referrals WHERE get_byte(sealed_referral, 2) = 2";
        // Besides the referral sealed under key 2 since the restart, at least one re-sealed.
        let mut n = 0;
        let start = Instant::now();
        while n < 2 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "rotation did not begin"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
            (n,) = sqlx::query_as::<_, (i64,)>(sql)
                .fetch_one(&system.pool)
                .await
                .unwrap();
        }
        assert!(
            !rotated.load(Ordering::SeqCst),
            "{held} holds the rotation up"
        );
        rounds(3).await;
        hold.rollback().await.unwrap();
        while !rotated.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A whole round of reads after the last batch committed.
        rounds(2).await;
        stop.store(true, Ordering::SeqCst);
    };
    let (failed, report, ()) = tokio::join!(reader, rotation, control);
    assert!(
        failed.is_empty(),
        "reads failed during rotation:\n{}",
        failed.join("\n")
    );

    // It re-sealed exactly what was under key 1, table by table, and nothing is left there.
    let resealed: BTreeMap<String, u64> = report
        .iter()
        .map(|r| (r.column.clone(), r.records))
        .collect();
    assert_eq!(resealed, under_1);
    let after = key_ids(&system, &sealer_12).await;
    for (column, ids) in &after {
        assert!(!ids.is_empty(), "{column} is empty");
        assert!(ids.iter().all(|id| *id == Some(2)), "{column}: {ids:?}");
    }
    // Again: nothing left to re-seal.
    let again = rotate(&system.pool, &sealer_12, 2).await.unwrap();
    assert!(again.iter().all(|r| r.records == 0), "{again:?}");

    // Key 1 removed: the services still read everything, and keep working.
    system.settings.security.data_keys.remove("1");
    restart_all(&mut system).await;
    let sealer_2 = refroute_platform::keys::load(&system.settings)
        .unwrap()
        .sealer;
    assert!(
        sealer_2.open("x", &sealer_1.seal("x", b"y")).is_err(),
        "key 1 is gone"
    );
    key_ids(&system, &sealer_2).await;
    let mut intake = system.intake.clone();
    for id in &referrals {
        let r = intake
            .get_referral(GetReferralRequest { id: id.clone() })
            .await
            .unwrap_or_else(|e| panic!("GetReferral {id} without key 1: {e:?}"))
            .into_inner();
        assert!(r.decision.is_some(), "{id}");
    }
    let mut queued_now: Vec<String> = Vec::new();
    for panel in [Panel::Marac, Panel::CommunityMarac, Panel::Channel] {
        queued_now.extend(
            system
                .queue_of(CITY, panel)
                .await
                .into_iter()
                .map(|c| c.referral_id),
        );
    }
    for id in &cases {
        assert!(queued_now.contains(id), "{id} listed without key 1");
    }
    let last = system.decide(Sample::new("Kim Last").yes(16)).await;
    assert_eq!(last.status(), ReferralStatus::Routed);
    for schema in ["intake", "triage", "transfer", "notification"] {
        system
            .assert_count(
                &format!("SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"),
                0,
                Duration::from_secs(20),
            )
            .await;
    }
    system.shutdown().await;
}
