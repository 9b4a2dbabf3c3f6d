//! The requests that carry referrals: `CreateReferral` (a request id and a referral) and
//! `SupplyResidence` (a referral id and the residence it waits for).

use crate::referral::{self, Context, Referral};
use crate::residence::{self, GivenResidence};
use crate::text::{self, Form};
use crate::violation::{Violation, Violations};
use refroute_domain::AreaCode;
use refroute_proto::v1::{self, CreateReferralRequest, SupplyResidenceRequest};
use uuid::Uuid;

pub const MAX_REQUEST_ID: usize = 128;

/// A referral intake may store: the client's request id, the referral in its canonical wire
/// form (with the receiving area set), and what it parsed to.
#[derive(Debug)]
pub struct NewReferral {
    pub request_id: String,
    pub wire: v1::Referral,
    pub referral: Referral,
}

/// Checks a create request. `received_area` is the deployment's, whatever the client sent.
pub fn create(
    request: &CreateReferralRequest,
    received_area: &AreaCode,
    cx: &Context,
) -> Result<NewReferral, Vec<Violation>> {
    let mut v = Violations::new();
    // Checked but kept exactly as sent: it is the client's idempotency key.
    text::text(
        &mut v,
        "request_id",
        &request.request_id,
        Form::Line,
        true,
        MAX_REQUEST_ID,
    );
    let Some(sent) = request.referral.as_ref() else {
        v.push("referral", "is required");
        return Err(v.into_vec());
    };
    let mut wire = sent.clone();
    wire.received_area_code = received_area.to_string();
    let parsed = referral::parse_into(&mut v, &wire, cx);
    match parsed {
        Some(referral) if v.is_empty() => {
            referral::canonicalise(&mut wire, &referral);
            Ok(NewReferral {
                request_id: request.request_id.clone(),
                wire,
                referral,
            })
        }
        _ => Err(v.into_vec()),
    }
}

/// A residence supplied for a referral waiting in review.
#[derive(Debug)]
pub struct SuppliedResidence {
    pub referral_id: Uuid,
    pub given: GivenResidence,
    /// The canonical wire form, to store on the referral.
    pub wire: v1::Residence,
}

/// Checks a `SupplyResidence` request: a referral id and a residence, checked as
/// `CreateReferral` checks one.
pub fn supply(
    request: &SupplyResidenceRequest,
    cx: &Context,
) -> Result<SuppliedResidence, Vec<Violation>> {
    let mut v = Violations::new();
    let id = request.referral_id.trim().parse::<Uuid>().ok();
    if id.is_none() {
        v.push(
            "referral_id",
            "is not a referral id (the UUID CreateReferral returned)",
        );
    }
    let given = residence::parse(
        &mut v,
        "residence",
        request.residence.as_ref().filter(|r| r.kind.is_some()),
        Some("it is what the referral is waiting for"),
        cx.directory,
    );
    match (id, given, request.residence.as_ref()) {
        (Some(referral_id), Some(given), Some(raw)) if v.is_empty() => Ok(SuppliedResidence {
            referral_id,
            wire: given.canonical_wire(raw),
            given,
        }),
        _ => Err(v.into_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::{MAX_CONCERN_SUMMARY, MAX_REASONS, pathway_of};
    use chrono::NaiveDate;
    use refroute_domain::Directory;
    use refroute_geography::SHIPPED_AREAS;
    use refroute_proto::v1::{
        CommunityMaracReferral, Concern, ConsentState, DashAnswer, DomesticAbuseReferral, Incident,
        Pathway, Person, PreventConsent, PreventReferral, ProfessionalJudgement, Referral,
        Residence, RiskIndicator, referral, residence,
    };
    use std::sync::LazyLock;

    /// The shipped directory: London and the home counties.
    static DIRECTORY: LazyLock<Directory> =
        LazyLock::new(|| Directory::from_toml(SHIPPED_AREAS).unwrap());

    fn today() -> NaiveDate {
        "2026-11-23".parse().unwrap()
    }

    fn check(r: &CreateReferralRequest) -> Result<(), Vec<Violation>> {
        let cx = Context {
            directory: &DIRECTORY,
            today: today(),
        };
        create(r, &AreaCode::city_of_london(), &cx).map(drop)
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
        // Implausible input (refused with the field named, never stored).
        (
            "a police incident in 5000 BC",
            valid,
            |r| da(r).police_reported_incident_dates = vec!["-5000-01-01".into()],
            &["referral.domestic_abuse.police_reported_incident_dates[0]"],
        ),
        (
            "a date of birth not in the canonical form",
            valid,
            |r| victim(r).date_of_birth = "1990-1-2".into(),
            &["referral.domestic_abuse.victim.date_of_birth"],
        ),
        (
            "a date of birth with a sign",
            valid,
            |r| victim(r).date_of_birth = "+1990-01-02".into(),
            &["referral.domestic_abuse.victim.date_of_birth"],
        ),
        (
            "a date before 1900",
            valid,
            |r| da(r).police_reported_incident_dates = vec!["1899-12-31".into()],
            &["referral.domestic_abuse.police_reported_incident_dates[0]"],
        ),
        (
            "the first of 1900 but before the victim was born",
            valid,
            |r| da(r).police_reported_incident_dates = vec!["1900-01-01".into()],
            &["referral.domestic_abuse.police_reported_incident_dates[0]"],
        ),
        (
            "an incident before the victim was born",
            valid,
            |r| victim(r).date_of_birth = "2026-11-21".into(),
            &["referral.domestic_abuse.incident.date"],
        ),
        (
            "an incident on the day the victim was born",
            valid,
            |r| victim(r).date_of_birth = "2026-11-20".into(),
            &[],
        ),
        (
            "a victim of 120",
            valid,
            |r| victim(r).date_of_birth = "1906-11-23".into(),
            &[],
        ),
        (
            "a victim of 121",
            valid,
            |r| victim(r).date_of_birth = "1905-11-23".into(),
            &["referral.domestic_abuse.victim.date_of_birth"],
        ),
        (
            "prevent: an incident before the subject was born",
            valid_prevent,
            |r| pv(r).incident.as_mut().unwrap().date = "2010-03-13".into(),
            &["referral.prevent.incident.date"],
        ),
        (
            "a residence code that names no local authority",
            valid,
            |r| victim(r).residence = in_area("E07999999"),
            &["referral.domestic_abuse.victim.residence.local_authority_code"],
        ),
        (
            "a residence code outside the directory that names one (Manchester)",
            valid,
            |r| victim(r).residence = in_area("e08000003"),
            &[],
        ),
        (
            "the Isle of Man's pseudo code",
            valid_prevent,
            |r| subject(r).residence = in_area("M99999999"),
            &["referral.prevent.subject.residence.local_authority_code"],
        ),
        (
            "a NUL byte in request_id",
            valid,
            |r| r.request_id = "a\u{0}b".into(),
            &["request_id"],
        ),
        (
            "a NUL byte in referring_organisation",
            valid,
            |r| referral_of(r).referring_organisation = "Police\u{0}".into(),
            &["referral.referring_organisation"],
        ),
        (
            "a line break in a name",
            valid,
            |r| victim(r).full_name = "Jane\nDoe".into(),
            &["referral.domestic_abuse.victim.full_name"],
        ),
        (
            "line breaks in a reason",
            valid_community,
            |r| cm(r).vulnerability_reasons = vec!["Seen twice.\nCalls at night.".into()],
            &[],
        ),
        (
            "an escape character in a reason",
            valid_community,
            |r| cm(r).vulnerability_reasons = vec!["Seen \u{1b}[2J".into()],
            &["referral.community_marac.vulnerability_reasons[0]"],
        ),
        (
            "too many concerns",
            valid_community,
            |r| cm(r).concerns = vec![Concern::Crime as i32; 11],
            &["referral.community_marac.concerns"],
        ),
        (
            "too many risk indicators",
            valid,
            |r| da(r).risk_indicators = vec![RiskIndicator::SuicideOrSelfHarm as i32; 11],
            &["referral.domestic_abuse.risk_indicators"],
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

    #[test]
    fn a_huge_request_gets_a_small_answer() {
        let mut r = valid();
        da(&mut r).dash_answers = vec![99; 65_000];
        assert_eq!(fields(&r), vec!["referral.domestic_abuse.dash_answers"]);

        let mut r = valid();
        da(&mut r).police_reported_incident_dates = vec!["x".into(); 100];
        victim(&mut r).date_of_birth = "x".into();
        let v = check(&r).unwrap_err();
        let bytes: usize = v.iter().map(|v| v.field.len() + v.description.len()).sum();
        assert!(bytes < 8 * 1024, "{bytes} bytes");
        let more = &v.last().unwrap().description;
        let listed = v.len() - 1;
        assert!(
            more.starts_with(&format!("{} more", 101 - listed)),
            "{more}"
        );
    }

    #[test]
    fn codes_postcodes_and_names_are_stored_canonical() {
        let mut r = valid();
        da(&mut r).incident.as_mut().unwrap().area_code = " e09000001".into();
        victim(&mut r).residence = at_postcode("ec2m7py");
        victim(&mut r).full_name = " Zoe\u{308}   Smith ".into();
        let cx = Context {
            directory: &DIRECTORY,
            today: today(),
        };
        let new = create(&r, &AreaCode::city_of_london(), &cx).unwrap();
        let Some(referral::Details::DomesticAbuse(d)) = new.wire.details.as_ref() else {
            panic!("domestic abuse")
        };
        assert_eq!(d.incident.as_ref().unwrap().area_code, "E09000001");
        let victim = d.victim.as_ref().unwrap();
        assert_eq!(victim.full_name, "Zoë Smith");
        assert_eq!(
            victim.residence.as_ref().unwrap().kind,
            Some(residence::Kind::Postcode("EC2M 7PY".into()))
        );
        assert_eq!(new.wire.received_area_code, "E09000001");
        assert_eq!(new.wire.pathway, Pathway::DomesticAbuse as i32);
        // What was stored parses to the same referral.
        let again = crate::referral::parse(&new.wire, &cx).unwrap();
        assert_eq!(again.resident(), new.referral.resident());
    }

    #[test]
    fn dates_are_never_echoed() {
        let mut r = valid();
        victim(&mut r).date_of_birth = "1990-1-2".into();
        let v = only(&r).description;
        assert!(!v.contains("1990-1-2"), "{v}");
        assert!(v.contains("YYYY-MM-DD"), "{v}");
    }

    /// The fuzzer starts from these requests, encoded (`fuzz/corpus/parse_and_decide/seed-*`):
    /// a valid referral of each pathway. Regenerate with REFROUTE_WRITE_CORPUS=1.
    #[test]
    fn the_fuzz_seeds_are_the_valid_referrals() {
        use prost::Message;
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_and_decide");
        for (name, r) in [
            ("domestic-abuse", valid()),
            ("community-marac", valid_community()),
            ("prevent", valid_prevent()),
        ] {
            let bytes = r.encode_to_vec();
            let path = dir.join(format!("seed-{name}"));
            if std::env::var_os("REFROUTE_WRITE_CORPUS").is_some() {
                std::fs::write(&path, &bytes).unwrap();
            }
            assert_eq!(
                std::fs::read(&path).unwrap_or_default(),
                bytes,
                "{name}: run with REFROUTE_WRITE_CORPUS=1 to regenerate"
            );
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
        assert!(v.starts_with("is not a UK postcode"), "{v}");
        assert!(!v.contains("XYZ"), "{v}");
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
    use crate::referral::pathway_of;
    use refroute_domain::Directory;
    use refroute_proto::v1::Pathway;

    fn check(json: &str) -> Result<(), Vec<String>> {
        let request: CreateReferralRequest = serde_json::from_str(json).unwrap();
        let directory = Directory::from_toml(refroute_geography::SHIPPED_AREAS).unwrap();
        let cx = Context {
            directory: &directory,
            today: chrono::Utc::now().date_naive(),
        };
        create(&request, &AreaCode::city_of_london(), &cx)
            .map(drop)
            .map_err(|v| v.into_iter().map(|v| v.field).collect())
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
