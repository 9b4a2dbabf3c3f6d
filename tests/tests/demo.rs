//! The quick start's demo, run against the real services: every scenario lands where it says,
//! on all three pathways, and the demo prints why.

use refroute_e2e::spawn_system;
use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use refroute_proto::v1::{Outcome, Pathway, ReferralStatus};
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_routes_each_scenario_as_it_says() {
    let system = spawn_system().await;
    // As the quick start runs it: the City's police refer, each panel's coordinator reads.
    let mut intake = IntakeServiceClient::new(
        system
            .channel_as("intake", "city-of-london-police")
            .await
            .unwrap(),
    );
    let mut queues = Vec::new();
    for (panel, coordinator) in refroute_cli::demo::CITY_COORDINATORS {
        let channel = system
            .channel_as("notification", coordinator)
            .await
            .unwrap();
        queues.push((*panel, CoordinatorServiceClient::new(channel)));
    }
    let mut out = Vec::new();
    let results = refroute_cli::demo::run(&mut intake, queues, &mut out)
        .await
        .expect("demo runs");
    let printed = String::from_utf8(out).unwrap();
    eprintln!("{printed}");
    assert_eq!(results.len(), refroute_cli::demo::scenarios("x").len());

    // One referral per outcome on each pathway, as it promises.
    let covered: BTreeSet<(i32, i32)> = results
        .iter()
        .map(|(s, _)| (s.pathway as i32, s.expect_status as i32))
        .collect();
    for (pathway, statuses) in [
        (
            Pathway::DomesticAbuse,
            &[
                ReferralStatus::Routed,
                ReferralStatus::BelowThreshold,
                ReferralStatus::TransferRequested,
                ReferralStatus::NeedsReview,
            ][..],
        ),
        (
            Pathway::CommunityMarac,
            &[
                ReferralStatus::Routed,
                ReferralStatus::BelowThreshold,
                ReferralStatus::Declined,
            ][..],
        ),
        (
            Pathway::Prevent,
            &[ReferralStatus::Routed, ReferralStatus::TransferRequested][..],
        ),
    ] {
        for status in statuses {
            assert!(
                covered.contains(&(pathway as i32, *status as i32)),
                "the demo has no {pathway:?} scenario ending {status:?}"
            );
        }
    }

    for (scenario, referral) in &results {
        let d = referral.decision.as_ref().expect("decided");
        let what = format!("{}: {}", scenario.label, d.reason);
        assert_eq!(referral.status(), scenario.expect_status, "{what}");
        assert_eq!(d.pathway(), scenario.pathway, "{what}");
        assert_eq!(d.criterion(), scenario.expect_criterion, "{what}");
        assert_eq!(
            d.destination_area_code, scenario.expect_destination,
            "{what}"
        );
        assert_eq!(d.panel(), scenario.expect_panel, "{what}");
        assert_eq!(d.transfer_kind(), scenario.expect_transfer, "{what}");
        assert_eq!(
            (d.rule_set.as_str(), d.rule_set_version),
            ("london-and-home-counties", 1),
            "{what}"
        );
        assert!(printed.contains(&d.reason), "the demo prints why: {what}");
        assert!(
            printed.contains(&referral.id),
            "the demo prints the id: {what}"
        );
        assert!(printed.contains(scenario.label), "{what}");
        if d.outcome() == Outcome::Routed {
            // Intake knows the outcome first; notification queues the case a moment later.
            let start = std::time::Instant::now();
            while !system
                .queue_of(scenario.expect_destination, scenario.expect_panel)
                .await
                .iter()
                .any(|c| c.referral_id == referral.id)
            {
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(20),
                    "not queued: {what}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    // Queued or transferred, never both; noticed once; every event announced once.
    system
        .assert_nothing_twice(std::time::Duration::from_secs(10))
        .await;
    assert!(
        printed.contains("Prevent handover to Kent Police (E23000032)"),
        "{printed}"
    );
    system.shutdown().await;
}
