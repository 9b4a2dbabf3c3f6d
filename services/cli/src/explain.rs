//! `refroute explain <referral-id>`: why a referral went where it did, for a coordinator or an
//! auditor: the outcome, the rule that fired and every rule met, how the residence was resolved,
//! and the exact rules of the area under the version that decided it.

use crate::render::{area_name, decision_line};
use refroute_proto::v1::Explanation;
use std::fmt::Write as _;

pub fn render(e: &Explanation) -> String {
    let d = e.decision.clone().unwrap_or_default();
    let mut s = String::new();
    let _ = writeln!(s, "referral {}", e.referral_id);
    let _ = writeln!(s, "  outcome:   {}", decision_line(&d));
    let met: Vec<&str> = d
        .criteria_met()
        .map(|c| c.as_str_name().trim_start_matches("CRITERION_"))
        .collect();
    let _ = writeln!(
        s,
        "  rule:      {} (met: {})",
        d.criterion().as_str_name().trim_start_matches("CRITERION_"),
        if met.is_empty() {
            "none".to_string()
        } else {
            met.join(", ")
        }
    );
    if !d.local_criterion.is_empty() {
        let _ = writeln!(s, "  local:     {}", d.local_criterion);
    }
    let _ = writeln!(s, "  residence: {}", d.residence_resolution);
    if !d.action_required.is_empty() {
        let _ = writeln!(s, "  supply:    {}", d.action_required);
    }
    let _ = writeln!(s, "  why:       {}", d.reason);
    let _ = writeln!(
        s,
        "  rule set {} v{} (sha256 {}), applied as {}:",
        d.rule_set,
        d.rule_set_version,
        e.rule_set_sha256,
        area_name(&d.rules_area_code)
    );
    for line in e.rules_in_force.lines() {
        let _ = writeln!(s, "    {line}");
    }
    s
}
