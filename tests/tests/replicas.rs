//! Several triage processes on one queue decide about the same person one at a time: repeat and
//! escalation read what the victim's other referrals left, so two referrals of one victim
//! decided at once by two replicas must still see each other.

use chrono::{Days, Utc};
use futures_util::StreamExt;
use refroute_e2e::{Sample, TestSystem, spawn_system};
use refroute_proto::v1::{Criterion, Referral};

/// Victims whose two referrals add up to potential escalation only when counted together.
const ESCALATING: usize = 30;
/// Victims referred twice at visible high risk: the later referral is a repeat.
const REPEATING: usize = 15;

/// Posts every request in order, several at a time, and waits until each is decided.
async fn post_in_order(system: &TestSystem, requests: Vec<Sample>) -> Vec<Referral> {
    let created: Vec<Referral> = futures_util::stream::iter(requests)
        .map(|s| async move { system.submit(s).await })
        .buffered(4)
        .collect()
        .await;
    let mut decided = Vec::new();
    for c in &created {
        decided.push(system.outcome(&c.id).await);
    }
    decided
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_triage_replicas_see_each_others_referrals_of_the_same_victim() {
    let system = spawn_system().await;
    // A second triage, as a real process, consuming the same queue as the one in this process.
    let (mut replica, _) = system.spawn_binary("triage").await.unwrap();

    let incident = Utc::now().date_naive() - Days::new(2);
    let mut requests = Vec::new();
    for v in 0..ESCALATING {
        let name = format!("Escalating Victim {v}");
        // A reports two incidents, B one other: three in twelve months, but only together.
        let mut a = Sample::new(&name).yes(2);
        a.incident_date = incident;
        a.police_incidents = vec![incident, incident - Days::new(30)];
        let mut b = Sample::new(&name).yes(2);
        b.incident_date = incident;
        b.police_incidents = vec![incident - Days::new(60)];
        // Adjacent on the queue, so the broker hands them to different replicas.
        requests.push(a);
        requests.push(b);
    }
    for v in 0..REPEATING {
        let name = format!("Repeating Victim {v}");
        // Incidents today: a repeat falls after the earlier referral was made.
        requests.push(Sample::new(&name).yes(16).incident_days_ago(0));
        requests.push(Sample::new(&name).yes(16).incident_days_ago(0));
    }
    let decided = post_in_order(&system, requests).await;

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
    // Both replicas took part: otherwise this test shows nothing about replicas.
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
    system
        .assert_nothing_twice(std::time::Duration::from_secs(10))
        .await;
    replica.kill().await.unwrap();
    system.shutdown().await;
}
