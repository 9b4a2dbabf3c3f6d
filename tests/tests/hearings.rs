//! Hearings: a coordinator records the meeting that heard a MARAC case (CoordinatorService/
//! RecordHearing, announced as case.heard) and an area whose repeat window counts from the last
//! meeting counts from that date. Recording the same date twice announces nothing new; a meeting
//! before the case was routed, or earlier than the one recorded, is refused and changes nothing.

use chrono::{Days, NaiveDate, Utc};
use refroute_e2e::{
    CITY, Sample, TempDir, TestSystem, rules_with, spawn_system, spawn_system_with,
};
use refroute_proto::v1::{
    Criterion, GetCaseRequest, RecordHearingRequest, Referral, ReferralStatus,
};
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::Code;
use tonic_types::StatusExt;

/// The shipped rules, version 2, with the City counting repeats within 1 month of the last meeting.
fn last_meeting_rules() -> String {
    rules_with(CITY, 2, |t| {
        t.replace(
            "repeat_window_months = 12",
            "repeat_window_months = 1\nrepeat_anchor = \"last_meeting\"",
        )
    })
}

async fn record(
    system: &TestSystem,
    referral_id: &str,
    meeting_date: &str,
) -> Result<refroute_proto::v1::Case, tonic::Status> {
    system
        .coordinator
        .clone()
        .record_hearing(RecordHearingRequest {
            referral_id: referral_id.into(),
            meeting_date: meeting_date.into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// case.heard events notification has committed for `id` (published or not).
async fn heard_events(system: &TestSystem, id: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM notification.outbox WHERE routing_key = 'case.heard.v1' AND correlation_id = $1",
    )
    .bind(id)
    .fetch_one(&system.pool)
    .await
    .unwrap();
    n
}

/// Waits until triage has applied the hearing of `id` on `date`.
async fn triage_knows_heard(system: &TestSystem, id: &str, date: NaiveDate) {
    let sql = format!(
        "SELECT count(*) FROM triage.marac_referrals WHERE referral_id = '{}' AND heard_on = '{date}'",
        uuid::Uuid::parse_str(id).unwrap()
    );
    system.assert_count(&sql, 1, Duration::from_secs(20)).await;
}

/// Moves `id`'s routing `days` back, in notification's queue and in triage's MARAC history, as
/// if it had been referred and routed then.
async fn routed_days_ago(system: &TestSystem, id: &str, days: i32) {
    let id = uuid::Uuid::parse_str(id).unwrap();
    for sql in [
        "UPDATE notification.queue_cases SET routed_at = routed_at - make_interval(days => $2) WHERE referral_id = $1",
        "UPDATE triage.marac_referrals SET referred_on = referred_on - $2 WHERE referral_id = $1",
    ] {
        let done = sqlx::query(sql)
            .bind(id)
            .bind(days)
            .execute(&system.pool)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
    }
}

/// `heard_on` of `id` in notification's queue and in triage's MARAC history.
async fn heard_on(system: &TestSystem, id: &str) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let id = uuid::Uuid::parse_str(id).unwrap();
    let (queue,): (Option<NaiveDate>,) =
        sqlx::query_as("SELECT heard_on FROM notification.queue_cases WHERE referral_id = $1")
            .bind(id)
            .fetch_one(&system.pool)
            .await
            .unwrap();
    let (triage,): (Option<NaiveDate>,) =
        sqlx::query_as("SELECT heard_on FROM triage.marac_referrals WHERE referral_id = $1")
            .bind(id)
            .fetch_one(&system.pool)
            .await
            .unwrap();
    (queue, triage)
}

/// `s` as a failing assertion may print it.
fn short(s: &str) -> String {
    s.chars().take(50).collect()
}

async fn first_referral(system: &TestSystem, name: &str) -> Referral {
    let first = system.decide(Sample::new(name).yes(16)).await;
    assert_eq!(first.status(), ReferralStatus::Routed);
    first
}

/// A further incident today against the same victim, with nothing else to go on.
async fn again(system: &TestSystem, name: &str) -> (ReferralStatus, Criterion, String) {
    let r = system
        .decide(Sample::new(name).yes(1).incident_days_ago(0))
        .await;
    let d = r.decision.clone().unwrap();
    assert_eq!(
        (d.rule_set.as_str(), d.rule_set_version),
        ("london-and-home-counties", 2)
    );
    (r.status(), d.criterion(), d.reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_counts_from_the_recorded_meeting_where_the_area_anchors_on_meetings() {
    let dir = TempDir::new();
    let path = dir.write("rules.toml", &last_meeting_rules());
    let system = spawn_system_with(|s| s.rules.file = path.display().to_string()).await;
    let today = Utc::now().date_naive();

    // Heard today: a further incident is a repeat counted from the meeting.
    let heard = first_referral(&system, "Hedda Heard").await;
    let case = record(&system, &heard.id, &today.to_string())
        .await
        .expect("RecordHearing");
    assert_eq!(
        (case.referral_id.as_str(), case.heard_on.as_str()),
        (heard.id.as_str(), today.to_string().as_str())
    );
    assert_eq!(heard_events(&system, &heard.id).await, 1);
    // The same date again: the case as it is, and nothing new announced.
    let again_case = record(&system, &heard.id, &today.to_string())
        .await
        .expect("RecordHearing again");
    assert_eq!(again_case.heard_on, today.to_string());
    assert_eq!(heard_events(&system, &heard.id).await, 1);
    let read = system
        .coordinator
        .clone()
        .get_case(GetCaseRequest {
            referral_id: heard.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.heard_on, today.to_string());
    triage_knows_heard(&system, &heard.id, today).await;
    let (status, criterion, reason) = again(&system, "Hedda Heard").await;
    assert_eq!(
        (status, criterion),
        (ReferralStatus::Routed, Criterion::Repeat),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("heard at MARAC on {today}")),
        "{reason}"
    );
    assert!(reason.contains("within 1 months"), "{reason}");
    assert!(reason.contains("counted from the last meeting"), "{reason}");

    // Not heard yet: the referral is the anchor, and the reason says so.
    first_referral(&system, "Nell Notyet").await;
    let (status, criterion, reason) = again(&system, "Nell Notyet").await;
    assert_eq!(
        (status, criterion),
        (ReferralStatus::Routed, Criterion::Repeat),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("referred to MARAC (not yet heard) on {today}")),
        "{reason}"
    );

    // No panel can hear a case before it reached the panel: a meeting 40 days before this
    // referral, or in 2000, is refused naming the date, and changes nothing.
    let long_ago = today - Days::new(40);
    let old = first_referral(&system, "Olga Oldmeeting").await;
    for date in [long_ago.to_string(), "2000-01-01".to_string()] {
        let err = record(&system, &old.id, &date)
            .await
            .expect_err("a meeting before the routing");
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        let v = &err
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations;
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].field, "meeting_date");
        assert_eq!(
            v[0].description,
            format!("{date} is before the case was routed on {today}")
        );
    }
    assert_eq!(heard_events(&system, &old.id).await, 0);
    let (status, criterion, reason) = again(&system, "Olga Oldmeeting").await;
    assert_eq!(
        (status, criterion),
        (ReferralStatus::Routed, Criterion::Repeat),
        "a refused meeting cannot suppress the repeat: {reason}"
    );

    // Routed 60 days ago and heard 40 days ago, more than the window before this incident:
    // once a meeting is recorded it is the anchor (not the referral), so this is not a repeat.
    let earlier = first_referral(&system, "Orla Earlier").await;
    routed_days_ago(&system, &earlier.id, 60).await;
    record(&system, &earlier.id, &long_ago.to_string())
        .await
        .expect("RecordHearing after the routing");
    triage_knows_heard(&system, &earlier.id, long_ago).await;
    let (status, _, reason) = again(&system, "Orla Earlier").await;
    assert_eq!(status, ReferralStatus::BelowThreshold, "{reason}");
    assert!(
        reason.contains("no MARAC referral in the last 1 months"),
        "{reason}"
    );

    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_hearing_names_every_bad_field_and_refuses_cases_no_panel_holds() {
    let dir = TempDir::new();
    let path = dir.write("rules.toml", &last_meeting_rules());
    let system = spawn_system_with(|s| s.rules.file = path.display().to_string()).await;
    let today = Utc::now().date_naive();
    let tomorrow = (today + Days::new(1)).to_string();
    let routed = first_referral(&system, "Fay Fields").await;

    // chrono alone would take the unpadded and the signed forms.
    let signed = format!("+{today}");
    // Both fields this long still fit the 64 KiB request limit.
    let huge = "x".repeat(30_000);
    let cases: [(&str, &str, &[&str]); 9] = [
        ("not-a-uuid", &today.to_string(), &["referral_id"]),
        (&routed.id, &tomorrow, &["meeting_date"]),
        (&routed.id, "23/11/2026", &["meeting_date"]),
        (&routed.id, "2026-02-30", &["meeting_date"]),
        (&routed.id, "2026-1-2", &["meeting_date"]),
        (&routed.id, &signed, &["meeting_date"]),
        ("", "", &["referral_id", "meeting_date"]),
        ("12345", &tomorrow, &["referral_id", "meeting_date"]),
        (&huge, &huge, &["referral_id", "meeting_date"]),
    ];
    for (id, date, fields) in cases {
        let err = record(&system, id, date).await.expect_err("refused");
        let (id, date) = (short(id), short(date));
        assert_eq!(err.code(), Code::InvalidArgument, "{id} {date}: {err:?}");
        let named: BTreeSet<String> = err
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        let want: BTreeSet<String> = fields.iter().map(|f| f.to_string()).collect();
        assert_eq!(named, want, "{id} {date}");
    }
    for odd in ["2026-1-2", &signed] {
        let err = record(&system, &routed.id, odd).await.unwrap_err();
        let v = &err.get_details_bad_request().unwrap().field_violations[0];
        assert_eq!(
            v.description,
            format!("'{odd}' is not a date in the form YYYY-MM-DD")
        );
    }
    // Whatever was sent, the answer quotes a few characters of it, not 30 KB twice.
    let err = record(&system, &huge, &huge).await.unwrap_err();
    let size = err.message().len() + err.details().len();
    assert!(size < 1_000, "{size} bytes: {err:?}");
    let err = record(&system, &routed.id, &tomorrow).await.unwrap_err();
    assert!(
        err.get_details_bad_request().unwrap().field_violations[0]
            .description
            .contains("is in the future"),
        "{err:?}"
    );

    // No such case; a case below threshold (in no queue); a case waiting in review.
    let err = record(
        &system,
        &uuid::Uuid::now_v7().to_string(),
        &today.to_string(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        err.get_details_error_info().unwrap().reason,
        "CASE_NOT_FOUND"
    );
    let below = system.decide(Sample::new("Bea Below").yes(2)).await;
    assert_eq!(below.status(), ReferralStatus::BelowThreshold);
    let err = record(&system, &below.id, &today.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let review = system
        .decide(Sample::new("Rae Review").yes(16).lives_at_postcode("EC2M"))
        .await;
    assert_eq!(review.status(), ReferralStatus::NeedsReview);
    // Intake knowing the decision does not mean notification has queued the review entry yet;
    // before it has, the answer would be CASE_NOT_FOUND.
    system
        .assert_count(
            &format!(
                "SELECT count(*) FROM notification.queue_cases WHERE referral_id = '{}' AND panel = 'PANEL_REVIEW'",
                uuid::Uuid::parse_str(&review.id).unwrap()
            ),
            1,
            Duration::from_secs(20),
        )
        .await;
    let err = record(&system, &review.id, &today.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert_eq!(
        err.get_details_error_info().unwrap().reason,
        "CASE_IN_REVIEW"
    );

    // Nothing refused was announced.
    system
        .assert_count(
            "SELECT count(*) FROM notification.outbox WHERE routing_key = 'case.heard.v1'",
            0,
            Duration::ZERO,
        )
        .await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_keeps_its_latest_meeting_whatever_order_they_are_recorded_in() {
    let system = spawn_system().await;
    let today = Utc::now().date_naive();
    let d = |days: u64| today - Days::new(days);
    let case = first_referral(&system, "Lena Latest").await;
    routed_days_ago(&system, &case.id, 10).await;

    // A first meeting, then a later one: the case moves on to the later.
    record(&system, &case.id, &d(5).to_string())
        .await
        .expect("first meeting");
    record(&system, &case.id, &today.to_string())
        .await
        .expect("a later meeting");
    triage_knows_heard(&system, &case.id, today).await;

    // An earlier meeting after that is refused, naming the one kept, and announces nothing.
    let err = record(&system, &case.id, &d(3).to_string())
        .await
        .expect_err("an earlier meeting than the one recorded");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert_eq!(
        err.get_details_error_info().unwrap().reason,
        "LATER_HEARING_RECORDED"
    );
    assert!(
        err.message()
            .contains(&format!("already recorded as heard on {today}")),
        "{err:?}"
    );
    assert_eq!(heard_events(&system, &case.id).await, 2);
    let read = system
        .coordinator
        .clone()
        .get_case(GetCaseRequest {
            referral_id: case.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.heard_on, today.to_string());
    // Once triage has consumed both events, whichever came last, it holds the latest too.
    system
        .assert_count(
            &format!(
                "SELECT count(*) FROM triage.inbox i JOIN notification.outbox o USING (message_id) \
                 WHERE o.routing_key = 'case.heard.v1' AND o.correlation_id = '{}'",
                case.id
            ),
            2,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(
        heard_on(&system, &case.id).await,
        (Some(today), Some(today))
    );
    system.shutdown().await;
}
