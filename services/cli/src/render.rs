//! Plain-text rendering of referrals and cases for a terminal.

use refroute_domain::AreaCode;
use refroute_proto::v1::{Case, Decision, Outcome, Referral, ReferralStatus};

fn area_name(code: &str) -> String {
    AreaCode::parse(code)
        .map(|a| format!("{} ({code})", a.name()))
        .unwrap_or_else(|_| code.to_string())
}

pub fn decision_line(d: &Decision) -> String {
    let rules = format!(
        "rules {} v{} of {}",
        d.rule_set,
        d.rule_set_version,
        area_name(&d.rules_area_code)
    );
    let panel = d.panel().as_str_name().trim_start_matches("PANEL_");
    let criterion = d.criterion().as_str_name().trim_start_matches("CRITERION_");
    match d.outcome() {
        Outcome::BelowThreshold => format!("below threshold, kept and signposted | {rules}"),
        Outcome::TransferRequested => format!(
            "transfer to {} {panel} | criterion {criterion} | {rules}",
            area_name(&d.destination_area_code)
        ),
        _ => format!(
            "queued at {} {panel} | criterion {criterion} | {rules}",
            area_name(&d.destination_area_code)
        ),
    }
}

pub fn referral(r: &Referral) -> String {
    let status = ReferralStatus::try_from(r.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("REFERRAL_STATUS_")
                .to_string()
        })
        .unwrap_or_default();
    match &r.decision {
        Some(d) => format!(
            "{}  {status}\n  {}\n  why: {}",
            r.id,
            decision_line(d),
            d.reason
        ),
        None => format!("{}  {status} (awaiting triage)", r.id),
    }
}

pub fn case(c: &Case) -> String {
    let d = c.decision.clone().unwrap_or_default();
    let victim = c
        .domestic_abuse
        .as_ref()
        .and_then(|da| da.victim.as_ref())
        .map(|v| v.full_name.as_str())
        .unwrap_or("?");
    format!(
        "{}  victim {victim} | from {} via {} | {}\n  why: {}",
        c.referral_id,
        c.referring_organisation,
        area_name(&c.received_area_code),
        d.criterion().as_str_name().trim_start_matches("CRITERION_"),
        d.reason
    )
}
