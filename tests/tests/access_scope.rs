//! What the caller's identity scopes: the referring organisation, request ids, and what a
//! refusal logs.

use refroute_e2e::{Sample, spawn_system};
use refroute_proto::v1::GetReferralRequest;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use std::time::Duration;
use tonic::Code;
use tonic_types::StatusExt;

fn reason(status: &tonic::Status) -> String {
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_names_its_caller_and_request_ids_are_each_organisations_own() {
    let system = spawn_system().await;
    let client = async |organisation: &str| {
        IntakeServiceClient::new(system.channel_as("intake", organisation).await.unwrap())
    };
    let mut a = client("city-of-london-police").await;
    let mut b = client("metropolitan-police").await;

    let mut request = Sample::new("Rita Request").yes(3).request();
    request.request_id = "COLP-2026-0001".into();
    request.referral.as_mut().unwrap().referring_organisation = String::new();
    let first = a
        .create_referral(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.referring_organisation, "City of London Police");

    // B reuses A's request id with another body: a referral of B's own, nothing of A's.
    let mut other = Sample::new("Bea Other").yes(3).request();
    other.request_id = "COLP-2026-0001".into();
    other.referral.as_mut().unwrap().referring_organisation = "metropolitan-police".into();
    let theirs = b.create_referral(other).await.unwrap().into_inner();
    assert_ne!(theirs.id, first.id);
    assert_eq!(theirs.referring_organisation, "Metropolitan Police Service");
    // And B retrying A's exact body gets its own referral too, never A's.
    let replay = b.create_referral(request.clone()).await;
    let replay = replay.unwrap_err();
    assert_eq!(replay.code(), Code::AlreadyExists, "{replay:?}");
    assert!(!replay.message().contains(&first.id), "{replay:?}");
    // A's retry is answered with A's referral.
    let again = a
        .create_referral(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, first.id);

    // Naming another organisation is refused, and stores nothing.
    let mut claimed = Sample::new("Ivy Impostor").yes(3).request();
    claimed.referral.as_mut().unwrap().referring_organisation = "City of London Police".into();
    let refused = b.create_referral(claimed).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "REFERRING_ORGANISATION_MISMATCH");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM intake.referrals WHERE referrer_id = 'metropolitan-police'",
    )
    .fetch_one(&system.pool)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_logged_with_caller_method_and_resource_and_no_personal_data() {
    let system = spawn_system().await;
    let mut a = IntakeServiceClient::new(
        system
            .channel_as("intake", "city-of-london-police")
            .await
            .unwrap(),
    );
    let created = a
        .create_referral(Sample::new("Lola Logline").yes(3).request())
        .await
        .unwrap()
        .into_inner();
    // A second intake as a real process, whose log the test can read.
    let binary = system.spawn_binary_with("intake", &[], true).await.unwrap();
    let mut b = IntakeServiceClient::new(
        refroute_e2e::channel_as("metropolitan-police", binary.addr)
            .await
            .unwrap(),
    );
    let refused = b
        .get_referral(GetReferralRequest {
            id: created.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "REFERRAL_NOT_VISIBLE");
    assert!(!refused.message().contains("Lola"), "{refused:?}");
    let mut log = String::new();
    for _ in 0..50 {
        log = binary.log_text();
        if log.contains("refused") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = log
        .lines()
        .find(|l| l.contains("refused") && l.contains("REFERRAL_NOT_VISIBLE"))
        .unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
    for part in [
        "metropolitan-police",
        "/refroute.v1.IntakeService/GetReferral",
        created.id.as_str(),
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    assert!(!log.contains("Lola"), "personal data logged:\n{log}");
    system.shutdown().await;
}
