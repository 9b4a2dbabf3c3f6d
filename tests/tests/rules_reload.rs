//! Versioned, reloadable rule sets: a new version is put in force by ReloadRuleSet or SIGHUP and
//! decides the next referral; a file that does not validate is refused with its line and reason
//! and the rules in force stay; changed content under a used version is refused; a malformed
//! file stops triage from starting at all.

use refroute_domain::RuleSet;
use refroute_e2e::{
    CITY, SHIPPED_RULES, Sample, TempDir, TestSystem, line_of, rules_with, spawn_system,
    spawn_system_with,
};
use refroute_platform::db;
use refroute_proto::v1::triage_admin_service_client::TriageAdminServiceClient;
use refroute_proto::v1::{
    Criterion, GetRuleSetRequest, ReferralStatus, ReloadRuleSetRequest, RuleSetInfo,
};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const NAME: &str = "london-and-home-counties";

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The shipped rules as version 2, with the City at 15 "yes" answers.
fn city_at_15() -> String {
    rules_with(CITY, 2, |t| {
        t.replace("dash_threshold = 14", "dash_threshold = 15")
    })
}

/// What the domain says of a rule file that does not validate: the text the refusal must carry.
fn domain_error(text: &str) -> String {
    let directory =
        refroute_platform::reference::directory(&refroute_platform::settings::DirectorySettings {
            file: String::new(),
        })
        .unwrap();
    RuleSet::parse(text, &directory)
        .expect_err("the file is invalid")
        .to_string()
}

async fn rule_set(admin: &mut TriageAdminServiceClient<Channel>) -> RuleSetInfo {
    admin
        .get_rule_set(GetRuleSetRequest {})
        .await
        .expect("GetRuleSet")
        .into_inner()
}

/// A DASH-14 victim in the City: routed under the shipped rules, below threshold at 15.
async fn dash_14(system: &TestSystem, who: &str) -> (ReferralStatus, u32, String) {
    let r = system.decide(Sample::new(who).yes(14)).await;
    let d = r.decision.clone().expect("decided");
    assert_eq!(d.rule_set, NAME);
    (r.status(), d.rule_set_version, d.reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_rule_set_puts_a_new_version_in_force_and_refuses_a_bad_file_keeping_the_old() {
    let dir = TempDir::new();
    let path = dir.write("rules.toml", SHIPPED_RULES);
    let source = path.display().to_string();
    let system = spawn_system_with(|s| s.rules.file = source.clone()).await;
    let mut admin = system.triage_admin.clone();

    let v1 = rule_set(&mut admin).await;
    assert_eq!((v1.name.as_str(), v1.version), (NAME, 1));
    assert_eq!(v1.sha256, sha256(SHIPPED_RULES));
    assert_eq!(v1.source, source);
    assert!(v1.areas.contains(&CITY.to_string()), "{:?}", v1.areas);
    let (status, version, reason) = dash_14(&system, "Vic Version One").await;
    assert_eq!((status, version), (ReferralStatus::Routed, 1), "{reason}");
    assert!(reason.contains("threshold of 14"), "{reason}");

    // Version 2: the City at 15.
    let v2_text = city_at_15();
    dir.write("rules.toml", &v2_text);
    let v2 = admin
        .reload_rule_set(ReloadRuleSetRequest {})
        .await
        .expect("a valid new version reloads")
        .into_inner();
    assert_eq!((v2.name.as_str(), v2.version), (NAME, 2));
    assert_eq!(v2.sha256, sha256(&v2_text));
    let at = |i: &RuleSetInfo| i.load_time.map(|t| (t.seconds, t.nanos));
    assert!(at(&v2) > at(&v1), "{v2:?}");
    let r = system.decide(Sample::new("Vic Version Two").yes(14)).await;
    let d = r.decision.clone().unwrap();
    assert_eq!(r.status(), ReferralStatus::BelowThreshold, "{}", d.reason);
    assert_eq!((d.rule_set.as_str(), d.rule_set_version), (NAME, 2));
    assert!(
        d.reason.contains("DASH score 14 (high risk; threshold 15)"),
        "{}",
        d.reason
    );
    let r = system.decide(Sample::new("Vic Fifteen").yes(15)).await;
    assert_eq!(r.status(), ReferralStatus::Routed);
    assert_eq!(r.decision.unwrap().criterion(), Criterion::VisibleHighRisk);

    // Files that do not validate: a syntax error, an out-of-range value, an unknown key.
    let broken_files = [
        ("dash_threshold = = 3", None),
        (
            "dash_threshold = 25",
            Some("areas.E09000001.dash_threshold = 25 is out of range (1 to 24)"),
        ),
        ("dash_treshold = 15", Some("dash_treshold")),
    ];
    for (bad, reason) in broken_files {
        let text = city_at_15().replace("dash_threshold = 15", bad);
        let text = refroute_e2e::with_version(&text, 3);
        let line = line_of(&text, bad);
        dir.write("rules.toml", &text);
        let err = admin
            .reload_rule_set(ReloadRuleSetRequest {})
            .await
            .expect_err("an invalid file is refused");
        assert_eq!(err.code(), Code::FailedPrecondition, "{bad}: {err:?}");
        assert_eq!(
            err.get_details_error_info().expect("ErrorInfo").reason,
            "RULES_INVALID"
        );
        let message = err.message();
        assert!(
            message.contains(&format!("line {line}: ")),
            "{bad}: {message}"
        );
        assert!(message.contains(&source), "names the file: {message}");
        assert!(
            message.contains(&domain_error(&text)),
            "{bad}: {message} lacks {}",
            domain_error(&text)
        );
        if let Some(reason) = reason {
            assert!(message.contains(reason), "{bad}: {message}");
        }
        // The rules in force stay in force.
        let now = rule_set(&mut admin).await;
        assert_eq!((now.version, now.sha256.as_str()), (2, v2.sha256.as_str()));
        let (status, version, reason) = dash_14(&system, &format!("Vic After {bad}")).await;
        assert_eq!(
            (status, version),
            (ReferralStatus::BelowThreshold, 2),
            "{reason}"
        );
    }

    // Changed content under a version already used: refused, whichever version it reuses.
    for version in [1, 2] {
        let text = rules_with(CITY, version, |t| {
            t.replace("dash_threshold = 14", "dash_threshold = 16")
        });
        dir.write("rules.toml", &text);
        let err = admin
            .reload_rule_set(ReloadRuleSetRequest {})
            .await
            .expect_err("a reused version is refused");
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(
            err.message().contains(&format!(
                "{NAME} version {version} was already loaded with different content"
            )),
            "{}",
            err.message()
        );
        assert_eq!(rule_set(&mut admin).await.version, 2);
    }

    // A file that cannot be read is refused too.
    std::fs::remove_file(&path).unwrap();
    let err = admin
        .reload_rule_set(ReloadRuleSetRequest {})
        .await
        .expect_err("a missing file is refused");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        err.get_details_error_info().unwrap().reason,
        "RULES_UNREADABLE"
    );
    assert_eq!(rule_set(&mut admin).await.version, 2);
    let (status, version, _) = dash_14(&system, "Vic Unreadable").await;
    assert_eq!((status, version), (ReferralStatus::BelowThreshold, 2));

    // Going back to version 1, byte for byte as recorded, is allowed: a version means one content.
    dir.write("rules.toml", SHIPPED_RULES);
    let back = admin
        .reload_rule_set(ReloadRuleSetRequest {})
        .await
        .expect("the recorded version 1 reloads")
        .into_inner();
    assert_eq!(
        (back.version, back.sha256.as_str()),
        (1, v1.sha256.as_str())
    );
    let (status, version, _) = dash_14(&system, "Vic Rolled Back").await;
    assert_eq!((status, version), (ReferralStatus::Routed, 1));

    // Every version triage ran under is recorded once, with its content.
    system
        .assert_count(
            "SELECT count(*) FROM triage.rule_sets WHERE name = 'london-and-home-counties'",
            2,
            Duration::ZERO,
        )
        .await;

    // On-call sees refusals without reading logs.
    let metrics = system.scrape("triage").await.unwrap();
    for result in ["applied", "refused"] {
        let line = format!(
            "refroute_rule_reloads_total{{trigger=\"ReloadRuleSet\",result=\"{result}\"}} "
        );
        let count: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .unwrap_or_else(|| panic!("no {line} in\n{metrics}"))
            .trim()
            .parse()
            .unwrap();
        assert!(count >= 1, "{line}{count}");
    }
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_rules_of_the_triage_binary() {
    let dir = TempDir::new();
    let path = dir.write("rules.toml", SHIPPED_RULES);
    let source = path.display().to_string();
    let mut system = spawn_system_with(|s| s.rules.file = source.clone()).await;
    // The real binary, so a real SIGHUP reaches it.
    system.stop("triage").await.unwrap();
    let triage = system
        .spawn_binary_with(
            "triage",
            &[("REFROUTE__RULES__FILE", source.as_str())],
            true,
        )
        .await
        .unwrap();
    let mut admin = TriageAdminServiceClient::new(triage.channel().await.unwrap());
    let v1 = rule_set(&mut admin).await;
    assert_eq!((v1.version, v1.source.as_str()), (1, source.as_str()));
    let (status, version, _) = dash_14(&system, "Hup Before").await;
    assert_eq!((status, version), (ReferralStatus::Routed, 1));

    let v2_text = city_at_15();
    dir.write("rules.toml", &v2_text);
    triage.signal("HUP").await.unwrap();
    let start = Instant::now();
    let v2 = loop {
        let now = rule_set(&mut admin).await;
        if now.version == 2 {
            break now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "version 2 not in force 20 s after SIGHUP; log:\n{}",
            triage.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(v2.sha256, sha256(&v2_text));
    let (status, version, reason) = dash_14(&system, "Hup After").await;
    assert_eq!(
        (status, version),
        (ReferralStatus::BelowThreshold, 2),
        "{reason}"
    );

    // A bad file on SIGHUP: refused with the line and reason (an alarm in the log), v2 stays.
    let bad = rules_with(CITY, 3, |t| {
        t.replace("dash_threshold = 14", "dash_threshold = 0")
    });
    let line = line_of(&bad, "dash_threshold = 0");
    dir.write("rules.toml", &bad);
    triage.signal("HUP").await.unwrap();
    let start = Instant::now();
    while !triage.log_text().contains("rules_reload_refused") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no refusal logged 20 s after SIGHUP; log:\n{}",
            triage.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = triage.log_text();
    assert!(
        log.contains(&format!(
            "line {line}: areas.E09000001.dash_threshold = 0 is out of range (1 to 24)"
        )),
        "{log}"
    );
    let now = rule_set(&mut admin).await;
    assert_eq!((now.version, now.sha256.as_str()), (2, v2.sha256.as_str()));
    let (status, version, _) = dash_14(&system, "Hup After Bad").await;
    assert_eq!((status, version), (ReferralStatus::BelowThreshold, 2));

    drop(admin);
    let mut triage = triage;
    triage.child.kill().await.unwrap();
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_refuses_to_start_on_a_rule_file_that_does_not_validate() {
    let dir = TempDir::new();
    let system = spawn_system().await;
    let syntax = rules_with(CITY, 2, |t| {
        t.replace("escalation_incidents = 3", "escalation_incidents = = 3")
    });
    let range = rules_with(CITY, 2, |t| {
        t.replace(
            "escalation_window_months = 12",
            "escalation_window_months = 61",
        )
    });
    // The built-in version 1 is recorded: other content under version 1 is refused at start too.
    let reused = rules_with(CITY, 1, |t| {
        t.replace("dash_threshold = 14", "dash_threshold = 13")
    });
    let cases = [
        (
            "syntax.toml",
            syntax.clone(),
            vec![
                format!("line {}: ", line_of(&syntax, "= = 3")),
                domain_error(&syntax),
            ],
        ),
        (
            "range.toml",
            range.clone(),
            vec![format!(
                "line {}: areas.E09000001.escalation_window_months = 61 is out of range (1 to 60)",
                line_of(&range, "= 61")
            )],
        ),
        (
            "reused.toml",
            reused,
            vec![format!(
                "{NAME} version 1 was already loaded with different content"
            )],
        ),
    ];
    for (name, text, wanted) in cases {
        let path = dir.write(name, &text);
        let mut settings = system.settings.clone();
        settings.rules.file = path.display().to_string();
        let pool = db::connect_as_service(&settings.database, "triage")
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let ran = tokio::time::timeout(
            Duration::from_secs(30),
            refroute_triage::run(settings, pool, listener, stop.clone()),
        )
        .await;
        stop.cancel();
        let err = ran
            .unwrap_or_else(|_| panic!("{name}: triage neither started nor refused in 30 s"))
            .expect_err("triage refuses to start");
        let text = format!("{err:#}");
        assert!(text.contains("loading the rule set"), "{name}: {text}");
        assert!(text.contains(&path.display().to_string()), "{name}: {text}");
        for w in wanted {
            assert!(text.contains(&w), "{name}: {text} lacks {w}");
        }
    }

    // A missing file, likewise.
    let mut settings = system.settings.clone();
    settings.rules.file = dir.path().join("absent.toml").display().to_string();
    let pool = db::connect_as_service(&settings.database, "triage")
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        refroute_triage::run(settings, pool, listener, Default::default()),
    )
    .await
    .expect("refuses promptly")
    .expect_err("refuses to start");
    assert!(format!("{err:#}").contains("absent.toml"), "{err:#}");

    // The running triage is untouched: still the shipped rules.
    let (status, version, _) = dash_14(&system, "Start Refused").await;
    assert_eq!((status, version), (ReferralStatus::Routed, 1));
    system.shutdown().await;
}
