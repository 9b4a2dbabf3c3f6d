//! Importing an ONS Postcode Directory file (`refroute postcodes import`) over the shipped table:
//! after triage restarts, a postcode the file marks terminated goes to review (the shipped data
//! cannot mark one: it has no `doterm`), a postcode the shipped data lacks routes as imported,
//! and Northern Irish rows are skipped by licence.

use refroute_e2e::{CITY, PreventSample, Sample, TempDir, spawn_system};
use refroute_proto::v1::{Criterion, Panel, ReferralStatus, TransferKind};
use std::time::Duration;

const HACKNEY: &str = "E09000012";

/// ONSPD's header names and order (a subset of its columns), quoted as ONS ships it. Rows:
/// - EC2M 7PY, a real City postcode in the shipped data, re-homed here as terminated (doterm);
/// - E8 9ZZ, absent from the shipped data, placed in Hackney;
/// - SW1A 1AA, live and as shipped (Westminster);
/// - BT1 1AA, Northern Irish: skipped.
const ONSPD: &str = concat!(
    "\u{feff}",
    r#""pcd","pcd2","pcds","dointr","doterm","oscty","ced","oslaua","osward","oseast1m","osnrth1m","pfa"
"EC2M7PY","EC2M 7PY","EC2M 7PY","199606","202409","E99999999","E99999999","E09000001","E05009302","533167","0181651","E23000034"
"E8  9ZZ","E8  9ZZ","E8 9ZZ","202501","","E99999999","E99999999","E09000012","E05009367","534900","0184700","E23000001"
"SW1A1AA","SW1A 1AA","SW1A 1AA","198001","","E99999999","E99999999","E09000033","E05013806","529090","0179645","E23000001"
"BT1 1AA","BT1  1AA","BT1 1AA","198001","","N99999999","N99999999","N09000003","N08000313","334316","0374675","N23000001"
"#
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_onspd_marks_terminated_postcodes_for_review_and_adds_new_ones() {
    let dir = TempDir::new();
    let file = dir.write("ONSPD_TEST.csv", ONSPD);
    let mut system = spawn_system().await;

    // Before the import: the shipped table routes EC2M 7PY and does not know E8 9ZZ.
    let before = system
        .decide(
            Sample::new("Ida Before")
                .yes(16)
                .lives_at_postcode("EC2M 7PY"),
        )
        .await;
    assert_eq!(before.status(), ReferralStatus::Routed);
    let unknown = system
        .decide(
            Sample::new("Ida Unknown")
                .yes(16)
                .lives_at_postcode("E8 9ZZ"),
        )
        .await;
    assert_eq!(unknown.status(), ReferralStatus::NeedsReview);

    let summary = refroute_cli::postcodes::import(&system.settings.database, &file)
        .await
        .expect("the import succeeds");
    assert_eq!(
        (
            summary.counts.rows_read,
            summary.counts.kept,
            summary.counts.terminated,
            summary.counts.skipped_northern_ireland
        ),
        (4, 3, 1, 1)
    );
    let shown = summary.to_string();
    for wanted in [
        "4 rows read",
        "3 kept (1 terminated)",
        "1 Northern Ireland",
        "doterm",
    ] {
        assert!(shown.contains(wanted), "{wanted:?} not in {shown}");
    }
    let rows = "SELECT count(*) FROM triage.postcodes";
    system.assert_count(rows, 3, Duration::ZERO).await;
    system
        .assert_count(
            "SELECT count(*) FROM triage.postcode_imports",
            1,
            Duration::ZERO,
        )
        .await;
    // Importing the same file again changes no row.
    refroute_cli::postcodes::import(&system.settings.database, &file)
        .await
        .expect("a repeat import succeeds");
    system.assert_count(rows, 3, Duration::ZERO).await;
    // A file that fails half way names the line and changes nothing.
    let bad = dir.write("bad.csv", "pcds,oslaua\nE8 9ZY,E09000012\nE1 6AN,City\n");
    let Err(err) = refroute_cli::postcodes::import(&system.settings.database, &bad).await else {
        panic!("a bad row refuses the file");
    };
    assert!(format!("{err:#}").contains("line 3"), "{err:#}");
    system.assert_count(rows, 3, Duration::ZERO).await;

    // Triage reads the table when it starts.
    system.stop("triage").await.unwrap();
    system.start("triage").await.unwrap();

    let terminated = system
        .decide(
            Sample::new("Ida Terminated")
                .yes(16)
                .lives_at_postcode("EC2M 7PY"),
        )
        .await;
    let d = terminated.decision.clone().unwrap();
    assert_eq!(
        terminated.status(),
        ReferralStatus::NeedsReview,
        "{}",
        d.reason
    );
    assert_eq!(
        (d.panel(), d.criterion(), d.destination_area_code.as_str()),
        (Panel::Review, Criterion::ResidenceUnresolved, CITY)
    );
    assert!(
        d.reason.contains(
            "postcode EC2M 7** has been terminated (it was in City of London (E09000001))"
        ),
        "{}",
        d.reason
    );
    assert!(
        d.criteria_met().any(|c| c == Criterion::VisibleHighRisk),
        "{}",
        d.reason
    );
    assert!(
        d.action_required.contains("current postcode"),
        "{}",
        d.action_required
    );
    let prevent = system
        .decide(PreventSample::new("Pru Terminated").lives_at_postcode("EC2M 7PY"))
        .await;
    assert_eq!(prevent.status(), ReferralStatus::NeedsReview);
    assert!(prevent.decision.unwrap().reason.contains("terminated"));

    let imported = system
        .decide(
            Sample::new("Ida Imported")
                .yes(16)
                .lives_at_postcode("E8 9ZZ"),
        )
        .await;
    let d = imported.decision.clone().unwrap();
    assert_eq!(
        imported.status(),
        ReferralStatus::TransferRequested,
        "{}",
        d.reason
    );
    assert_eq!(
        (d.destination_area_code.as_str(), d.transfer_kind()),
        (HACKNEY, TransferKind::MaracToMarac)
    );
    assert!(
        d.reason
            .contains("postcode E8 9** is in Hackney (E09000012)"),
        "{}",
        d.reason
    );

    let live = system
        .decide(PreventSample::new("Pru Live").lives_at_postcode("SW1A 1AA"))
        .await;
    let d = live.decision.unwrap();
    assert_eq!(
        (live.status, d.destination_police_force_code.as_str()),
        (ReferralStatus::TransferRequested as i32, "E23000001")
    );
    // A shipped postcode the file does not mention resolves as before.
    let untouched = system
        .decide(
            Sample::new("Ida Aldgate")
                .yes(16)
                .lives_at_postcode("E1 6AN"),
        )
        .await;
    assert_eq!(untouched.status(), ReferralStatus::Routed);
    let belfast = system
        .decide(
            Sample::new("Ida Belfast")
                .yes(16)
                .lives_at_postcode("BT1 1AA"),
        )
        .await;
    assert_eq!(belfast.status(), ReferralStatus::NeedsReview);
    assert!(
        belfast
            .decision
            .unwrap()
            .reason
            .contains("Northern Ireland")
    );

    // The decision made before the import stands.
    assert_eq!(
        system.outcome(&before.id).await.status(),
        ReferralStatus::Routed
    );
    system.shutdown().await;
}
