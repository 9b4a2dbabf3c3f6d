//! Validation of `CreateReferral`: every bad field is collected, so one answer names them all.
//! Field paths follow the protobuf field names a client wrote.
//!
//! Intake checks form, not routing: a residence given as a postcode that is well formed but
//! partial, Northern Irish, unknown or terminated is accepted here, because triage sends it to
//! the review queue and tells the referrer what to supply (DOMAIN.md 3.3: never guessed, never
//! lost). Likewise a Community MARAC case about suicide risk alone is valid here and declined by
//! triage with its reason.

use chrono::NaiveDate;
use refroute_domain::dash::DASH_QUESTIONS;
use refroute_domain::{AreaCode, AreaError, Directory, age_on};
use refroute_geography::{Postcode, PostcodeError};
use refroute_platform::grpc::Violation;
use refroute_proto::v1::{
    CommunityMaracReferral, Concern, ConsentState, CreateReferralRequest, DashAnswer,
    DomesticAbuseReferral, Incident, Pathway, Person, PreventConsent, PreventReferral, Residence,
    RiskIndicator, SupplyResidenceRequest, referral, residence,
};

pub const MAX_REQUEST_ID: usize = 128;
pub const MAX_NAME: usize = 200;
pub const MAX_ORGANISATION: usize = 200;
pub const MAX_REFERENCE: usize = 100;
pub const MAX_REASON: usize = 2000;
pub const MAX_REASONS: usize = 20;
pub const MAX_LAWFUL_BASIS: usize = 500;
pub const MAX_DO_NOT_INFORM: usize = 20;
pub const MAX_INCIDENT_DATES: usize = 100;
/// Longer than any postcode however it is spaced; anything longer is not one.
pub const MAX_POSTCODE: usize = 16;
/// Community MARAC risk-matrix totals are local; no matrix in use comes near this.
pub const MAX_RISK_SCORE: u32 = 1000;
pub const MAX_CONCERN_SUMMARY: usize = 4000;
/// Channel consent is a parent's or guardian's below this age.
pub const ADULT_AGE: u32 = 18;

/// The pathway a referral's details belong to; intake sets `Referral.pathway` from it.
pub fn pathway_of(details: &referral::Details) -> Pathway {
    match details {
        referral::Details::DomesticAbuse(_) => Pathway::DomesticAbuse,
        referral::Details::CommunityMarac(_) => Pathway::CommunityMarac,
        referral::Details::Prevent(_) => Pathway::Prevent,
    }
}

/// The oneof field name a client writes for a pathway's details.
fn details_field(pathway: Pathway) -> &'static str {
    match pathway {
        Pathway::DomesticAbuse => "domestic_abuse",
        Pathway::CommunityMarac => "community_marac",
        Pathway::Prevent => "prevent",
        Pathway::Unspecified => "details",
    }
}

/// What each person's checks require, and why their residence matters when it is required.
struct PersonRules {
    date_of_birth_required: bool,
    /// `Some(why)` when the residence is required.
    residence_required: Option<&'static str>,
}

struct Check<'a> {
    violations: Vec<Violation>,
    today: NaiveDate,
    directory: &'a Directory,
}

impl Check<'_> {
    fn fail(&mut self, field: impl Into<String>, why: impl Into<String>) {
        self.violations.push(Violation::new(field, why));
    }

    fn text(&mut self, field: &str, value: &str, required: bool, max: usize) {
        let len = value.chars().count();
        if required && value.trim().is_empty() {
            self.fail(field, "is required");
        } else if len > max {
            self.fail(
                field,
                format!("must be at most {max} characters (got {len})"),
            );
        }
    }

    /// A YYYY-MM-DD date that is not in the future.
    fn past_date(&mut self, field: &str, value: &str) -> Option<NaiveDate> {
        if value.trim().is_empty() {
            self.fail(field, "is required (YYYY-MM-DD)");
            return None;
        }
        match NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") {
            Err(_) => {
                self.fail(
                    field,
                    format!("'{}' is not a date in the form YYYY-MM-DD", truncate(value)),
                );
                None
            }
            Ok(d) if d > self.today => {
                self.fail(
                    field,
                    format!("{d} is in the future (today is {})", self.today),
                );
                None
            }
            Ok(d) => Some(d),
        }
    }

    /// A well-formed GSS code of a local authority in the area directory. `instead` says what
    /// else the client may send.
    fn area(&mut self, field: &str, value: &str, instead: &str) {
        self.local_authority(field, value, instead, false);
    }

    /// Like [`Check::area`]; with `anywhere_in_the_uk`, a local authority outside the directory is
    /// accepted too: people live all over the UK (DOMAIN.md 2.2), incidents here happen here.
    fn local_authority(
        &mut self,
        field: &str,
        value: &str,
        instead: &str,
        anywhere_in_the_uk: bool,
    ) {
        if value.trim().is_empty() {
            self.fail(
                field,
                format!("is required (a GSS local-authority code such as E09000001){instead}"),
            );
            return;
        }
        match AreaCode::parse(value) {
            Err(e) => self.fail(field, e.to_string()),
            Ok(code) if anywhere_in_the_uk && code.is_local_authority() => {}
            Ok(code) if !self.directory.known(&code) => self.fail(
                field,
                format!(
                    "{}: send the current GSS code of the local authority, e.g. E09000001 \
                     (City of London){instead}",
                    AreaError::Unknown(code.to_string())
                ),
            ),
            Ok(_) => {}
        }
    }

    fn incident(&mut self, path: &str, incident: Option<&Incident>) -> Option<NaiveDate> {
        let Some(i) = incident else {
            self.fail(format!("{path}.incident"), "is required");
            return None;
        };
        self.area(&format!("{path}.incident.area_code"), &i.area_code, "");
        self.past_date(&format!("{path}.incident.date"), &i.date)
    }

    /// Where a person lives: exactly one of a known local authority, a well-formed postcode
    /// (resolved, or sent to review, by triage) or no fixed abode.
    fn residence(&mut self, path: &str, residence: Option<&Residence>, required: Option<&str>) {
        const KINDS: &str = "give local_authority_code, postcode or no_fixed_abode";
        let field = if path.is_empty() {
            "residence".to_string()
        } else {
            format!("{path}.residence")
        };
        match residence.and_then(|r| r.kind.as_ref()) {
            None => {
                if let Some(why) = required {
                    self.fail(field, format!("is required: {why}; {KINDS}"));
                }
            }
            Some(residence::Kind::LocalAuthorityCode(code)) => self.local_authority(
                &format!("{field}.local_authority_code"),
                code,
                ", or give the postcode",
                true,
            ),
            Some(residence::Kind::Postcode(raw)) => {
                self.postcode(&format!("{field}.postcode"), raw)
            }
            Some(residence::Kind::NoFixedAbode(true)) => {}
            Some(residence::Kind::NoFixedAbode(false)) => self.fail(
                format!("{field}.no_fixed_abode"),
                "must be true when set: set no_fixed_abode to true, or give a postcode or \
                 local-authority code",
            ),
        }
    }

    /// Only a postcode that is not one at all is refused. Partial and Northern Irish postcodes
    /// are well formed but cannot be resolved: triage puts them to review with what to supply.
    fn postcode(&mut self, field: &str, raw: &str) {
        let len = raw.chars().count();
        if raw.trim().is_empty() {
            self.fail(
                field,
                "is empty: give the full postcode (e.g. EC2M 7PY), or set local_authority_code \
                 instead",
            );
        } else if len > MAX_POSTCODE {
            self.fail(
                field,
                format!(
                    "must be at most {MAX_POSTCODE} characters (got {len}): give the full \
                     postcode, e.g. EC2M 7PY"
                ),
            );
        } else {
            match Postcode::parse(raw) {
                Ok(_) | Err(PostcodeError::Partial | PostcodeError::NorthernIrish) => {}
                Err(PostcodeError::Malformed) => self.fail(
                    field,
                    format!(
                        "'{}' is not a UK postcode: expected a full postcode such as EC2M 7PY, \
                         SW1A 1AA or ME7 1AA (letters and digits; spaces are ignored), or set \
                         local_authority_code instead",
                        raw.trim()
                    ),
                ),
            }
        }
    }

    /// Checks a person and returns their date of birth when it is given and valid.
    fn person(
        &mut self,
        path: &str,
        person: Option<&Person>,
        rules: PersonRules,
    ) -> Option<NaiveDate> {
        let Some(p) = person else {
            self.fail(path, "is required");
            return None;
        };
        self.text(&format!("{path}.full_name"), &p.full_name, true, MAX_NAME);
        let born = if rules.date_of_birth_required || !p.date_of_birth.is_empty() {
            self.past_date(&format!("{path}.date_of_birth"), &p.date_of_birth)
        } else {
            None
        };
        self.residence(path, p.residence.as_ref(), rules.residence_required);
        born
    }

    /// Consent to share (domestic abuse, Community MARAC): without it, a lawful basis.
    fn consent(&mut self, path: &str, consent: i32, lawful_basis: &str) {
        match ConsentState::try_from(consent) {
            Ok(ConsentState::Given) => {}
            Ok(ConsentState::Refused | ConsentState::NotSoughtUnsafe) => {
                self.text(
                    &format!("{path}.lawful_basis"),
                    lawful_basis,
                    true,
                    MAX_LAWFUL_BASIS,
                );
            }
            _ => self.fail(
                format!("{path}.consent"),
                "is required: GIVEN, REFUSED or NOT_SOUGHT_UNSAFE",
            ),
        }
    }

    fn do_not_inform(&mut self, path: &str, who: &[String]) {
        if who.len() > MAX_DO_NOT_INFORM {
            self.fail(
                format!("{path}.do_not_inform"),
                format!("at most {MAX_DO_NOT_INFORM} entries"),
            );
        }
        for (i, w) in who.iter().enumerate() {
            self.text(&format!("{path}.do_not_inform[{i}]"), w, true, MAX_NAME);
        }
    }

    /// Free-text reasons behind a flag (professional judgement, vulnerability): at least one
    /// when the flag is set, none when it is not.
    fn reasons(&mut self, path: &str, flag: &str, set: bool, reasons: &[String], what: &str) {
        let given = reasons.iter().filter(|r| !r.trim().is_empty()).count();
        if set && given == 0 {
            self.fail(
                format!("{path}.{what}"),
                format!("at least one reason is required when {flag} is true"),
            );
        }
        if !set && !reasons.is_empty() {
            self.fail(
                format!("{path}.{flag}"),
                format!(
                    "reasons were given but {flag} is false; set {flag} to true to refer on them"
                ),
            );
        }
        if reasons.len() > MAX_REASONS {
            self.fail(
                format!("{path}.{what}"),
                format!("at most {MAX_REASONS} reasons"),
            );
        }
        for (i, r) in reasons.iter().enumerate() {
            self.text(&format!("{path}.{what}[{i}]"), r, false, MAX_REASON);
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Checks a create request against the rules in the proto comments. `today` is injected so
/// "not in the future" and ages are testable; `directory` is the area directory the deployment
/// routes by (shipped areas plus its own file).
/// Checks a `SupplyResidence` request: a referral id and a residence, as `CreateReferral` checks it.
pub fn validate_supplied_residence(
    request: &SupplyResidenceRequest,
    today: NaiveDate,
    directory: &Directory,
) -> Result<uuid::Uuid, Vec<Violation>> {
    let mut c = Check {
        violations: Vec::new(),
        today,
        directory,
    };
    let id = request.referral_id.trim().parse::<uuid::Uuid>().ok();
    if id.is_none() {
        c.fail(
            "referral_id",
            "is not a referral id (the UUID CreateReferral returned)",
        );
    }
    c.residence(
        "",
        request.residence.as_ref(),
        Some("it is what the referral is waiting for"),
    );
    match id {
        Some(id) if c.violations.is_empty() => Ok(id),
        _ => Err(c.violations),
    }
}

pub fn validate(
    request: &CreateReferralRequest,
    today: NaiveDate,
    directory: &Directory,
) -> Result<(), Vec<Violation>> {
    let mut c = Check {
        violations: Vec::new(),
        today,
        directory,
    };
    c.text("request_id", &request.request_id, true, MAX_REQUEST_ID);
    match request.referral.as_ref() {
        None => c.fail("referral", "is required"),
        Some(r) => {
            c.text(
                "referral.referring_organisation",
                &r.referring_organisation,
                true,
                MAX_ORGANISATION,
            );
            c.text(
                "referral.referrer_reference",
                &r.referrer_reference,
                false,
                MAX_REFERENCE,
            );
            let detailed = r.details.as_ref().map(pathway_of);
            match (Pathway::try_from(r.pathway), detailed) {
                (Ok(Pathway::Unspecified), _) => {}
                (Ok(claimed), Some(actual)) if claimed != actual => c.fail(
                    "referral.pathway",
                    format!(
                        "is {} but the details are {}; leave pathway unset (intake sets it from \
                         the details) or send {}",
                        claimed.as_str_name(),
                        details_field(actual),
                        actual.as_str_name()
                    ),
                ),
                (Ok(_), _) => {}
                (Err(_), _) => c.fail(
                    "referral.pathway",
                    format!(
                        "{} is not a pathway; leave pathway unset (intake sets it from the details)",
                        r.pathway
                    ),
                ),
            }
            match r.details.as_ref() {
                Some(referral::Details::DomesticAbuse(da)) => domestic_abuse(&mut c, da),
                Some(referral::Details::CommunityMarac(cm)) => community_marac(&mut c, cm),
                Some(referral::Details::Prevent(p)) => prevent(&mut c, p),
                None => c.fail(
                    "referral.details",
                    "is required: one of domestic_abuse, community_marac or prevent",
                ),
            }
        }
    }
    if c.violations.is_empty() {
        Ok(())
    } else {
        Err(c.violations)
    }
}

fn domestic_abuse(c: &mut Check, da: &DomesticAbuseReferral) {
    const P: &str = "referral.domestic_abuse";
    let incident_date = c.incident(P, da.incident.as_ref());
    c.person(
        &format!("{P}.victim"),
        da.victim.as_ref(),
        PersonRules {
            date_of_birth_required: true,
            residence_required: Some(
                "the victim's current residence decides which area's MARAC hears the case",
            ),
        },
    );
    c.person(
        &format!("{P}.perpetrator"),
        da.perpetrator.as_ref(),
        PersonRules {
            date_of_birth_required: false,
            residence_required: None,
        },
    );

    if da.dash_answers.len() != DASH_QUESTIONS {
        c.fail(
            format!("{P}.dash_answers"),
            format!(
                "must have exactly {DASH_QUESTIONS} answers, one per DASH question (got {})",
                da.dash_answers.len()
            ),
        );
    }
    for (i, a) in da.dash_answers.iter().enumerate() {
        if matches!(
            DashAnswer::try_from(*a),
            Ok(DashAnswer::Unspecified) | Err(_)
        ) {
            c.fail(
                format!("{P}.dash_answers[{i}]"),
                "must be YES, NO or NOT_KNOWN",
            );
        }
    }

    let pj = da.professional_judgement.clone().unwrap_or_default();
    c.reasons(
        &format!("{P}.professional_judgement"),
        "applies",
        pj.applies,
        &pj.reasons,
        "reasons",
    );

    if da.police_reported_incident_dates.len() > MAX_INCIDENT_DATES {
        c.fail(
            format!("{P}.police_reported_incident_dates"),
            format!("at most {MAX_INCIDENT_DATES} dates"),
        );
    }
    for (i, d) in da.police_reported_incident_dates.iter().enumerate() {
        let field = format!("{P}.police_reported_incident_dates[{i}]");
        if let (Some(date), Some(incident)) = (c.past_date(&field, d), incident_date)
            && date > incident
        {
            c.fail(
                field,
                format!("{date} is after the incident date {incident}"),
            );
        }
    }

    c.consent(P, da.consent, &da.lawful_basis);
    c.do_not_inform(P, &da.do_not_inform);
    for (i, r) in da.risk_indicators.iter().enumerate() {
        if matches!(
            RiskIndicator::try_from(*r),
            Ok(RiskIndicator::Unspecified) | Err(_)
        ) {
            c.fail(
                format!("{P}.risk_indicators[{i}]"),
                "must be a known risk indicator: RISK_INDICATOR_SUICIDE_OR_SELF_HARM",
            );
        }
    }
}

fn community_marac(c: &mut Check, cm: &CommunityMaracReferral) {
    const P: &str = "referral.community_marac";
    const CONCERNS: &str = "CONCERN_ANTI_SOCIAL_BEHAVIOUR, CONCERN_PUBLIC_DISORDER, CONCERN_CRIME, \
                            CONCERN_SUICIDE_THREAT or CONCERN_SUICIDE_ATTEMPT";
    c.incident(P, cm.incident.as_ref());
    c.person(
        &format!("{P}.subject"),
        cm.subject.as_ref(),
        PersonRules {
            date_of_birth_required: false,
            residence_required: Some(
                "the person's residence decides whose statutory services are notified and invited",
            ),
        },
    );

    if cm.concerns.is_empty() {
        c.fail(
            format!("{P}.concerns"),
            format!("at least one concern is required: {CONCERNS}"),
        );
    }
    for (i, concern) in cm.concerns.iter().enumerate() {
        if matches!(
            Concern::try_from(*concern),
            Ok(Concern::Unspecified) | Err(_)
        ) {
            c.fail(
                format!("{P}.concerns[{i}]"),
                format!("must be one of {CONCERNS}"),
            );
        }
    }

    c.reasons(
        P,
        "vulnerable",
        cm.vulnerable,
        &cm.vulnerability_reasons,
        "vulnerability_reasons",
    );
    if let Some(score) = cm.risk_score
        && score > MAX_RISK_SCORE
    {
        c.fail(
            format!("{P}.risk_score"),
            format!(
                "must be at most {MAX_RISK_SCORE} (got {score}): the total of the local risk \
                 matrix; leave it unset when the case was not scored"
            ),
        );
    }
    c.consent(P, cm.consent, &cm.lawful_basis);
    c.do_not_inform(P, &cm.do_not_inform);
}

fn prevent(c: &mut Check, p: &PreventReferral) {
    const P: &str = "referral.prevent";
    c.incident(P, p.incident.as_ref());
    let born = c.person(
        &format!("{P}.subject"),
        p.subject.as_ref(),
        PersonRules {
            date_of_birth_required: true,
            residence_required: Some(
                "the person's residence decides which local authority's Channel panel and which \
                 police force's Prevent team take the case",
            ),
        },
    );
    c.text(
        &format!("{P}.concern_summary"),
        &p.concern_summary,
        true,
        MAX_CONCERN_SUMMARY,
    );

    let field = format!("{P}.consent");
    let age = born.map(|b| age_on(b, c.today));
    match PreventConsent::try_from(p.consent) {
        Ok(PreventConsent::Unspecified) | Err(_) => c.fail(
            field,
            "is required: PREVENT_CONSENT_NOT_YET_SOUGHT, PREVENT_CONSENT_GIVEN (18 or over), \
             PREVENT_CONSENT_GIVEN_BY_PARENT (under 18) or PREVENT_CONSENT_REFUSED",
        ),
        Ok(PreventConsent::Given) => {
            if let Some(age) = age.filter(|&a| a < ADULT_AGE) {
                c.fail(
                    field,
                    format!(
                        "the person is {age}: a child's consent to Channel is a parent's or \
                         guardian's; use PREVENT_CONSENT_GIVEN_BY_PARENT"
                    ),
                );
            }
        }
        Ok(PreventConsent::GivenByParent) => {
            if let Some(age) = age.filter(|&a| a >= ADULT_AGE) {
                c.fail(
                    field,
                    format!(
                        "the person is {age}: an adult gives their own consent; use \
                         PREVENT_CONSENT_GIVEN"
                    ),
                );
            }
        }
        Ok(PreventConsent::NotYetSought | PreventConsent::Refused) => {}
    }
    c.do_not_inform(P, &p.do_not_inform);
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_platform::reference::BUILT_IN_AREAS;
    use refroute_proto::v1::{ProfessionalJudgement, Referral};
    use std::sync::LazyLock;

    /// The shipped directory: London and the home counties.
    static DIRECTORY: LazyLock<Directory> =
        LazyLock::new(|| Directory::from_toml(BUILT_IN_AREAS).unwrap());

    fn today() -> NaiveDate {
        "2026-11-23".parse().unwrap()
    }

    fn check(r: &CreateReferralRequest) -> Result<(), Vec<Violation>> {
        validate(r, today(), &DIRECTORY)
    }

    fn in_area(code: &str) -> Option<Residence> {
        Some(Residence {
            kind: Some(residence::Kind::LocalAuthorityCode(code.into())),
        })
    }

    fn at_postcode(postcode: &str) -> Option<Residence> {
        Some(Residence {
            kind: Some(residence::Kind::Postcode(postcode.into())),
        })
    }

    fn person(name: &str, dob: &str, residence: Option<Residence>) -> Person {
        Person {
            full_name: name.into(),
            date_of_birth: dob.into(),
            residence,
        }
    }

    fn incident(date: &str, area: &str) -> Option<Incident> {
        Some(Incident {
            date: date.into(),
            area_code: area.into(),
        })
    }

    fn request(details: referral::Details) -> CreateReferralRequest {
        CreateReferralRequest {
            request_id: "req-1".into(),
            referral: Some(Referral {
                referring_organisation: "City of London Police".into(),
                details: Some(details),
                ..Default::default()
            }),
        }
    }

    fn valid() -> CreateReferralRequest {
        request(referral::Details::DomesticAbuse(DomesticAbuseReferral {
            incident: incident("2026-11-20", "E09000001"),
            victim: Some(person("Jane Doe", "1990-01-02", in_area("E09000001"))),
            perpetrator: Some(person("John Doe", "", None)),
            dash_answers: vec![DashAnswer::Yes as i32; 24],
            consent: ConsentState::Given as i32,
            ..Default::default()
        }))
    }

    /// ASB and a suicide threat on a City bridge; the subject lives in Hackney.
    fn valid_community() -> CreateReferralRequest {
        request(referral::Details::CommunityMarac(CommunityMaracReferral {
            incident: incident("2026-11-01", "E09000001"),
            subject: Some(person("Robin Example", "", at_postcode("E8 1DY"))),
            concerns: vec![
                Concern::AntiSocialBehaviour as i32,
                Concern::SuicideThreat as i32,
            ],
            vulnerable: true,
            vulnerability_reasons: vec!["Repeated crisis presentations".into()],
            consent: ConsentState::Given as i32,
            ..Default::default()
        }))
    }

    /// A 16-year-old living in Medway; a parent consented.
    fn valid_prevent() -> CreateReferralRequest {
        request(referral::Details::Prevent(PreventReferral {
            incident: incident("2026-11-01", "E09000001"),
            subject: Some(person(
                "Casey Example",
                "2010-03-14",
                at_postcode("ME7 1AA"),
            )),
            concern_summary: "Concern raised by school".into(),
            consent: PreventConsent::GivenByParent as i32,
            ..Default::default()
        }))
    }

    fn referral_of(r: &mut CreateReferralRequest) -> &mut Referral {
        r.referral.as_mut().unwrap()
    }

    fn da(r: &mut CreateReferralRequest) -> &mut DomesticAbuseReferral {
        match referral_of(r).details.as_mut() {
            Some(referral::Details::DomesticAbuse(d)) => d,
            _ => panic!("not domestic abuse"),
        }
    }

    fn cm(r: &mut CreateReferralRequest) -> &mut CommunityMaracReferral {
        match referral_of(r).details.as_mut() {
            Some(referral::Details::CommunityMarac(d)) => d,
            _ => panic!("not community MARAC"),
        }
    }

    fn pv(r: &mut CreateReferralRequest) -> &mut PreventReferral {
        match referral_of(r).details.as_mut() {
            Some(referral::Details::Prevent(d)) => d,
            _ => panic!("not Prevent"),
        }
    }

    fn victim(r: &mut CreateReferralRequest) -> &mut Person {
        da(r).victim.as_mut().unwrap()
    }

    fn subject(r: &mut CreateReferralRequest) -> &mut Person {
        match referral_of(r).details.as_mut() {
            Some(referral::Details::CommunityMarac(d)) => d.subject.as_mut().unwrap(),
            Some(referral::Details::Prevent(d)) => d.subject.as_mut().unwrap(),
            _ => panic!("no subject"),
        }
    }

    fn fields(r: &CreateReferralRequest) -> Vec<String> {
        match check(r) {
            Ok(()) => vec![],
            Err(v) => v.into_iter().map(|v| v.field).collect(),
        }
    }

    /// The one violation a request has, for checking its message.
    fn only(r: &CreateReferralRequest) -> Violation {
        let mut v = check(r).unwrap_err();
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    type Case = (
        &'static str,
        fn() -> CreateReferralRequest,
        fn(&mut CreateReferralRequest),
        &'static [&'static str],
    );

    /// Each rule at its boundary: the valid side and the refused side, and exactly the fields
    /// refused.
    const CASES: &[Case] = &[
        // Details and pathway.
        ("domestic abuse as sent", valid, |_| {}, &[]),
        ("community MARAC as sent", valid_community, |_| {}, &[]),
        ("prevent as sent", valid_prevent, |_| {}, &[]),
        (
            "no details",
            valid,
            |r| referral_of(r).details = None,
            &["referral.details"],
        ),
        (
            "pathway matching the details",
            valid_community,
            |r| referral_of(r).pathway = Pathway::CommunityMarac as i32,
            &[],
        ),
        (
            "pathway not matching the details",
            valid,
            |r| referral_of(r).pathway = Pathway::Prevent as i32,
            &["referral.pathway"],
        ),
        (
            "pathway not a pathway",
            valid_prevent,
            |r| referral_of(r).pathway = 99,
            &["referral.pathway"],
        ),
        // Area codes.
        (
            "incident area unknown",
            valid,
            |r| da(r).incident.as_mut().unwrap().area_code = "E09000099".into(),
            &["referral.domestic_abuse.incident.area_code"],
        ),
        (
            "incident area malformed",
            valid_community,
            |r| cm(r).incident.as_mut().unwrap().area_code = "SW1A 1AA".into(),
            &["referral.community_marac.incident.area_code"],
        ),
        (
            "incident area in the home counties",
            valid_prevent,
            |r| pv(r).incident.as_mut().unwrap().area_code = "e06000035".into(),
            &[],
        ),
        (
            "residence authority elsewhere in the UK (Cardiff)",
            valid,
            |r| victim(r).residence = in_area("W06000015"),
            &[],
        ),
        (
            "residence in a London borough that does not exist",
            valid,
            |r| victim(r).residence = in_area("E09000034"),
            &["referral.domestic_abuse.victim.residence.local_authority_code"],
        ),
        (
            "residence code that is not a local authority (a police force area)",
            valid,
            |r| victim(r).residence = in_area("E23000001"),
            &["referral.domestic_abuse.victim.residence.local_authority_code"],
        ),
        (
            "residence authority empty",
            valid,
            |r| victim(r).residence = in_area(""),
            &["referral.domestic_abuse.victim.residence.local_authority_code"],
        ),
        // Residence by postcode.
        (
            "full postcode",
            valid,
            |r| victim(r).residence = at_postcode("EC2M 7PY"),
            &[],
        ),
        (
            "postcode unspaced and lower case",
            valid,
            |r| victim(r).residence = at_postcode("ec2m7py"),
            &[],
        ),
        (
            "partial postcode goes to review, not refused",
            valid,
            |r| victim(r).residence = at_postcode("EC2M"),
            &[],
        ),
        (
            "postcode sector goes to review, not refused",
            valid_community,
            |r| subject(r).residence = at_postcode("E8 1"),
            &[],
        ),
        (
            "Northern Irish postcode goes to review, not refused",
            valid_prevent,
            |r| subject(r).residence = at_postcode("BT1 1AA"),
            &[],
        ),
        (
            "well-formed postcode not in the data goes to review, not refused",
            valid,
            |r| victim(r).residence = at_postcode("ZZ9 9ZZ"),
            &[],
        ),
        (
            "malformed postcode",
            valid,
            |r| victim(r).residence = at_postcode("XYZ"),
            &["referral.domestic_abuse.victim.residence.postcode"],
        ),
        (
            "empty postcode",
            valid_community,
            |r| subject(r).residence = at_postcode(" "),
            &["referral.community_marac.subject.residence.postcode"],
        ),
        (
            "postcode of 16 characters (spaced out)",
            valid,
            |r| victim(r).residence = at_postcode("  E C 2 M 7 P Y "),
            &[],
        ),
        (
            "postcode of 17 characters",
            valid,
            |r| victim(r).residence = at_postcode("  E C 2 M 7 P Y  "),
            &["referral.domestic_abuse.victim.residence.postcode"],
        ),
        (
            "perpetrator residence checked when given",
            valid,
            |r| da(r).perpetrator.as_mut().unwrap().residence = at_postcode("12345"),
            &["referral.domestic_abuse.perpetrator.residence.postcode"],
        ),
        // No fixed abode.
        (
            "no fixed abode",
            valid,
            |r| {
                victim(r).residence = Some(Residence {
                    kind: Some(residence::Kind::NoFixedAbode(true)),
                })
            },
            &[],
        ),
        (
            "no_fixed_abode false",
            valid_prevent,
            |r| {
                subject(r).residence = Some(Residence {
                    kind: Some(residence::Kind::NoFixedAbode(false)),
                })
            },
            &["referral.prevent.subject.residence.no_fixed_abode"],
        ),
        (
            "residence with no kind",
            valid,
            |r| victim(r).residence = Some(Residence { kind: None }),
            &["referral.domestic_abuse.victim.residence"],
        ),
        // Domestic abuse risk indicators.
        (
            "suicide or self-harm indicator",
            valid,
            |r| da(r).risk_indicators = vec![RiskIndicator::SuicideOrSelfHarm as i32],
            &[],
        ),
        (
            "unspecified and unknown risk indicators",
            valid,
            |r| {
                da(r).risk_indicators = vec![
                    RiskIndicator::SuicideOrSelfHarm as i32,
                    RiskIndicator::Unspecified as i32,
                    7,
                ]
            },
            &[
                "referral.domestic_abuse.risk_indicators[1]",
                "referral.domestic_abuse.risk_indicators[2]",
            ],
        ),
        // Community MARAC.
        (
            "community: no incident",
            valid_community,
            |r| cm(r).incident = None,
            &["referral.community_marac.incident"],
        ),
        (
            "community: incident in the future",
            valid_community,
            |r| cm(r).incident.as_mut().unwrap().date = "2026-11-24".into(),
            &["referral.community_marac.incident.date"],
        ),
        (
            "community: no subject",
            valid_community,
            |r| cm(r).subject = None,
            &["referral.community_marac.subject"],
        ),
        (
            "community: subject without name or residence",
            valid_community,
            |r| *subject(r) = person(" ", "", None),
            &[
                "referral.community_marac.subject.full_name",
                "referral.community_marac.subject.residence",
            ],
        ),
        (
            "community: subject's date of birth checked when given",
            valid_community,
            |r| subject(r).date_of_birth = "1990-02-30".into(),
            &["referral.community_marac.subject.date_of_birth"],
        ),
        (
            "community: subject's date of birth given",
            valid_community,
            |r| subject(r).date_of_birth = "1990-02-28".into(),
            &[],
        ),
        (
            "community: no concerns",
            valid_community,
            |r| cm(r).concerns.clear(),
            &["referral.community_marac.concerns"],
        ),
        (
            "community: suicide threat alone is for triage to decline",
            valid_community,
            |r| cm(r).concerns = vec![Concern::SuicideThreat as i32],
            &[],
        ),
        (
            "community: suicide attempt and threat alone are for triage to decline",
            valid_community,
            |r| {
                cm(r).concerns = vec![
                    Concern::SuicideAttempt as i32,
                    Concern::SuicideThreat as i32,
                ]
            },
            &[],
        ),
        (
            "community: unspecified and unknown concerns",
            valid_community,
            |r| cm(r).concerns = vec![Concern::Crime as i32, Concern::Unspecified as i32, 42],
            &[
                "referral.community_marac.concerns[1]",
                "referral.community_marac.concerns[2]",
            ],
        ),
        (
            "community: vulnerable without reasons",
            valid_community,
            |r| cm(r).vulnerability_reasons.clear(),
            &["referral.community_marac.vulnerability_reasons"],
        ),
        (
            "community: vulnerable with a blank reason only",
            valid_community,
            |r| cm(r).vulnerability_reasons = vec!["  ".into()],
            &["referral.community_marac.vulnerability_reasons"],
        ),
        (
            "community: reasons but not vulnerable",
            valid_community,
            |r| cm(r).vulnerable = false,
            &["referral.community_marac.vulnerable"],
        ),
        (
            "community: neither vulnerable nor reasons",
            valid_community,
            |r| {
                cm(r).vulnerable = false;
                cm(r).vulnerability_reasons.clear();
            },
            &[],
        ),
        (
            "community: too many reasons",
            valid_community,
            |r| cm(r).vulnerability_reasons = vec!["r".into(); MAX_REASONS + 1],
            &["referral.community_marac.vulnerability_reasons"],
        ),
        (
            "community: risk score 1000",
            valid_community,
            |r| cm(r).risk_score = Some(1000),
            &[],
        ),
        (
            "community: risk score 1001",
            valid_community,
            |r| cm(r).risk_score = Some(1001),
            &["referral.community_marac.risk_score"],
        ),
        (
            "community: risk score 0",
            valid_community,
            |r| cm(r).risk_score = Some(0),
            &[],
        ),
        (
            "community: refused consent needs a lawful basis",
            valid_community,
            |r| cm(r).consent = ConsentState::Refused as i32,
            &["referral.community_marac.lawful_basis"],
        ),
        (
            "community: refused consent with a lawful basis",
            valid_community,
            |r| {
                cm(r).consent = ConsentState::Refused as i32;
                cm(r).lawful_basis = "Crime and Disorder Act 1998 s.115".into();
            },
            &[],
        ),
        (
            "community: consent unspecified",
            valid_community,
            |r| cm(r).consent = ConsentState::Unspecified as i32,
            &["referral.community_marac.consent"],
        ),
        (
            "community: blank do-not-inform entry",
            valid_community,
            |r| cm(r).do_not_inform = vec!["Neighbour".into(), "".into()],
            &["referral.community_marac.do_not_inform[1]"],
        ),
        // Prevent.
        (
            "prevent: no incident",
            valid_prevent,
            |r| pv(r).incident = None,
            &["referral.prevent.incident"],
        ),
        (
            "prevent: no subject",
            valid_prevent,
            |r| pv(r).subject = None,
            &["referral.prevent.subject"],
        ),
        (
            "prevent: date of birth is required",
            valid_prevent,
            |r| subject(r).date_of_birth.clear(),
            &["referral.prevent.subject.date_of_birth"],
        ),
        (
            "prevent: residence is required",
            valid_prevent,
            |r| subject(r).residence = None,
            &["referral.prevent.subject.residence"],
        ),
        (
            "prevent: residence by local authority",
            valid_prevent,
            |r| subject(r).residence = in_area("E06000035"),
            &[],
        ),
        (
            "prevent: concern summary is required",
            valid_prevent,
            |r| pv(r).concern_summary = " ".into(),
            &["referral.prevent.concern_summary"],
        ),
        (
            "prevent: concern summary of 4000 characters",
            valid_prevent,
            |r| pv(r).concern_summary = "é".repeat(MAX_CONCERN_SUMMARY),
            &[],
        ),
        (
            "prevent: concern summary of 4001 characters",
            valid_prevent,
            |r| pv(r).concern_summary = "x".repeat(MAX_CONCERN_SUMMARY + 1),
            &["referral.prevent.concern_summary"],
        ),
        (
            "prevent: consent unspecified",
            valid_prevent,
            |r| pv(r).consent = PreventConsent::Unspecified as i32,
            &["referral.prevent.consent"],
        ),
        (
            "prevent: consent not a value",
            valid_prevent,
            |r| pv(r).consent = 9,
            &["referral.prevent.consent"],
        ),
        (
            "prevent: 17 the day before the 18th birthday, parent's consent",
            valid_prevent,
            |r| subject(r).date_of_birth = "2008-11-24".into(),
            &[],
        ),
        (
            "prevent: 17 the day before the 18th birthday, own consent",
            valid_prevent,
            |r| {
                subject(r).date_of_birth = "2008-11-24".into();
                pv(r).consent = PreventConsent::Given as i32;
            },
            &["referral.prevent.consent"],
        ),
        (
            "prevent: 18 on the birthday, own consent",
            valid_prevent,
            |r| {
                subject(r).date_of_birth = "2008-11-23".into();
                pv(r).consent = PreventConsent::Given as i32;
            },
            &[],
        ),
        (
            "prevent: 18 on the birthday, parent's consent",
            valid_prevent,
            |r| subject(r).date_of_birth = "2008-11-23".into(),
            &["referral.prevent.consent"],
        ),
        (
            "prevent: a child, consent not yet sought",
            valid_prevent,
            |r| pv(r).consent = PreventConsent::NotYetSought as i32,
            &[],
        ),
        (
            "prevent: an adult, consent refused",
            valid_prevent,
            |r| {
                subject(r).date_of_birth = "1970-01-01".into();
                pv(r).consent = PreventConsent::Refused as i32;
            },
            &[],
        ),
        (
            "prevent: date of birth in the future (no age, so no consent violation)",
            valid_prevent,
            |r| {
                subject(r).date_of_birth = "2027-01-01".into();
                pv(r).consent = PreventConsent::Given as i32;
            },
            &["referral.prevent.subject.date_of_birth"],
        ),
        (
            "prevent: blank do-not-inform entry",
            valid_prevent,
            |r| pv(r).do_not_inform = vec![" ".into()],
            &["referral.prevent.do_not_inform[0]"],
        ),
    ];

    #[test]
    fn each_rule_at_its_boundary() {
        let mut failures = Vec::new();
        for (name, base, change, expected) in CASES {
            let mut r = base();
            change(&mut r);
            let got = fields(&r);
            if got != *expected {
                failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn every_bad_field_is_named_in_one_answer() {
        let mut r = valid();
        r.request_id.clear();
        let d = da(&mut r);
        d.dash_answers.truncate(23);
        d.incident.as_mut().unwrap().area_code = "E09999999".into();
        d.incident.as_mut().unwrap().date = "2027-01-01".into();
        d.victim = None;
        d.professional_judgement = Some(ProfessionalJudgement {
            applies: true,
            reasons: vec![],
        });
        d.perpetrator.as_mut().unwrap().full_name = "x".repeat(201);
        assert_eq!(
            fields(&r),
            vec![
                "request_id",
                "referral.domestic_abuse.incident.area_code",
                "referral.domestic_abuse.incident.date",
                "referral.domestic_abuse.victim",
                "referral.domestic_abuse.perpetrator.full_name",
                "referral.domestic_abuse.dash_answers",
                "referral.domestic_abuse.professional_judgement.reasons",
            ]
        );
    }

    #[test]
    fn names_the_unanswered_dash_question() {
        let mut r = valid();
        da(&mut r).dash_answers[5] = DashAnswer::Unspecified as i32;
        da(&mut r).dash_answers[6] = 99;
        assert_eq!(
            fields(&r),
            vec![
                "referral.domestic_abuse.dash_answers[5]",
                "referral.domestic_abuse.dash_answers[6]"
            ]
        );
    }

    #[test]
    fn professional_judgement_needs_reasons_and_reasons_need_it() {
        let mut r = valid();
        da(&mut r).professional_judgement = Some(ProfessionalJudgement {
            applies: false,
            reasons: vec!["Escalating threats".into()],
        });
        assert_eq!(
            fields(&r),
            vec!["referral.domestic_abuse.professional_judgement.applies"]
        );
        da(&mut r).professional_judgement.as_mut().unwrap().applies = true;
        assert_eq!(check(&r), Ok(()));
    }

    #[test]
    fn sharing_without_consent_needs_a_lawful_basis() {
        let mut r = valid();
        da(&mut r).consent = ConsentState::NotSoughtUnsafe as i32;
        assert_eq!(fields(&r), vec!["referral.domestic_abuse.lawful_basis"]);
        da(&mut r).lawful_basis = "DPA 2018 s.35; Crime and Disorder Act 1998 s.115".into();
        assert_eq!(check(&r), Ok(()));
        da(&mut r).consent = ConsentState::Unspecified as i32;
        assert_eq!(fields(&r), vec!["referral.domestic_abuse.consent"]);
    }

    #[test]
    fn incident_dates_must_be_real_past_and_not_after_the_incident() {
        let mut r = valid();
        da(&mut r).police_reported_incident_dates = vec![
            "2026-11-01".into(),
            "2026-13-01".into(),
            "2026-11-21".into(),
            "2026-11-24".into(),
        ];
        assert_eq!(
            fields(&r),
            vec![
                "referral.domestic_abuse.police_reported_incident_dates[1]",
                "referral.domestic_abuse.police_reported_incident_dates[2]",
                "referral.domestic_abuse.police_reported_incident_dates[3]",
            ]
        );
    }

    #[test]
    fn today_is_not_the_future() {
        let mut r = valid();
        da(&mut r).incident.as_mut().unwrap().date = "2026-11-23".into();
        assert_eq!(check(&r), Ok(()));
    }

    #[test]
    fn pathway_follows_the_details() {
        for (r, pathway) in [
            (valid(), Pathway::DomesticAbuse),
            (valid_community(), Pathway::CommunityMarac),
            (valid_prevent(), Pathway::Prevent),
        ] {
            let details = r.referral.unwrap().details.unwrap();
            assert_eq!(pathway_of(&details), pathway);
        }
    }

    /// The messages tell an integrator what to send instead.
    #[test]
    fn messages_say_what_to_send() {
        let mut r = valid();
        referral_of(&mut r).details = None;
        assert_eq!(
            only(&r).description,
            "is required: one of domestic_abuse, community_marac or prevent"
        );

        let mut r = valid();
        referral_of(&mut r).pathway = Pathway::Prevent as i32;
        let v = only(&r).description;
        assert!(v.contains("PATHWAY_PREVENT"), "{v}");
        assert!(v.contains("domestic_abuse"), "{v}");
        assert!(v.contains("send PATHWAY_DOMESTIC_ABUSE"), "{v}");

        let mut r = valid();
        da(&mut r).incident.as_mut().unwrap().area_code = "e09000099".into();
        let v = only(&r).description;
        assert!(
            v.starts_with("'E09000099' is not a local authority in refroute's area directory"),
            "{v}"
        );

        let mut r = valid();
        victim(&mut r).residence = in_area("E09000034");
        let v = only(&r).description;
        assert!(v.contains("'E09000034'"), "{v}");
        assert!(v.contains("or give the postcode"), "{v}");

        let mut r = valid();
        victim(&mut r).residence = at_postcode("XYZ");
        let v = only(&r).description;
        assert!(v.starts_with("'XYZ' is not a UK postcode"), "{v}");
        assert!(v.contains("local_authority_code"), "{v}");

        let mut r = valid_prevent();
        subject(&mut r).residence = Some(Residence {
            kind: Some(residence::Kind::NoFixedAbode(false)),
        });
        assert_eq!(
            only(&r).description,
            "must be true when set: set no_fixed_abode to true, or give a postcode or \
             local-authority code"
        );

        let mut r = valid();
        victim(&mut r).residence = None;
        let v = only(&r).description;
        assert!(v.contains("which area's MARAC hears the case"), "{v}");
        assert!(
            v.ends_with("give local_authority_code, postcode or no_fixed_abode"),
            "{v}"
        );

        let mut r = valid_prevent();
        subject(&mut r).date_of_birth = "2008-11-24".into();
        pv(&mut r).consent = PreventConsent::Given as i32;
        assert_eq!(
            only(&r).description,
            "the person is 17: a child's consent to Channel is a parent's or guardian's; use \
             PREVENT_CONSENT_GIVEN_BY_PARENT"
        );

        let mut r = valid_prevent();
        subject(&mut r).date_of_birth = "2008-11-23".into();
        assert_eq!(
            only(&r).description,
            "the person is 18: an adult gives their own consent; use PREVENT_CONSENT_GIVEN"
        );

        let mut r = valid_community();
        cm(&mut r).risk_score = Some(1001);
        let v = only(&r).description;
        assert!(v.starts_with("must be at most 1000 (got 1001)"), "{v}");

        let mut r = valid_community();
        cm(&mut r).vulnerable = false;
        let v = only(&r).description;
        assert!(v.contains("vulnerable is false"), "{v}");
    }
}

/// The copy-paste examples in deploy/examples are what the running service accepts (or, for the
/// invalid one, refuses) today, under the shipped directory.
#[cfg(test)]
mod examples {
    use super::*;
    use refroute_platform::reference::BUILT_IN_AREAS;

    fn check(json: &str) -> Result<(), Vec<String>> {
        let request: CreateReferralRequest = serde_json::from_str(json).unwrap();
        let directory = Directory::from_toml(BUILT_IN_AREAS).unwrap();
        let today = chrono::Utc::now().date_naive();
        validate(&request, today, &directory).map_err(|v| v.into_iter().map(|v| v.field).collect())
    }

    #[test]
    fn the_valid_examples_are_valid() {
        for (name, json, pathway) in [
            (
                "referral.json",
                include_str!("../../../deploy/examples/referral.json"),
                Pathway::DomesticAbuse,
            ),
            (
                "referral-postcode.json",
                include_str!("../../../deploy/examples/referral-postcode.json"),
                Pathway::DomesticAbuse,
            ),
            (
                "community-marac.json",
                include_str!("../../../deploy/examples/community-marac.json"),
                Pathway::CommunityMarac,
            ),
            (
                "prevent.json",
                include_str!("../../../deploy/examples/prevent.json"),
                Pathway::Prevent,
            ),
        ] {
            assert_eq!(check(json), Ok(()), "{name}");
            let request: CreateReferralRequest = serde_json::from_str(json).unwrap();
            let details = request.referral.unwrap().details.unwrap();
            assert_eq!(pathway_of(&details), pathway, "{name}");
        }
    }

    #[test]
    fn the_invalid_example_names_its_fields() {
        assert_eq!(
            check(include_str!(
                "../../../deploy/examples/invalid-referral.json"
            ))
            .unwrap_err(),
            [
                "referral.domestic_abuse.incident.area_code",
                "referral.domestic_abuse.incident.date",
                "referral.domestic_abuse.victim",
                "referral.domestic_abuse.dash_answers",
                "referral.domestic_abuse.professional_judgement.reasons",
                "referral.domestic_abuse.lawful_basis",
            ]
        );
    }
}
