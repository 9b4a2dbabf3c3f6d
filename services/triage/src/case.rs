//! From the wire referral to the domain's `DaCase`, and from the domain's `Decision` back to
//! the wire. Intake has validated the referral; anything off here is a poison message.

use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use refroute_domain::{AreaCode, Criterion, DaCase, DashAnswer, DashChecklist, Decision, Outcome};
use refroute_proto::v1::{self, DomesticAbuseReferral, Referral, referral, residence};

pub fn domestic_abuse(referral: &Referral) -> anyhow::Result<&DomesticAbuseReferral> {
    match referral.details.as_ref() {
        Some(referral::Details::DomesticAbuse(da)) => Ok(da),
        None => Err(anyhow!("referral has no pathway details")),
    }
}

fn date(s: &str, what: &str) -> anyhow::Result<NaiveDate> {
    s.parse()
        .with_context(|| format!("{what} '{s}' is not a date"))
}

pub fn to_case(referral: &Referral) -> anyhow::Result<DaCase> {
    let da = domestic_abuse(referral)?;
    let incident = da.incident.as_ref().context("no incident")?;
    let victim = da.victim.as_ref().context("no victim")?;
    let residence = match victim.residence.as_ref().and_then(|r| r.kind.as_ref()) {
        Some(residence::Kind::LocalAuthorityCode(code)) => AreaCode::parse(code)?,
        None => return Err(anyhow!("victim has no residence")),
    };
    let answers: Vec<DashAnswer> = da
        .dash_answers
        .iter()
        .map(|a| match v1::DashAnswer::try_from(*a) {
            Ok(v1::DashAnswer::Yes) => Ok(DashAnswer::Yes),
            Ok(v1::DashAnswer::No) => Ok(DashAnswer::No),
            Ok(v1::DashAnswer::NotKnown) => Ok(DashAnswer::NotKnown),
            _ => Err(anyhow!("DASH answer {a} is not yes, no or not known")),
        })
        .collect::<Result<_, _>>()?;
    let pj = da.professional_judgement.clone().unwrap_or_default();
    Ok(DaCase {
        received_area: AreaCode::parse(&referral.received_area_code)?,
        residence,
        incident_date: date(&incident.date, "incident date")?,
        dash: DashChecklist::new(&answers).context("DASH checklist does not have 24 answers")?,
        professional_judgement_reasons: if pj.applies { pj.reasons } else { vec![] },
        police_incident_dates: da
            .police_reported_incident_dates
            .iter()
            .map(|d| date(d, "police-reported incident date"))
            .collect::<Result<_, _>>()?,
    })
}

pub fn criterion(c: Criterion) -> v1::Criterion {
    match c {
        Criterion::VisibleHighRisk => v1::Criterion::VisibleHighRisk,
        Criterion::Repeat => v1::Criterion::Repeat,
        Criterion::PotentialEscalation => v1::Criterion::PotentialEscalation,
        Criterion::ProfessionalJudgement => v1::Criterion::ProfessionalJudgement,
    }
}

pub fn outcome(o: Outcome) -> v1::Outcome {
    match o {
        Outcome::Routed => v1::Outcome::Routed,
        Outcome::TransferRequested => v1::Outcome::TransferRequested,
        Outcome::BelowThreshold => v1::Outcome::BelowThreshold,
    }
}

pub fn to_wire(d: &Decision, decided_at: chrono::DateTime<chrono::Utc>) -> v1::Decision {
    v1::Decision {
        outcome: outcome(d.outcome) as i32,
        pathway: v1::Pathway::DomesticAbuse as i32,
        panel: v1::Panel::Marac as i32,
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
        decide_time: Some(refroute_platform::wire::timestamp(decided_at)),
    }
}
