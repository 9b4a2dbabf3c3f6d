//! Several triage processes on one queue decide about the same person one at a time: repeat and
//! escalation read what the victim's other referrals left, so two referrals of one victim
//! decided at once by two replicas must still see each other.

use chrono::{Days, Utc};
use refroute_e2e::{Sample, TestSystem, spawn_system};
use refroute_proto::v1::{Criterion, Referral};
use std::time::{Duration, Instant};

/// Victims whose two referrals add up to potential escalation only when counted together.
const ESCALATING: usize = 30;
/// Victims referred twice at visible high risk: the later referral is a repeat.
const REPEATING: usize = 15;

/// Triage transactions of this test's database waiting for a lock: on the decisions table the
/// test holds, or on anything a replica takes to wait for another.
async fn waiting_on_locks(system: &TestSystem) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
    )
    .fetch_one(&system.pool)
    .await
    .unwrap();
    n
}

/// Posts a victim's two referrals at once while triage cannot write any decision, waits until
/// both replicas are part-way through one each (or a few seconds), then lets them finish.
/// Returns both decided, and whether the two were in hand at the same time.
async fn post_pair(system: &TestSystem, a: Sample, b: Sample) -> (Vec<Referral>, bool) {
    let mut hold = system.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE triage.decisions IN SHARE MODE")
        .execute(&mut *hold)
        .await
        .unwrap();
    let (a, b) = tokio::join!(system.submit(a), system.submit(b));
    let start = Instant::now();
    let mut together = false;
    while start.elapsed() < Duration::from_secs(5) {
        if waiting_on_locks(system).await >= 2 {
            together = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hold.rollback().await.unwrap();
    (
        vec![system.outcome(&a.id).await, system.outcome(&b.id).await],
        together,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_triage_replicas_see_each_others_referrals_of_the_same_victim() {
    let system = spawn_system().await;
    // A second triage, as a real process, consuming the same queue as the one in this process.
    let (mut replica, _) = system.spawn_binary("triage").await.unwrap();

    let incident = Utc::now().date_naive() - Days::new(2);
    let mut decided = Vec::new();
    let mut together = 0;
    for v in 0..ESCALATING {
        let name = format!("Escalating Victim {v}");
        // A reports two incidents, B one other: three in twelve months, but only together.
        let mut a = Sample::new(&name).yes(2);
        a.incident_date = incident;
        a.police_incidents = vec![incident, incident - Days::new(30)];
        let mut b = Sample::new(&name).yes(2);
        b.incident_date = incident;
        b.police_incidents = vec![incident - Days::new(60)];
        let (pair, at_once) = post_pair(&system, a, b).await;
        decided.extend(pair);
        together += usize::from(at_once);
    }
    for v in 0..REPEATING {
        let name = format!("Repeating Victim {v}");
        // Incidents today: a repeat falls after the earlier referral was made.
        let a = Sample::new(&name).yes(16).incident_days_ago(0);
        let b = Sample::new(&name).yes(16).incident_days_ago(0);
        let (pair, at_once) = post_pair(&system, a, b).await;
        decided.extend(pair);
        together += usize::from(at_once);
    }
    eprintln!(
        "{together} of {} victims had both referrals in hand at once",
        ESCALATING + REPEATING
    );

    let mut missed = Vec::new();
    for (v, pair) in decided[..2 * ESCALATING].chunks(2).enumerate() {
        let escalated = pair
            .iter()
            .filter(|r| {
                r.decision.as_ref().is_some_and(|d| {
                    d.criteria_met()
                        .any(|c| c == Criterion::PotentialEscalation)
                })
            })
            .count();
        if escalated == 0 {
            missed.push(format!(
                "Escalating Victim {v}: neither referral is potential escalation ({:?}, {:?})",
                pair[0].status(),
                pair[1].status()
            ));
        }
    }
    for (v, pair) in decided[2 * ESCALATING..].chunks(2).enumerate() {
        let repeats = pair
            .iter()
            .filter(|r| {
                r.decision
                    .as_ref()
                    .is_some_and(|d| d.criteria_met().any(|c| c == Criterion::Repeat))
            })
            .count();
        if repeats != 1 {
            missed.push(format!(
                "Repeating Victim {v}: {repeats} of two referrals are repeats, want one"
            ));
        }
    }
    // The replicas did work at once, and both took part: otherwise this shows nothing.
    assert!(
        together * 2 >= ESCALATING + REPEATING,
        "only {together} of {} victims had both referrals in hand at once",
        ESCALATING + REPEATING
    );
    let in_process = system.scrape("triage").await.unwrap();
    let decided_here: f64 = in_process
        .lines()
        .filter(|l| l.starts_with("refroute_decisions_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let total = decided.len() as f64;
    assert!(
        decided_here > 0.0 && decided_here < total,
        "the in-process triage decided {decided_here} of {total}: one replica did all the work"
    );
    assert!(
        missed.is_empty(),
        "{} of {} victims decided as if their other referral did not exist:\n{}",
        missed.len(),
        ESCALATING + REPEATING,
        missed.join("\n")
    );
    system.assert_nothing_twice(Duration::from_secs(10)).await;
    replica.kill().await.unwrap();
    system.shutdown().await;
}
