//! Plain-text rendering of referrals and cases for a terminal.

use refroute_domain::{AreaCode, Directory};
use refroute_proto::v1::{
    Case, Decision, Delivery, Outcome, Referral, ReferralStatus, Transfer, TransferDirection,
    TransferKind,
};
use std::sync::OnceLock;

/// The shipped directory, for names; a rendering never fails for want of one.
fn directory() -> &'static Directory {
    static DIRECTORY: OnceLock<Directory> = OnceLock::new();
    DIRECTORY.get_or_init(|| {
        Directory::from_toml(refroute_platform::reference::BUILT_IN_AREAS).unwrap_or_default()
    })
}

pub fn area_name(code: &str) -> String {
    AreaCode::parse(code)
        .map(|a| directory().label(&a))
        .unwrap_or_else(|_| code.to_string())
}

fn force_name(code: &str) -> String {
    directory()
        .police_force(code)
        .map(|f| format!("{} ({code})", f.name))
        .unwrap_or_else(|| code.to_string())
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
    let pathway = d.pathway().as_str_name().trim_start_matches("PATHWAY_");
    let line = match d.outcome() {
        Outcome::BelowThreshold => "below threshold, kept and signposted".to_string(),
        Outcome::Declined => format!("declined | rule {criterion}"),
        Outcome::NeedsReview => format!(
            "needs review in {} | supply: {}",
            area_name(&d.destination_area_code),
            d.action_required
        ),
        Outcome::TransferRequested if d.transfer_kind() == TransferKind::PreventHandover => {
            format!(
                "Prevent handover to {} | criterion {criterion}",
                force_name(&d.destination_police_force_code)
            )
        }
        Outcome::TransferRequested => format!(
            "transfer to {} {panel} | criterion {criterion}",
            area_name(&d.destination_area_code)
        ),
        _ => {
            let notify = if d.notify_area_codes.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = d.notify_area_codes.iter().map(|a| area_name(a)).collect();
                format!(" | notifies {}", names.join(", "))
            };
            format!(
                "queued at {} {panel} | criterion {criterion}{notify}",
                area_name(&d.destination_area_code)
            )
        }
    };
    format!("{pathway}: {line} | {rules}")
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

/// The person a case is about, whatever its pathway.
fn person(c: &Case) -> (&'static str, &str) {
    fn name(p: Option<&refroute_proto::v1::Person>) -> Option<&str> {
        p.map(|p| p.full_name.as_str())
    }
    if let Some(da) = &c.domestic_abuse {
        return ("victim", name(da.victim.as_ref()).unwrap_or("?"));
    }
    if let Some(cm) = &c.community_marac {
        return ("subject", name(cm.subject.as_ref()).unwrap_or("?"));
    }
    if let Some(pv) = &c.prevent {
        return ("subject", name(pv.subject.as_ref()).unwrap_or("?"));
    }
    ("person", "?")
}

pub fn case(c: &Case) -> String {
    let d = c.decision.clone().unwrap_or_default();
    let (role, name) = person(c);
    let via = if c.transfer_id.is_empty() {
        format!("via {}", area_name(&c.received_area_code))
    } else {
        format!(
            "transferred from {} (accept or decline: refroute transfers decide {})",
            area_name(&c.received_area_code),
            c.transfer_id
        )
    };
    format!(
        "{}  {role} {name} | from {} {via} | {}\n  why: {}",
        c.referral_id,
        c.referring_organisation,
        d.criterion().as_str_name().trim_start_matches("CRITERION_"),
        d.reason
    )
}

/// One transfer on one line: which way, where, how it stands.
pub fn transfer(t: &Transfer) -> String {
    let state = t
        .state()
        .as_str_name()
        .trim_start_matches("TRANSFER_STATE_");
    let kind = match t.kind() {
        TransferKind::PreventHandover => "Prevent handover",
        _ => "MARAC-to-MARAC",
    };
    let (way, other) = match t.direction() {
        TransferDirection::Inbound => ("from", area_name(&t.from_area_code)),
        _ if !t.to_police_force_code.is_empty() => ("to", t.to_police_force_code.clone()),
        _ => ("to", area_name(&t.to_area_code)),
    };
    let mut line = format!("{}  {kind} {way} {other}: {state}", t.transfer_id);
    if !t.reason.is_empty() {
        line.push_str(&format!(" ({})", t.reason));
    }
    if !t.last_error.is_empty() && !state.starts_with("ACC") {
        line.push_str(&format!(" [attempt {}: {}]", t.attempts, t.last_error));
    }
    line
}

/// A transfer with its history, oldest step first.
pub fn transfer_history(t: &Transfer) -> String {
    let mut out = transfer(t);
    out.push_str(&format!(
        "\n  referral {}; route {}",
        t.referral_id,
        if t.route.is_empty() {
            "not yet chosen"
        } else {
            &t.route
        }
    ));
    if let Some(at) = t
        .deliver_by
        .as_ref()
        .and_then(|by| chrono::DateTime::from_timestamp(by.seconds, 0))
    {
        let due = if t.route == "contact" {
            "acknowledgement"
        } else {
            "receipt"
        };
        out.push_str(&format!(
            "; {due} due by {}",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    for step in &t.history {
        let at = step
            .time
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let state = step
            .state()
            .as_str_name()
            .trim_start_matches("TRANSFER_STATE_");
        out.push_str(&format!("\n  {at}  {state:<13} {}", step.detail));
    }
    out
}

/// One delivery: what, to whom, by which channel, and how it stands.
pub fn delivery(d: &Delivery) -> String {
    let state = d
        .state()
        .as_str_name()
        .trim_start_matches("DELIVERY_STATE_");
    let to = if d.recipient_organisation.is_empty() {
        "nobody (no contact in the directory)".to_string()
    } else {
        format!("{} ({})", d.recipient_organisation, d.recipient_role)
    };
    let channel = if d.channel.is_empty() {
        String::new()
    } else {
        let personal = if d.personal_data {
            ", approved for personal data"
        } else {
            ""
        };
        format!(" by {} to {}{personal}", d.channel, d.address)
    };
    let mut line = format!("{:<24} {to}{channel}: {state}", d.kind);
    if d.attempts > 0 {
        line.push_str(&format!(" after {} attempt(s)", d.attempts));
    }
    if !d.last_error.is_empty() {
        line.push_str(&format!(" ({})", d.last_error));
    }
    line
}
