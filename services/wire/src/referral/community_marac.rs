//! A Community MARAC referral: anti-social behaviour and vulnerability, place-based.

use super::Context;
use super::Incident;
use super::person::{self, Person};
use crate::violation::Violations;
use refroute_domain::community::Concern;
use refroute_proto::v1;

/// Community MARAC risk-matrix totals are local; no matrix in use comes near this.
pub const MAX_RISK_SCORE: u32 = 1000;
/// More than every concern there is, each once.
pub const MAX_CONCERNS: usize = 10;

const P: &str = "referral.community_marac";
const CONCERNS: &str = "CONCERN_ANTI_SOCIAL_BEHAVIOUR, CONCERN_PUBLIC_DISORDER, CONCERN_CRIME, \
                        CONCERN_SUICIDE_THREAT or CONCERN_SUICIDE_ATTEMPT";

#[derive(Clone, Debug)]
pub struct CommunityMarac {
    /// Where the behaviour happened: that area's panel hears the case.
    pub incident: Incident,
    pub subject: Person,
    pub concerns: Vec<Concern>,
    pub vulnerable: bool,
    pub risk_score: Option<u32>,
    pub do_not_inform: Vec<String>,
}

pub(super) fn parse(
    v: &mut Violations,
    cx: &Context,
    cm: &v1::CommunityMaracReferral,
) -> Option<CommunityMarac> {
    let incident = super::incident(v, cx, P, cm.incident.as_ref());
    let subject = person::parse(
        v,
        cx,
        &format!("{P}.subject"),
        cm.subject.as_ref(),
        person::Rules {
            date_of_birth_required: false,
            residence_required: Some(
                "the person's residence decides whose statutory services are notified and invited",
            ),
        },
    );
    let incident_ok = match (&incident, &subject) {
        (Some(i), Some(s)) => super::not_before_birth(
            v,
            &format!("{P}.incident.date"),
            Some(i.date),
            s.date_of_birth,
            "person",
        ),
        _ => true,
    };
    let concerns = concerns(v, &cm.concerns);
    let reasons = super::reasons(
        v,
        P,
        "vulnerable",
        cm.vulnerable,
        &cm.vulnerability_reasons,
        "vulnerability_reasons",
    );
    let score_ok = match cm.risk_score {
        Some(score) if score > MAX_RISK_SCORE => {
            v.push(
                format!("{P}.risk_score"),
                format!(
                    "must be at most {MAX_RISK_SCORE} (got {score}): the total of the local risk \
                     matrix; leave it unset when the case was not scored"
                ),
            );
            false
        }
        _ => true,
    };
    let consent = super::consent(v, P, cm.consent, &cm.lawful_basis);
    let do_not_inform = super::do_not_inform(v, P, &cm.do_not_inform);
    reasons?;
    consent?;
    if !(incident_ok && score_ok) {
        return None;
    }
    Some(CommunityMarac {
        incident: incident?,
        subject: subject?,
        concerns: concerns?,
        vulnerable: cm.vulnerable,
        risk_score: cm.risk_score,
        do_not_inform: do_not_inform?,
    })
}

fn concerns(v: &mut Violations, concerns: &[i32]) -> Option<Vec<Concern>> {
    let field = format!("{P}.concerns");
    if concerns.is_empty() {
        v.push(
            field,
            format!("at least one concern is required: {CONCERNS}"),
        );
        return None;
    }
    super::repeated(v, &field, concerns, MAX_CONCERNS, "concerns", |v, f, c| {
        match v1::Concern::try_from(*c) {
            Ok(v1::Concern::AntiSocialBehaviour) => Some(Concern::AntiSocialBehaviour),
            Ok(v1::Concern::PublicDisorder) => Some(Concern::PublicDisorder),
            Ok(v1::Concern::Crime) => Some(Concern::Crime),
            Ok(v1::Concern::SuicideThreat) => Some(Concern::SuicideThreat),
            Ok(v1::Concern::SuicideAttempt) => Some(Concern::SuicideAttempt),
            _ => {
                v.push(f, format!("must be one of {CONCERNS}"));
                None
            }
        }
    })
}

pub(super) fn canonicalise(w: &mut v1::CommunityMaracReferral, parsed: &CommunityMarac) {
    super::canonical_incident(&mut w.incident, &parsed.incident);
    person::canonicalise(&mut w.subject, &parsed.subject);
    super::canonical_prose(&mut w.vulnerability_reasons);
    w.lawful_basis = crate::text::canonical(&w.lawful_basis, crate::text::Form::Prose);
    w.do_not_inform = parsed.do_not_inform.clone();
}
