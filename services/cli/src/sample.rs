//! Builders for referrals on each pathway, used by the demo, the bench and the end-to-end tests.
//! Every request they build passes intake's validation; what varies is what the rules see.

use chrono::{Days, Months, NaiveDate, Utc};
use refroute_domain::age_on;
use refroute_proto::v1::{
    CommunityMaracReferral, Concern, ConsentState, CreateReferralRequest, DashAnswer,
    DomesticAbuseReferral, Incident, Person, PreventConsent, PreventReferral,
    ProfessionalJudgement, Referral, Residence, RiskIndicator, referral, residence,
};

/// The lawful basis the samples give when sharing without consent.
pub const LAWFUL_BASIS: &str = "Crime and Disorder Act 1998 s.115; DPA 2018 s.35 (safeguarding)";

/// Where a sample's person lives, as a referrer may say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lives {
    /// A GSS local-authority code, e.g. `E09000001`.
    Area(String),
    /// A postcode as written, e.g. `EC2M 7PY` (or a partial or Northern Irish one).
    Postcode(String),
    NoFixedAbode,
}

impl Lives {
    pub fn wire(&self) -> Residence {
        let kind = match self {
            Lives::Area(code) => residence::Kind::LocalAuthorityCode(code.clone()),
            Lives::Postcode(pc) => residence::Kind::Postcode(pc.clone()),
            Lives::NoFixedAbode => residence::Kind::NoFixedAbode(true),
        };
        Residence { kind: Some(kind) }
    }
}

/// Anything that builds a `CreateReferralRequest`.
pub trait ToRequest {
    fn request(&self) -> CreateReferralRequest;
}

impl ToRequest for CreateReferralRequest {
    fn request(&self) -> CreateReferralRequest {
        self.clone()
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn wrap(
    request_id: &str,
    organisation: &str,
    reference: &str,
    details: referral::Details,
) -> CreateReferralRequest {
    CreateReferralRequest {
        request_id: request_id.to_string(),
        referral: Some(Referral {
            referring_organisation: organisation.to_string(),
            referrer_reference: reference.to_string(),
            details: Some(details),
            ..Default::default()
        }),
    }
}

/// The setters every sample shares: where the person lives, where it happened, and the
/// referrer's reference (each sample has fields `residence`, `incident_area` and `reference`).
macro_rules! shared_setters {
    () => {
        /// The person lives in the local authority with this GSS code.
        pub fn lives_in(mut self, area: &str) -> Self {
            self.residence = Lives::Area(area.into());
            self
        }

        /// The person lives at this postcode (as written: full, partial or Northern Irish).
        pub fn lives_at_postcode(mut self, postcode: &str) -> Self {
            self.residence = Lives::Postcode(postcode.into());
            self
        }

        pub fn no_fixed_abode(mut self) -> Self {
            self.residence = Lives::NoFixedAbode;
            self
        }

        /// It happened in the local authority with this GSS code.
        pub fn incident_in(mut self, area: &str) -> Self {
            self.incident_area = area.into();
            self
        }

        pub fn reference(mut self, reference: &str) -> Self {
            self.reference = reference.into();
            self
        }
    };
}

/// A valid domestic-abuse referral received in the City: victim living in the City (GSS code),
/// incident in the City two days ago, 3 DASH "yes" answers, no criterion met.
#[derive(Clone, Debug)]
pub struct Sample {
    pub request_id: String,
    pub victim_name: String,
    pub victim_dob: String,
    pub residence: Lives,
    pub incident_area: String,
    pub incident_date: NaiveDate,
    pub yes: usize,
    pub professional_judgement: Vec<String>,
    pub police_incidents: Vec<NaiveDate>,
    pub risk_indicators: Vec<RiskIndicator>,
    pub organisation: String,
    pub reference: String,
}

impl Sample {
    shared_setters!();

    pub fn new(victim_name: impl Into<String>) -> Self {
        Self {
            request_id: new_request_id(),
            victim_name: victim_name.into(),
            victim_dob: "1991-04-17".into(),
            residence: Lives::Area("E09000001".into()),
            incident_area: "E09000001".into(),
            incident_date: today() - Days::new(2),
            yes: 3,
            professional_judgement: vec![],
            police_incidents: vec![],
            risk_indicators: vec![],
            organisation: "City of London Police".into(),
            reference: String::new(),
        }
    }

    /// `yes` of the 24 DASH answers are "yes".
    pub fn yes(mut self, yes: usize) -> Self {
        self.yes = yes;
        self
    }

    pub fn born(mut self, date_of_birth: &str) -> Self {
        self.victim_dob = date_of_birth.into();
        self
    }

    pub fn professional_judgement(mut self, reason: &str) -> Self {
        self.professional_judgement.push(reason.into());
        self
    }

    /// The victim has threatened or attempted suicide or self-harm (a local criterion in Kent
    /// and Medway).
    pub fn suicide_or_self_harm(mut self) -> Self {
        self.risk_indicators.push(RiskIndicator::SuicideOrSelfHarm);
        self
    }

    /// `n` police-reported incidents, a month apart, ending on the incident date.
    pub fn police_incidents(mut self, n: u64) -> Self {
        self.police_incidents = (0..n)
            .map(|i| self.incident_date - Days::new(30 * i))
            .collect();
        self
    }

    /// The incident happened `days` ago (police-reported incidents set before move with it).
    pub fn incident_days_ago(mut self, days: u64) -> Self {
        let date = today() - Days::new(days);
        let shift = |d: NaiveDate| d + (date - self.incident_date);
        self.police_incidents = self.police_incidents.iter().map(|d| shift(*d)).collect();
        self.incident_date = date;
        self
    }

    pub fn organisation(mut self, organisation: &str) -> Self {
        self.organisation = organisation.into();
        self
    }

    pub fn request(&self) -> CreateReferralRequest {
        let answers = (0..24)
            .map(|i| {
                if i < self.yes {
                    DashAnswer::Yes
                } else if i % 5 == 0 {
                    DashAnswer::NotKnown
                } else {
                    DashAnswer::No
                }
            } as i32)
            .collect();
        let details = referral::Details::DomesticAbuse(DomesticAbuseReferral {
            incident: Some(Incident {
                date: self.incident_date.to_string(),
                area_code: self.incident_area.clone(),
            }),
            victim: Some(Person {
                full_name: self.victim_name.clone(),
                date_of_birth: self.victim_dob.clone(),
                residence: Some(self.residence.wire()),
            }),
            perpetrator: Some(Person {
                full_name: format!("Partner of {}", self.victim_name),
                date_of_birth: String::new(),
                residence: None,
            }),
            dash_answers: answers,
            professional_judgement: Some(ProfessionalJudgement {
                applies: !self.professional_judgement.is_empty(),
                reasons: self.professional_judgement.clone(),
            }),
            police_reported_incident_dates: self
                .police_incidents
                .iter()
                .map(|d| d.to_string())
                .collect(),
            consent: ConsentState::NotSoughtUnsafe as i32,
            lawful_basis: LAWFUL_BASIS.into(),
            do_not_inform: vec![format!("Partner of {}", self.victim_name)],
            risk_indicators: self.risk_indicators.iter().map(|r| *r as i32).collect(),
            cannot_wait_for_next_meeting: false,
        });
        wrap(
            &self.request_id,
            &self.organisation,
            &self.reference,
            details,
        )
    }
}

impl ToRequest for Sample {
    fn request(&self) -> CreateReferralRequest {
        Sample::request(self)
    }
}

/// A valid Community MARAC referral received in the City: anti-social behaviour in the City two
/// days ago by or against a vulnerable person who lives in the City; consent given.
#[derive(Clone, Debug)]
pub struct CommunitySample {
    pub request_id: String,
    pub subject_name: String,
    pub subject_dob: String,
    pub residence: Lives,
    pub incident_area: String,
    pub incident_date: NaiveDate,
    pub concerns: Vec<Concern>,
    pub vulnerable: bool,
    pub vulnerability_reasons: Vec<String>,
    pub risk_score: Option<u32>,
    pub consent: ConsentState,
    pub organisation: String,
    pub reference: String,
}

impl CommunitySample {
    shared_setters!();

    pub fn new(subject_name: impl Into<String>) -> Self {
        Self {
            request_id: new_request_id(),
            subject_name: subject_name.into(),
            subject_dob: "1979-02-11".into(),
            residence: Lives::Area("E09000001".into()),
            incident_area: "E09000001".into(),
            incident_date: today() - Days::new(2),
            concerns: vec![Concern::AntiSocialBehaviour],
            vulnerable: true,
            vulnerability_reasons: vec![
                "Learning disability; befriended and exploited by local drug dealers".into(),
            ],
            risk_score: None,
            consent: ConsentState::Given,
            organisation: "City of London Police".into(),
            reference: String::new(),
        }
    }

    /// Replaces the concerns.
    pub fn concerns(mut self, concerns: &[Concern]) -> Self {
        self.concerns = concerns.to_vec();
        self
    }

    /// The person is vulnerable, for this reason (added to any others).
    pub fn vulnerable(mut self, reason: &str) -> Self {
        self.vulnerable = true;
        self.vulnerability_reasons.push(reason.into());
        self
    }

    pub fn not_vulnerable(mut self) -> Self {
        self.vulnerable = false;
        self.vulnerability_reasons.clear();
        self
    }

    /// The local risk-matrix total.
    pub fn risk_score(mut self, score: u32) -> Self {
        self.risk_score = Some(score);
        self
    }

    /// Consent was not sought because asking was unsafe; a lawful basis is given instead.
    pub fn consent_not_sought(mut self) -> Self {
        self.consent = ConsentState::NotSoughtUnsafe;
        self
    }

    pub fn request(&self) -> CreateReferralRequest {
        let details = referral::Details::CommunityMarac(CommunityMaracReferral {
            incident: Some(Incident {
                date: self.incident_date.to_string(),
                area_code: self.incident_area.clone(),
            }),
            subject: Some(Person {
                full_name: self.subject_name.clone(),
                date_of_birth: self.subject_dob.clone(),
                residence: Some(self.residence.wire()),
            }),
            concerns: self.concerns.iter().map(|c| *c as i32).collect(),
            vulnerable: self.vulnerable,
            vulnerability_reasons: self.vulnerability_reasons.clone(),
            risk_score: self.risk_score,
            consent: self.consent as i32,
            lawful_basis: if self.consent == ConsentState::Given {
                String::new()
            } else {
                LAWFUL_BASIS.into()
            },
            do_not_inform: vec![],
        });
        wrap(
            &self.request_id,
            &self.organisation,
            &self.reference,
            details,
        )
    }
}

impl ToRequest for CommunitySample {
    fn request(&self) -> CreateReferralRequest {
        CommunitySample::request(self)
    }
}

/// A valid Prevent referral received in the City: a 30-year-old living in the City, concern
/// arising in the City two days ago. Consent, unless set, is what the person's age calls for:
/// their own at 18 or over, a parent's or guardian's under 18.
#[derive(Clone, Debug)]
pub struct PreventSample {
    pub request_id: String,
    pub subject_name: String,
    pub subject_dob: NaiveDate,
    pub residence: Lives,
    pub incident_area: String,
    pub incident_date: NaiveDate,
    pub concern_summary: String,
    /// `None`: given by the person or, under 18, by a parent.
    pub consent: Option<PreventConsent>,
    pub organisation: String,
    pub reference: String,
}

/// A date of birth that makes someone `years` old today (and not about to turn a year older).
pub fn born_years_ago(years: u32) -> NaiveDate {
    today()
        .checked_sub_months(Months::new(12 * years))
        .expect("a representable date")
        - Days::new(30)
}

impl PreventSample {
    shared_setters!();

    pub fn new(subject_name: impl Into<String>) -> Self {
        Self {
            request_id: new_request_id(),
            subject_name: subject_name.into(),
            subject_dob: born_years_ago(30),
            residence: Lives::Area("E09000001".into()),
            incident_area: "E09000001".into(),
            incident_date: today() - Days::new(2),
            concern_summary: "Sharing extremist material with younger pupils; talk of travel"
                .into(),
            consent: None,
            organisation: "City of London Police".into(),
            reference: String::new(),
        }
    }

    /// The person is `years` old today.
    pub fn age(mut self, years: u32) -> Self {
        self.subject_dob = born_years_ago(years);
        self
    }

    pub fn born(mut self, date_of_birth: NaiveDate) -> Self {
        self.subject_dob = date_of_birth;
        self
    }

    pub fn consent(mut self, consent: PreventConsent) -> Self {
        self.consent = Some(consent);
        self
    }

    /// The person's age in whole years today.
    pub fn age_today(&self) -> u32 {
        age_on(self.subject_dob, today())
    }

    pub fn request(&self) -> CreateReferralRequest {
        let consent = self.consent.unwrap_or(if self.age_today() < 18 {
            PreventConsent::GivenByParent
        } else {
            PreventConsent::Given
        });
        let details = referral::Details::Prevent(PreventReferral {
            incident: Some(Incident {
                date: self.incident_date.to_string(),
                area_code: self.incident_area.clone(),
            }),
            subject: Some(Person {
                full_name: self.subject_name.clone(),
                date_of_birth: self.subject_dob.to_string(),
                residence: Some(self.residence.wire()),
            }),
            concern_summary: self.concern_summary.clone(),
            consent: consent as i32,
            do_not_inform: vec![],
        });
        wrap(
            &self.request_id,
            &self.organisation,
            &self.reference,
            details,
        )
    }
}

impl ToRequest for PreventSample {
    fn request(&self) -> CreateReferralRequest {
        PreventSample::request(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_default_consent_follow_the_date_of_birth() {
        for years in [0, 15, 16, 17, 18, 19, 30, 80] {
            assert_eq!(PreventSample::new("A").age(years).age_today(), years);
        }
        let consent = |s: PreventSample| match s.request().referral.unwrap().details {
            Some(referral::Details::Prevent(p)) => p.consent(),
            _ => unreachable!(),
        };
        assert_eq!(
            consent(PreventSample::new("A").age(16)),
            PreventConsent::GivenByParent
        );
        assert_eq!(
            consent(PreventSample::new("A").age(18)),
            PreventConsent::Given
        );
    }

    #[test]
    fn incident_days_ago_keeps_police_incidents_relative_to_the_incident() {
        let s = Sample::new("A").police_incidents(3).incident_days_ago(0);
        assert_eq!(s.police_incidents[0], s.incident_date);
        assert_eq!(s.police_incidents[2], s.incident_date - Days::new(60));
    }
}
