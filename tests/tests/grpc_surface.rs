//! Every server answers health and reflection, so grpcurl and load balancers work unaided.

use refroute_e2e::spawn_system;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

async fn listed_services(channel: tonic::transport::Channel) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().expect("one response");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_serves_health_and_reflection() {
    let system = spawn_system().await;
    let own: [(&str, &[&str]); 4] = [
        ("intake", &["refroute.v1.IntakeService"]),
        ("triage", &["refroute.v1.TriageAdminService"]),
        (
            "transfer",
            &["refroute.v1.ExchangeService", "refroute.v1.TransferService"],
        ),
        ("notification", &["refroute.v1.CoordinatorService"]),
    ];
    for (name, api) in own {
        assert_eq!(
            system.health(name).await.unwrap(),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{name}"
        );
        let services = listed_services(system.channel(name).await.unwrap()).await;
        assert!(
            services.contains(&"grpc.health.v1.Health".to_string()),
            "{name}: {services:?}"
        );
        assert!(
            services.contains(&"grpc.reflection.v1.ServerReflection".to_string()),
            "{name}: {services:?}"
        );
        let mut refroute: Vec<&str> = services
            .iter()
            .map(String::as_str)
            .filter(|s| s.starts_with("refroute."))
            .collect();
        refroute.sort();
        assert_eq!(refroute, api, "{name} advertises only what it serves");
    }
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_decisions_and_show_the_outbox_backlog() {
    let system = spawn_system().await;
    for i in 0..2 {
        system
            .decide(refroute_e2e::Sample::new(format!("Metric {i}")).yes(16))
            .await;
    }
    system
        .decide(refroute_e2e::PreventSample::new("Metric Prevent").lives_in("E09000033"))
        .await;
    let wanted = [
        "refroute_decisions_total{pathway=\"PATHWAY_DOMESTIC_ABUSE\",outcome=\"OUTCOME_ROUTED\",criterion=\"CRITERION_VISIBLE_HIGH_RISK\"} 2",
        "refroute_decisions_total{pathway=\"PATHWAY_PREVENT\",outcome=\"OUTCOME_TRANSFER_REQUESTED\",criterion=\"CRITERION_RADICALISATION_CONCERN\"} 1",
        "refroute_messages_total{queue=\"triage.referral-received\",result=\"acked\"} 3",
        "refroute_events_published_total{routing_key=\"referral.routed.v1\"} 2",
        "refroute_events_published_total{routing_key=\"transfer.requested.v1\"} 1",
        "refroute_outbox_pending{schema=\"triage\"} 0",
        "refroute_broker_connected 1",
        "refroute_database_up 1",
    ];
    // The relay confirms asynchronously; give it a moment to drain.
    let start = std::time::Instant::now();
    loop {
        let text = system.scrape("triage").await.unwrap();
        let missing: Vec<&&str> = wanted.iter().filter(|w| !text.contains(**w)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "missing {missing:?} in:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_binary_stops_cleanly_on_sigterm() {
    let system = spawn_system().await;
    for name in ["intake", "notification"] {
        let (mut child, _) = system.spawn_binary(name).await.unwrap();
        let pid = child.id().expect("running").to_string();
        let signalled = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(signalled.success());
        let exit = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
            .await
            .expect("exits within 30 s of SIGTERM")
            .unwrap();
        assert!(exit.success(), "{name} exited with {exit}");
    }
    system.shutdown().await;
}
