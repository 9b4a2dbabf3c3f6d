//! From a parsed referral and where its person resolved to live, the case its pathway's rules
//! decide. Pure: the caller resolves the residence and, for domestic abuse, adds the victim's
//! history (matched by keyed hash) before deciding.

use crate::referral::{Details, Referral};
use refroute_domain::community::CmCase;
use refroute_domain::prevent::PvCase;
use refroute_domain::{DaCase, Residence};

/// A referral ready for the rules of its pathway.
#[derive(Clone, Debug)]
pub enum PathwayCase {
    DomesticAbuse(DaCase),
    CommunityMarac(CmCase),
    Prevent(PvCase),
}

pub fn prepare(referral: &Referral, residence: Residence) -> PathwayCase {
    let received_area = referral.received_area.clone();
    match &referral.details {
        Details::DomesticAbuse(da) => PathwayCase::DomesticAbuse(DaCase {
            received_area,
            residence,
            incident_area: da.incident.area.clone(),
            incident_date: da.incident.date,
            dash: da.dash.clone(),
            professional_judgement_reasons: da.professional_judgement_reasons.clone(),
            police_incident_dates: da.police_incident_dates.clone(),
            // The caller adds what the victim's other referrals reported.
            earlier_incident_dates: Vec::new(),
            indicators: da.indicators.clone(),
        }),
        Details::CommunityMarac(cm) => PathwayCase::CommunityMarac(CmCase {
            received_area,
            incident_area: cm.incident.area.clone(),
            residence,
            concerns: cm.concerns.clone(),
            vulnerable: cm.vulnerable,
            risk_score: cm.risk_score,
        }),
        Details::Prevent(pv) => PathwayCase::Prevent(PvCase {
            received_area,
            incident_area: pv.incident.area.clone(),
            residence,
            age: pv.age,
        }),
    }
}
