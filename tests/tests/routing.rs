//! Each MARAC criterion, its boundary, transfers and repeats, through the four real services.

use refroute_e2e::{SHIPPED_RULES, Sample, TempDir, spawn_system, spawn_system_with, with_version};
use refroute_proto::v1::{Criterion, ReferralStatus};
use std::time::Duration;

const CITY: &str = "E09000001";
const HACKNEY: &str = "E09000012";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_criterion_reaches_the_marac_queue_with_its_criterion_and_reason() {
    let system = spawn_system().await;
    let mut intake = system.intake.clone();
    let cases = [
        (
            Sample::new("Vera Visible").yes(14),
            Criterion::VisibleHighRisk,
            "DASH score 14 is at or above City of London's threshold of 14",
        ),
        (
            Sample::new("Pat Judgement")
                .yes(2)
                .professional_judgement("Threats to kill disclosed to the GP"),
            Criterion::ProfessionalJudgement,
            "Professional judgement: the referrer gave 1 reason(s)",
        ),
        (
            Sample::new("Esme Escalation").yes(2).police_incidents(3),
            Criterion::PotentialEscalation,
            "Potential escalation: 3 police-reported incidents in the 12 months",
        ),
    ];
    let mut ids = Vec::new();
    for (sample, criterion, reason) in &cases {
        let created = intake
            .create_referral(sample.request())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            created.status(),
            ReferralStatus::Received,
            "CreateReferral answers at once"
        );
        let decided = system.outcome(&created.id).await;
        let d = decided.decision.clone().expect("decision");
        assert_eq!(decided.status(), ReferralStatus::Routed, "{}", d.reason);
        assert_eq!(d.criterion(), *criterion, "{}", d.reason);
        assert!(d.reason.contains(reason), "reason was: {}", d.reason);
        assert_eq!(
            (d.rule_set.as_str(), d.rule_set_version),
            ("london-and-home-counties", 1)
        );
        assert_eq!(d.destination_area_code, CITY);
        ids.push((created.id, *criterion, *reason));
    }

    let queue = system.queue(CITY).await;
    assert_eq!(queue.len(), 3);
    for (id, criterion, reason) in ids {
        let case = queue
            .iter()
            .find(|c| c.referral_id == id)
            .expect("case is queued");
        let d = case.decision.as_ref().unwrap();
        assert_eq!(d.criterion(), criterion);
        assert!(d.reason.contains(reason));
    }
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirteen_yes_answers_alone_are_below_threshold_and_fourteen_are_not() {
    let system = spawn_system().await;
    let mut outcomes = Vec::new();
    for yes in [13, 14, 15] {
        let created = system
            .submit(Sample::new(format!("Boundary {yes}")).yes(yes))
            .await;
        outcomes.push((yes, system.outcome(&created.id).await));
    }
    let (_, thirteen) = &outcomes[0];
    assert_eq!(thirteen.status(), ReferralStatus::BelowThreshold);
    let reason = &thirteen.decision.as_ref().unwrap().reason;
    assert!(
        reason.contains("DASH score 13 (medium risk; threshold 14)"),
        "{reason}"
    );
    for (yes, r) in &outcomes[1..] {
        assert_eq!(r.status(), ReferralStatus::Routed, "{yes} yes answers");
        assert_eq!(
            r.decision.as_ref().unwrap().criterion(),
            Criterion::VisibleHighRisk
        );
    }
    let queued: Vec<String> = system
        .queue(CITY)
        .await
        .into_iter()
        .map(|c| c.referral_id)
        .collect();
    assert!(
        !queued.contains(&thirteen.id),
        "below threshold is not queued"
    );
    assert_eq!(queued.len(), 2);
    // Below threshold is kept, with its decision.
    let kept = system
        .count_until(
            "SELECT count(*) FROM triage.decisions WHERE outcome = 'OUTCOME_BELOW_THRESHOLD'",
            1,
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(kept, 1);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_victim_living_in_another_borough_produces_transfer_requested_for_that_borough() {
    let system = spawn_system().await;
    let created = system
        .submit(Sample::new("Tess Transfer").yes(16).lives_in(HACKNEY))
        .await;
    let decided = system.outcome(&created.id).await;
    assert_eq!(decided.status(), ReferralStatus::TransferRequested);
    let d = decided.decision.unwrap();
    assert_eq!(d.destination_area_code, HACKNEY);
    assert_eq!(
        d.rules_area_code, CITY,
        "the receiving area's rules decided"
    );
    assert!(
        d.reason
            .contains("MARAC-to-MARAC transfer to Hackney MARAC, which applies its own threshold"),
        "{}",
        d.reason
    );

    // The transfer service took the transfer.requested event off its durable queue.
    let n = system
        .count_until(
            "SELECT count(*) FROM transfer.transfers WHERE to_area_code = 'E09000012' AND from_area_code = 'E09000001' AND state = 'REQUESTED' AND kind = 'TRANSFER_KIND_MARAC_TO_MARAC' AND to_police_force_code IS NULL",
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(n, 1);
    assert!(system.queue(CITY).await.is_empty(), "not heard in the City");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_within_twelve_months_is_detected_from_earlier_referrals() {
    let system = spawn_system().await;
    let first = system
        .submit(Sample::new("Rita Repeat").yes(15).incident_days_ago(20))
        .await;
    assert_eq!(
        system.outcome(&first.id).await.status(),
        ReferralStatus::Routed
    );

    // Same victim, differently typed; a new incident with a low score.
    let again = system
        .submit(Sample::new("  rita   REPEAT ").yes(1).incident_days_ago(0))
        .await;
    let decided = system.outcome(&again.id).await;
    let d = decided.decision.clone().unwrap();
    assert_eq!(decided.status(), ReferralStatus::Routed, "{}", d.reason);
    assert_eq!(d.criterion(), Criterion::Repeat);
    assert!(d.reason.contains("referred to MARAC on"), "{}", d.reason);

    // Someone else with the same low score is not a repeat.
    let other = system
        .submit(Sample::new("Rita Other").yes(1).incident_days_ago(0))
        .await;
    assert_eq!(
        system.outcome(&other.id).await.status(),
        ReferralStatus::BelowThreshold
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_is_counted_across_referrals_of_the_same_victim() {
    let system = spawn_system().await;
    // Two police-reported incidents: below the threshold of 3 on their own.
    let first = system
        .decide(Sample::new("Esther Across").yes(2).police_incidents(2))
        .await;
    assert_eq!(first.status(), ReferralStatus::BelowThreshold);
    // The same incident reported again by another agency adds nothing.
    let same = system
        .decide(Sample::new("Esther Across").yes(2).police_incidents(1))
        .await;
    let d = same.decision.clone().unwrap();
    assert_eq!(
        same.status(),
        ReferralStatus::BelowThreshold,
        "{}",
        d.reason
    );
    assert!(
        d.reason.contains(
            "2 police-reported incidents in 12 months, 1 of them reported in earlier referrals"
        ),
        "{}",
        d.reason
    );

    // A new incident the next day, referred on its own, is the third: potential escalation.
    let third = system
        .decide(
            Sample::new(" esther  ACROSS ")
                .yes(2)
                .police_incidents(1)
                .incident_days_ago(1),
        )
        .await;
    let d = third.decision.clone().unwrap();
    assert_eq!(third.status(), ReferralStatus::Routed, "{}", d.reason);
    assert_eq!(d.criterion(), Criterion::PotentialEscalation);
    assert!(
        d.reason.contains("3 police-reported incidents")
            && d.reason
                .contains("2 of them reported in earlier referrals of the same victim"),
        "{}",
        d.reason
    );
    // Another victim's incidents never count.
    let other = system
        .decide(
            Sample::new("Esther Other")
                .yes(2)
                .police_incidents(1)
                .incident_days_ago(1),
        )
        .await;
    assert_eq!(other.status(), ReferralStatus::BelowThreshold);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_area_applies_its_own_configured_threshold() {
    // Hackney's own entry in a rule file: 15 yes answers.
    let dir = TempDir::new();
    let rules = format!(
        "{}\n[areas.{HACKNEY}]\nname = \"Hackney\"\ndash_threshold = 15\n",
        with_version(SHIPPED_RULES, 2)
    );
    let file = dir.write("rules.toml", &rules);
    let system = spawn_system_with(|s| {
        s.partnership.receiving_area_code = HACKNEY.into();
        s.rules.file = file.display().to_string();
    })
    .await;
    let fourteen = system
        .submit(Sample::new("Hana Fourteen").yes(14).lives_in(HACKNEY))
        .await;
    let fifteen = system
        .submit(Sample::new("Hana Fifteen").yes(15).lives_in(HACKNEY))
        .await;
    let low = system.outcome(&fourteen.id).await;
    assert_eq!(low.status(), ReferralStatus::BelowThreshold);
    assert!(
        low.decision
            .as_ref()
            .unwrap()
            .reason
            .contains("Hackney's rules")
    );
    let high = system.outcome(&fifteen.id).await;
    assert_eq!(high.status(), ReferralStatus::Routed);
    let d = high.decision.unwrap();
    assert_eq!(
        (d.destination_area_code.as_str(), d.rules_area_code.as_str()),
        (HACKNEY, HACKNEY)
    );
    assert_eq!(
        (d.rule_set.as_str(), d.rule_set_version),
        ("london-and-home-counties", 2)
    );
    assert!(
        d.reason
            .contains("DASH score 15 is at or above Hackney's threshold of 15"),
        "{}",
        d.reason
    );
    assert_eq!(system.queue(HACKNEY).await.len(), 1);
    system.shutdown().await;
}
