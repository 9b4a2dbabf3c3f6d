//! The audit log: a referral's life leaves exactly its entries, in order; `refroute audit
//! verify` passes on an untouched log and names the entry when one row is changed, removed or
//! reordered; concurrent writers in all four services' roles keep one valid chain; a read the
//! log cannot record is refused.

use refroute_cli::audit as cli;
use refroute_cli::migrate;
use refroute_cli::sample::LAWFUL_BASIS;
use refroute_e2e::{DECISION_DEADLINE, HARNESS, SERVICES, Sample, spawn_system};
use refroute_platform::audit::{self, Entry, Stored};
use refroute_platform::{Settings, db};
use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use refroute_proto::v1::{GetCaseRequest, GetReferralRequest, ReferralStatus};
use sqlx::{Connection, PgConnection};

/// The chain as `refroute audit verify` finds it, on `conn` (inside a test's transaction, to see
/// the tampering it is about to roll back): how many entries, or the first broken one.
async fn verify(conn: &mut PgConnection) -> Result<i64, audit::Broken> {
    checked(conn, Vec::new()).await.map(|c| c.entries)
}

async fn checked(conn: &mut PgConnection, anchors: Vec<audit::Anchor>) -> cli::Verdict {
    cli::verify(conn, anchors)
        .await
        .expect("reading the audit log")
}

/// Runs `tamper` in a transaction (with triggers off, as a superuser could), verifies inside
/// it, and rolls it back: the entry verify names, and why.
async fn tampered(pool: &sqlx::PgPool, tamper: &[String]) -> audit::Broken {
    let mut conn = pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    for sql in tamper {
        let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(done.rows_affected(), 1, "{sql}");
    }
    let verdict = verify(&mut tx).await;
    tx.rollback().await.unwrap();
    verdict.expect_err("verify must fail on a tampered log")
}

/// The organisations of the development PKI the life of a referral goes through: the audit log
/// names each by its id, from its client certificate.
const REFERRER: &str = "city-of-london-police";
const COORDINATOR: &str = "city-marac";

fn summary(e: &Stored) -> (&str, &str, &str) {
    (e.service.as_str(), e.actor.as_str(), e.action.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referrals_life_is_audited_and_verify_names_any_tampered_entry() {
    let system = spawn_system().await;
    // The referrer and the coordinator, each by its own client certificate.
    let mut police = IntakeServiceClient::new(
        system
            .channel_as("intake", REFERRER)
            .await
            .expect("a channel as the City of London Police"),
    );
    let mut marac = CoordinatorServiceClient::new(
        system
            .channel_as("notification", COORDINATOR)
            .await
            .expect("a channel as the City's MARAC"),
    );
    let victim = "Audrey Auditsson";
    // DASH 16 of 24, living in the City: routed to the City's MARAC queue.
    let created = police
        .create_referral(Sample::new(victim).yes(16).request())
        .await
        .expect("CreateReferral")
        .into_inner();
    let id = created.id.clone();
    // Waited for in the database: every GetReferral is a disclosure, and would be audited.
    system
        .assert_count(
            &format!(
                "SELECT count(*) FROM intake.referrals r JOIN notification.queue_cases q \
                 ON q.referral_id = r.id WHERE r.id = '{id}' AND r.status = '{}'",
                ReferralStatus::Routed.as_str_name()
            ),
            1,
            DECISION_DEADLINE,
        )
        .await;
    // Read by its coordinator, then by its referrer.
    let case = marac
        .get_case(GetCaseRequest {
            referral_id: id.clone(),
        })
        .await
        .expect("GetCase")
        .into_inner();
    assert_eq!(case.referral_id, id);
    let shown = police
        .get_referral(GetReferralRequest { id: id.clone() })
        .await
        .expect("GetReferral")
        .into_inner();
    assert_eq!(shown.status(), ReferralStatus::Routed);

    let mut conn = system.pool.acquire().await.unwrap();
    let life = cli::show(&mut conn, &id).await.unwrap();
    assert_eq!(
        life.iter().map(summary).collect::<Vec<_>>(),
        [
            ("intake", REFERRER, "referral.created"),
            ("triage", "triage", "decision.made"),
            ("notification", COORDINATOR, "case.disclosed"),
            ("intake", REFERRER, "referral.disclosed"),
        ],
        "{}",
        cli::table(&life)
    );
    for entry in &life {
        assert_eq!(entry.record_kind, "referral");
        assert_eq!(entry.record_id, id);
        assert_eq!(
            entry.lawful_basis.as_deref(),
            Some(LAWFUL_BASIS),
            "{entry:?}"
        );
    }
    let has = |i: usize, field: &str| life[i].fields.iter().any(|f| f == field);
    // What each saw or did, by field name: the victim's name was created, the coordinator and
    // the referrer saw it, with the decision; triage recorded its decision, not the person.
    assert!(has(0, "domestic_abuse.victim.full_name"), "{:?}", life[0]);
    assert!(has(1, "reason") && has(1, "outcome"), "{:?}", life[1]);
    assert!(!has(1, "domestic_abuse.victim.full_name"), "{:?}", life[1]);
    assert!(has(2, "domestic_abuse.victim.full_name") && has(2, "decision.reason"));
    assert!(has(3, "domestic_abuse.victim.full_name") && has(3, "decision.reason"));
    // Names of fields, never their values.
    let whole_log: Vec<(String,)> = sqlx::query_as(
        "SELECT concat_ws(' ', actor, record_id, fields::text, lawful_basis) FROM audit.entries",
    )
    .fetch_all(&system.pool)
    .await
    .unwrap();
    assert!(whole_log.iter().all(|(row,)| !row.contains("Auditsson")));
    let table = cli::table(&life);
    for action in [
        "referral.created",
        "decision.made",
        "case.disclosed",
        "referral.disclosed",
    ] {
        assert!(table.contains(action), "{table}");
    }

    // An untouched log verifies, every entry of it.
    let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM audit.entries")
        .fetch_one(&system.pool)
        .await
        .unwrap();
    assert_eq!(verify(&mut conn).await, Ok(stored));
    // Entries are append-only even to the database owner's plain statements.
    let refused = sqlx::query("UPDATE audit.entries SET actor = 'nobody'")
        .execute(&system.pool)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");
    for sql in ["DELETE FROM audit.entries", "TRUNCATE audit.entries"] {
        let refused = sqlx::query(sql).execute(&system.pool).await.unwrap_err();
        assert!(
            refused.to_string().contains("append-only"),
            "{sql}: {refused}"
        );
    }

    let (created_at, decided_at, coordinator_at, last) =
        (life[0].seq, life[1].seq, life[2].seq, life[3].seq);
    assert_eq!(last, stored, "the referrer's read is the latest entry");
    // Hiding that the coordinator saw the victim's name.
    let broken = tampered(
        &system.pool,
        &[format!(
            "UPDATE audit.entries SET fields = array_remove(fields, 'domestic_abuse.victim.full_name') WHERE seq = {coordinator_at}"
        )],
    )
    .await;
    assert_eq!(broken.seq, coordinator_at, "{broken}");
    // Removing the decision from the middle of the chain.
    let broken = tampered(
        &system.pool,
        &[format!(
            "DELETE FROM audit.entries WHERE seq = {decided_at}"
        )],
    )
    .await;
    assert_eq!(broken.seq, decided_at, "{broken}");
    assert!(broken.why.contains("missing"), "{broken}");
    // Removing the last entry (the head still names it).
    let broken = tampered(
        &system.pool,
        &[format!("DELETE FROM audit.entries WHERE seq = {last}")],
    )
    .await;
    assert_eq!(broken.seq, last, "{broken}");
    // Swapping two entries' sequence numbers: the creation and the decision.
    let broken = tampered(
        &system.pool,
        &[
            format!("UPDATE audit.entries SET seq = 1000000000 WHERE seq = {created_at}"),
            format!("UPDATE audit.entries SET seq = {created_at} WHERE seq = {decided_at}"),
            format!("UPDATE audit.entries SET seq = {decided_at} WHERE seq = 1000000000"),
        ],
    )
    .await;
    assert_eq!(broken.seq, created_at, "{broken}");
    // Saying someone else saw it.
    let broken = tampered(
        &system.pool,
        &[format!(
            "UPDATE audit.entries SET actor = 'City of London Police' WHERE seq = {coordinator_at}"
        )],
    )
    .await;
    assert_eq!(broken.seq, coordinator_at, "{broken}");

    // Rewriting the chain from an entry on, every hash and the head recomputed, passes a plain
    // verify; the head recorded earlier (an anchor) shows it.
    let head = checked(&mut conn, Vec::new()).await.unwrap().head;
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    let rows: Vec<Stored> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM audit.entries WHERE seq >= $1 ORDER BY seq",
        audit::COLUMNS
    )))
    .bind(coordinator_at)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let mut prev = rows[0].prev_hash.clone();
    for mut row in rows {
        if row.seq == coordinator_at {
            row.actor = "City of London Police".into();
        }
        let hash = audit::hash(row.seq, &prev, &row.entry()).to_vec();
        sqlx::query(
            "UPDATE audit.entries SET actor = $2, prev_hash = $3, hash = $4 WHERE seq = $1",
        )
        .bind(row.seq)
        .bind(&row.actor)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .unwrap();
        prev = hash;
    }
    sqlx::query("UPDATE audit.head SET hash = $1")
        .bind(&prev)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        verify(&mut tx).await,
        Ok(stored),
        "a rewrite passes without an anchor"
    );
    let broken = checked(&mut tx, vec![head.clone()]).await.unwrap_err();
    assert_eq!(broken.seq, head.seq, "{broken}");
    assert!(broken.why.contains("rewritten"), "{broken}");
    tx.rollback().await.unwrap();

    // Each tampering was rolled back: the log verifies again, through the anchor too.
    assert_eq!(verify(&mut conn).await, Ok(stored));
    assert!(checked(&mut conn, vec![head.clone()]).await.is_ok());
    drop(conn);

    // The command itself: exit 0 and "ok"; after a committed change, non-zero naming the entry.
    let ok = refroute_verify(&system.settings, &["--anchor", &head.to_string()]).await;
    assert!(ok.status.success(), "{ok:?}");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.contains(&format!("{stored} audit entries checked: ok; head {head}")),
        "{out}"
    );
    let mut tx = system.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE audit.entries SET lawful_basis = NULL WHERE seq = $1")
        .bind(created_at)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let broken = refroute_verify(&system.settings, &[]).await;
    assert!(!broken.status.success(), "{broken:?}");
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(
        out.contains(&format!("audit log broken: entry {created_at} is broken")),
        "{out}"
    );

    system.shutdown().await;
}

/// `refroute audit verify` (the binary `cargo build --bins` makes) against the system's database.
async fn refroute_verify(settings: &Settings, args: &[&str]) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().parent().unwrap().join("refroute");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --bins` first (deploy/test.sh does)",
        binary.display()
    );
    tokio::process::Command::new(binary)
        .args(["audit", "verify"])
        .args(args)
        .env("REFROUTE__DATABASE__URL", settings.database.url.expose())
        .env_remove("REFROUTE_CONFIG")
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_the_log_cannot_record_is_refused() {
    let system = spawn_system().await;
    let created = system.submit(Sample::new("Fern Failclosed").yes(16)).await;
    system
        .assert_count(
            &format!(
                "SELECT count(*) FROM notification.queue_cases WHERE referral_id = '{}'",
                created.id
            ),
            1,
            DECISION_DEADLINE,
        )
        .await;
    for role in ["refroute_intake", "refroute_notification"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "REVOKE INSERT ON audit.entries FROM {role}"
        )))
        .execute(&system.pool)
        .await
        .unwrap();
    }
    let referral = system
        .intake
        .clone()
        .get_referral(GetReferralRequest {
            id: created.id.clone(),
        })
        .await;
    assert!(referral.is_err(), "disclosed unrecorded: {referral:?}");
    let case = system
        .coordinator
        .clone()
        .get_case(GetCaseRequest {
            referral_id: created.id.clone(),
        })
        .await;
    assert!(case.is_err(), "disclosed unrecorded: {case:?}");
    for role in ["refroute_intake", "refroute_notification"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "GRANT INSERT ON audit.entries TO {role}"
        )))
        .execute(&system.pool)
        .await
        .unwrap();
    }
    // With the log writable again, the same reads are answered (and recorded).
    system
        .intake
        .clone()
        .get_referral(GetReferralRequest {
            id: created.id.clone(),
        })
        .await
        .expect("GetReferral");
    let mut conn = system.pool.acquire().await.unwrap();
    let seen = cli::show(&mut conn, &created.id).await.unwrap();
    let disclosed = seen
        .iter()
        .filter(|e| e.action == audit::action::REFERRAL_DISCLOSED)
        .count();
    assert_eq!(disclosed, 1, "{}", cli::table(&seen));
    assert!(verify(&mut conn).await.is_ok());
    drop(conn);
    system.shutdown().await;
}

/// A migrated database of its own, with no services: appending needs nothing else.
async fn fresh_database() -> (Settings, String) {
    let settings = Settings::defaults().unwrap();
    let name = format!("refroute_test_{}", uuid::Uuid::new_v4().simple());
    let mut settings = settings;
    settings.database = migrate::with_database(&settings.database, &name);
    settings.database.max_connections = 4;
    migrate::run(&settings.database).await.unwrap();
    (settings, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_in_every_service_keep_one_chain() {
    let (settings, name) = fresh_database().await;
    // An entry appended in a transaction that rolls back leaves nothing: it commits with what it
    // records or not at all.
    {
        let pool = db::connect_as_service(&settings.database, "triage")
            .await
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        let entry = Entry::new("triage", "triage", "test.rolled_back", "test", "0");
        assert_eq!(audit::append(&mut tx, &entry).await.unwrap(), 1);
        tx.rollback().await.unwrap();
        let (head,): (i64,) = sqlx::query_as("SELECT seq FROM audit.head")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(head, 0);
        pool.close().await;
    }
    const EACH: i64 = 50;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(SERVICES.len()));
    let writers = SERVICES.map(|service| {
        let settings = settings.database.clone();
        let start = start.clone();
        tokio::spawn(async move {
            // As the service's own role: its grants are all appending needs.
            let pool = db::connect_as_service(&settings, service).await.unwrap();
            start.wait().await;
            for n in 0..EACH {
                let mut conn = pool.acquire().await.unwrap();
                let entry = Entry::new(service, service, "test.appended", "test", &n.to_string())
                    .fields(vec![format!("field_{n}")]);
                audit::append(&mut conn, &entry).await.unwrap();
            }
            // And nothing more: no reading, changing or removing entries, its own included.
            for sql in [
                "SELECT count(*) FROM audit.entries",
                "UPDATE audit.entries SET actor = 'x'",
                "DELETE FROM audit.entries",
            ] {
                let err = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .expect_err(sql)
                    .to_string();
                assert!(err.contains("permission denied"), "{service}: {sql}: {err}");
            }
            pool.close().await;
        })
    });
    // Verifying while they append: every look finds a whole chain.
    let pool = db::connect(&settings.database).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let mut looks = Vec::new();
    while !writers.iter().all(|w| w.is_finished()) {
        looks.push(verify(&mut conn).await);
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(looks.iter().all(Result::is_ok), "{looks:?}");
    assert!(
        looks
            .iter()
            .any(|l| matches!(l, Ok(n) if *n > 0 && *n < 200)),
        "no look fell while they appended: {looks:?}"
    );
    let total = EACH * SERVICES.len() as i64;
    assert_eq!(verify(&mut conn).await, Ok(total));
    // One entry per number, 1 to 200, and each writer's 50 in its own order.
    let per_service: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT service, count(*), min(seq), max(seq) FROM audit.entries GROUP BY service ORDER BY service",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert_eq!(per_service.len(), SERVICES.len());
    assert!(
        per_service.iter().all(|(_, n, _, _)| *n == EACH),
        "{per_service:?}"
    );
    let interleaved = per_service
        .iter()
        .any(|(_, _, first, last)| last - first + 1 > EACH);
    assert!(interleaved, "the writers never overlapped: {per_service:?}");
    drop(conn);
    pool.close().await;

    let admin = db::connect(&migrate::with_database(&settings.database, "postgres"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

/// The audit entries about `referral_id` with `action`, once `want` of them are committed
/// (the services write them asynchronously: consumers, a watch stream).
async fn entries_of(
    system: &refroute_e2e::TestSystem,
    referral_id: &str,
    action: &str,
    want: i64,
) -> Vec<Stored> {
    system
        .assert_count(
            &format!(
                "SELECT count(*) FROM audit.entries WHERE record_id = '{referral_id}' AND action = '{action}'"
            ),
            want,
            DECISION_DEADLINE,
        )
        .await;
    let mut conn = system.pool.acquire().await.unwrap();
    cli::show(&mut conn, referral_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_that_shows_or_changes_a_referral_is_audited() {
    use futures_util::StreamExt;
    use refroute_e2e::CITY;
    use refroute_proto::v1::{
        ExplainDecisionRequest, Panel, RecordHearingRequest, ReloadRuleSetRequest, Residence,
        SupplyResidenceRequest, WatchQueueRequest, residence,
    };
    let system = spawn_system().await;
    let mut watch = system
        .coordinator
        .clone()
        .watch_queue(WatchQueueRequest {
            area_code: CITY.into(),
            panel: Panel::Marac as i32,
        })
        .await
        .expect("WatchQueue")
        .into_inner();
    let routed = system.submit(Sample::new("Wanda Watched").yes(16)).await;
    let sent = tokio::time::timeout(DECISION_DEADLINE, watch.next())
        .await
        .expect("a case on the stream")
        .expect("stream open")
        .expect("a case");
    assert_eq!(sent.referral_id, routed.id);
    let watched = entries_of(&system, &routed.id, "case.watched", 1).await;
    assert!(
        watched[0]
            .fields
            .iter()
            .any(|f| f == "domestic_abuse.victim.full_name")
    );
    drop(watch);

    // ListQueue: one entry per case listed.
    let listed = system.queue(CITY).await;
    assert_eq!(listed.len(), 1);
    entries_of(&system, &routed.id, "case.disclosed", 1).await;
    // RecordHearing: the hearing, and the case it answers with.
    let today = chrono::Utc::now().date_naive().to_string();
    system
        .coordinator
        .clone()
        .record_hearing(RecordHearingRequest {
            referral_id: routed.id.clone(),
            meeting_date: today,
        })
        .await
        .expect("RecordHearing");
    let heard = entries_of(&system, &routed.id, "hearing.recorded", 1).await;
    assert_eq!(heard[0].fields, ["heard_on"]);
    entries_of(&system, &routed.id, "case.disclosed", 2).await;
    // ExplainDecision.
    system
        .triage_admin
        .clone()
        .explain_decision(ExplainDecisionRequest {
            referral_id: routed.id.clone(),
        })
        .await
        .expect("ExplainDecision");
    let explained = entries_of(&system, &routed.id, "decision.explained", 1).await;
    assert!(explained[0].fields.iter().any(|f| f == "decision.reason"));

    // A transfer: recorded by transfer with what the receiving area is to be passed.
    let moved = system
        .submit(
            Sample::new("Tess Transferred")
                .yes(16)
                .lives_in("E09000012"),
        )
        .await;
    let transfer = entries_of(&system, &moved.id, "transfer.requested", 1).await;
    assert_eq!(
        summary(&transfer[0]),
        ("transfer", "transfer", "transfer.requested")
    );
    assert!(
        transfer[0]
            .fields
            .iter()
            .any(|f| f == "referral.domestic_abuse.victim.full_name")
    );
    assert!(
        !transfer[0]
            .fields
            .iter()
            .any(|f| f == "referral.referrer_reference")
    );
    assert_eq!(transfer[0].lawful_basis.as_deref(), Some(LAWFUL_BASIS));

    // SupplyResidence: the residence supplied, the referral answered with, a second decision.
    let waiting = system
        .submit(
            Sample::new("Rhys Reviewed")
                .yes(16)
                .lives_at_postcode("EC2M"),
        )
        .await;
    entries_of(&system, &waiting.id, "decision.made", 1).await;
    system
        .assert_count(
            &format!(
                "SELECT count(*) FROM intake.referrals WHERE id = '{}' AND status = '{}'",
                waiting.id,
                ReferralStatus::NeedsReview.as_str_name()
            ),
            1,
            DECISION_DEADLINE,
        )
        .await;
    system
        .intake
        .clone()
        .supply_residence(SupplyResidenceRequest {
            referral_id: waiting.id.clone(),
            residence: Some(Residence {
                kind: Some(residence::Kind::Postcode("EC2M 7PY".into())),
            }),
        })
        .await
        .expect("SupplyResidence");
    let supplied = entries_of(&system, &waiting.id, "residence.supplied", 1).await;
    assert_eq!(supplied[0].fields, ["domestic_abuse.victim.residence"]);
    entries_of(&system, &waiting.id, "referral.disclosed", 1).await;
    entries_of(&system, &waiting.id, "decision.made", 2).await;

    // ReloadRuleSet: who put which rule set in force.
    system
        .triage_admin
        .clone()
        .reload_rule_set(ReloadRuleSetRequest {})
        .await
        .expect("ReloadRuleSet");
    let reloads: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, record_id FROM audit.entries WHERE action = 'rules.reloaded' AND record_kind = 'rule_set'",
    )
    .fetch_all(&system.pool)
    .await
    .unwrap();
    assert_eq!(
        reloads,
        [(
            HARNESS.to_string(),
            "london-and-home-counties v1".to_string()
        )]
    );

    let mut conn = system.pool.acquire().await.unwrap();
    assert!(verify(&mut conn).await.is_ok());
    drop(conn);
    system.shutdown().await;
}
