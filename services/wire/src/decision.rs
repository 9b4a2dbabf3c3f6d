//! The domain's decisions on the wire. The orphan rule forbids `From` between proto and domain
//! types in a third crate, so the mappings are free functions.

use chrono::{DateTime, Utc};
use refroute_domain::{Criterion, Decision, Outcome, Panel, Pathway, TransferKind};
use refroute_proto::v1;

pub fn criterion(c: Criterion) -> v1::Criterion {
    match c {
        Criterion::VisibleHighRisk => v1::Criterion::VisibleHighRisk,
        Criterion::Repeat => v1::Criterion::Repeat,
        Criterion::PotentialEscalation => v1::Criterion::PotentialEscalation,
        Criterion::Local(_) => v1::Criterion::Local,
        Criterion::ProfessionalJudgement => v1::Criterion::ProfessionalJudgement,
        Criterion::AsbHighRisk => v1::Criterion::AsbHighRisk,
        Criterion::AsbWithVulnerability => v1::Criterion::AsbWithVulnerability,
        Criterion::SuicideRiskAlone => v1::Criterion::SuicideRiskAlone,
        Criterion::RadicalisationConcern => v1::Criterion::RadicalisationConcern,
        Criterion::ResidenceUnresolved => v1::Criterion::ResidenceUnresolved,
    }
}

pub fn outcome(o: Outcome) -> v1::Outcome {
    match o {
        Outcome::Routed => v1::Outcome::Routed,
        Outcome::TransferRequested => v1::Outcome::TransferRequested,
        Outcome::BelowThreshold => v1::Outcome::BelowThreshold,
        Outcome::NeedsReview => v1::Outcome::NeedsReview,
        Outcome::Declined => v1::Outcome::Declined,
    }
}

pub fn pathway(p: Pathway) -> v1::Pathway {
    match p {
        Pathway::DomesticAbuse => v1::Pathway::DomesticAbuse,
        Pathway::CommunityMarac => v1::Pathway::CommunityMarac,
        Pathway::Prevent => v1::Pathway::Prevent,
    }
}

pub fn panel(p: Panel) -> v1::Panel {
    match p {
        Panel::Marac => v1::Panel::Marac,
        Panel::CommunityMarac => v1::Panel::CommunityMarac,
        Panel::Channel => v1::Panel::Channel,
        Panel::Review => v1::Panel::Review,
    }
}

pub fn transfer_kind(k: Option<TransferKind>) -> v1::TransferKind {
    match k {
        Some(TransferKind::MaracToMarac) => v1::TransferKind::MaracToMarac,
        Some(TransferKind::PreventHandover) => v1::TransferKind::PreventHandover,
        None => v1::TransferKind::Unspecified,
    }
}

pub fn timestamp(at: DateTime<Utc>) -> pbjson_types::Timestamp {
    pbjson_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

pub fn to_wire(d: &Decision, decided_at: DateTime<Utc>) -> v1::Decision {
    v1::Decision {
        outcome: outcome(d.outcome) as i32,
        pathway: pathway(d.pathway) as i32,
        panel: panel(d.panel) as i32,
        destination_area_code: d.destination.to_string(),
        criterion: d
            .criterion
            .map(criterion)
            .unwrap_or(v1::Criterion::Unspecified) as i32,
        criteria_met: d
            .criteria_met
            .iter()
            .map(|c| criterion(*c) as i32)
            .collect(),
        reason: d.reason.clone(),
        rule_set: d.rule_set.clone(),
        rule_set_version: d.rule_set_version,
        rules_area_code: d.rules_area.to_string(),
        dash_yes_count: d.dash_yes_count,
        decide_time: Some(timestamp(decided_at)),
        transfer_kind: transfer_kind(d.transfer_kind) as i32,
        destination_police_force_code: d.police_force.clone().unwrap_or_default(),
        notify_area_codes: d.notify_areas.iter().map(|a| a.to_string()).collect(),
        residence_area_code: d
            .residence
            .area()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        residence_resolution: d.residence.describe(),
        local_criterion: match d.criterion {
            Some(Criterion::Local(l)) => l.id().to_string(),
            _ => String::new(),
        },
        action_required: d.action_required.clone().unwrap_or_default(),
        subject_age: d.subject_age.unwrap_or_default(),
        risk_score: d.risk_score.unwrap_or_default(),
    }
}

/// Whether a decision on the wire leaves the referral waiting for its residence (in review, or
/// a Community MARAC invitation held back): such a referral takes a supplied residence.
pub fn awaits_residence(d: &v1::Decision) -> bool {
    d.awaits_residence()
}
