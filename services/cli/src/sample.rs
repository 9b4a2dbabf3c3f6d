//! Builders for domestic-abuse referrals, used by the demo and the end-to-end tests.

use chrono::{Days, NaiveDate, Utc};
use refroute_proto::v1::{
    ConsentState, CreateReferralRequest, DashAnswer, DomesticAbuseReferral, Incident, Person,
    ProfessionalJudgement, Referral, Residence, referral, residence,
};

/// A valid referral received in the City: victim living in the City, no criterion met.
#[derive(Clone, Debug)]
pub struct Sample {
    pub request_id: String,
    pub victim_name: String,
    pub victim_dob: String,
    pub residence: String,
    pub incident_area: String,
    pub incident_date: NaiveDate,
    pub yes: usize,
    pub professional_judgement: Vec<String>,
    pub police_incidents: Vec<NaiveDate>,
    pub organisation: String,
    pub reference: String,
}

impl Sample {
    pub fn new(victim_name: impl Into<String>) -> Self {
        let today = Utc::now().date_naive();
        Self {
            request_id: uuid::Uuid::now_v7().to_string(),
            victim_name: victim_name.into(),
            victim_dob: "1991-04-17".into(),
            residence: "E09000001".into(),
            incident_area: "E09000001".into(),
            incident_date: today - Days::new(2),
            yes: 3,
            professional_judgement: vec![],
            police_incidents: vec![],
            organisation: "City of London Police".into(),
            reference: String::new(),
        }
    }

    pub fn yes(mut self, yes: usize) -> Self {
        self.yes = yes;
        self
    }

    pub fn lives_in(mut self, area: &str) -> Self {
        self.residence = area.into();
        self
    }

    pub fn professional_judgement(mut self, reason: &str) -> Self {
        self.professional_judgement.push(reason.into());
        self
    }

    /// `n` police-reported incidents, a month apart, ending on the incident date.
    pub fn police_incidents(mut self, n: u64) -> Self {
        self.police_incidents = (0..n)
            .map(|i| self.incident_date - Days::new(30 * i))
            .collect();
        self
    }

    /// The incident happened `days` ago.
    pub fn incident_days_ago(mut self, days: u64) -> Self {
        self.incident_date = Utc::now().date_naive() - Days::new(days);
        self
    }

    pub fn reference(mut self, reference: &str) -> Self {
        self.reference = reference.into();
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
        let residence = Residence {
            kind: Some(residence::Kind::LocalAuthorityCode(self.residence.clone())),
        };
        CreateReferralRequest {
            request_id: self.request_id.clone(),
            referral: Some(Referral {
                referring_organisation: self.organisation.clone(),
                referrer_reference: self.reference.clone(),
                details: Some(referral::Details::DomesticAbuse(DomesticAbuseReferral {
                    incident: Some(Incident {
                        date: self.incident_date.to_string(),
                        area_code: self.incident_area.clone(),
                    }),
                    victim: Some(Person {
                        full_name: self.victim_name.clone(),
                        date_of_birth: self.victim_dob.clone(),
                        residence: Some(residence),
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
                    lawful_basis: "Crime and Disorder Act 1998 s.115; DPA 2018 s.35 (safeguarding)"
                        .into(),
                    do_not_inform: vec![format!("Partner of {}", self.victim_name)],
                })),
                ..Default::default()
            }),
        }
    }
}
