//! The scenario corpus: referrals on all three pathways, posted concurrently through the four
//! real services, each checked for where it went and why, and every queue, transfer and notice
//! counted by id afterwards: each case exactly once where it belongs, nothing anywhere else.
//!
//! The main corpus runs in one system receiving referrals in the City of London under the shipped
//! rule set ("london-and-home-counties" version 1). Two criteria exist only under other areas'
//! rules (Islington's Community MARAC risk matrix; Medway's local suicide-or-self-harm
//! criterion), so two smaller tables run in systems receiving there.
//!
//! Terminated postcodes are not in this corpus: the shipped postcode data cannot mark a
//! postcode terminated (services/geography/data/README.md: it has no `doterm`), so they are
//! covered in postcodes_import.rs, after importing an ONSPD file that does.

use chrono::Utc;
use refroute_e2e::{CITY, CommunitySample, PreventSample, Sample, TestSystem, spawn_system_with};
use refroute_geography::{Postcode, PostcodeTable};
use refroute_proto::v1::{
    Case, Concern, CreateReferralRequest, Criterion, Outcome, Panel, Pathway, Referral,
    ReferralStatus, TransferKind, referral,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const HACKNEY: &str = "E09000012";
const TOWER_HAMLETS: &str = "E09000030";
const ISLINGTON: &str = "E09000019";
const CAMDEN: &str = "E09000007";
const WESTMINSTER: &str = "E09000033";
const MEDWAY: &str = "E06000035";
const MAIDSTONE: &str = "E07000110";
const DARTFORD: &str = "E07000107";
const CHELMSFORD: &str = "E07000070";
const GUILDFORD: &str = "E07000209";
/// Beyond London: people live all over the UK (docs/DOMAIN.md 2.2), and the directory has every
/// local authority of Great Britain.
const CARDIFF: &str = "W06000015";
const MANCHESTER: &str = "E08000003";
/// A real local authority outside the directory (Northern Ireland's councils are not in it).
const BELFAST: &str = "N09000003";

const MET: &str = "E23000001";
const CITY_POLICE: &str = "E23000034";
const KENT_POLICE: &str = "E23000032";
const ESSEX_POLICE: &str = "E23000028";
const SURREY_POLICE: &str = "E23000031";
const GREATER_MANCHESTER_POLICE: &str = "E23000005";

/// Real postcodes and the local authority the shipped ONS data places them in (checked by
/// `the_corpus_postcodes_are_where_the_shipped_data_puts_them`).
const POSTCODES: [(&str, &str); 15] = [
    ("EC2M 7PY", CITY),        // Liverpool Street, City of London
    ("E1 6AN", CITY),          // an E1 postcode inside the City (Aldgate)
    ("SW1A 1AA", WESTMINSTER), // Buckingham Palace
    ("ME7 1AA", MEDWAY),       // Gillingham
    ("E8 1EA", HACKNEY),       // Hackney Town Hall, Mare Street
    ("EC2A 4AE", HACKNEY),     // an EC postcode in Hackney (Shoreditch)
    ("E1 1BJ", TOWER_HAMLETS), // Whitechapel
    ("N1 2UD", ISLINGTON),     // Upper Street
    ("EC1V 2PD", ISLINGTON),   // an EC postcode in Islington
    ("WC1H 9JE", CAMDEN),      // Judd Street
    ("ME15 6JQ", MAIDSTONE),   // Kent district: Maidstone
    ("DA1 1DR", DARTFORD),     // Kent district: Dartford
    ("CM1 1JE", CHELMSFORD),   // Essex: Chelmsford
    ("GU2 4BB", GUILDFORD),    // Surrey: Guildford
    ("ec2m7py", CITY),         // as a referrer may type it
];
/// Well formed, and in no table refroute holds.
const UNKNOWN_POSTCODE: &str = "ZZ9 9ZZ";

/// One scenario: what is posted and everything the decision must say.
struct Row {
    name: &'static str,
    /// 0: posted and decided before the rest (earlier referrals that repeats refer back to).
    wave: u8,
    request: CreateReferralRequest,
    status: ReferralStatus,
    destination: &'static str,
    panel: Panel,
    criterion: Criterion,
    /// Every criterion met, when the row pins them all (otherwise the firing one leads).
    met: Option<Vec<Criterion>>,
    reason: Vec<String>,
    transfer: TransferKind,
    police_force: &'static str,
    notify: Vec<&'static str>,
    /// A Community MARAC invitation held back until the residence is known.
    invitation_waits: bool,
    residence: Option<&'static str>,
    age: Option<u32>,
    dash: Option<u32>,
    local: &'static str,
}

fn row(
    name: &'static str,
    request: CreateReferralRequest,
    status: ReferralStatus,
    destination: &'static str,
    panel: Panel,
    criterion: Criterion,
    reason: impl Into<String>,
) -> Row {
    Row {
        name,
        wave: 1,
        request,
        status,
        destination,
        panel,
        criterion,
        met: None,
        reason: vec![reason.into()],
        transfer: TransferKind::Unspecified,
        police_force: "",
        notify: vec![],
        invitation_waits: false,
        residence: None,
        age: None,
        dash: None,
        local: "",
    }
}

impl Row {
    fn first(mut self) -> Self {
        self.wave = 0;
        self
    }
    fn m2m(mut self) -> Self {
        self.transfer = TransferKind::MaracToMarac;
        self
    }
    fn handover(mut self, force: &'static str) -> Self {
        self.transfer = TransferKind::PreventHandover;
        self.police_force = force;
        self
    }
    fn also(mut self, reason: impl Into<String>) -> Self {
        self.reason.push(reason.into());
        self
    }
    fn met(mut self, met: &[Criterion]) -> Self {
        self.met = Some(met.to_vec());
        self
    }
    fn notify(mut self, areas: &[&'static str]) -> Self {
        self.notify = areas.to_vec();
        self
    }
    fn invitation_waits(mut self) -> Self {
        self.invitation_waits = true;
        self
    }
    fn lives(mut self, area: &'static str) -> Self {
        self.residence = Some(area);
        self
    }
    fn age(mut self, age: u32) -> Self {
        self.age = Some(age);
        self
    }
    fn dash(mut self, yes: u32) -> Self {
        self.dash = Some(yes);
        self
    }
    fn local(mut self, id: &'static str) -> Self {
        self.local = id;
        self
    }

    fn pathway(&self) -> Pathway {
        match self
            .request
            .referral
            .as_ref()
            .and_then(|r| r.details.as_ref())
        {
            Some(referral::Details::DomesticAbuse(_)) => Pathway::DomesticAbuse,
            Some(referral::Details::CommunityMarac(_)) => Pathway::CommunityMarac,
            Some(referral::Details::Prevent(_)) => Pathway::Prevent,
            None => Pathway::Unspecified,
        }
    }
}

fn outcome_of(status: ReferralStatus) -> Outcome {
    match status {
        ReferralStatus::Routed => Outcome::Routed,
        ReferralStatus::BelowThreshold => Outcome::BelowThreshold,
        ReferralStatus::TransferRequested => Outcome::TransferRequested,
        ReferralStatus::NeedsReview => Outcome::NeedsReview,
        ReferralStatus::Declined => Outcome::Declined,
        _ => Outcome::Unspecified,
    }
}

/// The City of London corpus under the shipped rules.
fn city_corpus() -> Vec<Row> {
    use Criterion as C;
    use Panel::{Channel, CommunityMarac as Cm, Marac, Review};
    use ReferralStatus::{
        BelowThreshold as Below, Declined, NeedsReview as Review_, Routed,
        TransferRequested as Transfer,
    };
    let today = Utc::now().date_naive();
    let city = "City of London (E09000001)";
    let heard_in_city = format!("Heard at {city} MARAC, where the victim lives");
    let m2m = |to: &str| {
        format!("MARAC-to-MARAC transfer to {to} MARAC, which applies its own threshold")
    };
    let da = |n: &str| Sample::new(format!("{n} Corpus"));
    let cm = |n: &str| CommunitySample::new(format!("{n} Corpus"));
    let pv = |n: &str| PreventSample::new(format!("{n} Corpus"));
    let cm_heard_here = format!(
        "Heard at {city} Community MARAC, where the behaviour happened and the person lives."
    );
    let channel_here =
        "so the case goes to the City of London Channel panel after the police Prevent assessment";

    vec![
        // ---- Domestic abuse: each criterion at its boundary under the City's rules ----
        row("DASH 13 alone is below threshold", da("Dash Thirteen").yes(13).request(), Below, CITY, Marac, C::Unspecified,
            "Below the MARAC threshold under City of London's rules: DASH score 13 (medium risk; threshold 14), 0 police-reported incidents in 12 months (threshold 3), no MARAC referral in the last 12 months, no professional judgement. Signpost to medium risk services")
            .met(&[]).dash(13),
        row("DASH 14 is visible high risk", da("Dash Fourteen").yes(14).request(), Routed, CITY, Marac, C::VisibleHighRisk,
            "Visible high risk: DASH score 14 is at or above City of London's threshold of 14.")
            .also(&heard_in_city).met(&[C::VisibleHighRisk]).dash(14).lives(CITY),
        row("DASH 15 is visible high risk", da("Dash Fifteen").yes(15).request(), Routed, CITY, Marac, C::VisibleHighRisk,
            "DASH score 15 is at or above City of London's threshold of 14").dash(15),
        row("DASH 5 is standard risk", da("Dash Five").yes(5).request(), Below, CITY, Marac, C::Unspecified,
            "DASH score 5 (standard risk; threshold 14)").also("Signpost to standard risk services and tell the referrer.").dash(5),
        row("2 police-reported incidents in 12 months is below threshold", da("Esc Two").yes(2).police_incidents(2).request(), Below, CITY, Marac, C::Unspecified,
            "2 police-reported incidents in 12 months (threshold 3)"),
        row("3 police-reported incidents in 12 months is potential escalation", da("Esc Three").yes(2).police_incidents(3).request(), Routed, CITY, Marac, C::PotentialEscalation,
            "Potential escalation: 3 police-reported incidents in the 12 months to").also("(threshold 3)").met(&[C::PotentialEscalation]),
        row("4 police-reported incidents in 12 months is potential escalation", da("Esc Four").yes(2).police_incidents(4).request(), Routed, CITY, Marac, C::PotentialEscalation,
            "Potential escalation: 4 police-reported incidents in the 12 months to"),
        row("professional judgement raises a low score", da("Pat Judgement").yes(2).professional_judgement("Threats to kill disclosed to the GP").request(), Routed, CITY, Marac, C::ProfessionalJudgement,
            "Professional judgement: the referrer gave 1 reason(s), recorded with the referral.").met(&[C::ProfessionalJudgement]),
        row("professional judgement never lowers, and its free text stays out of the reason", da("Hattie High").yes(18).professional_judgement("She fears for her life").request(), Routed, CITY, Marac, C::VisibleHighRisk,
            "Visible high risk: DASH score 18").met(&[C::VisibleHighRisk, C::ProfessionalJudgement]),
        row("every criterion met is recorded, the score first", da("Mia Many").yes(16).police_incidents(3).professional_judgement("Escalating stalking").request(), Routed, CITY, Marac, C::VisibleHighRisk,
            "Potential escalation: 3 police-reported incidents").met(&[C::VisibleHighRisk, C::PotentialEscalation, C::ProfessionalJudgement]),
        row("suicide or self-harm is not a criterion under the City's rules", da("Sol Suicide").yes(3).suicide_or_self_harm().request(), Below, CITY, Marac, C::Unspecified,
            "Below the MARAC threshold under City of London's rules"),
        row("a Medway resident referred in the City is judged by the City's rules, not Medway's", da("Meg Medway").yes(3).suicide_or_self_harm().lives_at_postcode("ME7 1AA").request(), Below, CITY, Marac, C::Unspecified,
            "Below the MARAC threshold under City of London's rules").lives(MEDWAY),

        // ---- Repeat: an earlier MARAC referral of the same victim (name and date of birth) ----
        row("first referral of a victim who is referred again", da("Rhea Repeat").yes(16).incident_days_ago(20).request(), Routed, CITY, Marac, C::VisibleHighRisk,
            "DASH score 16").first(),
        row("a further incident within 12 months of the last referral is a repeat", da("Rhea Repeat").yes(1).incident_days_ago(0).request(), Routed, CITY, Marac, C::Repeat,
            format!("Repeat: the victim was referred to MARAC on {today}, within 12 months before this incident (counted from the last referral)."))
            .met(&[C::Repeat]).dash(1),
        row("the victim's name is matched however it is typed", Sample::new("  rhea   REPEAT corpus ").yes(1).incident_days_ago(0).request(), Routed, CITY, Marac, C::Repeat,
            format!("referred to MARAC on {today}")),
        row("the same name with another date of birth is someone else", da("Rhea Repeat").born("1985-01-01").yes(1).incident_days_ago(0).request(), Below, CITY, Marac, C::Unspecified,
            "no MARAC referral in the last 12 months"),
        row("first referral of a victim who then moves to Hackney", da("Tara Travels").yes(16).incident_days_ago(10).request(), Routed, CITY, Marac, C::VisibleHighRisk,
            "DASH score 16").first(),
        row("a repeat for a victim now living elsewhere is transferred there as a repeat", da("Tara Travels").yes(1).incident_days_ago(0).lives_at_postcode("E8 1EA").request(), Transfer, HACKNEY, Marac, C::Repeat,
            "Repeat: the victim was referred to MARAC on").also(m2m("Hackney")).m2m().lives(HACKNEY),

        // ---- Residence: GSS codes and postcodes, where the victim lives decides the MARAC ----
        row("GSS code of the City", da("Gss City").yes(16).request(), Routed, CITY, Marac, C::VisibleHighRisk,
            format!("{heard_in_city} (local-authority code")).lives(CITY),
        row("GSS code of Hackney: MARAC-to-MARAC transfer", da("Gss Hackney").yes(16).lives_in(HACKNEY).request(), Transfer, HACKNEY, Marac, C::VisibleHighRisk,
            "The victim lives in Hackney (E09000012) (local-authority code").also(m2m("Hackney")).m2m().lives(HACKNEY),
        row("below threshold stays with the receiving area wherever the victim lives", da("Gss Below").yes(4).lives_in(HACKNEY).request(), Below, CITY, Marac, C::Unspecified,
            "Below the MARAC threshold under City of London's rules").lives(HACKNEY),
        row("GSS code of Cardiff: transfer to Cardiff's MARAC", da("Gss Cardiff").yes(16).lives_in(CARDIFF).request(), Transfer, CARDIFF, Marac, C::VisibleHighRisk,
            "The victim lives in Cardiff (W06000015) (local-authority code W06000015): MARAC-to-MARAC transfer to Cardiff MARAC").m2m().lives(CARDIFF),
        row("GSS code of Belfast, outside the directory: transfer to Belfast's MARAC by its code", da("Gss Belfast").yes(16).lives_in(BELFAST).request(), Transfer, BELFAST, Marac, C::VisibleHighRisk,
            "The victim lives in N09000003 (local-authority code N09000003, outside refroute's area directory): MARAC-to-MARAC transfer to N09000003 MARAC").m2m().lives(BELFAST),
        row("postcode EC2M 7PY is in the City", da("Pc City").yes(16).lives_at_postcode("EC2M 7PY").request(), Routed, CITY, Marac, C::VisibleHighRisk,
            format!("{heard_in_city} (postcode EC2M 7** is in {city} per the ONS Postcode Directory).")).lives(CITY),
        row("a postcode written in lower case without a space", da("Pc Lower").yes(16).lives_at_postcode("ec2m7py").request(), Routed, CITY, Marac, C::VisibleHighRisk,
            "postcode EC2M 7** is in City of London (E09000001)").lives(CITY),
        row("an E1 postcode inside the City is routed locally", da("Pc Aldgate").yes(16).lives_at_postcode("E1 6AN").request(), Routed, CITY, Marac, C::VisibleHighRisk,
            "postcode E1 6** is in City of London (E09000001)").lives(CITY),
        row("postcode in Hackney: MARAC-to-MARAC transfer", da("Pc Hackney").yes(16).lives_at_postcode("E8 1EA").request(), Transfer, HACKNEY, Marac, C::VisibleHighRisk,
            "The victim lives in Hackney (E09000012) (postcode E8 1** is in Hackney (E09000012) per the ONS Postcode Directory)").also(m2m("Hackney")).m2m().lives(HACKNEY),
        row("an EC postcode in Hackney is not the City", da("Pc Shoreditch").yes(16).lives_at_postcode("EC2A 4AE").request(), Transfer, HACKNEY, Marac, C::VisibleHighRisk,
            "postcode EC2A 4** is in Hackney (E09000012)").also(m2m("Hackney")).m2m().lives(HACKNEY),
        row("an EC postcode in Islington is not the City", da("Pc Angel").yes(16).lives_at_postcode("EC1V 2PD").request(), Transfer, ISLINGTON, Marac, C::VisibleHighRisk,
            "postcode EC1V 2** is in Islington (E09000019)").also(m2m("Islington")).m2m().lives(ISLINGTON),
        row("postcode in Tower Hamlets", da("Pc Whitechapel").yes(14).lives_at_postcode("E1 1BJ").request(), Transfer, TOWER_HAMLETS, Marac, C::VisibleHighRisk,
            "postcode E1 1** is in Tower Hamlets (E09000030)").also(m2m("Tower Hamlets")).m2m(),
        row("postcode in Islington", da("Pc Upper Street").yes(15).lives_at_postcode("N1 2UD").request(), Transfer, ISLINGTON, Marac, C::VisibleHighRisk,
            "postcode N1 2** is in Islington (E09000019)").m2m(),
        row("postcode in Camden", da("Pc Judd Street").yes(20).lives_at_postcode("WC1H 9JE").request(), Transfer, CAMDEN, Marac, C::VisibleHighRisk,
            "postcode WC1H 9** is in Camden (E09000007)").also(m2m("Camden")).m2m(),
        row("postcode in Westminster", da("Pc Palace").yes(16).lives_at_postcode("SW1A 1AA").request(), Transfer, WESTMINSTER, Marac, C::VisibleHighRisk,
            "postcode SW1A 1** is in Westminster (E09000033)").also(m2m("Westminster")).m2m(),
        row("outside London: Medway", da("Pc Gillingham").yes(16).lives_at_postcode("ME7 1AA").request(), Transfer, MEDWAY, Marac, C::VisibleHighRisk,
            "postcode ME7 1** is in Medway (E06000035)").also(m2m("Medway")).m2m().lives(MEDWAY),
        row("outside London: a Kent district (Maidstone)", da("Pc Maidstone").yes(16).lives_at_postcode("ME15 6JQ").request(), Transfer, MAIDSTONE, Marac, C::VisibleHighRisk,
            "postcode ME15 6** is in Maidstone (E07000110)").also(m2m("Maidstone")).m2m(),
        row("outside London: a Kent district (Dartford)", da("Pc Dartford").yes(3).police_incidents(3).lives_at_postcode("DA1 1DR").request(), Transfer, DARTFORD, Marac, C::PotentialEscalation,
            "postcode DA1 1** is in Dartford (E07000107)").also(m2m("Dartford")).m2m(),
        row("outside London: Essex (Chelmsford)", da("Pc Chelmsford").yes(16).lives_at_postcode("CM1 1JE").request(), Transfer, CHELMSFORD, Marac, C::VisibleHighRisk,
            "postcode CM1 1** is in Chelmsford (E07000070)").also(m2m("Chelmsford")).m2m(),
        row("outside London: Surrey (Guildford)", da("Pc Guildford").yes(2).professional_judgement("Coercive control and isolation").lives_at_postcode("GU2 4BB").request(), Transfer, GUILDFORD, Marac, C::ProfessionalJudgement,
            "postcode GU2 4** is in Guildford (E07000209)").also(m2m("Guildford")).m2m(),
        row("no fixed abode: heard where the incident happened (the City)", da("Nfa City").yes(16).no_fixed_abode().request(), Routed, CITY, Marac, C::VisibleHighRisk,
            format!("The victim has no fixed abode, so the case is heard where the incident happened: {city} MARAC.")),
        row("no fixed abode, incident in Islington: transfer to Islington", da("Nfa Islington").yes(16).no_fixed_abode().incident_in(ISLINGTON).request(), Transfer, ISLINGTON, Marac, C::VisibleHighRisk,
            "The victim has no fixed abode and the incident happened in Islington (E09000019): MARAC-to-MARAC transfer to Islington (E09000019) MARAC").m2m(),

        // ---- Residence that cannot be resolved with certainty: review, never a guess ----
        row("an unknown postcode needs review", da("Rev Unknown").yes(16).lives_at_postcode(UNKNOWN_POSTCODE).request(), Review_, CITY, Review, C::ResidenceUnresolved,
            "Needs review: postcode ZZ9 9** is not in the ONS Postcode Directory data refroute holds.")
            .also("Meanwhile under City of London's rules: Visible high risk: DASH score 16").met(&[C::ResidenceUnresolved, C::VisibleHighRisk]),
        row("a partial postcode (district) needs review", da("Rev District").yes(16).lives_at_postcode("EC2M").request(), Review_, CITY, Review, C::ResidenceUnresolved,
            "Needs review: the postcode given is partial, and only a full postcode decides the local authority"),
        row("a partial postcode (sector) needs review", da("Rev Sector").yes(15).lives_at_postcode("EC2M 7").request(), Review_, CITY, Review, C::ResidenceUnresolved,
            "the postcode given is partial"),
        row("a Northern Irish postcode needs review", da("Rev Belfast").yes(16).lives_at_postcode("BT1 1AA").request(), Review_, CITY, Review, C::ResidenceUnresolved,
            "the postcode given is in Northern Ireland").also("Give the local-authority GSS code of the person's residence"),
        row("an unresolved residence goes to review even below threshold", da("Rev Low").yes(3).lives_at_postcode(UNKNOWN_POSTCODE).request(), Review_, CITY, Review, C::ResidenceUnresolved,
            "No MARAC criterion is met under City of London's rules meanwhile.").met(&[C::ResidenceUnresolved]),

        // ---- Community MARAC: place-based, vulnerability, suicide alone declined ----
        row("anti-social behaviour with a vulnerable person", cm("Cm Asb").request(), Routed, CITY, Cm, C::AsbWithVulnerability,
            "ASB, public disorder or crime with a vulnerable person (reasons recorded with the referral).").also(&cm_heard_here).met(&[C::AsbWithVulnerability]).lives(CITY),
        row("public disorder with a vulnerable person", cm("Cm Disorder").concerns(&[Concern::PublicDisorder]).request(), Routed, CITY, Cm, C::AsbWithVulnerability,
            &cm_heard_here),
        row("crime and a suicide threat with a vulnerable person", cm("Cm Crime").concerns(&[Concern::Crime, Concern::SuicideThreat]).request(), Routed, CITY, Cm, C::AsbWithVulnerability,
            "ASB, public disorder or crime with a vulnerable person"),
        row("a suicide threat alone is declined", cm("Cm Bridge").concerns(&[Concern::SuicideThreat]).request(), Declined, CITY, Cm, C::SuicideRiskAlone,
            "Declined: the Community MARAC does not accept a case of suicide threats or attempts alone; it needs public disorder, anti-social behaviour or crime as well.").met(&[C::SuicideRiskAlone]),
        row("suicide attempts and threats alone are declined", cm("Cm Attempt").concerns(&[Concern::SuicideAttempt, Concern::SuicideThreat]).request(), Declined, CITY, Cm, C::SuicideRiskAlone,
            "suicide threats or attempts alone"),
        row("suicide alone is declined before the residence matters", cm("Cm Bridge Partial").concerns(&[Concern::SuicideThreat]).lives_at_postcode("EC2M").request(), Declined, CITY, Cm, C::SuicideRiskAlone,
            "suicide threats or attempts alone"),
        row("no vulnerability: below threshold, the City uses no risk matrix", cm("Cm Plain").not_vulnerable().request(), Below, CITY, Cm, C::Unspecified,
            "Below the Community MARAC threshold: no vulnerability stated, and City of London uses no risk matrix.").met(&[]),
        row("a risk-matrix score alone never accepts in the City", cm("Cm Scored").not_vulnerable().risk_score(40).request(), Below, CITY, Cm, C::Unspecified,
            "City of London uses no risk matrix"),
        row("a person living in Hackney stays with the City's panel and Hackney is notified", cm("Cm Hackney").lives_at_postcode("E8 1EA").request(), Routed, CITY, Cm, C::AsbWithVulnerability,
            format!("Heard at {city} Community MARAC, where the behaviour happened; the person lives in Hackney (E09000012) (postcode E8 1** is in Hackney (E09000012) per the ONS Postcode Directory), so its statutory services (mental health, social care) are notified and invited."))
            .notify(&[HACKNEY]).lives(HACKNEY),
        row("a person living in Westminster (GSS code): Westminster is notified", cm("Cm Westminster").lives_in(WESTMINSTER).consent_not_sought().request(), Routed, CITY, Cm, C::AsbWithVulnerability,
            "the person lives in Westminster (E09000033)").also("notified and invited").notify(&[WESTMINSTER]),
        row("a person living in Manchester: Manchester is notified", cm("Cm Manchester").lives_in(MANCHESTER).request(), Routed, CITY, Cm, C::AsbWithVulnerability,
            "the person lives in Manchester (E08000003) (local-authority code E08000003)").also("notified and invited").notify(&[MANCHESTER]).lives(MANCHESTER),
        row("a person living in Belfast, outside the directory: notified by code, recipient unresolved", cm("Cm Belfast").lives_in(BELFAST).request(), Routed, CITY, Cm, C::AsbWithVulnerability,
            "the person lives in N09000003 (local-authority code N09000003, outside refroute's area directory)").also("notified and invited").notify(&[BELFAST]).lives(BELFAST),
        row("no fixed abode: heard here, nobody else notified", cm("Cm Nfa").no_fixed_abode().request(), Routed, CITY, Cm, C::AsbWithVulnerability,
            "the person has no fixed abode, so no other area is notified"),
        row("behaviour elsewhere is declined: the panel is place-based", cm("Cm Elsewhere").incident_in(HACKNEY).lives_in(HACKNEY).request(), Declined, CITY, Cm, C::Unspecified,
            "Declined: the Community MARAC is place-based and the behaviour happened in Hackney (E09000012), not City of London (E09000001).").met(&[]),
        row("an accepted case with an unknown postcode is heard here; only the invitation waits", cm("Cm Unknown").lives_at_postcode(UNKNOWN_POSTCODE).request(), Routed, CITY, Cm, C::AsbWithVulnerability,
            format!("Heard at {city} Community MARAC, where the behaviour happened, whatever the residence. Where the person lives is not known (postcode ZZ9 9** is not in the ONS Postcode Directory data refroute holds), so the invitation of their home area's statutory services waits for it"))
            .met(&[C::AsbWithVulnerability, C::ResidenceUnresolved]).invitation_waits(),
        row("a case below threshold is not held up by an unknown postcode", cm("Cm Unknown Low").not_vulnerable().lives_at_postcode(UNKNOWN_POSTCODE).request(), Below, CITY, Cm, C::Unspecified,
            "Below the Community MARAC threshold"),

        // ---- Prevent: the Channel panel where the person lives, or a handover to their force ----
        row("a City resident goes to the City's Channel panel", pv("Pv City").lives_at_postcode("EC2M 7PY").request(), Routed, CITY, Channel, C::RadicalisationConcern,
            format!("Radicalisation concern: the person lives in {city} (postcode EC2M 7** is in {city} per the ONS Postcode Directory), {channel_here}."))
            .also("The person is 30: their own consent is needed before Channel support.").met(&[C::RadicalisationConcern]).age(30).lives(CITY),
        row("a City resident by GSS code", pv("Pv Gss").request(), Routed, CITY, Channel, C::RadicalisationConcern, channel_here),
        row("a 16-year-old: a parent's consent, and the age travels with the case", pv("Pv Sixteen").age(16).request(), Routed, CITY, Channel, C::RadicalisationConcern,
            "The person is 16 (under 18): a parent's or guardian's consent is needed before Channel support.").age(16),
        row("17 is still a child for consent", pv("Pv Seventeen").age(17).request(), Routed, CITY, Channel, C::RadicalisationConcern,
            "The person is 17 (under 18)").age(17),
        row("18 gives their own consent", pv("Pv Eighteen").age(18).request(), Routed, CITY, Channel, C::RadicalisationConcern,
            "The person is 18: their own consent is needed").age(18),
        row("consent not yet sought does not hold up routing", pv("Pv Not Sought").consent(refroute_proto::v1::PreventConsent::NotYetSought).request(), Routed, CITY, Channel, C::RadicalisationConcern,
            channel_here),
        row("living in Westminster: handover to the Metropolitan Police", pv("Pv Westminster").lives_at_postcode("SW1A 1AA").request(), Transfer, WESTMINSTER, Channel, C::RadicalisationConcern,
            "outside City of London: Prevent handover to Metropolitan Police Service (E23000001), the police force where they live.").handover(MET).lives(WESTMINSTER),
        row("living in Hackney (GSS code): handover to the Metropolitan Police", pv("Pv Hackney").lives_in(HACKNEY).request(), Transfer, HACKNEY, Channel, C::RadicalisationConcern,
            "Prevent handover to Metropolitan Police Service (E23000001)").handover(MET),
        row("temporary accommodation in Gillingham: handover to Kent Police", pv("Pv Gillingham").lives_at_postcode("ME7 1AA").request(), Transfer, MEDWAY, Channel, C::RadicalisationConcern,
            "the person lives in Medway (E06000035) (postcode ME7 1** is in Medway (E06000035) per the ONS Postcode Directory), outside City of London: Prevent handover to Kent Police (E23000032)")
            .handover(KENT_POLICE).lives(MEDWAY),
        row("a Kent district: handover to Kent Police", pv("Pv Dartford").lives_at_postcode("DA1 1DR").request(), Transfer, DARTFORD, Channel, C::RadicalisationConcern,
            "Prevent handover to Kent Police (E23000032)").handover(KENT_POLICE),
        row("Essex: handover to Essex Police", pv("Pv Chelmsford").lives_at_postcode("CM1 1JE").request(), Transfer, CHELMSFORD, Channel, C::RadicalisationConcern,
            "Prevent handover to Essex Police (E23000028)").handover(ESSEX_POLICE),
        row("Surrey: handover to Surrey Police", pv("Pv Guildford").age(16).lives_at_postcode("GU2 4BB").request(), Transfer, GUILDFORD, Channel, C::RadicalisationConcern,
            "Prevent handover to Surrey Police (E23000031)").also("The person is 16 (under 18)").handover(SURREY_POLICE).age(16),
        row("an EC postcode in Islington: handover, not the City's panel", pv("Pv Angel").lives_at_postcode("EC1V 2PD").request(), Transfer, ISLINGTON, Channel, C::RadicalisationConcern,
            "postcode EC1V 2** is in Islington (E09000019)").handover(MET),
        row("an E1 postcode inside the City: the City's Channel panel", pv("Pv Aldgate").lives_at_postcode("E1 6AN").request(), Routed, CITY, Channel, C::RadicalisationConcern,
            "postcode E1 6** is in City of London (E09000001)"),
        row("no fixed abode, concern arose in the City: the City's panel", pv("Pv Nfa").no_fixed_abode().request(), Routed, CITY, Channel, C::RadicalisationConcern,
            "the person has no fixed abode; the concern arose in City of London (E09000001), so the case goes to the City of London Channel panel"),
        row("no fixed abode, concern arose in Islington: handover to the Met", pv("Pv Nfa Islington").no_fixed_abode().incident_in(ISLINGTON).request(), Transfer, ISLINGTON, Channel, C::RadicalisationConcern,
            "has no fixed abode; the concern arose in Islington (E09000019), outside City of London: Prevent handover to Metropolitan Police Service (E23000001)").handover(MET),
        row("a partial postcode needs review", pv("Pv Partial").lives_at_postcode("EC2M").request(), Review_, CITY, Review, C::ResidenceUnresolved,
            "Needs review: the postcode given is partial").also("A Prevent referral goes to the Channel panel where the person lives"),
        row("a Northern Irish postcode needs review", pv("Pv Belfast").lives_at_postcode("BT1 1AA").request(), Review_, CITY, Review, C::ResidenceUnresolved,
            "the postcode given is in Northern Ireland"),
        row("living in Manchester: handover to Greater Manchester Police", pv("Pv Manchester").lives_in(MANCHESTER).request(), Transfer, MANCHESTER, Channel, C::RadicalisationConcern,
            "Prevent handover to Greater Manchester Police (E23000005)").handover(GREATER_MANCHESTER_POLICE),
        row("living in Belfast, whose force the directory lacks: review, never a guess", pv("Pv Belfast Code").lives_in(BELFAST).request(), Review_, CITY, Review, C::ResidenceUnresolved,
            "the person lives in N09000003, whose police force is not in the area directory").met(&[C::ResidenceUnresolved, C::RadicalisationConcern]),
        row("an unknown postcode needs review", pv("Pv Unknown").lives_at_postcode(UNKNOWN_POSTCODE).request(), Review_, CITY, Review, C::ResidenceUnresolved,
            "postcode ZZ9 9** is not in the ONS Postcode Directory data refroute holds"),
        row("Tower Hamlets: handover to the Metropolitan Police", pv("Pv Tower Hamlets").lives_at_postcode("E1 1BJ").request(), Transfer, TOWER_HAMLETS, Channel, C::RadicalisationConcern,
            "Prevent handover to Metropolitan Police Service (E23000001)").handover(MET),
    ]
}

/// Posts the rows wave by wave (each wave concurrently), checks each decision, then counts every
/// queue, transfer and notice by id. `rule_set` is the expected (name, version).
async fn run_corpus(system: &TestSystem, rows: Vec<Row>, received: &str, rule_set: (&str, u32)) {
    let started = Instant::now();
    let mut decided: Vec<(Row, Referral)> = Vec::new();
    let mut rows = rows;
    for wave in [0, 1] {
        let (now, later): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| r.wave == wave);
        rows = later;
        let answers = system
            .decide_all(now.iter().map(|r| r.request.clone()).collect())
            .await;
        decided.extend(now.into_iter().zip(answers));
    }
    let n = decided.len();
    eprintln!("{n} referrals decided in {:?}", started.elapsed());

    let mut failures = Vec::new();
    let mut fail = |row: &Row, what: String| failures.push(format!("[{}] {what}", row.name));
    for (row, referral) in &decided {
        let Some(d) = referral.decision.as_ref() else {
            fail(row, format!("no decision; status {:?}", referral.status()));
            continue;
        };
        let mut eq = |what: &str, got: String, want: String| {
            if got != want {
                fail(
                    row,
                    format!("{what}: got {got}, want {want} (reason: {})", d.reason),
                );
            }
        };
        eq(
            "status",
            format!("{:?}", referral.status()),
            format!("{:?}", row.status),
        );
        eq(
            "outcome",
            format!("{:?}", d.outcome()),
            format!("{:?}", outcome_of(row.status)),
        );
        eq(
            "pathway",
            format!("{:?}", d.pathway()),
            format!("{:?}", row.pathway()),
        );
        eq(
            "pathway of the referral",
            format!("{:?}", referral.pathway()),
            format!("{:?}", row.pathway()),
        );
        eq(
            "destination",
            d.destination_area_code.clone(),
            row.destination.into(),
        );
        eq(
            "panel",
            format!("{:?}", d.panel()),
            format!("{:?}", row.panel),
        );
        eq(
            "criterion",
            format!("{:?}", d.criterion()),
            format!("{:?}", row.criterion),
        );
        let met: Vec<Criterion> = d.criteria_met().collect();
        match &row.met {
            Some(want) => eq("criteria met", format!("{met:?}"), format!("{want:?}")),
            None if row.criterion == Criterion::Unspecified => {
                eq("criteria met", format!("{met:?}"), "[]".into())
            }
            None => eq(
                "first criterion met",
                format!("{:?}", met.first()),
                format!("{:?}", Some(row.criterion)),
            ),
        }
        eq(
            "rule set",
            format!("{} v{}", d.rule_set, d.rule_set_version),
            format!("{} v{}", rule_set.0, rule_set.1),
        );
        eq("rules area", d.rules_area_code.clone(), received.into());
        eq(
            "received area",
            referral.received_area_code.clone(),
            received.into(),
        );
        eq(
            "transfer kind",
            format!("{:?}", d.transfer_kind()),
            format!("{:?}", row.transfer),
        );
        eq(
            "police force",
            d.destination_police_force_code.clone(),
            row.police_force.into(),
        );
        eq(
            "notified areas",
            format!("{:?}", d.notify_area_codes),
            format!("{:?}", row.notify),
        );
        eq(
            "local criterion",
            d.local_criterion.clone(),
            row.local.into(),
        );
        eq(
            "action required given",
            (!d.action_required.is_empty()).to_string(),
            (row.status == ReferralStatus::NeedsReview || row.invitation_waits).to_string(),
        );
        if let Some(area) = row.residence {
            eq("residence area", d.residence_area_code.clone(), area.into());
        }
        if let Some(age) = row.age {
            eq("subject age", d.subject_age.to_string(), age.to_string());
        }
        if let Some(yes) = row.dash {
            eq(
                "DASH yes count",
                d.dash_yes_count.to_string(),
                yes.to_string(),
            );
        }
        for part in &row.reason {
            if !d.reason.contains(part.as_str()) {
                fail(row, format!("reason lacks {part:?}; it was: {}", d.reason));
            }
        }
        if d.reason.contains("fears for her life") || d.reason.contains("Threats to kill") {
            fail(
                row,
                format!("reason quotes the referrer's free text: {}", d.reason),
            );
        }
    }

    // Where every case must be, and be only once.
    let id = |r: &Referral| r.id.clone();
    let mut queued: BTreeMap<(String, Panel), BTreeSet<String>> = BTreeMap::new();
    let mut transfers = Vec::new();
    let mut notices = Vec::new();
    let mut waiting = Vec::new();
    let mut areas: BTreeSet<String> = BTreeSet::from([received.to_string()]);
    for (row, referral) in &decided {
        areas.insert(row.destination.to_string());
        areas.extend(row.residence.map(String::from));
        areas.extend(row.notify.iter().map(|a| a.to_string()));
        match row.status {
            ReferralStatus::Routed => {
                queued
                    .entry((row.destination.into(), row.panel))
                    .or_default()
                    .insert(id(referral));
            }
            ReferralStatus::NeedsReview => {
                queued
                    .entry((received.into(), Panel::Review))
                    .or_default()
                    .insert(id(referral));
            }
            ReferralStatus::TransferRequested => transfers.push((row, referral)),
            _ => {}
        }
        for area in &row.notify {
            notices.push((row, referral, *area));
        }
        if row.invitation_waits {
            waiting.push((row, referral));
        }
    }
    let in_queues: i64 = queued.values().map(|s| s.len() as i64).sum();
    // Queues, transfers and notices are written by consumers of triage's events: wait for them.
    let deadline = Duration::from_secs(30);
    for (sql, want) in [
        ("SELECT count(*) FROM notification.queue_cases", in_queues),
        (
            "SELECT count(*) FROM transfer.transfers",
            transfers.len() as i64,
        ),
        (
            "SELECT count(*) FROM notification.deliveries WHERE state = 'NO_RECIPIENT' AND kind = 'RESIDENCE_NOTICE'",
            notices.len() as i64,
        ),
        (
            "SELECT count(*) FROM notification.deliveries WHERE state = 'AWAITING_RESIDENCE'",
            waiting.len() as i64,
        ),
    ] {
        let got = system.count_until(sql, want, deadline).await;
        if got != want {
            failures.push(format!("{sql}: {got}, want {want}"));
        }
    }

    for area in &areas {
        for panel in [
            Panel::Marac,
            Panel::CommunityMarac,
            Panel::Channel,
            Panel::Review,
        ] {
            let cases = system.queue_of(area, panel).await;
            for case in &cases {
                if let Some((row, referral)) =
                    decided.iter().find(|(_, r)| r.id == case.referral_id)
                {
                    check_case(row, referral, case, &mut failures);
                }
            }
            let unique: BTreeSet<String> = cases.into_iter().map(|c| c.referral_id).collect();
            let want = queued.remove(&(area.clone(), panel)).unwrap_or_default();
            if unique != want {
                let name = |id: &String| {
                    decided
                        .iter()
                        .find(|(_, r)| &r.id == id)
                        .map_or("?", |(row, _)| row.name)
                };
                failures.push(format!(
                    "{area} {panel:?}: unexpected {:?}, missing {:?}",
                    unique.difference(&want).map(name).collect::<Vec<_>>(),
                    want.difference(&unique).map(name).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(queued.is_empty(), "queues not checked: {queued:?}");
    // Nothing announced twice, and no referral both queued here and transferred, or noticed twice:
    // counts no primary key keeps right by itself.
    failures.extend(system.repeated_events().await);
    failures.extend(system.misplaced().await);

    for (row, referral) in &transfers {
        let found: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT from_area_code, to_area_code, kind, to_police_force_code FROM transfer.transfers WHERE referral_id = $1::uuid",
        )
        .bind(&referral.id)
        .fetch_all(&system.pool)
        .await
        .unwrap();
        let want = (
            received.to_string(),
            row.destination.to_string(),
            row.transfer.as_str_name().to_string(),
            Some(row.police_force.to_string()).filter(|f| !f.is_empty()),
        );
        if found != vec![want.clone()] {
            failures.push(format!(
                "[{}] transfer rows {found:?}, want exactly [{want:?}]",
                row.name
            ));
        }
    }
    for (row, referral, area) in &notices {
        let found: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT kind, to_area_code, recipient_role FROM notification.deliveries WHERE referral_id = $1::uuid",
        )
        .bind(&referral.id)
        .fetch_all(&system.pool)
        .await
        .unwrap();
        // An area the directory lacks has no contact: the notice is kept, addressed to nobody
        // yet, and raised as an alarm, never dropped.
        let role_ok = |role: &str| match *area {
            BELFAST => role == "UNRESOLVED",
            _ => role.starts_with("Statutory services"),
        };
        let ok = found.len() == 1
            && found[0].0 == "RESIDENCE_NOTICE"
            && found[0].1 == *area
            && role_ok(&found[0].2);
        if !ok {
            failures.push(format!("[{}] deliveries {found:?}, want one residence notice to {area}'s statutory services", row.name));
        }
    }

    for (row, referral) in &waiting {
        let found: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT kind, to_area_code, state FROM notification.deliveries WHERE referral_id = $1::uuid",
        )
        .bind(&referral.id)
        .fetch_all(&system.pool)
        .await
        .unwrap();
        let want = (
            "RESIDENCE_NOTICE".to_string(),
            String::new(),
            "AWAITING_RESIDENCE".to_string(),
        );
        if found != vec![want] {
            failures.push(format!(
                "[{}] deliveries {found:?}, want one invitation awaiting the residence",
                row.name
            ));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {n} scenarios went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{n} scenarios checked in {:?}", started.elapsed());
}

/// A queued case carries what its panel needs: the details of its own pathway (and for Prevent,
/// the consent state, a parent's for a child), under the decision that queued it.
fn check_case(row: &Row, referral: &Referral, case: &Case, failures: &mut Vec<String>) {
    // As intake stored it: names and codes in the canonical form the wire parse gives them.
    let details = referral.details.as_ref();
    let carried = match details {
        Some(referral::Details::DomesticAbuse(da)) => {
            case.domestic_abuse.as_ref() == Some(da)
                && case.community_marac.is_none()
                && case.prevent.is_none()
        }
        Some(referral::Details::CommunityMarac(cm)) => {
            case.community_marac.as_ref() == Some(cm) && case.domestic_abuse.is_none()
        }
        Some(referral::Details::Prevent(pv)) => {
            case.prevent.as_ref().map(|p| p.consent) == Some(pv.consent)
                && case.prevent.as_ref() == Some(pv)
                && case.domestic_abuse.is_none()
        }
        None => false,
    };
    if !carried {
        failures.push(format!(
            "[{}] the queued case does not carry its referral's details",
            row.name
        ));
    }
    let criterion = case.decision.as_ref().map(|d| d.criterion());
    if criterion != Some(row.criterion) {
        failures.push(format!(
            "[{}] queued under criterion {criterion:?}",
            row.name
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_city_corpus_routes_every_referral_where_it_belongs_and_nowhere_else() {
    let rows = city_corpus();
    assert!(rows.len() >= 60, "the corpus has {} scenarios", rows.len());
    for status in [
        ReferralStatus::Routed,
        ReferralStatus::BelowThreshold,
        ReferralStatus::TransferRequested,
        ReferralStatus::NeedsReview,
        ReferralStatus::Declined,
    ] {
        assert!(
            rows.iter().any(|r| r.status == status),
            "no {status:?} scenario"
        );
    }
    let system = spawn_system_with(|_| {}).await;
    run_corpus(&system, rows, CITY, ("london-and-home-counties", 1)).await;
    system.shutdown().await;
}

/// Islington's Community MARAC scores a risk matrix: 32 or more is high risk.
fn islington_corpus() -> Vec<Row> {
    use Criterion as C;
    let cm = |n: &str| {
        CommunitySample::new(format!("{n} Islington"))
            .incident_in(ISLINGTON)
            .lives_at_postcode("N1 2UD")
    };
    let here = "Heard at Islington (E09000019) Community MARAC, where the behaviour happened and the person lives.";
    vec![
        row("score 31 is below Islington's threshold", cm("Score31").not_vulnerable().risk_score(31).request(), ReferralStatus::BelowThreshold, ISLINGTON, Panel::CommunityMarac, C::Unspecified,
            "Below the Community MARAC threshold: no vulnerability stated, and risk-matrix score 31 is below Islington's threshold of 32."),
        row("score 32 is high risk", cm("Score32").not_vulnerable().risk_score(32).request(), ReferralStatus::Routed, ISLINGTON, Panel::CommunityMarac, C::AsbHighRisk,
            "High risk: risk-matrix score 32 is at or above Islington's threshold of 32, with ASB, public disorder or crime.").also(here).met(&[C::AsbHighRisk]),
        row("score 33 is high risk", cm("Score33").not_vulnerable().risk_score(33).request(), ReferralStatus::Routed, ISLINGTON, Panel::CommunityMarac, C::AsbHighRisk,
            "risk-matrix score 33 is at or above Islington's threshold of 32"),
        row("high risk and vulnerable: both recorded, high risk first", cm("Both").risk_score(35).request(), ReferralStatus::Routed, ISLINGTON, Panel::CommunityMarac, C::AsbHighRisk,
            "ASB, public disorder or crime with a vulnerable person").met(&[C::AsbHighRisk, C::AsbWithVulnerability]),
        row("no score and not vulnerable", cm("Unscored").not_vulnerable().request(), ReferralStatus::BelowThreshold, ISLINGTON, Panel::CommunityMarac, C::Unspecified,
            "no risk-matrix score (threshold 32)"),
        row("a high score for suicide threats alone is still declined", cm("Bridge").concerns(&[Concern::SuicideThreat]).not_vulnerable().risk_score(50).request(), ReferralStatus::Declined, ISLINGTON, Panel::CommunityMarac, C::SuicideRiskAlone,
            "suicide threats or attempts alone"),
        row("a person living in the City: the City is notified", cm("Citizen").not_vulnerable().risk_score(40).lives_at_postcode("EC2M 7PY").request(), ReferralStatus::Routed, ISLINGTON, Panel::CommunityMarac, C::AsbHighRisk,
            "the person lives in City of London (E09000001)").notify(&[CITY]),
        row("DASH 14 under Islington's defaults", Sample::new("Dash Islington").yes(14).incident_in(ISLINGTON).lives_at_postcode("N1 2UD").request(), ReferralStatus::Routed, ISLINGTON, Panel::Marac, C::VisibleHighRisk,
            "DASH score 14 is at or above Islington's threshold of 14"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn islington_applies_its_community_marac_risk_matrix() {
    let system = spawn_system_with(|s| s.partnership.receiving_area_code = ISLINGTON.into()).await;
    run_corpus(
        &system,
        islington_corpus(),
        ISLINGTON,
        ("london-and-home-counties", 1),
    )
    .await;
    system.shutdown().await;
}

/// Kent and Medway: suicide or self-harm is a local criterion; escalation counts 3 in 6 months.
fn medway_corpus() -> Vec<Row> {
    use Criterion as C;
    let da = |n: &str| {
        Sample::new(format!("{n} Medway"))
            .incident_in(MEDWAY)
            .lives_at_postcode("ME7 1AA")
    };
    let today = Utc::now().date_naive();
    let spread = |s: Sample| {
        let mut s = s;
        s.police_incidents = vec![
            today - chrono::Days::new(2),
            today - chrono::Days::new(100),
            today - chrono::Days::new(200),
        ];
        s
    };
    vec![
        row("suicide or self-harm is Medway's local criterion", da("Local").yes(3).suicide_or_self_harm().request(), ReferralStatus::Routed, MEDWAY, Panel::Marac, C::Local,
            "Local criterion 'suicide-or-self-harm' of Medway: the victim has threatened or attempted suicide or self-harm.")
            .also("Heard at Medway (E06000035) MARAC, where the victim lives (postcode ME7 1** is in Medway (E06000035)")
            .met(&[C::Local]).local("suicide-or-self-harm"),
        row("without it, DASH 3 is below Medway's threshold", da("Plain").yes(3).request(), ReferralStatus::BelowThreshold, MEDWAY, Panel::Marac, C::Unspecified,
            "Below the MARAC threshold under Medway's rules").also("no local criterion, no professional judgement"),
        row("3 incidents over more than 6 months is below Medway's window", spread(da("Spread").yes(2)).request(), ReferralStatus::BelowThreshold, MEDWAY, Panel::Marac, C::Unspecified,
            "2 police-reported incidents in 6 months (threshold 3)"),
        row("3 incidents in 6 months is potential escalation", da("Close").yes(2).police_incidents(3).request(), ReferralStatus::Routed, MEDWAY, Panel::Marac, C::PotentialEscalation,
            "3 police-reported incidents in the 6 months to"),
        row("the local criterion travels with a transfer to the City", da("Mover").yes(3).suicide_or_self_harm().lives_at_postcode("EC2M 7PY").request(), ReferralStatus::TransferRequested, CITY, Panel::Marac, C::Local,
            "MARAC-to-MARAC transfer to City of London MARAC").m2m().local("suicide-or-self-harm"),
        row("Prevent in Medway: Medway's Channel panel", PreventSample::new("Pv Medway").incident_in(MEDWAY).lives_at_postcode("ME7 1AA").request(), ReferralStatus::Routed, MEDWAY, Panel::Channel, C::RadicalisationConcern,
            "so the case goes to the Medway Channel panel"),
        row("Prevent for a City resident: handover to City of London Police", PreventSample::new("Pv City From Medway").incident_in(MEDWAY).lives_at_postcode("EC2M 7PY").request(), ReferralStatus::TransferRequested, CITY, Panel::Channel, C::RadicalisationConcern,
            "outside Medway: Prevent handover to City of London Police (E23000034)").handover(CITY_POLICE),
        row("Medway runs no Community MARAC", CommunitySample::new("Cm Medway").incident_in(MEDWAY).lives_at_postcode("ME7 1AA").request(), ReferralStatus::Declined, MEDWAY, Panel::CommunityMarac, C::Unspecified,
            "Declined: Medway (E06000035) runs no Community MARAC"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medway_applies_its_local_criterion_and_six_month_window() {
    let system = spawn_system_with(|s| s.partnership.receiving_area_code = MEDWAY.into()).await;
    run_corpus(
        &system,
        medway_corpus(),
        MEDWAY,
        ("london-and-home-counties", 1),
    )
    .await;
    system.shutdown().await;
}

/// The corpus's fixtures are facts of the shipped data, not guesses (docs/DOMAIN.md 3.3: reference
/// data from elsewhere is often wrong).
#[test]
fn the_corpus_postcodes_are_where_the_shipped_data_puts_them() {
    let table = PostcodeTable::shipped().expect("the shipped postcode table");
    for (postcode, laua) in POSTCODES {
        let found = table.lookup(&Postcode::parse(postcode).unwrap()).laua();
        assert_eq!(found, Some(laua), "{postcode}");
    }
    let unknown = Postcode::parse(UNKNOWN_POSTCODE).expect("well formed");
    assert_eq!(
        table.lookup(&unknown).laua(),
        None,
        "{UNKNOWN_POSTCODE} is in no table"
    );
    assert_eq!(
        Postcode::parse("EC2M").unwrap_err(),
        refroute_geography::PostcodeError::Partial
    );
    assert_eq!(
        Postcode::parse("BT1 1AA").unwrap_err(),
        refroute_geography::PostcodeError::NorthernIrish
    );
}
