//! The IntakeService contract: idempotent creates, every bad field named, nothing invalid stored.

use refroute_e2e::{Sample, spawn_system};
use refroute_proto::v1::{
    DashAnswer, GetReferralRequest, ProfessionalJudgement, ReferralStatus, referral,
};
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_returns_the_original_referral_and_makes_only_one() {
    let system = spawn_system().await;
    let request = Sample::new("Dee Duplicate").yes(15).request();

    let mut attempts = Vec::new();
    for _ in 0..5 {
        let mut intake = system.intake.clone();
        let request = request.clone();
        attempts.push(tokio::spawn(async move {
            intake.create_referral(request).await
        }));
    }
    let mut ids = BTreeSet::new();
    for a in attempts {
        ids.insert(
            a.await
                .unwrap()
                .expect("every retry succeeds")
                .into_inner()
                .id,
        );
    }
    assert_eq!(ids.len(), 1, "five concurrent retries, one referral");
    let id = ids.into_iter().next().unwrap();

    // Later retry, after triage: the original referral, now with its outcome.
    system.outcome(&id).await;
    let mut intake = system.intake.clone();
    let again = intake
        .create_referral(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, id);
    assert_eq!(again.status(), ReferralStatus::Routed);

    // Same request_id, different referral: refused, with a reason a client can switch on.
    let mut different = Sample::new("Someone Else").yes(3).request();
    different.request_id = request.request_id.clone();
    let err = intake.create_referral(different).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(
        err.get_details_error_info().unwrap().reason,
        "REQUEST_ID_REUSED"
    );
    // Never which referral: a request id is often a guessable case number.
    assert!(!err.message().contains(&id), "{}", err.message());

    system
        .assert_count("SELECT count(*) FROM intake.referrals", 1, Duration::ZERO)
        .await;
    // Five concurrent retries and a late one: announced to triage once, decided and queued once.
    system
        .assert_count("SELECT count(*) FROM intake.outbox", 1, Duration::ZERO)
        .await;
    system
        .assert_count(
            "SELECT count(*) FROM triage.outbox",
            1,
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(system.queue("E09000001").await.len(), 1);
    system.assert_nothing_twice(Duration::from_secs(5)).await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_referral_is_refused_naming_every_bad_field_and_nothing_is_stored() {
    let system = spawn_system().await;
    let mut request = Sample::new("Ivy Invalid").request();
    let r = request.referral.as_mut().unwrap();
    r.referrer_reference = "R".repeat(101);
    let Some(referral::Details::DomesticAbuse(da)) = r.details.as_mut() else {
        unreachable!()
    };
    da.dash_answers.pop();
    da.dash_answers[2] = DashAnswer::Unspecified as i32;
    da.incident.as_mut().unwrap().area_code = "E09000099".into();
    da.incident.as_mut().unwrap().date = "2099-01-01".into();
    da.victim = None;
    da.professional_judgement = Some(ProfessionalJudgement {
        applies: true,
        reasons: vec![],
    });

    let mut intake = system.intake.clone();
    let err = intake.create_referral(request).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: BTreeSet<String> = err
        .get_details_bad_request()
        .expect("BadRequest detail")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    let expected: BTreeSet<String> = [
        "referral.referrer_reference",
        "referral.domestic_abuse.incident.area_code",
        "referral.domestic_abuse.incident.date",
        "referral.domestic_abuse.victim",
        "referral.domestic_abuse.dash_answers",
        "referral.domestic_abuse.dash_answers[2]",
        "referral.domestic_abuse.professional_judgement.reasons",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(fields, expected);

    system
        .assert_count("SELECT count(*) FROM intake.referrals", 0, Duration::ZERO)
        .await;
    system
        .assert_count("SELECT count(*) FROM intake.outbox", 0, Duration::ZERO)
        .await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_referral_answers_not_found_and_invalid_argument_clearly() {
    let system = spawn_system().await;
    let mut intake = system.intake.clone();
    let missing = intake
        .get_referral(GetReferralRequest {
            id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = intake
        .get_referral(GetReferralRequest {
            id: "not-an-id".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(
        malformed
            .get_details_bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "id"
    );

    let oversized = Sample::new("Z".repeat(100_000)).request();
    let too_big = intake.create_referral(oversized).await.unwrap_err();
    assert_eq!(too_big.code(), Code::OutOfRange, "{}", too_big.message());
    system.shutdown().await;
}

/// The README's copy-paste examples stay true: the JSON files parse as protobuf JSON and do
/// what the README says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_files_behave_as_documented() {
    let system = spawn_system().await;
    let mut intake = system.intake.clone();
    let good: refroute_proto::v1::CreateReferralRequest =
        serde_json::from_str(include_str!("../../deploy/examples/referral.json")).unwrap();
    let created = intake.create_referral(good).await.unwrap().into_inner();
    let decided = system.outcome(&created.id).await;
    assert_eq!(decided.status(), ReferralStatus::Routed);
    assert_eq!(
        decided.decision.unwrap().criterion(),
        refroute_proto::v1::Criterion::VisibleHighRisk
    );

    // The other pathways' examples, as the README's comments describe them.
    let post = |json: &str| {
        let request: refroute_proto::v1::CreateReferralRequest =
            serde_json::from_str(json).unwrap();
        system.decide(request)
    };
    let postcode = post(include_str!("../../deploy/examples/referral-postcode.json")).await;
    let d = postcode.decision.clone().unwrap();
    assert_eq!(postcode.status(), ReferralStatus::Routed, "{}", d.reason);
    assert!(
        d.residence_resolution
            .contains("postcode EC2M 7** is in City of London (E09000001)"),
        "{}",
        d.residence_resolution
    );
    let community = post(include_str!("../../deploy/examples/community-marac.json")).await;
    let d = community.decision.clone().unwrap();
    assert_eq!(community.status(), ReferralStatus::Routed, "{}", d.reason);
    assert_eq!(d.panel(), refroute_proto::v1::Panel::CommunityMarac);
    assert_eq!(
        d.notify_area_codes,
        ["E09000012"],
        "the person lives in Hackney"
    );
    let prevent = post(include_str!("../../deploy/examples/prevent.json")).await;
    let d = prevent.decision.clone().unwrap();
    assert_eq!(
        prevent.status(),
        ReferralStatus::TransferRequested,
        "{}",
        d.reason
    );
    assert_eq!(d.destination_police_force_code, "E23000032", "Kent Police");
    assert!(d.subject_age < 18, "a child: {}", d.subject_age);

    let bad: refroute_proto::v1::CreateReferralRequest =
        serde_json::from_str(include_str!("../../deploy/examples/invalid-referral.json")).unwrap();
    let err = intake.create_referral(bad).await.unwrap_err();
    let fields: Vec<String> = err
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        [
            "referral.domestic_abuse.incident.area_code",
            "referral.domestic_abuse.incident.date",
            "referral.domestic_abuse.victim",
            "referral.domestic_abuse.dash_answers",
            "referral.domestic_abuse.professional_judgement.reasons",
            "referral.domestic_abuse.lawful_basis",
        ]
    );
    system.shutdown().await;
}
