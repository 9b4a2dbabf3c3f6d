//! A referral off the wire, checked field by field and made into typed input for the rules.
//! [`parse`] is the only reading of a wire referral's fields: intake accepts exactly what it
//! accepts, and triage decides on what it returns, so anything stored can be processed.
//!
//! Field paths in violations follow the protobuf field names a client wrote
//! (`referral.domestic_abuse.victim.date_of_birth`).

mod community_marac;
mod domestic_abuse;
mod person;
mod prevent;

pub use community_marac::{CommunityMarac, MAX_CONCERNS, MAX_RISK_SCORE};
pub use domestic_abuse::{DomesticAbuse, MAX_INCIDENT_DATES, MAX_RISK_INDICATORS};
pub use person::Person;
pub use prevent::{ADULT_AGE, MAX_CONCERN_SUMMARY, Prevent};

use crate::code;
use crate::text::{self, Form};
use crate::violation::{Violation, Violations};
use chrono::NaiveDate;
use refroute_domain::{AreaCode, Directory, Pathway};
use refroute_proto::v1::{self, referral};

pub const MAX_NAME: usize = 200;
pub const MAX_ORGANISATION: usize = 200;
pub const MAX_REFERENCE: usize = 100;
pub const MAX_REASON: usize = 2000;
pub const MAX_REASONS: usize = 20;
pub const MAX_LAWFUL_BASIS: usize = 500;
pub const MAX_DO_NOT_INFORM: usize = 20;

/// What a referral is checked against besides itself.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The areas this deployment routes for (shipped directory plus its own file).
    pub directory: &'a Directory,
    /// The day the referral was made: no date may be after it, and ages are taken on it. Intake
    /// passes today; triage the referral's `create_time`, so both judge the same referral alike.
    pub today: NaiveDate,
}

/// A referral as the rules see it: every field checked, canonical and typed.
#[derive(Clone, Debug)]
pub struct Referral {
    /// The area whose partnership received the referral; its rules apply.
    pub received_area: AreaCode,
    pub referring_organisation: String,
    pub details: Details,
}

#[derive(Clone, Debug)]
pub enum Details {
    DomesticAbuse(DomesticAbuse),
    CommunityMarac(CommunityMarac),
    Prevent(Prevent),
}

/// Where and when the incident (or the behaviour, or the concern) happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub area: AreaCode,
    pub date: NaiveDate,
}

impl Referral {
    pub fn pathway(&self) -> Pathway {
        match self.details {
            Details::DomesticAbuse(_) => Pathway::DomesticAbuse,
            Details::CommunityMarac(_) => Pathway::CommunityMarac,
            Details::Prevent(_) => Pathway::Prevent,
        }
    }

    /// The person whose residence decides where the referral goes: the victim of domestic
    /// abuse, the subject of a Community MARAC or Prevent referral.
    pub fn resident(&self) -> &Person {
        match &self.details {
            Details::DomesticAbuse(d) => &d.victim,
            Details::CommunityMarac(c) => &c.subject,
            Details::Prevent(p) => &p.subject,
        }
    }

    /// Whom nothing about this referral may reach.
    pub fn do_not_inform(&self) -> &[String] {
        match &self.details {
            Details::DomesticAbuse(d) => &d.do_not_inform,
            Details::CommunityMarac(c) => &c.do_not_inform,
            Details::Prevent(p) => &p.do_not_inform,
        }
    }
}

/// The oneof field name a client writes for a pathway's details.
fn details_field(pathway: v1::Pathway) -> &'static str {
    match pathway {
        v1::Pathway::DomesticAbuse => "domestic_abuse",
        v1::Pathway::CommunityMarac => "community_marac",
        v1::Pathway::Prevent => "prevent",
        v1::Pathway::Unspecified => "details",
    }
}

pub(crate) fn pathway_of(details: &referral::Details) -> v1::Pathway {
    match details {
        referral::Details::DomesticAbuse(_) => v1::Pathway::DomesticAbuse,
        referral::Details::CommunityMarac(_) => v1::Pathway::CommunityMarac,
        referral::Details::Prevent(_) => v1::Pathway::Prevent,
    }
}

/// Checks every field of `r` and returns the typed referral, or every bad field (capped).
pub fn parse(r: &v1::Referral, cx: &Context) -> Result<Referral, Vec<Violation>> {
    let mut v = Violations::new();
    let parsed = parse_into(&mut v, r, cx);
    match parsed {
        Some(referral) if v.is_empty() => Ok(referral),
        _ => Err(v.into_vec()),
    }
}

pub(crate) fn parse_into(v: &mut Violations, r: &v1::Referral, cx: &Context) -> Option<Referral> {
    let organisation = text::text(
        v,
        "referral.referring_organisation",
        &r.referring_organisation,
        Form::Line,
        true,
        MAX_ORGANISATION,
    );
    text::text(
        v,
        "referral.referrer_reference",
        &r.referrer_reference,
        Form::Line,
        false,
        MAX_REFERENCE,
    );
    let received_area = code::in_directory(
        v,
        "referral.received_area_code",
        &r.received_area_code,
        cx.directory,
    );
    let detailed = r.details.as_ref().map(pathway_of);
    match (v1::Pathway::try_from(r.pathway), detailed) {
        (Ok(v1::Pathway::Unspecified), _) | (Ok(_), None) => {}
        (Ok(claimed), Some(actual)) if claimed != actual => v.push(
            "referral.pathway",
            format!(
                "is {} but the details are {}; leave pathway unset (intake sets it from the \
                 details) or send {}",
                claimed.as_str_name(),
                details_field(actual),
                actual.as_str_name()
            ),
        ),
        (Ok(_), _) => {}
        (Err(_), _) => v.push(
            "referral.pathway",
            "is not a pathway; leave pathway unset (intake sets it from the details)",
        ),
    }
    let details = match r.details.as_ref() {
        Some(referral::Details::DomesticAbuse(da)) => {
            domestic_abuse::parse(v, cx, da).map(Details::DomesticAbuse)
        }
        Some(referral::Details::CommunityMarac(cm)) => {
            community_marac::parse(v, cx, cm).map(Details::CommunityMarac)
        }
        Some(referral::Details::Prevent(p)) => prevent::parse(v, cx, p).map(Details::Prevent),
        None => {
            v.push(
                "referral.details",
                "is required: one of domestic_abuse, community_marac or prevent",
            );
            None
        }
    };
    Some(Referral {
        received_area: received_area?,
        referring_organisation: organisation?,
        details: details?,
    })
}

/// Rewrites what `parse` accepted in its canonical form (codes upper case, postcodes spaced,
/// text NFC with names' whitespace folded), so what is stored and passed on reads as parsed.
pub fn canonicalise(r: &mut v1::Referral, parsed: &Referral) {
    r.referring_organisation = parsed.referring_organisation.clone();
    r.referrer_reference = text::canonical(&r.referrer_reference, Form::Line);
    r.received_area_code = parsed.received_area.to_string();
    r.pathway = crate::decision::pathway(parsed.pathway()) as i32;
    match (r.details.as_mut(), &parsed.details) {
        (Some(referral::Details::DomesticAbuse(w)), Details::DomesticAbuse(d)) => {
            domestic_abuse::canonicalise(w, d)
        }
        (Some(referral::Details::CommunityMarac(w)), Details::CommunityMarac(c)) => {
            community_marac::canonicalise(w, c)
        }
        (Some(referral::Details::Prevent(w)), Details::Prevent(p)) => prevent::canonicalise(w, p),
        // `parsed` came from `r`: the details are of the same pathway.
        _ => {}
    }
}

fn canonical_incident(w: &mut Option<v1::Incident>, parsed: &Incident) {
    if let Some(i) = w.as_mut() {
        i.area_code = parsed.area.to_string();
    }
}

fn canonical_prose(texts: &mut [String]) {
    for t in texts {
        *t = text::canonical(t, Form::Prose);
    }
}

/// The incident: a known area and a past date.
fn incident(
    v: &mut Violations,
    cx: &Context,
    path: &str,
    i: Option<&v1::Incident>,
) -> Option<Incident> {
    let Some(i) = i else {
        v.push(format!("{path}.incident"), "is required");
        return None;
    };
    let area = code::in_directory(
        v,
        &format!("{path}.incident.area_code"),
        &i.area_code,
        cx.directory,
    );
    let date = crate::date::past(v, &format!("{path}.incident.date"), &i.date, cx.today);
    Some(Incident {
        area: area?,
        date: date?,
    })
}

/// Refuses `date` (at `field`) when it is before `born`: nothing happened to a person before
/// they were born.
fn not_before_birth(
    v: &mut Violations,
    field: &str,
    date: Option<NaiveDate>,
    born: Option<NaiveDate>,
    whose: &str,
) -> bool {
    match (date, born) {
        (Some(d), Some(b)) if d < b => {
            v.push(field, format!("is before the {whose}'s date of birth"));
            false
        }
        _ => true,
    }
}

/// Consent to share (domestic abuse, Community MARAC): without it, a lawful basis.
fn consent(v: &mut Violations, path: &str, consent: i32, lawful_basis: &str) -> Option<()> {
    match v1::ConsentState::try_from(consent) {
        Ok(v1::ConsentState::Given) => {
            text::text(
                v,
                &format!("{path}.lawful_basis"),
                lawful_basis,
                Form::Prose,
                false,
                MAX_LAWFUL_BASIS,
            )?;
            Some(())
        }
        Ok(v1::ConsentState::Refused | v1::ConsentState::NotSoughtUnsafe) => {
            text::text(
                v,
                &format!("{path}.lawful_basis"),
                lawful_basis,
                Form::Prose,
                true,
                MAX_LAWFUL_BASIS,
            )?;
            Some(())
        }
        _ => {
            v.push(
                format!("{path}.consent"),
                "is required: GIVEN, REFUSED or NOT_SOUGHT_UNSAFE",
            );
            None
        }
    }
}

/// A repeated field: more than `max` items is one violation for the count (so a huge list cannot
/// buy a huge error); otherwise each item is checked by `check` at `field[i]`, every one, and
/// `None` if any was refused.
fn repeated<T, U>(
    v: &mut Violations,
    field: &str,
    items: &[T],
    max: usize,
    noun: &str,
    mut check: impl FnMut(&mut Violations, &str, &T) -> Option<U>,
) -> Option<Vec<U>> {
    if items.len() > max {
        v.push(field, format!("at most {max} {noun} (got {})", items.len()));
        return None;
    }
    let checked: Vec<Option<U>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| check(v, &format!("{field}[{i}]"), item))
        .collect();
    checked.into_iter().collect()
}

/// Who must not be told: names, each one line.
fn do_not_inform(v: &mut Violations, path: &str, who: &[String]) -> Option<Vec<String>> {
    let field = format!("{path}.do_not_inform");
    repeated(v, &field, who, MAX_DO_NOT_INFORM, "entries", |v, f, w| {
        text::text(v, f, w, Form::Line, true, MAX_NAME)
    })
}

/// Free-text reasons behind a flag (professional judgement, vulnerability): at least one when
/// the flag is set, none when it is not.
fn reasons(
    v: &mut Violations,
    path: &str,
    flag: &str,
    set: bool,
    reasons: &[String],
    what: &str,
) -> Option<Vec<String>> {
    let field = format!("{path}.{what}");
    let checked = repeated(v, &field, reasons, MAX_REASONS, "reasons", |v, f, r| {
        text::text(v, f, r, Form::Prose, false, MAX_REASON)
    });
    let given: Vec<String> = checked?.into_iter().filter(|r| !r.is_empty()).collect();
    if set && given.is_empty() {
        v.push(
            field,
            format!("at least one reason is required when {flag} is true"),
        );
        return None;
    }
    if !set && !reasons.is_empty() {
        v.push(
            format!("{path}.{flag}"),
            format!("reasons were given but {flag} is false; set {flag} to true to refer on them"),
        );
        return None;
    }
    Some(given)
}
