//! A domestic-abuse referral, for MARAC.

use super::person::{self, Person};
use super::{Context, Incident};
use crate::violation::Violations;
use chrono::NaiveDate;
use refroute_domain::dash::DASH_QUESTIONS;
use refroute_domain::{DashAnswer, DashChecklist, LocalCriterion};
use refroute_proto::v1;

pub const MAX_INCIDENT_DATES: usize = 100;
pub const MAX_RISK_INDICATORS: usize = 10;

const P: &str = "referral.domestic_abuse";

#[derive(Clone, Debug)]
pub struct DomesticAbuse {
    pub incident: Incident,
    pub victim: Person,
    pub perpetrator: Person,
    pub dash: DashChecklist,
    /// Non-empty when the referrer uses professional judgement (reasons are mandatory).
    pub professional_judgement_reasons: Vec<String>,
    /// Earlier police-reported incidents, none after the incident nor before the victim's birth.
    pub police_incident_dates: Vec<NaiveDate>,
    /// Indicators an area's local criteria may name.
    pub indicators: Vec<LocalCriterion>,
    pub do_not_inform: Vec<String>,
}

pub(super) fn parse(
    v: &mut Violations,
    cx: &Context,
    da: &v1::DomesticAbuseReferral,
) -> Option<DomesticAbuse> {
    let incident = super::incident(v, cx, P, da.incident.as_ref());
    let victim = person::parse(
        v,
        cx,
        &format!("{P}.victim"),
        da.victim.as_ref(),
        person::Rules {
            date_of_birth_required: true,
            residence_required: Some(
                "the victim's current residence decides which area's MARAC hears the case",
            ),
        },
    );
    let perpetrator = person::parse(
        v,
        cx,
        &format!("{P}.perpetrator"),
        da.perpetrator.as_ref(),
        person::Rules {
            date_of_birth_required: false,
            residence_required: None,
        },
    );
    let incident_ok = match (&incident, &victim) {
        (Some(i), Some(victim)) => super::not_before_birth(
            v,
            &format!("{P}.incident.date"),
            Some(i.date),
            victim.date_of_birth,
            "victim",
        ),
        _ => true,
    };
    let dash = dash(v, &da.dash_answers);
    let pj = da.professional_judgement.clone().unwrap_or_default();
    let reasons = super::reasons(
        v,
        &format!("{P}.professional_judgement"),
        "applies",
        pj.applies,
        &pj.reasons,
        "reasons",
    );
    let dates = police_incident_dates(
        v,
        cx,
        &da.police_reported_incident_dates,
        incident.as_ref().map(|i| i.date),
        victim.as_ref().and_then(|p| p.date_of_birth),
    );
    let consent = super::consent(v, P, da.consent, &da.lawful_basis);
    let do_not_inform = super::do_not_inform(v, P, &da.do_not_inform);
    let indicators = indicators(v, &da.risk_indicators);
    consent?;
    if !incident_ok {
        return None;
    }
    Some(DomesticAbuse {
        incident: incident?,
        victim: victim?,
        perpetrator: perpetrator?,
        dash: dash?,
        professional_judgement_reasons: reasons?,
        police_incident_dates: dates?,
        indicators: indicators?,
        do_not_inform: do_not_inform?,
    })
}

/// Exactly 24 answers, each YES, NO or NOT_KNOWN. A list of the wrong length is one violation,
/// whatever it holds, so a huge list cannot buy a huge error.
fn dash(v: &mut Violations, answers: &[i32]) -> Option<DashChecklist> {
    let field = format!("{P}.dash_answers");
    if answers.len() > DASH_QUESTIONS {
        v.push(
            field,
            format!(
                "must have exactly {DASH_QUESTIONS} answers, one per DASH question (got {})",
                answers.len()
            ),
        );
        return None;
    }
    let typed: Vec<Option<DashAnswer>> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| match v1::DashAnswer::try_from(*a) {
            Ok(v1::DashAnswer::Yes) => Some(DashAnswer::Yes),
            Ok(v1::DashAnswer::No) => Some(DashAnswer::No),
            Ok(v1::DashAnswer::NotKnown) => Some(DashAnswer::NotKnown),
            _ => {
                v.push(format!("{field}[{i}]"), "must be YES, NO or NOT_KNOWN");
                None
            }
        })
        .collect();
    if answers.len() != DASH_QUESTIONS {
        v.push(
            field,
            format!(
                "must have exactly {DASH_QUESTIONS} answers, one per DASH question (got {})",
                answers.len()
            ),
        );
        return None;
    }
    let typed: Vec<DashAnswer> = typed.into_iter().collect::<Option<_>>()?;
    DashChecklist::new(&typed)
}

fn police_incident_dates(
    v: &mut Violations,
    cx: &Context,
    dates: &[String],
    incident: Option<NaiveDate>,
    born: Option<NaiveDate>,
) -> Option<Vec<NaiveDate>> {
    let field = format!("{P}.police_reported_incident_dates");
    super::repeated(
        v,
        &field,
        dates,
        MAX_INCIDENT_DATES,
        "dates",
        |v, field, raw| {
            let date = crate::date::past(v, field, raw, cx.today)?;
            if let Some(incident) = incident
                && date > incident
            {
                v.push(field, format!("is after the incident date {incident}"));
                return None;
            }
            super::not_before_birth(v, field, Some(date), born, "victim").then_some(date)
        },
    )
}

fn indicators(v: &mut Violations, indicators: &[i32]) -> Option<Vec<LocalCriterion>> {
    let field = format!("{P}.risk_indicators");
    super::repeated(
        v,
        &field,
        indicators,
        MAX_RISK_INDICATORS,
        "indicators",
        |v, f, r| match v1::RiskIndicator::try_from(*r) {
            Ok(v1::RiskIndicator::SuicideOrSelfHarm) => Some(LocalCriterion::SuicideOrSelfHarm),
            _ => {
                v.push(
                    f,
                    "must be a known risk indicator: RISK_INDICATOR_SUICIDE_OR_SELF_HARM",
                );
                None
            }
        },
    )
}

pub(super) fn canonicalise(w: &mut v1::DomesticAbuseReferral, parsed: &DomesticAbuse) {
    super::canonical_incident(&mut w.incident, &parsed.incident);
    person::canonicalise(&mut w.victim, &parsed.victim);
    person::canonicalise(&mut w.perpetrator, &parsed.perpetrator);
    if let Some(pj) = w.professional_judgement.as_mut() {
        super::canonical_prose(&mut pj.reasons);
    }
    w.lawful_basis = crate::text::canonical(&w.lawful_basis, crate::text::Form::Prose);
    w.do_not_inform = parsed.do_not_inform.clone();
}
