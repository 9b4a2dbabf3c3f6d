//! A Prevent referral: a radicalisation concern, for the Channel panel where the person lives.

use super::person::{self, Person};
use super::{Context, Incident};
use crate::text::{self, Form};
use crate::violation::Violations;
use refroute_domain::age_on;
use refroute_proto::v1;

pub const MAX_CONCERN_SUMMARY: usize = 4000;
/// Channel consent is a parent's or guardian's below this age.
pub const ADULT_AGE: u32 = 18;

const P: &str = "referral.prevent";

#[derive(Clone, Debug)]
pub struct Prevent {
    pub incident: Incident,
    /// With a date of birth: it is required here.
    pub subject: Person,
    /// Whole years on the day the referral was made.
    pub age: u32,
    pub do_not_inform: Vec<String>,
}

pub(super) fn parse(v: &mut Violations, cx: &Context, p: &v1::PreventReferral) -> Option<Prevent> {
    let incident = super::incident(v, cx, P, p.incident.as_ref());
    let subject = person::parse(
        v,
        cx,
        &format!("{P}.subject"),
        p.subject.as_ref(),
        person::Rules {
            date_of_birth_required: true,
            residence_required: Some(
                "the person's residence decides which local authority's Channel panel and which \
                 police force's Prevent team take the case",
            ),
        },
    );
    let born = subject.as_ref().and_then(|s| s.date_of_birth);
    let incident_ok = super::not_before_birth(
        v,
        &format!("{P}.incident.date"),
        incident.as_ref().map(|i| i.date),
        born,
        "person",
    );
    let summary = text::text(
        v,
        &format!("{P}.concern_summary"),
        &p.concern_summary,
        Form::Prose,
        true,
        MAX_CONCERN_SUMMARY,
    );
    let age = born.map(|b| age_on(b, cx.today));
    let consent_ok = consent(v, p.consent, age);
    let do_not_inform = super::do_not_inform(v, P, &p.do_not_inform);
    summary?;
    if !(incident_ok && consent_ok) {
        return None;
    }
    Some(Prevent {
        incident: incident?,
        subject: subject?,
        age: age?,
        do_not_inform: do_not_inform?,
    })
}

/// Channel is voluntary: an adult consents for themselves, a child's parent or guardian for them.
fn consent(v: &mut Violations, consent: i32, age: Option<u32>) -> bool {
    let field = format!("{P}.consent");
    let refuse = |v: &mut Violations, why: String| {
        v.push(&field, why);
        false
    };
    match v1::PreventConsent::try_from(consent) {
        Ok(v1::PreventConsent::Unspecified) | Err(_) => refuse(
            v,
            "is required: PREVENT_CONSENT_NOT_YET_SOUGHT, PREVENT_CONSENT_GIVEN (18 or over), \
             PREVENT_CONSENT_GIVEN_BY_PARENT (under 18) or PREVENT_CONSENT_REFUSED"
                .into(),
        ),
        Ok(v1::PreventConsent::Given) => match age.filter(|&a| a < ADULT_AGE) {
            Some(age) => refuse(
                v,
                format!(
                    "the person is {age}: a child's consent to Channel is a parent's or \
                     guardian's; use PREVENT_CONSENT_GIVEN_BY_PARENT"
                ),
            ),
            None => true,
        },
        Ok(v1::PreventConsent::GivenByParent) => match age.filter(|&a| a >= ADULT_AGE) {
            Some(age) => refuse(
                v,
                format!(
                    "the person is {age}: an adult gives their own consent; use \
                     PREVENT_CONSENT_GIVEN"
                ),
            ),
            None => true,
        },
        Ok(v1::PreventConsent::NotYetSought | v1::PreventConsent::Refused) => true,
    }
}

pub(super) fn canonicalise(w: &mut v1::PreventReferral, parsed: &Prevent) {
    super::canonical_incident(&mut w.incident, &parsed.incident);
    person::canonicalise(&mut w.subject, &parsed.subject);
    w.concern_summary = text::canonical(&w.concern_summary, Form::Prose);
    w.do_not_inform = parsed.do_not_inform.clone();
}
