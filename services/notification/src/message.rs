//! What a notification says: one template per kind (`services/notification/templates/`, the
//! first line the subject), filled from the facts of the referral, and the same facts as the
//! JSON body of a webhook.
//!
//! Minimised by construction. A message names the referral by its id and the referrer's
//! reference, the panel, the area and the outcome, and what to do next; never a person's name,
//! address, date of birth or free text, and never the decision's reason (which may quote a
//! postcode), except that a channel approved for personal data (`personal_data = true`, e.g. a
//! CJSM or PNN address) also gets the person's name and date of birth. A declined referral's
//! reason is given: it is written from area names and the panel's rules alone, as is a
//! receiving panel's reason for declining a transfer.
//!
//! One message is the case itself: [`Kind::TransferContact`], a transfer to a destination without
//! a deployment, sent only to a contact approved for personal data. It carries what the pathway
//! lets cross (the person, the incident, the sender's reason, the do-not-inform list); on any
//! other channel those lines are withheld.
//!
//! Pure: no I/O.

use refroute_domain::dash::RiskBand;
use refroute_proto::v1::{Criterion, Decision, Panel, Pathway, TransferKind};
use serde_json::{Map, Value, json};

/// What a notification tells. The names are stored (`deliveries.kind`) and shown as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// To the coordinators of the panel a case was routed to.
    CaseRouted,
    /// As [`Kind::CaseRouted`], for a case that may need an emergency meeting.
    CaseUrgent,
    /// To the coordinators of the receiving area's review queue.
    CaseForReview,
    /// To the referrer, for each outcome of its referral.
    ReferralRouted,
    ReferralTransferred,
    ReferralDeclined,
    ReferralBelowThreshold,
    ReferralNeedsReview,
    /// To the statutory services of the area a Community MARAC subject lives in.
    ResidenceNotice,
    /// To the operators: a message was dead-lettered (it waits for them in its queue's `.dlq`).
    AlertDeadLettered,
    /// To the operators: a consumer has been failing on one message for too long.
    AlertConsumerStuck,
    /// To the sending coordinators: the receiving panel declined a transfer; the case is back
    /// in their queue.
    TransferDeclined,
    /// To the sending coordinators, the non-delivery alert: nobody received (or acknowledged) a
    /// transfer within the delivery window; the case is back in their queue.
    TransferUndeliverable,
    /// To the referrer: the destination declined the transfer, with its reason.
    ReferralTransferDeclined,
    /// To the referrer: the destination accepted the transfer, or acknowledged receiving it.
    ReferralTransferAccepted,
    /// To the contact of a destination without a deployment: the case, and how to acknowledge it.
    TransferContact,
}

impl Kind {
    pub const ALL: [Kind; 16] = [
        Kind::CaseRouted,
        Kind::CaseUrgent,
        Kind::CaseForReview,
        Kind::ReferralRouted,
        Kind::ReferralTransferred,
        Kind::ReferralDeclined,
        Kind::ReferralBelowThreshold,
        Kind::ReferralNeedsReview,
        Kind::ResidenceNotice,
        Kind::AlertDeadLettered,
        Kind::AlertConsumerStuck,
        Kind::TransferDeclined,
        Kind::TransferUndeliverable,
        Kind::ReferralTransferDeclined,
        Kind::ReferralTransferAccepted,
        Kind::TransferContact,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::CaseRouted => "CASE_ROUTED",
            Kind::CaseUrgent => "CASE_URGENT",
            Kind::CaseForReview => "CASE_FOR_REVIEW",
            Kind::ReferralRouted => "REFERRAL_ROUTED",
            Kind::ReferralTransferred => "REFERRAL_TRANSFERRED",
            Kind::ReferralDeclined => "REFERRAL_DECLINED",
            Kind::ReferralBelowThreshold => "REFERRAL_BELOW_THRESHOLD",
            Kind::ReferralNeedsReview => "REFERRAL_NEEDS_REVIEW",
            Kind::ResidenceNotice => "RESIDENCE_NOTICE",
            Kind::AlertDeadLettered => "ALERT_DEAD_LETTERED",
            Kind::AlertConsumerStuck => "ALERT_CONSUMER_STUCK",
            Kind::TransferDeclined => "TRANSFER_DECLINED",
            Kind::TransferUndeliverable => "TRANSFER_UNDELIVERABLE",
            Kind::ReferralTransferDeclined => "REFERRAL_TRANSFER_DECLINED",
            Kind::ReferralTransferAccepted => "REFERRAL_TRANSFER_ACCEPTED",
            Kind::TransferContact => "TRANSFER_CONTACT",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Kind::CaseRouted => include_str!("../templates/case_routed.txt"),
            Kind::CaseUrgent => include_str!("../templates/case_urgent.txt"),
            Kind::CaseForReview => include_str!("../templates/case_for_review.txt"),
            Kind::ReferralRouted => include_str!("../templates/referral_routed.txt"),
            Kind::ReferralTransferred => include_str!("../templates/referral_transferred.txt"),
            Kind::ReferralDeclined => include_str!("../templates/referral_declined.txt"),
            Kind::ReferralBelowThreshold => {
                include_str!("../templates/referral_below_threshold.txt")
            }
            Kind::ReferralNeedsReview => include_str!("../templates/referral_needs_review.txt"),
            Kind::ResidenceNotice => include_str!("../templates/residence_notice.txt"),
            Kind::AlertDeadLettered => include_str!("../templates/alert_dead_lettered.txt"),
            Kind::AlertConsumerStuck => include_str!("../templates/alert_consumer_stuck.txt"),
            Kind::TransferDeclined => include_str!("../templates/transfer_declined.txt"),
            Kind::TransferUndeliverable => include_str!("../templates/transfer_undeliverable.txt"),
            Kind::ReferralTransferDeclined => {
                include_str!("../templates/referral_transfer_declined.txt")
            }
            Kind::ReferralTransferAccepted => {
                include_str!("../templates/referral_transfer_accepted.txt")
            }
            Kind::TransferContact => include_str!("../templates/transfer_contact.txt"),
        }
    }

    /// An alert to operators: about messages, never about a person.
    pub fn is_alert(self) -> bool {
        matches!(self, Kind::AlertDeadLettered | Kind::AlertConsumerStuck)
    }
}

/// The person a referral is about, for a channel approved for personal data only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Person {
    pub full_name: String,
    pub date_of_birth: String,
}

/// Everything a message may say, gathered by the planner from the event and the directory.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub referral_id: String,
    pub referrer_reference: String,
    pub decision: Decision,
    /// The panel's area (the destination), as "Name (code)".
    pub area: String,
    /// A transfer's destination: "Hackney (E09000012) MARAC" or a police force's Prevent team.
    pub destination: String,
    /// A residence notice's area of residence, as "Name (code)".
    pub residence_area: String,
    /// Why a routed case is urgent; empty when it is not.
    pub urgency: String,
    /// The victim (domestic abuse) or subject.
    pub person: Option<Person>,
    /// An alert's message: the queue, the message's type and id.
    pub alert: Option<AlertFacts>,
    /// The transfer a message is about, or the one a queued case came by.
    pub transfer: Option<TransferFacts>,
    /// The case itself, for [`Kind::TransferContact`] on a channel approved for personal data.
    pub case: Option<CaseFacts>,
}

/// What a message about a transfer says of it. Ids, places, times and reasons: no person.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransferFacts {
    pub transfer_id: String,
    /// The sending area's panel: "City of London MARAC".
    pub origin: String,
    /// Where it was sent: "Hackney MARAC", "Kent Police Prevent team".
    pub destination: String,
    /// The receiver's reason for declining, or why it is undeliverable.
    pub reason: String,
    /// When it was first offered (an undeliverable transfer's "since").
    pub since: String,
    /// "accepted" or "acknowledged receipt of", for the referrer.
    pub answer: String,
    /// When the non-delivery alert falls due if nobody acknowledges it.
    pub deliver_by: String,
    /// The single-use code the contact gives back to acknowledge it.
    pub acknowledgement_code: String,
    /// A case transferred here: the sending area's name, "City of London".
    pub transferred_from: String,
}

/// The case as a transfer's contact reads it, one line each; an empty line is left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFacts {
    /// "2026-11-20, in City of London (E09000001)".
    pub incident: String,
    pub professional_judgement: String,
    pub consent: String,
    pub lawful_basis: String,
    pub concern_summary: String,
    /// The do-not-inform list, as "must not be told".
    pub must_not_be_told: String,
}

/// What an alert says: which queue (of which service), and the message concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertFacts {
    pub service: String,
    pub queue: String,
    pub message_type: String,
    pub message_id: String,
    /// How long a stuck consumer has been failing, in seconds.
    pub failing_secs: String,
}

/// A message ready for a channel, and what of the referral it discloses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub subject: String,
    pub text: String,
    pub json: Value,
    /// The names of the facts it carries (`referral_id`, `person.full_name`, …), for the audit log.
    pub fields: Vec<String>,
}

pub fn panel_label(panel: Panel) -> &'static str {
    match panel {
        Panel::Marac => "MARAC",
        Panel::CommunityMarac => "Community MARAC",
        Panel::Channel => "Channel panel",
        Panel::Review => "review queue",
        Panel::Unspecified => "panel",
    }
}

fn pathway_label(pathway: Pathway) -> &'static str {
    match pathway {
        Pathway::DomesticAbuse => "domestic abuse (MARAC)",
        Pathway::CommunityMarac => "anti-social behaviour and vulnerability (Community MARAC)",
        Pathway::Prevent => "Prevent (Channel panel)",
        Pathway::Unspecified => "",
    }
}

fn criterion_label(decision: &Decision) -> String {
    match decision.criterion() {
        Criterion::VisibleHighRisk => "visible high risk (DASH score)".into(),
        Criterion::ProfessionalJudgement => "professional judgement".into(),
        Criterion::PotentialEscalation => "potential escalation (police-reported incidents)".into(),
        Criterion::Repeat => "repeat referral".into(),
        Criterion::Local => format!("local criterion: {}", decision.local_criterion),
        Criterion::AsbWithVulnerability => "anti-social behaviour with vulnerability".into(),
        Criterion::AsbHighRisk => "anti-social behaviour, high risk-matrix score".into(),
        Criterion::SuicideRiskAlone => "suicide threats or attempts alone".into(),
        Criterion::RadicalisationConcern => "radicalisation concern".into(),
        Criterion::ResidenceUnresolved => "residence not resolved".into(),
        Criterion::Unspecified => String::new(),
    }
}

/// What the referrer should do with a referral below threshold, by pathway (docs/DOMAIN.md
/// 2.1: below threshold is not "nothing"; the case is signposted to standard or medium-risk
/// services by its DASH band).
pub fn signposting(decision: &Decision) -> String {
    match decision.pathway() {
        Pathway::DomesticAbuse => {
            let band = RiskBand::of(decision.dash_yes_count);
            format!(
                "signpost the victim to {} domestic abuse services (local outreach or an IDVA service), and refer again if the risk rises or there is a further incident",
                band.label()
            )
        }
        Pathway::CommunityMarac => "manage the case through the partnership's usual anti-social behaviour process; refer again if vulnerability or risk is found".into(),
        Pathway::Prevent | Pathway::Unspecified => "continue with the police Prevent assessment's advice".into(),
    }
}

fn dash_line(decision: &Decision) -> String {
    if decision.pathway() != Pathway::DomesticAbuse || decision.dash_yes_count == 0 {
        return String::new();
    }
    let yes = decision.dash_yes_count;
    format!("DASH score: {yes} of 24 ({})", RiskBand::of(yes).label())
}

pub fn transfer_label(decision: &Decision) -> &'static str {
    match decision.transfer_kind() {
        TransferKind::MaracToMarac => "MARAC-to-MARAC",
        TransferKind::PreventHandover => "Prevent handover",
        TransferKind::Unspecified => "transfer",
    }
}

/// The facts of `facts` as named values: the template's placeholders and the webhook's body.
/// An empty value is left out.
fn values(kind: Kind, facts: &Facts) -> Vec<(&'static str, String)> {
    if let Some(alert) = facts.alert.as_ref().filter(|_| kind.is_alert()) {
        let mut v = vec![
            ("kind", kind.as_str().to_string()),
            ("referral_id", facts.referral_id.clone()),
            ("queue", alert.queue.clone()),
            (
                "dead_letter_queue",
                refroute_platform::messaging::topology::dead_letter_queue(&alert.queue),
            ),
            ("message_type", alert.message_type.clone()),
            ("message_id", alert.message_id.clone()),
            ("service", alert.service.clone()),
            ("failing_secs", alert.failing_secs.clone()),
        ];
        v.retain(|(_, value)| !value.trim().is_empty());
        return v;
    }
    let d = &facts.decision;
    let mut v = vec![
        ("kind", kind.as_str().to_string()),
        ("referral_id", facts.referral_id.clone()),
        ("reference", facts.referrer_reference.clone()),
        ("pathway", pathway_label(d.pathway()).to_string()),
        (
            "outcome",
            d.outcome()
                .as_str_name()
                .trim_start_matches("OUTCOME_")
                .to_string(),
        ),
        ("panel", panel_label(d.panel()).to_string()),
        ("area", facts.area.clone()),
        ("area_code", d.destination_area_code.clone()),
        ("criterion", criterion_label(d)),
        ("dash", dash_line(d)),
        ("action_required", d.action_required.clone()),
    ];
    match kind {
        Kind::CaseUrgent => v.push(("urgency", facts.urgency.clone())),
        Kind::ReferralTransferred => {
            v.push(("destination", facts.destination.clone()));
            v.push(("transfer_kind", transfer_label(d).to_string()));
        }
        Kind::ReferralDeclined => {
            v.push(("declined_because", d.reason.clone()));
        }
        Kind::ReferralBelowThreshold => v.push(("signposting", signposting(d))),
        Kind::ResidenceNotice => v.push(("residence_area", facts.residence_area.clone())),
        _ => {}
    }
    if let Some(t) = &facts.transfer {
        v.push(("transfer_id", t.transfer_id.clone()));
        match kind {
            Kind::CaseRouted | Kind::CaseUrgent | Kind::CaseForReview => {
                v.push(("transferred_from", t.transferred_from.clone()));
            }
            Kind::TransferDeclined | Kind::ReferralTransferDeclined => {
                v.push(("origin", t.origin.clone()));
                v.push(("destination", t.destination.clone()));
                v.push(("declined_because", t.reason.clone()));
            }
            Kind::TransferUndeliverable => {
                v.push(("origin", t.origin.clone()));
                v.push(("destination", t.destination.clone()));
                v.push(("offered_since", t.since.clone()));
                v.push(("undeliverable_because", t.reason.clone()));
            }
            Kind::ReferralTransferAccepted => {
                v.push(("destination", t.destination.clone()));
                v.push(("answer", t.answer.clone()));
                v.push(("transfer_kind", transfer_label(d).to_string()));
            }
            Kind::TransferContact => {
                v.push(("origin", t.origin.clone()));
                v.push(("destination", t.destination.clone()));
                v.push(("transfer_kind", transfer_label(d).to_string()));
                v.push(("deliver_by", t.deliver_by.clone()));
                v.push(("acknowledgement_code", t.acknowledgement_code.clone()));
            }
            _ => {}
        }
    }
    v.retain(|(_, value)| !value.trim().is_empty());
    v
}

/// The case's own lines of a [`Kind::TransferContact`], for a channel approved for personal
/// data: the sender's reason (which may quote a postcode) and what the pathway let cross.
fn case_values(facts: &Facts) -> Vec<(&'static str, String)> {
    let mut v = vec![("sender_reason", facts.decision.reason.clone())];
    if let Some(c) = &facts.case {
        v.extend([
            ("incident", c.incident.clone()),
            ("professional_judgement", c.professional_judgement.clone()),
            ("consent", c.consent.clone()),
            ("lawful_basis", c.lawful_basis.clone()),
            ("concern_summary", c.concern_summary.clone()),
            ("must_not_be_told", c.must_not_be_told.clone()),
        ]);
    }
    v.retain(|(_, value)| !value.trim().is_empty());
    v
}

const NOT_APPROVED: &str = "The person is not named: this channel is not approved for personal data. Read the case in refroute.";
const CASE_WITHHELD: &str = "The case is withheld: this channel is not approved for personal data. Ask the sending coordinator for it by a secure channel.";

/// Fills `template`: each `{name}` takes its value, and a line with a placeholder that has no
/// value is left out. The subject is never left out: a placeholder without a value is dropped
/// from it, with the brackets around it (a transferred case has no referrer's reference).
/// Returns the subject (the first line, after `Subject: `) and the body.
fn fill(template: &str, values: &[(&str, String)]) -> (String, String) {
    let mut lines = template.lines();
    let subject = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("Subject: ");
    let subject = fill_line(subject, values).unwrap_or_else(|| {
        let blanked = |name: &str| {
            let value = values.iter().find(|(n, _)| *n == name);
            value.map(|(_, v)| v.clone()).unwrap_or_default()
        };
        let all: Vec<(&str, String)> = placeholders(subject)
            .map(|name| (name, blanked(name)))
            .collect();
        let filled = fill_line(subject, &all).unwrap_or_else(|| subject.replace(['{', '}'], ""));
        let unbracketed = filled.replace("()", "");
        unbracketed.split_whitespace().collect::<Vec<_>>().join(" ")
    });
    let body: Vec<String> = lines.filter_map(|l| fill_line(l, values)).collect();
    (subject, body.join("\n").trim().to_string() + "\n")
}

/// `line` with each `{name}` replaced by its value; `None` when one has no value.
fn fill_line(line: &str, values: &[(&str, String)]) -> Option<String> {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}')? + start;
        let name = &rest[start + 1..end];
        let value = values.iter().find(|(n, _)| *n == name)?;
        out.push_str(&rest[..start]);
        out.push_str(&value.1);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The names of `line`'s placeholders, in order.
fn placeholders(line: &str) -> impl Iterator<Item = &str> {
    line.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
}

/// The message of `kind` for a recipient whose channel is (or is not) approved for personal data.
pub fn render(kind: Kind, facts: &Facts, personal_data: bool) -> Content {
    let mut values = values(kind, facts);
    let person = facts
        .person
        .as_ref()
        .filter(|_| personal_data && !kind.is_alert());
    match person {
        Some(p) => {
            let mut line = format!("Person: {}", p.full_name);
            if !p.date_of_birth.is_empty() {
                line.push_str(&format!(", born {}", p.date_of_birth));
            }
            values.push(("person", line));
        }
        // The contact of a destination without a deployment cannot read the case in refroute:
        // the line that says it is withheld says what to do instead.
        None if kind == Kind::TransferContact => {}
        None => values.push(("person", NOT_APPROVED.to_string())),
    }
    if kind == Kind::TransferContact {
        if personal_data {
            values.extend(case_values(facts));
        } else {
            values.push(("case_withheld", CASE_WITHHELD.to_string()));
        }
    }
    let (subject, text) = fill(kind.template(), &values);

    let mut body = Map::new();
    let mut fields = Vec::new();
    for (name, value) in &values {
        if *name == "person" || *name == "dash" {
            continue;
        }
        let key = match *name {
            "reference" => "referrer_reference",
            other => other,
        };
        fields.push(key.to_string());
        body.insert(key.to_string(), Value::String(value.clone()));
    }
    if facts.decision.pathway() == Pathway::DomesticAbuse && facts.decision.dash_yes_count > 0 {
        body.insert(
            "dash_yes_count".into(),
            json!(facts.decision.dash_yes_count),
        );
        fields.push("dash_yes_count".into());
    }
    body.insert("subject".into(), Value::String(subject.clone()));
    if let Some(p) = person {
        let mut person = Map::new();
        person.insert("full_name".into(), Value::String(p.full_name.clone()));
        fields.push("person.full_name".into());
        if !p.date_of_birth.is_empty() {
            person.insert(
                "date_of_birth".into(),
                Value::String(p.date_of_birth.clone()),
            );
            fields.push("person.date_of_birth".into());
        }
        body.insert("person".into(), Value::Object(person));
    }
    fields.sort();
    Content {
        subject,
        text,
        json: Value::Object(body),
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_proto::v1::Outcome;

    fn facts(outcome: Outcome, pathway: Pathway, panel: Panel) -> Facts {
        Facts {
            referral_id: "0190c0de-0000-7000-8000-000000000001".into(),
            referrer_reference: "COLP-42".into(),
            decision: Decision {
                outcome: outcome as i32,
                pathway: pathway as i32,
                panel: panel as i32,
                destination_area_code: "E09000001".into(),
                criterion: Criterion::VisibleHighRisk as i32,
                dash_yes_count: 16,
                reason: "Visible high risk: postcode EC2M 7PY, DASH 16".into(),
                transfer_kind: TransferKind::MaracToMarac as i32,
                ..Default::default()
            },
            area: "City of London (E09000001)".into(),
            destination: "Hackney (E09000012) MARAC".into(),
            residence_area: "Hackney (E09000012)".into(),
            urgency: "DASH score 16, at or above 16".into(),
            person: Some(Person {
                full_name: "Jane Victim".into(),
                date_of_birth: "1990-02-03".into(),
            }),
            alert: Some(AlertFacts {
                service: "triage".into(),
                queue: "triage.referral-received".into(),
                message_type: "refroute.v1.ReferralReceived".into(),
                message_id: "0190c0de-0000-7000-8000-0000000000aa".into(),
                failing_secs: "61".into(),
            }),
            transfer: Some(TransferFacts {
                transfer_id: "0190c0de-0000-7000-8000-0000000000bb".into(),
                origin: "City of London MARAC".into(),
                destination: "Hackney MARAC".into(),
                reason: "below Hackney's threshold".into(),
                since: "2026-12-01 09:00 UTC".into(),
                answer: "accepted".into(),
                deliver_by: "2026-12-06 09:00 UTC".into(),
                acknowledgement_code: "K7Q2-M9XD".into(),
                transferred_from: "City of London".into(),
            }),
            case: Some(CaseFacts {
                incident: "2026-11-20, in City of London (E09000001)".into(),
                professional_judgement: "escalating threats".into(),
                consent: "given".into(),
                lawful_basis: "DPA 2018 s.35".into(),
                concern_summary: String::new(),
                must_not_be_told: "John Perp; nor the perpetrator, whether listed or not".into(),
            }),
        }
    }

    #[test]
    fn every_template_fills_without_leftover_placeholders() {
        for kind in Kind::ALL {
            let f = facts(Outcome::Routed, Pathway::DomesticAbuse, Panel::Marac);
            for approved in [false, true] {
                let c = render(kind, &f, approved);
                assert!(!c.subject.is_empty(), "{kind:?}");
                for text in [&c.subject, &c.text] {
                    assert!(
                        !text.contains('{') && !text.contains('}'),
                        "{kind:?}: {text}"
                    );
                }
                assert!(c.text.contains(&f.referral_id), "{kind:?}: {}", c.text);
                assert_eq!(c.json["kind"], kind.as_str());
                assert_eq!(c.json["referral_id"], f.referral_id.as_str());
            }
        }
    }

    #[test]
    fn only_an_approved_channel_names_the_person() {
        let f = facts(Outcome::Routed, Pathway::DomesticAbuse, Panel::Marac);
        for kind in Kind::ALL {
            let plain = render(kind, &f, false);
            let all = format!("{}{}{}", plain.subject, plain.text, plain.json);
            assert!(
                !all.contains("Jane Victim") && !all.contains("1990-02-03"),
                "{kind:?}"
            );
            assert!(!plain.fields.iter().any(|f| f.starts_with("person")));
            let approved = render(kind, &f, true);
            if kind.is_alert() {
                // An alert is about a message, and names nobody even to an approved channel.
                assert!(!approved.text.contains("Jane Victim"), "{}", approved.text);
                assert!(approved.json.get("person").is_none());
                continue;
            }
            assert!(
                approved
                    .text
                    .contains("Person: Jane Victim, born 1990-02-03")
            );
            assert_eq!(approved.json["person"]["full_name"], "Jane Victim");
            assert!(approved.fields.contains(&"person.full_name".to_string()));
        }
    }

    #[test]
    fn the_reason_which_may_quote_a_postcode_is_never_sent_except_a_declines() {
        let f = facts(Outcome::Routed, Pathway::DomesticAbuse, Panel::Marac);
        for kind in Kind::ALL
            .into_iter()
            .filter(|k| *k != Kind::ReferralDeclined)
        {
            for approved in [false, true] {
                if approved && kind == Kind::TransferContact {
                    // The case itself, to its destination: the sender's reason crosses with it.
                    continue;
                }
                let c = render(kind, &f, approved);
                let all = format!("{}{}{}", c.subject, c.text, c.json);
                assert!(!all.contains("EC2M"), "{kind:?}: {all}");
            }
        }
        let mut declined = facts(
            Outcome::Declined,
            Pathway::CommunityMarac,
            Panel::CommunityMarac,
        );
        declined.decision.reason =
            "Declined: the Community MARAC does not accept suicide threats alone.".into();
        let c = render(Kind::ReferralDeclined, &declined, false);
        assert!(
            c.text.contains("does not accept suicide threats alone"),
            "{}",
            c.text
        );
    }

    #[test]
    fn below_threshold_is_signposted_by_dash_band() {
        let mut f = facts(
            Outcome::BelowThreshold,
            Pathway::DomesticAbuse,
            Panel::Marac,
        );
        for (yes, band) in [
            (0, "standard risk"),
            (9, "standard risk"),
            (10, "medium risk"),
            (13, "medium risk"),
        ] {
            f.decision.dash_yes_count = yes;
            let c = render(Kind::ReferralBelowThreshold, &f, false);
            assert!(
                c.text
                    .contains(&format!("to {band} domestic abuse services")),
                "{yes}: {}",
                c.text
            );
            assert!(c.json["signposting"].as_str().unwrap().contains(band));
        }
        let ccm = facts(
            Outcome::BelowThreshold,
            Pathway::CommunityMarac,
            Panel::CommunityMarac,
        );
        assert!(
            render(Kind::ReferralBelowThreshold, &ccm, false)
                .text
                .contains("anti-social behaviour process")
        );
    }

    #[test]
    fn a_line_without_its_value_is_left_out() {
        let mut f = facts(Outcome::Routed, Pathway::Prevent, Panel::Channel);
        f.referrer_reference.clear();
        let c = render(Kind::CaseRouted, &f, false);
        assert!(!c.text.contains("Still to do"), "{}", c.text);
        assert!(!c.text.contains("Referrer's reference"), "{}", c.text);
        assert!(!c.text.contains("DASH score:"), "{}", c.text);
        f.decision.action_required = "Give the full postcode".into();
        let c = render(Kind::CaseRouted, &f, false);
        assert!(
            c.text.contains("Still to do: Give the full postcode"),
            "{}",
            c.text
        );
        assert!(c.json.get("referrer_reference").is_none());
    }

    #[test]
    fn a_dead_letter_alert_names_the_queue_the_message_and_what_to_run() {
        let f = facts(Outcome::Routed, Pathway::DomesticAbuse, Panel::Marac);
        let c = render(Kind::AlertDeadLettered, &f, false);
        assert!(
            c.subject.contains("triage.referral-received"),
            "{}",
            c.subject
        );
        for want in [
            "triage.referral-received.dlq",
            "refroute.v1.ReferralReceived",
            "0190c0de-0000-7000-8000-0000000000aa",
            "refroute dead-letters replay triage.referral-received",
        ] {
            assert!(c.text.contains(want), "{want}: {}", c.text);
        }
        assert!(c.json.get("pathway").is_none() && c.json.get("outcome").is_none());
    }

    #[test]
    fn a_transfer_names_its_destination_and_kind() {
        let f = facts(
            Outcome::TransferRequested,
            Pathway::DomesticAbuse,
            Panel::Marac,
        );
        let c = render(Kind::ReferralTransferred, &f, false);
        assert!(
            c.subject.contains("Hackney (E09000012) MARAC"),
            "{}",
            c.subject
        );
        assert!(c.text.contains("MARAC-to-MARAC"), "{}", c.text);
    }

    #[test]
    fn a_transfer_contact_carries_its_code_everywhere_and_the_case_only_where_approved() {
        let mut f = facts(
            Outcome::TransferRequested,
            Pathway::DomesticAbuse,
            Panel::Marac,
        );
        f.case.as_mut().unwrap().concern_summary = "concern text".into();
        let plain = render(Kind::TransferContact, &f, false);
        let all = format!("{}{}{}", plain.subject, plain.text, plain.json);
        assert!(
            plain
                .text
                .contains("this code: K7Q2-M9XD. It can be used once."),
            "{}",
            plain.text
        );
        assert!(
            plain.text.contains("2026-12-06 09:00 UTC"),
            "{}",
            plain.text
        );
        assert!(
            plain.text.contains("The case is withheld"),
            "{}",
            plain.text
        );
        for never in [
            "Jane Victim",
            "1990-02-03",
            "John Perp",
            "EC2M",
            "escalating threats",
            "concern text",
            "DPA 2018",
            "Read the case in refroute",
        ] {
            assert!(!all.contains(never), "{never}: {all}");
        }
        let approved = render(Kind::TransferContact, &f, true);
        for want in [
            "Person: Jane Victim, born 1990-02-03",
            "Why it is transferred: Visible high risk: postcode EC2M 7PY, DASH 16",
            "Incident: 2026-11-20, in City of London (E09000001)",
            "Professional judgement: escalating threats",
            "Concern: concern text",
            "Must not be told of this referral: John Perp",
            "this code: K7Q2-M9XD",
        ] {
            assert!(approved.text.contains(want), "{want}: {}", approved.text);
        }
        assert!(!approved.text.contains("withheld"), "{}", approved.text);
        assert_eq!(approved.json["acknowledgement_code"], "K7Q2-M9XD");
        assert!(approved.fields.contains(&"must_not_be_told".to_string()));
    }

    #[test]
    fn a_case_transferred_in_says_where_from_and_how_to_answer() {
        let mut f = facts(Outcome::Routed, Pathway::DomesticAbuse, Panel::Marac);
        // A transferred case: its referrer's reference never crossed.
        f.referrer_reference.clear();
        for kind in [Kind::CaseRouted, Kind::CaseUrgent, Kind::CaseForReview] {
            let c = render(kind, &f, false);
            assert!(
                c.text
                    .contains("Transferred from: City of London (transfer 0190c0de-0000-7000-8000-0000000000bb)"),
                "{kind:?}: {}",
                c.text
            );
            assert!(
                c.text.contains(
                    "refroute transfers decide 0190c0de-0000-7000-8000-0000000000bb --accept | --decline \"<reason>\""
                ),
                "{kind:?}: {}",
                c.text
            );
            assert!(
                !c.subject.contains("()") && !c.subject.contains("reference"),
                "{kind:?}: {}",
                c.subject
            );
            assert!(!c.subject.contains("  "), "{kind:?}: {}", c.subject);
        }
        f.transfer = None;
        let c = render(Kind::CaseRouted, &f, false);
        assert!(!c.text.contains("ransfer"), "{}", c.text);
    }
}
