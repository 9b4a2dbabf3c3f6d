//! What a referrer sends cannot stop routing or split one person in two: implausible dates,
//! codes that name no local authority and control characters are refused with the field named
//! and never stored; a huge request gets a small answer; a name matches however it is typed.

use chrono::{Datelike, Days, Utc};
use refroute_e2e::spawn_system;
use refroute_e2e::{CITY, CommunitySample, DECISION_DEADLINE, PreventSample, Sample, TestSystem};
use refroute_proto::v1::{
    CreateReferralRequest, Criterion, DomesticAbuseReferral, Person, ReferralStatus, referral,
};
use std::time::{Duration, Instant};
use tonic::Code;
use tonic_types::StatusExt;

const DA: &str = "referral.domestic_abuse";

fn da(request: &mut CreateReferralRequest) -> &mut DomesticAbuseReferral {
    match request.referral.as_mut().and_then(|r| r.details.as_mut()) {
        Some(referral::Details::DomesticAbuse(da)) => da,
        _ => panic!("not a domestic-abuse request"),
    }
}

fn victim(request: &mut CreateReferralRequest) -> &mut Person {
    da(request).victim.as_mut().expect("a victim")
}

/// Posts `request` and describes what is wrong if it is not refused with INVALID_ARGUMENT naming
/// one of `fields` in its BadRequest detail.
async fn refusal_problem(
    system: &TestSystem,
    request: CreateReferralRequest,
    fields: &[&str],
) -> Option<String> {
    match system.intake.clone().create_referral(request).await {
        Ok(created) => Some(format!(
            "accepted (status {:?})",
            created.into_inner().status()
        )),
        Err(e) if e.code() != Code::InvalidArgument => {
            Some(format!("answered {:?}: {}", e.code(), e.message()))
        }
        Err(e) => {
            let named: Vec<String> = e
                .get_details_bad_request()
                .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
                .unwrap_or_default();
            if named.iter().any(|f| fields.contains(&f.as_str())) {
                None
            } else {
                Some(format!("refused naming {named:?}, not {fields:?}"))
            }
        }
    }
}

/// Asserts that every case is refused naming its field and that nothing was stored.
async fn assert_refused(
    system: &TestSystem,
    cases: Vec<(&str, CreateReferralRequest, Vec<String>)>,
) {
    let mut problems = Vec::new();
    for (what, request, fields) in cases {
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        if let Some(p) = refusal_problem(system, request, &fields).await {
            problems.push(format!("{what}: {p}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} request(s) not refused as they should be:\n{}",
        problems.len(),
        problems.join("\n")
    );
    system
        .assert_count("SELECT count(*) FROM intake.referrals", 0, Duration::ZERO)
        .await;
    system
        .assert_count("SELECT count(*) FROM intake.outbox", 0, Duration::ZERO)
        .await;
}

/// The ordinary referral every test here routes afterwards: whatever was sent before, triage
/// still decides within seconds.
async fn still_routes(system: &TestSystem) {
    if let Err(e) = routes_within(system, DECISION_DEADLINE).await {
        panic!("{e}");
    }
}

async fn routes_within(system: &TestSystem, within: Duration) -> Result<(), String> {
    let created = system.submit(Sample::new("Ordinary After").yes(16)).await;
    let start = Instant::now();
    let id: uuid::Uuid = created.id.parse().unwrap();
    loop {
        let (status,): (String,) =
            sqlx::query_as("SELECT status FROM intake.referrals WHERE id = $1")
                .bind(id)
                .fetch_one(&system.pool)
                .await
                .unwrap();
        if status == ReferralStatus::Routed.as_str_name() {
            return Ok(());
        }
        if start.elapsed() > within {
            return Err(format!(
                "an ordinary DASH-16 referral is {status} after {within:?}: routing has stopped"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The date that makes someone `years` old, on this day of the year.
fn years_ago(years: i32) -> String {
    let today = Utc::now().date_naive();
    today
        .with_year(today.year() - years)
        .unwrap_or(today - Days::new(365 * years as u64 + 2))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_police_incident_dated_5000_bc_is_refused_and_routing_goes_on() {
    let system = spawn_system().await;
    let mut request = Sample::new("Ancient Incident").yes(16).request();
    da(&mut request).police_reported_incident_dates = vec!["-5000-01-01".into()];
    let field = format!("{DA}.police_reported_incident_dates[0]");
    let refused = refusal_problem(&system, request, &[&field]).await;
    // Whether or not it was refused, the next referral must still be routed: say both.
    let routed = routes_within(&system, Duration::from_secs(20)).await.err();
    let problems: Vec<String> = [refused.map(|p| format!("-5000-01-01: {p}")), routed]
        .into_iter()
        .flatten()
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    system
        .assert_count("SELECT count(*) FROM intake.referrals", 1, Duration::ZERO)
        .await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_of_birth_not_written_yyyy_mm_dd_is_refused() {
    let system = spawn_system().await;
    let dob = format!("{DA}.victim.date_of_birth");
    let mut cases = Vec::new();
    for written in [
        "1990-1-2",
        "+1990-01-02",
        "1990-01-2",
        " 1990-01-02x",
        "19900102",
    ] {
        let mut request = Sample::new("Noncanon Dob").yes(16).request();
        victim(&mut request).date_of_birth = written.into();
        cases.push((written, request, vec![dob.clone()]));
    }
    assert_refused(&system, cases).await;
    still_routes(&system).await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_that_names_no_local_authority_is_refused() {
    let system = spawn_system().await;
    let da_code = format!("{DA}.victim.residence.local_authority_code");
    let cm_code = "referral.community_marac.subject.residence.local_authority_code";
    let pv_code = "referral.prevent.subject.residence.local_authority_code";
    let mut cases = Vec::new();
    for code in [
        "E07999999",
        "E06999999",
        "W06999999",
        "S12999999",
        "N09999999",
    ] {
        let request = Sample::new("Nowhere Resident")
            .yes(16)
            .lives_in(code)
            .request();
        cases.push((code, request, vec![da_code.clone()]));
    }
    cases.push((
        "Community MARAC E07999999",
        CommunitySample::new("Nowhere Subject")
            .lives_in("E07999999")
            .request(),
        vec![cm_code.into()],
    ));
    cases.push((
        "Prevent E07999999",
        PreventSample::new("Nowhere Subject")
            .lives_in("E07999999")
            .request(),
        vec![pv_code.into()],
    ));
    assert_refused(&system, cases).await;
    still_routes(&system).await;
    system.shutdown().await;
}

/// The other side of the refusals above: a real local authority outside the area directory, and
/// codes and postcodes written in lower case or without a space, are taken and routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_and_postcodes_however_written_are_accepted_and_routed() {
    let system = spawn_system().await;
    let manchester = system
        .decide(
            Sample::new("Mancunian Resident")
                .yes(16)
                .lives_in("E08000003"),
        )
        .await;
    let d = manchester.decision.clone().unwrap();
    assert_eq!(
        manchester.status(),
        ReferralStatus::TransferRequested,
        "{}",
        d.reason
    );
    assert_eq!(d.destination_area_code, "E08000003");

    let lower = system
        .decide(
            Sample::new("Lower Case")
                .yes(16)
                .lives_in("e09000001")
                .incident_in("e09000001"),
        )
        .await;
    let d = lower.decision.clone().unwrap();
    assert_eq!(lower.status(), ReferralStatus::Routed, "{}", d.reason);
    assert_eq!(d.destination_area_code, CITY);

    let unspaced = system
        .decide(
            Sample::new("Unspaced Postcode")
                .yes(16)
                .lives_at_postcode("ec2m7py"),
        )
        .await;
    let d = unspaced.decision.clone().unwrap();
    assert_eq!(unspaced.status(), ReferralStatus::Routed, "{}", d.reason);
    assert_eq!(d.destination_area_code, CITY);
    assert!(
        d.residence_resolution.contains("EC2M 7**"),
        "{}",
        d.residence_resolution
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_byte_in_request_id_is_invalid_argument_not_unavailable() {
    let system = spawn_system().await;
    let mut nul_id = Sample::new("Nul Request").yes(16).request();
    nul_id.request_id = "a\u{0}b".into();
    let mut nul_org = Sample::new("Nul Organisation").yes(16).request();
    nul_org.referral.as_mut().unwrap().referring_organisation = "City\u{0}Police".into();
    let mut nul_reference = Sample::new("Nul Reference").yes(16).request();
    nul_reference.referral.as_mut().unwrap().referrer_reference = "\u{0}".into();
    assert_refused(
        &system,
        vec![
            ("NUL in request_id", nul_id, vec!["request_id".into()]),
            (
                "NUL in referrer_reference",
                nul_reference,
                vec!["referral.referrer_reference".into()],
            ),
        ],
    )
    .await;
    // The referring organisation is the caller's: any other value, a NUL in it included, is
    // refused as naming someone else (PERMISSION_DENIED), never UNAVAILABLE.
    let refused = system
        .intake
        .clone()
        .create_referral(nul_org)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_dates_and_control_characters_are_refused_naming_their_field() {
    let system = spawn_system().await;
    let today = Utc::now().date_naive();
    let tomorrow = (today + Days::new(1)).to_string();
    let incident = format!("{DA}.incident.date");
    let dob = format!("{DA}.victim.date_of_birth");
    let police0 = format!("{DA}.police_reported_incident_dates[0]");
    let name = format!("{DA}.victim.full_name");
    let base = || Sample::new("Implausible Dates").yes(16);
    let mut cases: Vec<(&str, CreateReferralRequest, Vec<String>)> = Vec::new();

    let mut r = base().request();
    da(&mut r).incident.as_mut().unwrap().date = "1899-12-31".into();
    cases.push(("incident before 1900", r, vec![incident.clone()]));
    let mut r = base().request();
    da(&mut r).incident.as_mut().unwrap().date = tomorrow.clone();
    cases.push(("incident tomorrow", r, vec![incident.clone()]));
    let mut r = base().request();
    da(&mut r).incident.as_mut().unwrap().date = "0001-01-01".into();
    cases.push(("incident in year 1", r, vec![incident.clone()]));
    let mut r = base().request();
    victim(&mut r).date_of_birth = "1899-12-31".into();
    cases.push(("born before 1900", r, vec![dob.clone()]));
    let mut r = base().request();
    victim(&mut r).date_of_birth = "9999-12-31".into();
    cases.push(("born in 9999", r, vec![dob.clone()]));
    let mut r = base().request();
    victim(&mut r).date_of_birth = tomorrow.clone();
    cases.push(("born tomorrow", r, vec![dob.clone()]));
    let mut r = base().request();
    victim(&mut r).date_of_birth = years_ago(121);
    cases.push(("aged 121", r, vec![dob.clone()]));
    let mut r = base().request();
    da(&mut r).police_reported_incident_dates = vec!["1899-12-31".into()];
    cases.push(("police incident before 1900", r, vec![police0.clone()]));
    let mut r = base().request();
    da(&mut r).police_reported_incident_dates = vec!["1900-1-1".into()];
    cases.push(("police incident not canonical", r, vec![police0.clone()]));
    // Born 1991-04-17 (the sample's date of birth): an incident before then cannot be theirs.
    let mut r = base().request();
    da(&mut r).police_reported_incident_dates = vec!["1980-01-01".into()];
    cases.push(("police incident before birth", r, vec![police0.clone()]));
    let mut r = base().born("2010-06-01").request();
    da(&mut r).incident.as_mut().unwrap().date = "2009-01-01".into();
    cases.push((
        "incident before birth",
        r,
        vec![incident.clone(), dob.clone()],
    ));
    let mut r = base().request();
    victim(&mut r).full_name = "Bell\u{7}Ringer".into();
    cases.push(("BEL in a name", r, vec![name.clone()]));
    let mut r = base().request();
    victim(&mut r).full_name = "Line\nBreak".into();
    cases.push(("newline in a name", r, vec![name.clone()]));
    let mut r = base().request();
    da(&mut r).lawful_basis = "basis\u{1b}[31m".into();
    cases.push((
        "escape sequence in free text",
        r,
        vec![format!("{DA}.lawful_basis")],
    ));
    let mut r = CommunitySample::new("Community Dates").request();
    if let Some(referral::Details::CommunityMarac(cm)) =
        r.referral.as_mut().and_then(|r| r.details.as_mut())
    {
        cm.subject.as_mut().unwrap().date_of_birth = "1990-1-2".into();
    }
    cases.push((
        "Community MARAC date of birth not canonical",
        r,
        vec!["referral.community_marac.subject.date_of_birth".into()],
    ));
    let mut r = PreventSample::new("Prevent Dates").request();
    if let Some(referral::Details::Prevent(p)) =
        r.referral.as_mut().and_then(|r| r.details.as_mut())
    {
        p.subject.as_mut().unwrap().date_of_birth = "-5000-01-01".into();
    }
    cases.push((
        "Prevent subject born 5000 BC",
        r,
        vec!["referral.prevent.subject.date_of_birth".into()],
    ));

    assert_refused(&system, cases).await;
    still_routes(&system).await;
    system.shutdown().await;
}

/// One request full of bad values is answered with a bounded number of violations, in an error a
/// client can read (the details travel in an HTTP/2 trailer, which clients cap at 16 KiB), however
/// many values were bad and however long each description of what is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_invalid_request_gets_a_small_error() {
    let system = spawn_system().await;
    let today = Utc::now().date_naive();
    let mut shapes: Vec<(&str, CreateReferralRequest, String)> = Vec::new();
    let mut r = Sample::new("Huge Request").yes(16).request();
    da(&mut r).dash_answers = vec![99; 60_000];
    shapes.push((
        "60000 invalid DASH answers",
        r,
        format!("{DA}.dash_answers"),
    ));
    let mut r = Sample::new("Huge Request").yes(16).request();
    da(&mut r).risk_indicators = vec![99; 30_000];
    shapes.push((
        "30000 invalid risk indicators",
        r,
        format!("{DA}.risk_indicators"),
    ));
    let mut r = Sample::new("Huge Request").yes(16).request();
    da(&mut r).police_reported_incident_dates = (0..100)
        .map(|i| (today + Days::new(1 + i)).to_string())
        .collect();
    shapes.push((
        "100 police incidents in the future",
        r,
        format!("{DA}.police_reported_incident_dates"),
    ));
    let mut r = Sample::new("Huge Request").yes(16).request();
    da(&mut r).police_reported_incident_dates = vec!["1990-01-02\u{0}".into(); 100];
    shapes.push((
        "100 police incidents that are not dates",
        r,
        format!("{DA}.police_reported_incident_dates"),
    ));
    let mut r = Sample::new("Huge Request").yes(16).request();
    da(&mut r).do_not_inform = vec!["\u{7}".repeat(250); 200];
    shapes.push((
        "200 bad names not to inform",
        r,
        format!("{DA}.do_not_inform"),
    ));

    let mut problems = Vec::new();
    for (what, request, field) in shapes {
        let err = match system.intake.clone().create_referral(request).await {
            Ok(_) => {
                problems.push(format!("{what}: accepted"));
                continue;
            }
            Err(e) => e,
        };
        if err.code() != Code::InvalidArgument {
            problems.push(format!("{what}: {:?} {}", err.code(), err.message()));
            continue;
        }
        let violations = err
            .get_details_bad_request()
            .map(|b| b.field_violations)
            .unwrap_or_default();
        let size = err.message().len() + err.details().len();
        if violations.is_empty() || violations.len() > 101 {
            problems.push(format!("{what}: {} field violations", violations.len()));
        }
        if !violations.iter().any(|v| v.field.starts_with(&field)) {
            problems.push(format!("{what}: no violation names {field}"));
        }
        if size >= 16 * 1024 {
            problems.push(format!("{what}: the error is {size} bytes"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    system
        .assert_count("SELECT count(*) FROM intake.referrals", 0, Duration::ZERO)
        .await;
    system.shutdown().await;
}

/// Agencies type names differently: composed or decomposed accents, capitals, spacing. The same
/// victim with the same date of birth is one person, so the second referral is a repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_victim_matches_however_their_name_is_typed() {
    let system = spawn_system().await;
    let first = system
        .decide(Sample::new("Zoë Ångström").born("1990-01-02").yes(16))
        .await;
    assert_eq!(first.status(), ReferralStatus::Routed);

    let mut retyped = Vec::new();
    for typed in [
        // Decomposed (NFD), upper case, extra spaces.
        "  ZOE\u{0308}   A\u{030A}NGSTRO\u{0308}M ",
        // Composed upper case with the Angstrom sign (U+212B), which NFC maps to Å.
        "ZOË \u{212B}NGSTRÖM",
        "zoë ångström",
    ] {
        let again = system
            .decide(
                Sample::new(typed)
                    .born("1990-01-02")
                    .yes(1)
                    .incident_days_ago(0),
            )
            .await;
        let d = again.decision.clone().unwrap();
        if again.status() != ReferralStatus::Routed || d.criterion() != Criterion::Repeat {
            retyped.push(format!(
                "{typed:?}: {:?} {:?}: {}",
                again.status(),
                d.criterion(),
                d.reason
            ));
        }
    }
    assert!(
        retyped.is_empty(),
        "not matched to the first referral:\n{}",
        retyped.join("\n")
    );

    // Someone else with the same date of birth is not a repeat.
    let other = system
        .decide(
            Sample::new("Zoë Ångman")
                .born("1990-01-02")
                .yes(1)
                .incident_days_ago(0),
        )
        .await;
    assert_eq!(other.status(), ReferralStatus::BelowThreshold);
    system.shutdown().await;
}
