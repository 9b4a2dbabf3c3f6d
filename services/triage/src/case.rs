//! From the wire referral to the domain's cases, and from the domain's `Decision` back to the
//! wire. Intake has validated the referral; anything off here is a poison message.

use crate::residence;
use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use refroute_domain::community::{CmCase, Concern};
use refroute_domain::prevent::PvCase;
use refroute_domain::{
    AreaCode, Criterion, DaCase, DashAnswer, DashChecklist, Decision, Directory, LocalCriterion,
    Outcome, Panel, Pathway, TransferKind, age_on,
};
use refroute_geography::PostcodeTable;
use refroute_proto::v1::{self, Referral, referral};

/// A referral ready for the rules of its pathway.
pub enum Prepared {
    /// With the keyed hash of the victim, for repeat detection.
    DomesticAbuse {
        case: DaCase,
        victim_key: Vec<u8>,
    },
    CommunityMarac(CmCase),
    Prevent(PvCase),
}

/// Everything a case is built with besides the referral itself.
pub struct Inputs<'a> {
    pub postcodes: &'a PostcodeTable,
    pub directory: &'a Directory,
    pub hasher: &'a refroute_platform::crypto::IdentityHasher,
    /// The day the referral was made (ages are taken on it).
    pub referred_on: NaiveDate,
}

fn date(s: &str, what: &str) -> anyhow::Result<NaiveDate> {
    s.parse()
        .with_context(|| format!("{what} '{s}' is not a date"))
}

fn area(code: &str, what: &str) -> anyhow::Result<AreaCode> {
    AreaCode::parse(code).with_context(|| what.to_string())
}

fn incident(i: Option<&v1::Incident>) -> anyhow::Result<(AreaCode, NaiveDate)> {
    let i = i.context("no incident")?;
    Ok((
        area(&i.area_code, "incident area")?,
        date(&i.date, "incident date")?,
    ))
}

pub fn prepare(referral: &Referral, cx: &Inputs) -> anyhow::Result<Prepared> {
    let received_area = area(&referral.received_area_code, "received area")?;
    let resolve = |p: Option<&v1::Person>| {
        residence::resolve(
            p.and_then(|p| p.residence.as_ref()),
            cx.postcodes,
            cx.directory,
        )
    };
    match referral.details.as_ref() {
        Some(referral::Details::DomesticAbuse(da)) => {
            let (incident_area, incident_date) = incident(da.incident.as_ref())?;
            let victim = da.victim.as_ref().context("no victim")?;
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
            let indicators = da
                .risk_indicators
                .iter()
                .filter_map(|i| match v1::RiskIndicator::try_from(*i) {
                    Ok(v1::RiskIndicator::SuicideOrSelfHarm) => {
                        Some(LocalCriterion::SuicideOrSelfHarm)
                    }
                    _ => None,
                })
                .collect();
            let case = DaCase {
                received_area,
                residence: resolve(Some(victim)),
                incident_area,
                incident_date,
                dash: DashChecklist::new(&answers)
                    .context("DASH checklist does not have 24 answers")?,
                professional_judgement_reasons: if pj.applies { pj.reasons } else { vec![] },
                police_incident_dates: da
                    .police_reported_incident_dates
                    .iter()
                    .map(|d| date(d, "police-reported incident date"))
                    .collect::<Result<_, _>>()?,
                // Filled in by the handler, inside the decision's transaction.
                earlier_incident_dates: Vec::new(),
                indicators,
            };
            let victim_key = cx
                .hasher
                .person_key(&victim.full_name, &victim.date_of_birth);
            Ok(Prepared::DomesticAbuse { case, victim_key })
        }
        Some(referral::Details::CommunityMarac(cm)) => {
            let (incident_area, _) = incident(cm.incident.as_ref())?;
            let concerns = cm
                .concerns
                .iter()
                .map(|c| match v1::Concern::try_from(*c) {
                    Ok(v1::Concern::AntiSocialBehaviour) => Ok(Concern::AntiSocialBehaviour),
                    Ok(v1::Concern::PublicDisorder) => Ok(Concern::PublicDisorder),
                    Ok(v1::Concern::Crime) => Ok(Concern::Crime),
                    Ok(v1::Concern::SuicideThreat) => Ok(Concern::SuicideThreat),
                    Ok(v1::Concern::SuicideAttempt) => Ok(Concern::SuicideAttempt),
                    _ => Err(anyhow!("concern {c} is not known")),
                })
                .collect::<Result<_, _>>()?;
            Ok(Prepared::CommunityMarac(CmCase {
                received_area,
                incident_area,
                residence: resolve(cm.subject.as_ref()),
                concerns,
                vulnerable: cm.vulnerable,
                risk_score: cm.risk_score,
            }))
        }
        Some(referral::Details::Prevent(pv)) => {
            let (incident_area, _) = incident(pv.incident.as_ref())?;
            let subject = pv.subject.as_ref().context("no subject")?;
            let born = date(&subject.date_of_birth, "date of birth")?;
            Ok(Prepared::Prevent(PvCase {
                received_area,
                incident_area,
                residence: resolve(Some(subject)),
                age: age_on(born, cx.referred_on),
            }))
        }
        None => Err(anyhow!("referral has no pathway details")),
    }
}

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

pub fn to_wire(d: &Decision, decided_at: chrono::DateTime<chrono::Utc>) -> v1::Decision {
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
        decide_time: Some(refroute_platform::wire::timestamp(decided_at)),
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
