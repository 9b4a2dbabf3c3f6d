//! `TriageAdminService/ExplainDecision`: why a referral went where it did, with the exact rules
//! of its area under the rule-set version that decided it, even after a reload; and the CLI's
//! `refroute explain` rendering of it.

use refroute_e2e::{CITY, SHIPPED_RULES, Sample, TempDir, rules_with, spawn_system_with};
use refroute_proto::v1::{
    Criterion, ExplainDecisionRequest, Explanation, GetRuleSetRequest, ReferralStatus,
    ReloadRuleSetRequest,
};
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic_types::StatusExt;

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_decision_shows_the_decision_and_the_rules_it_was_made_under() {
    let dir = TempDir::new();
    let path = dir.write("rules.toml", SHIPPED_RULES);
    let system = spawn_system_with(|s| s.rules.file = path.display().to_string()).await;
    let mut admin = system.triage_admin.clone();
    let explainer = system.triage_admin.clone();
    let explain = |id: String| {
        let mut admin = explainer.clone();
        async move {
            admin
                .explain_decision(ExplainDecisionRequest { referral_id: id })
                .await
                .map(|r| r.into_inner())
        }
    };

    let routed = system
        .decide(
            Sample::new("Ezra Explained")
                .yes(16)
                .lives_at_postcode("EC2M 7PY"),
        )
        .await;
    assert_eq!(routed.status(), ReferralStatus::Routed);
    let e: Explanation = explain(routed.id.clone()).await.expect("explained");
    assert_eq!(e.referral_id, routed.id);
    let d = e.decision.clone().expect("the decision");
    assert_eq!(
        Some(&d),
        routed.decision.as_ref(),
        "the same decision intake reports"
    );
    assert_eq!(d.criterion(), Criterion::VisibleHighRisk);
    assert_eq!(e.rule_set_sha256, sha256(SHIPPED_RULES));
    let in_force = admin
        .get_rule_set(GetRuleSetRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.rule_set_sha256, in_force.sha256);
    for line in [
        "dash_threshold = 14",
        "escalation_incidents = 3",
        "escalation_window_months = 12",
        "repeat_window_months = 12",
        "repeat_anchor = \"last_referral\"",
    ] {
        assert!(
            e.rules_in_force.lines().any(|l| l == line),
            "{line} in:\n{}",
            e.rules_in_force
        );
    }

    // What `refroute explain <id>` prints.
    let printed = refroute_cli::explain::render(&e);
    for wanted in [
        routed.id.as_str(),
        d.reason.as_str(),
        "rule set london-and-home-counties v1",
        &e.rule_set_sha256,
        "dash_threshold = 14",
        "postcode EC2M 7** is in City of London (E09000001)",
    ] {
        assert!(printed.contains(wanted), "{wanted:?} not in:\n{printed}");
    }

    // After a reload the old decision is still explained by the rules that made it.
    let v2_text = rules_with(CITY, 2, |t| {
        t.replace("dash_threshold = 14", "dash_threshold = 15")
    });
    dir.write("rules.toml", &v2_text);
    admin
        .reload_rule_set(ReloadRuleSetRequest {})
        .await
        .expect("version 2 reloads");
    let old = explain(routed.id.clone()).await.unwrap();
    assert_eq!(old.rule_set_sha256, sha256(SHIPPED_RULES));
    assert!(
        old.rules_in_force.contains("dash_threshold = 14"),
        "{}",
        old.rules_in_force
    );
    let later = system
        .decide(
            Sample::new("Ezra Later")
                .yes(15)
                .lives_at_postcode("EC2M 7PY"),
        )
        .await;
    let new = explain(later.id.clone()).await.unwrap();
    assert_eq!(new.rule_set_sha256, sha256(&v2_text));
    assert!(
        new.rules_in_force.contains("dash_threshold = 15"),
        "{}",
        new.rules_in_force
    );
    assert!(
        refroute_cli::explain::render(&new).contains("rule set london-and-home-counties v2"),
        "{}",
        refroute_cli::explain::render(&new)
    );

    // A referral that needs review: the explanation says what to supply.
    let review = system
        .decide(Sample::new("Ezra Review").yes(16).lives_at_postcode("EC2M"))
        .await;
    assert_eq!(review.status(), ReferralStatus::NeedsReview);
    let e = explain(review.id.clone()).await.unwrap();
    let supply = &e.decision.as_ref().unwrap().action_required;
    assert!(!supply.is_empty());
    assert!(refroute_cli::explain::render(&e).contains(supply.as_str()));

    // Unknown and malformed ids.
    let err = explain(uuid::Uuid::now_v7().to_string())
        .await
        .expect_err("no such decision");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert_eq!(
        err.get_details_error_info().unwrap().reason,
        "DECISION_NOT_FOUND"
    );
    let err = explain("not-a-referral".into())
        .await
        .expect_err("not an id");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "referral_id"
    );
    system.shutdown().await;
}
