//! A residence anywhere in Great Britain resolves from the shipped ONS Postcode Directory data,
//! end to end: a victim in Cardiff is transferred to Cardiff's MARAC, a Prevent subject in
//! Manchester is handed over to Greater Manchester Police and one in Edinburgh to Police
//! Scotland, and a Community MARAC case about a Mancunian is heard in the City with Manchester's
//! services invited. A Community MARAC case whose residence cannot be resolved is heard in the
//! City all the same; only the invitation waits, and supplying the residence releases it.
//! Domestic abuse, decided by residence, still goes to review for a Northern Irish or Crown
//! Dependency postcode.

use refroute_e2e::{CITY, CommunitySample, PreventSample, Sample, TestSystem, spawn_system};
use refroute_proto::v1::{
    Criterion, GetCaseRequest, Panel, Referral, ReferralStatus, Residence, SupplyResidenceRequest,
    TransferKind, residence,
};
use std::time::Duration;

const CARDIFF: &str = "W06000015";
const MANCHESTER: &str = "E08000003";
const EDINBURGH: &str = "S12000036";
const GREATER_MANCHESTER_POLICE: &str = "E23000005";
const POLICE_SCOTLAND: &str = "S23000009";
const WAIT: Duration = Duration::from_secs(15);

fn postcode(p: &str) -> Option<Residence> {
    Some(Residence {
        kind: Some(residence::Kind::Postcode(p.into())),
    })
}

/// The referral's one row in `transfer.transfers`: (to area, kind, police force).
async fn transfer_of(system: &TestSystem, referral: &Referral) -> (String, String, Option<String>) {
    let sql = format!(
        "SELECT count(*) FROM transfer.transfers WHERE referral_id = '{}'",
        referral.id
    );
    system.assert_count(&sql, 1, WAIT).await;
    sqlx::query_as(
        "SELECT to_area_code, kind, to_police_force_code FROM transfer.transfers WHERE referral_id = $1::uuid",
    )
    .bind(&referral.id)
    .fetch_one(&system.pool)
    .await
    .unwrap()
}

/// The referral's deliveries: (to area, recipient organisation, state), oldest first.
async fn deliveries_of(system: &TestSystem, referral: &Referral) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT to_area_code, recipient_organisation, state FROM notification.deliveries \
         WHERE referral_id = $1::uuid ORDER BY created_at, id",
    )
    .bind(&referral.id)
    .fetch_all(&system.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residences_across_great_britain_go_where_they_belong() {
    let system = spawn_system().await;

    // A high-risk victim living in Cardiff: MARAC-to-MARAC transfer to Cardiff.
    let cardiff = system
        .decide(
            Sample::new("Carys Cardiff")
                .yes(16)
                .lives_at_postcode("CF10 1EP"),
        )
        .await;
    let d = cardiff.decision.clone().unwrap();
    assert_eq!(
        (cardiff.status(), d.destination_area_code.as_str()),
        (ReferralStatus::TransferRequested, CARDIFF),
        "{}",
        d.reason
    );
    assert!(
        d.reason.contains(
            "The victim lives in Cardiff (W06000015) (postcode CF10 1** is in Cardiff (W06000015) per the ONS Postcode Directory): MARAC-to-MARAC transfer to Cardiff MARAC"
        ),
        "{}",
        d.reason
    );
    assert_eq!(
        transfer_of(&system, &cardiff).await,
        (
            CARDIFF.into(),
            TransferKind::MaracToMarac.as_str_name().into(),
            None
        )
    );

    // A Prevent subject living in Manchester: handover to Greater Manchester Police.
    let manchester = system
        .decide(PreventSample::new("Manny Mancunian").lives_at_postcode("M1 1AE"))
        .await;
    let d = manchester.decision.clone().unwrap();
    assert_eq!(
        manchester.status(),
        ReferralStatus::TransferRequested,
        "{}",
        d.reason
    );
    assert_eq!(d.transfer_kind(), TransferKind::PreventHandover);
    assert_eq!(d.destination_police_force_code, GREATER_MANCHESTER_POLICE);
    assert!(
        d.reason
            .contains("the person lives in Manchester (E08000003)")
            && d.reason
                .contains("Prevent handover to Greater Manchester Police (E23000005)"),
        "{}",
        d.reason
    );
    assert_eq!(
        transfer_of(&system, &manchester).await,
        (
            MANCHESTER.into(),
            TransferKind::PreventHandover.as_str_name().into(),
            Some(GREATER_MANCHESTER_POLICE.into())
        )
    );

    // And one living in Edinburgh: Police Scotland.
    let edinburgh = system
        .decide(PreventSample::new("Elspeth Edinburgh").lives_at_postcode("EH1 1YZ"))
        .await;
    let d = edinburgh.decision.clone().unwrap();
    assert_eq!(
        (
            d.destination_area_code.as_str(),
            d.destination_police_force_code.as_str()
        ),
        (EDINBURGH, POLICE_SCOTLAND),
        "{}",
        d.reason
    );
    assert!(
        d.reason.contains("Police Scotland (S23000009)"),
        "{}",
        d.reason
    );

    // A Community MARAC case about a person living in Manchester: heard in the City, and
    // Manchester's statutory services invited.
    let invited = system
        .decide(CommunitySample::new("Morag Mancunian").lives_at_postcode("M1 1AE"))
        .await;
    let d = invited.decision.clone().unwrap();
    assert_eq!(
        (
            invited.status(),
            d.destination_area_code.as_str(),
            d.panel()
        ),
        (ReferralStatus::Routed, CITY, Panel::CommunityMarac),
        "{}",
        d.reason
    );
    assert_eq!(d.notify_area_codes, [MANCHESTER]);
    let notice = format!(
        "SELECT count(*) FROM notification.deliveries WHERE referral_id = '{}' AND state = 'NO_RECIPIENT'",
        invited.id
    );
    system.assert_count(&notice, 1, WAIT).await;
    assert_eq!(
        deliveries_of(&system, &invited).await,
        [(
            MANCHESTER.into(),
            "Manchester City Council".into(),
            "NO_RECIPIENT".into()
        )]
    );

    // Decided by residence, domestic abuse still waits for a person where the data cannot say.
    for (raw, why) in [
        (
            "IM1 1AA",
            "is in the Isle of Man (ONS Postcode Directory pseudo code M99999999), a Crown Dependency",
        ),
        (
            "JE2 3AB",
            "is in the Channel Islands (ONS Postcode Directory pseudo code L99999999)",
        ),
        ("BT1 1AA", "is in Northern Ireland"),
    ] {
        let waiting = system
            .decide(Sample::new("Ivy Island").yes(16).lives_at_postcode(raw))
            .await;
        let d = waiting.decision.clone().unwrap();
        assert_eq!(
            waiting.status(),
            ReferralStatus::NeedsReview,
            "{raw}: {}",
            d.reason
        );
        assert!(d.reason.contains(why), "{raw}: {}", d.reason);
        assert!(!d.action_required.is_empty(), "{raw}");
    }
    system.assert_nothing_twice(Duration::from_secs(10)).await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_community_marac_case_never_waits_for_the_residence_only_its_invitation_does() {
    let system = spawn_system().await;
    let mut intake = system.intake.clone();

    let held = system
        .decide(CommunitySample::new("Hedda Held").lives_at_postcode("ZZ9 9ZZ"))
        .await;
    let d = held.decision.clone().unwrap();
    assert_eq!(
        (held.status(), d.destination_area_code.as_str(), d.panel()),
        (ReferralStatus::Routed, CITY, Panel::CommunityMarac),
        "{}",
        d.reason
    );
    assert_eq!(d.criterion(), Criterion::AsbWithVulnerability);
    assert!(
        d.criteria_met()
            .any(|c| c == Criterion::ResidenceUnresolved)
    );
    assert!(d.notify_area_codes.is_empty());

    // In the City's Community MARAC queue now, and the coordinator sees the invitation waits.
    let queued = format!(
        "SELECT count(*) FROM notification.queue_cases WHERE referral_id = '{}' AND area_code = '{CITY}' AND panel = 'PANEL_COMMUNITY_MARAC'",
        held.id
    );
    system.assert_count(&queued, 1, WAIT).await;
    let case = system
        .coordinator
        .clone()
        .get_case(GetCaseRequest {
            referral_id: held.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let seen = case.decision.unwrap();
    assert!(
        seen.reason
            .contains("so the invitation of their home area's statutory services waits for it"),
        "{}",
        seen.reason
    );
    assert!(
        seen.action_required.contains("local-authority GSS code"),
        "{}",
        seen.action_required
    );
    let awaiting = format!(
        "SELECT count(*) FROM notification.deliveries WHERE referral_id = '{}' AND state = 'AWAITING_RESIDENCE'",
        held.id
    );
    system.assert_count(&awaiting, 1, WAIT).await;
    assert_eq!(
        deliveries_of(&system, &held).await,
        [(String::new(), String::new(), "AWAITING_RESIDENCE".into())]
    );

    // The residence supplied: decided again, still the City's case, Manchester now invited.
    intake
        .supply_residence(SupplyResidenceRequest {
            referral_id: held.id.clone(),
            residence: postcode("M1 1AE"),
        })
        .await
        .unwrap();
    let released = system.outcome(&held.id).await;
    let d = released.decision.clone().unwrap();
    assert_eq!(
        (
            released.status(),
            d.destination_area_code.as_str(),
            d.panel()
        ),
        (ReferralStatus::Routed, CITY, Panel::CommunityMarac),
        "{}",
        d.reason
    );
    assert_eq!(d.notify_area_codes, [MANCHESTER]);
    assert!(
        !d.criteria_met()
            .any(|c| c == Criterion::ResidenceUnresolved)
    );
    assert!(d.action_required.is_empty());
    let pending = format!(
        "SELECT count(*) FROM notification.deliveries WHERE referral_id = '{}' AND state = 'NO_RECIPIENT'",
        held.id
    );
    system.assert_count(&pending, 1, WAIT).await;
    system.assert_count(&awaiting, 0, WAIT).await;
    assert_eq!(
        deliveries_of(&system, &held).await,
        [
            (String::new(), String::new(), "RELEASED".into()),
            (
                MANCHESTER.into(),
                "Manchester City Council".into(),
                "NO_RECIPIENT".into()
            )
        ]
    );
    // One case in the queue, showing the later decision; the earlier one is kept.
    let in_queue = system
        .queue_of(CITY, Panel::CommunityMarac)
        .await
        .into_iter()
        .filter(|c| c.referral_id == held.id)
        .collect::<Vec<_>>();
    assert_eq!(in_queue.len(), 1);
    assert_eq!(
        in_queue[0].decision.as_ref().unwrap().notify_area_codes,
        [MANCHESTER]
    );
    let (superseded,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM triage.superseded_decisions WHERE referral_id = $1::uuid",
    )
    .bind(&held.id)
    .fetch_one(&system.pool)
    .await
    .unwrap();
    assert_eq!(superseded, 1);

    // Nothing waits now: another residence is refused, the same one again is answered.
    let again = intake
        .supply_residence(SupplyResidenceRequest {
            referral_id: held.id.clone(),
            residence: postcode("M1 1AE"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.status(), ReferralStatus::Routed);
    let late = intake
        .supply_residence(SupplyResidenceRequest {
            referral_id: held.id.clone(),
            residence: postcode("CF10 1EP"),
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), tonic::Code::FailedPrecondition, "{late:?}");
    system.assert_nothing_twice(Duration::from_secs(10)).await;
    system.shutdown().await;
}
