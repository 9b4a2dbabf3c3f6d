//! The quick start's demo, run against the real services: every scenario lands where it says.

use refroute_e2e::spawn_system;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_routes_each_scenario_as_it_says() {
    let system = spawn_system().await;
    let mut out = Vec::new();
    let results = refroute_cli::demo::run(
        &mut system.intake.clone(),
        &mut system.coordinator.clone(),
        &mut out,
    )
    .await
    .expect("demo runs");
    let printed = String::from_utf8(out).unwrap();
    assert_eq!(results.len(), 6);
    for (scenario, referral) in &results {
        let decision = referral.decision.as_ref().expect("decided");
        assert_eq!(
            referral.status(),
            scenario.expect_status,
            "{}: {}",
            scenario.label,
            decision.reason
        );
        assert_eq!(
            decision.criterion(),
            scenario.expect_criterion,
            "{}: {}",
            scenario.label,
            decision.reason
        );
        assert!(printed.contains(&decision.reason), "the demo prints why");
    }
    system.shutdown().await;
}
