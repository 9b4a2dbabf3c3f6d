//! Validation of `CreateReferral`: every bad field is collected, so one answer names them all.
//! Field paths follow the protobuf field names a client wrote.

use chrono::NaiveDate;
use refroute_domain::AreaCode;
use refroute_domain::dash::DASH_QUESTIONS;
use refroute_platform::grpc::Violation;
use refroute_proto::v1::{
    ConsentState, CreateReferralRequest, DashAnswer, DomesticAbuseReferral, Pathway, Person,
    referral, residence,
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

struct Check {
    violations: Vec<Violation>,
    today: NaiveDate,
}

impl Check {
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

    fn area(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.fail(
                field,
                "is required (a GSS local-authority code such as E09000001)",
            );
        } else if let Err(e) = AreaCode::parse(value) {
            self.fail(field, e.to_string());
        }
    }

    fn person(&mut self, path: &str, person: Option<&Person>, residence_required: bool) {
        let Some(p) = person else {
            self.fail(path, "is required");
            return;
        };
        self.text(&format!("{path}.full_name"), &p.full_name, true, MAX_NAME);
        if residence_required || !p.date_of_birth.is_empty() {
            self.past_date(&format!("{path}.date_of_birth"), &p.date_of_birth);
        }
        match p.residence.as_ref().and_then(|r| r.kind.as_ref()) {
            Some(residence::Kind::LocalAuthorityCode(code)) => {
                self.area(&format!("{path}.residence.local_authority_code"), code)
            }
            None if residence_required => self.fail(
                format!("{path}.residence"),
                "is required: the current residence decides which area's MARAC hears the case",
            ),
            None => {}
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Checks a create request against the rules in the proto comments. `today` is injected so
/// "not in the future" is testable.
pub fn validate(request: &CreateReferralRequest, today: NaiveDate) -> Result<(), Vec<Violation>> {
    let mut c = Check {
        violations: Vec::new(),
        today,
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
            if !matches!(
                Pathway::try_from(r.pathway),
                Ok(Pathway::Unspecified | Pathway::DomesticAbuse)
            ) {
                c.fail(
                    "referral.pathway",
                    "only PATHWAY_DOMESTIC_ABUSE is accepted",
                );
            }
            match r.details.as_ref() {
                Some(referral::Details::DomesticAbuse(da)) => domestic_abuse(&mut c, da),
                None => c.fail("referral.domestic_abuse", "is required"),
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
    let incident_date = match da.incident.as_ref() {
        None => {
            c.fail(format!("{P}.incident"), "is required");
            None
        }
        Some(i) => {
            c.area(&format!("{P}.incident.area_code"), &i.area_code);
            c.past_date(&format!("{P}.incident.date"), &i.date)
        }
    };
    c.person(&format!("{P}.victim"), da.victim.as_ref(), true);
    c.person(&format!("{P}.perpetrator"), da.perpetrator.as_ref(), false);

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
    let given = pj.reasons.iter().filter(|r| !r.trim().is_empty()).count();
    if pj.applies && given == 0 {
        c.fail(
            format!("{P}.professional_judgement.reasons"),
            "at least one reason is required when professional judgement applies",
        );
    }
    if !pj.applies && !pj.reasons.is_empty() {
        c.fail(
            format!("{P}.professional_judgement.applies"),
            "reasons were given but applies is false; set applies to refer on professional judgement",
        );
    }
    if pj.reasons.len() > MAX_REASONS {
        c.fail(
            format!("{P}.professional_judgement.reasons"),
            format!("at most {MAX_REASONS} reasons"),
        );
    }
    for (i, r) in pj.reasons.iter().enumerate() {
        c.text(
            &format!("{P}.professional_judgement.reasons[{i}]"),
            r,
            false,
            MAX_REASON,
        );
    }

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

    match ConsentState::try_from(da.consent) {
        Ok(ConsentState::Given) => {}
        Ok(ConsentState::Refused | ConsentState::NotSoughtUnsafe) => {
            c.text(
                &format!("{P}.lawful_basis"),
                &da.lawful_basis,
                true,
                MAX_LAWFUL_BASIS,
            );
        }
        _ => c.fail(
            format!("{P}.consent"),
            "is required: GIVEN, REFUSED or NOT_SOUGHT_UNSAFE",
        ),
    }
    if da.do_not_inform.len() > MAX_DO_NOT_INFORM {
        c.fail(
            format!("{P}.do_not_inform"),
            format!("at most {MAX_DO_NOT_INFORM} entries"),
        );
    }
    for (i, who) in da.do_not_inform.iter().enumerate() {
        c.text(&format!("{P}.do_not_inform[{i}]"), who, true, MAX_NAME);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_proto::v1::{Incident, ProfessionalJudgement, Referral, Residence};

    fn today() -> NaiveDate {
        "2026-11-23".parse().unwrap()
    }

    fn person(name: &str, dob: &str, area: Option<&str>) -> Person {
        Person {
            full_name: name.into(),
            date_of_birth: dob.into(),
            residence: area.map(|a| Residence {
                kind: Some(residence::Kind::LocalAuthorityCode(a.into())),
            }),
        }
    }

    pub fn valid() -> CreateReferralRequest {
        CreateReferralRequest {
            request_id: "req-1".into(),
            referral: Some(Referral {
                referring_organisation: "City of London Police".into(),
                details: Some(referral::Details::DomesticAbuse(DomesticAbuseReferral {
                    incident: Some(Incident {
                        date: "2026-11-20".into(),
                        area_code: "E09000001".into(),
                    }),
                    victim: Some(person("Jane Doe", "1990-01-02", Some("E09000001"))),
                    perpetrator: Some(person("John Doe", "", None)),
                    dash_answers: vec![DashAnswer::Yes as i32; 24],
                    consent: ConsentState::Given as i32,
                    ..Default::default()
                })),
                ..Default::default()
            }),
        }
    }

    fn da(r: &mut CreateReferralRequest) -> &mut DomesticAbuseReferral {
        match r.referral.as_mut().unwrap().details.as_mut().unwrap() {
            referral::Details::DomesticAbuse(d) => d,
        }
    }

    fn fields(r: &CreateReferralRequest) -> Vec<String> {
        validate(r, today())
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn a_complete_referral_is_valid() {
        assert_eq!(validate(&valid(), today()), Ok(()));
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
    fn residence_is_required_and_must_be_known() {
        let mut r = valid();
        da(&mut r).victim.as_mut().unwrap().residence = None;
        assert_eq!(fields(&r), vec!["referral.domestic_abuse.victim.residence"]);
        let mut r = valid();
        da(&mut r).victim = Some(person("Jane", "1990-01-02", Some("W06000015")));
        assert_eq!(
            fields(&r),
            vec!["referral.domestic_abuse.victim.residence.local_authority_code"]
        );
    }

    #[test]
    fn sharing_without_consent_needs_a_lawful_basis() {
        let mut r = valid();
        da(&mut r).consent = ConsentState::NotSoughtUnsafe as i32;
        assert_eq!(fields(&r), vec!["referral.domestic_abuse.lawful_basis"]);
        da(&mut r).lawful_basis = "DPA 2018 s.35; Crime and Disorder Act 1998 s.115".into();
        assert_eq!(validate(&r, today()), Ok(()));
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
        assert_eq!(validate(&r, today()), Ok(()));
    }
}
