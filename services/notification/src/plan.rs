//! Who is told what of each outcome: the notifications an event owes, one per recipient and
//! channel, each already rendered for that channel and checked against the referral's
//! do-not-inform list. Pure: the handlers store what this returns in their transaction
//! ([`crate::deliveries`]), and the sender ([`crate::sender`]) sends it.
//!
//! | event | told |
//! |---|---|
//! | `referral.routed` | the panel's coordinators: `CASE_ROUTED`, or `CASE_URGENT` for a MARAC case with a DASH score of `delivery.urgent_dash_score` or more or that the referrer says cannot wait; the referrer: `REFERRAL_ROUTED` |
//! | `referral.needs_review` | the review queue's coordinators: `CASE_FOR_REVIEW` (when it first arrives); the referrer: `REFERRAL_NEEDS_REVIEW` with what to supply |
//! | `referral.below_threshold` | the referrer: `REFERRAL_BELOW_THRESHOLD` with the signposting |
//! | `referral.declined` | the referrer: `REFERRAL_DECLINED` with the reason |
//! | `transfer.requested` | the referrer: `REFERRAL_TRANSFERRED` with the destination |
//! | `residence.notice_requested` | the statutory services of the area of residence: `RESIDENCE_NOTICE` |
//! | `transfer.state_changed`, outbound, declined | the sending area's coordinators of the panel: `TRANSFER_DECLINED` (the case is back in their queue); the referrer: `REFERRAL_TRANSFER_DECLINED` with the receiver's reason |
//! | `transfer.state_changed`, outbound, undeliverable | the sending area's coordinators of the panel: `TRANSFER_UNDELIVERABLE`, the non-delivery alert (the case is back in their queue) |
//! | `transfer.state_changed`, outbound, accepted or acknowledged | the referrer: `REFERRAL_TRANSFER_ACCEPTED` |
//! | `transfer.contact_requested` | the destination's directory contacts approved for personal data: `TRANSFER_CONTACT`, the case and its acknowledgement code |
//!
//! A case transferred here in (`referral.routed` or `referral.needs_review` with a `transfer_id`)
//! tells its coordinators where it came from and how to accept or decline it. The transfers'
//! plans are in [`transfers`].

mod transfers;

use crate::do_not_inform::MustNotBeTold;
use crate::message::{self, AlertFacts, Content, Facts, Kind, Person, TransferFacts};
use crate::queue::Queueing;
use crate::recipients::{self, Recipient};
use refroute_domain::{AreaCode, Directory};
use refroute_platform::access::Organisations;
use refroute_proto::v1::{
    ConsumerStuck, Decision, Panel, Referral, ResidenceNoticeRequested, TransferKind, referral,
};
use std::sync::Arc;
use uuid::Uuid;

/// One notification owed: to one recipient by one channel, or to nobody yet.
#[derive(Clone, Debug)]
pub struct Planned {
    pub id: Uuid,
    /// `None` for an alert about no referral in particular.
    pub referral_id: Option<Uuid>,
    pub kind: Kind,
    /// The area it concerns: the panel's, or the area of residence of a residence notice.
    pub area_code: String,
    /// `None`: owed, but the directory names nobody with an address (recorded NO_RECIPIENT).
    pub recipient: Option<Recipient>,
    /// Whom it is owed to when that is known but has no address: (organisation, role).
    pub unaddressed: Option<(String, String)>,
    pub content: Option<Content>,
    /// Why it must never be sent (recorded REFUSED), when it must not.
    pub refused: Option<&'static str>,
    pub must_not_be_told: MustNotBeTold,
    pub lawful_basis: Option<String>,
}

impl Planned {
    /// Why a notification owed to nobody has nobody (its delivery's `last_error`).
    pub fn unaddressed_because(&self) -> &'static str {
        match self.kind {
            Kind::TransferContact => {
                "the area directory names no contact of the destination whose address is approved \
                 for personal data, and this message is the case itself"
            }
            _ => "the area directory names no contact with an address for it",
        }
    }
}

/// Plans notifications from the organisations file and the area directory.
#[derive(Clone)]
pub struct Planner {
    organisations: Arc<Organisations>,
    directory: Arc<Directory>,
    urgent_dash_score: u32,
}

/// The victim of a domestic-abuse referral, the subject of the others.
fn person(referral: &Referral) -> Option<Person> {
    let p = match &referral.details {
        Some(referral::Details::DomesticAbuse(d)) => d.victim.as_ref(),
        Some(referral::Details::CommunityMarac(c)) => c.subject.as_ref(),
        Some(referral::Details::Prevent(p)) => p.subject.as_ref(),
        None => None,
    }?;
    Some(Person {
        full_name: p.full_name.clone(),
        date_of_birth: p.date_of_birth.clone(),
    })
}

impl Planner {
    pub fn new(
        organisations: Arc<Organisations>,
        directory: Arc<Directory>,
        urgent_dash_score: u32,
    ) -> Self {
        Self {
            organisations,
            directory,
            urgent_dash_score,
        }
    }

    fn label(&self, code: &str) -> String {
        match AreaCode::parse(code) {
            Ok(area) => self.directory.label(&area),
            Err(_) => code.trim().to_string(),
        }
    }

    /// An area's name ("Hackney"), or the code the directory does not have.
    fn name(&self, code: &str) -> String {
        match AreaCode::parse(code) {
            Ok(area) => self.directory.name(&area).to_string(),
            Err(_) => code.trim().to_string(),
        }
    }

    fn facts(&self, referral: &Referral, decision: &Decision, reference: &str) -> Facts {
        let destination = match decision.transfer_kind() {
            TransferKind::PreventHandover => {
                let force = &decision.destination_police_force_code;
                let name = self
                    .directory
                    .police_force(force)
                    .map(|f| f.name.clone())
                    .unwrap_or_else(|| force.clone());
                format!("{name} (Prevent)")
            }
            TransferKind::MaracToMarac => {
                format!("{} MARAC", self.label(&decision.destination_area_code))
            }
            TransferKind::Unspecified => String::new(),
        };
        Facts {
            referral_id: referral.id.clone(),
            referrer_reference: reference.to_string(),
            decision: decision.clone(),
            area: self.label(&decision.destination_area_code),
            destination,
            residence_area: String::new(),
            urgency: String::new(),
            person: person(referral),
            alert: None,
            transfer: None,
            case: None,
        }
    }

    /// Why a routed MARAC case may need an emergency meeting, if it may.
    pub fn urgency(&self, referral: &Referral, decision: &Decision) -> Option<String> {
        let Some(referral::Details::DomesticAbuse(d)) = &referral.details else {
            return None;
        };
        if decision.panel() != Panel::Marac {
            return None;
        }
        let mut why = Vec::new();
        if decision.dash_yes_count >= self.urgent_dash_score {
            why.push(format!(
                "DASH score {} of 24, at or above {}",
                decision.dash_yes_count, self.urgent_dash_score
            ));
        }
        if d.cannot_wait_for_next_meeting {
            why.push("the referrer says it cannot wait for the next meeting".into());
        }
        (!why.is_empty()).then(|| why.join("; "))
    }

    fn to_each(
        &self,
        kind: Kind,
        recipients: Vec<Recipient>,
        facts: &Facts,
        referral: &Referral,
        referral_id: Uuid,
        area_code: &str,
    ) -> Vec<Planned> {
        let must_not_be_told = MustNotBeTold::of(referral);
        let lawful_basis = refroute_platform::audit::lawful_basis(referral.details.as_ref());
        recipients
            .into_iter()
            .map(|r| {
                let refused = must_not_be_told.refuses(&r);
                let content = refused
                    .is_none()
                    .then(|| message::render(kind, facts, r.personal_data));
                Planned {
                    id: Uuid::now_v7(),
                    referral_id: Some(referral_id),
                    kind,
                    area_code: area_code.to_string(),
                    recipient: Some(r),
                    unaddressed: None,
                    content,
                    refused,
                    must_not_be_told: must_not_be_told.clone(),
                    lawful_basis: lawful_basis.clone(),
                }
            })
            .collect()
    }

    /// A case transferred here: where it came from, for its coordinators (its referrer and
    /// reference never cross, so it names neither).
    fn transferred_in(&self, case: &Queueing) -> Option<TransferFacts> {
        (!case.transfer_id.is_empty()).then(|| TransferFacts {
            transfer_id: case.transfer_id.clone(),
            transferred_from: self.name(&case.referral.received_area_code),
            ..TransferFacts::default()
        })
    }

    /// A case routed to its panel (`tell_coordinators`: it has just arrived there).
    pub fn routed(&self, case: &Queueing, tell_coordinators: bool) -> Vec<Planned> {
        let Queueing {
            referral_id,
            referral,
            decision,
            ..
        } = case;
        let referral_id = *referral_id;
        let reference = referral.referrer_reference.as_str();
        let mut facts = self.facts(referral, decision, reference);
        facts.transfer = self.transferred_in(case);
        let area = decision.destination_area_code.clone();
        let mut out = Vec::new();
        if tell_coordinators && let Ok(code) = AreaCode::parse(&area) {
            let kind = match self.urgency(referral, decision) {
                Some(why) => {
                    facts.urgency = why;
                    Kind::CaseUrgent
                }
                None => Kind::CaseRouted,
            };
            let to = recipients::coordinators(
                &self.organisations,
                &self.directory,
                &code,
                decision.panel(),
            );
            out.extend(self.to_each(kind, to, &facts, referral, referral_id, code.as_str()));
        }
        out.extend(self.to_referrer(
            Kind::ReferralRouted,
            &facts,
            referral,
            referral_id,
            &referral.referrer_id,
        ));
        out
    }

    /// A referral waiting for review (`tell_coordinators`: it has just arrived in the queue).
    pub fn needs_review(&self, case: &Queueing, tell_coordinators: bool) -> Vec<Planned> {
        let Queueing {
            referral_id,
            referral,
            decision,
            ..
        } = case;
        let referral_id = *referral_id;
        let mut facts = self.facts(referral, decision, &referral.referrer_reference);
        facts.transfer = self.transferred_in(case);
        let mut out = Vec::new();
        if tell_coordinators && let Ok(code) = AreaCode::parse(&decision.destination_area_code) {
            let to = recipients::coordinators(
                &self.organisations,
                &self.directory,
                &code,
                Panel::Review,
            );
            out.extend(self.to_each(
                Kind::CaseForReview,
                to,
                &facts,
                referral,
                referral_id,
                code.as_str(),
            ));
        }
        out.extend(self.to_referrer(
            Kind::ReferralNeedsReview,
            &facts,
            referral,
            referral_id,
            &referral.referrer_id,
        ));
        out
    }

    /// An outcome that queues nothing: below threshold, declined, or transferred. The referrer
    /// and its reference are given apart, as a transfer's minimised referral carries neither.
    pub fn resolved(
        &self,
        kind: Kind,
        referral_id: Uuid,
        referral: &Referral,
        decision: &Decision,
        referrer_id: &str,
        reference: &str,
    ) -> Vec<Planned> {
        let facts = self.facts(referral, decision, reference);
        self.to_referrer(kind, &facts, referral, referral_id, referrer_id)
    }

    fn to_referrer(
        &self,
        kind: Kind,
        facts: &Facts,
        referral: &Referral,
        referral_id: Uuid,
        referrer_id: &str,
    ) -> Vec<Planned> {
        let to = recipients::referrer(&self.organisations, referrer_id);
        let area = facts.decision.destination_area_code.trim().to_uppercase();
        self.to_each(kind, to, facts, referral, referral_id, &area)
    }

    /// The operators' alert that `queue` dead-lettered a message (`message_id`, of type
    /// `message_type`, about the referral `correlation_id` names, if it names one).
    pub fn dead_lettered(
        &self,
        queue: &str,
        message_type: &str,
        message_id: Uuid,
        correlation_id: &str,
    ) -> Vec<Planned> {
        let alert = AlertFacts {
            queue: queue.to_string(),
            message_type: message_type.to_string(),
            message_id: message_id.to_string(),
            ..AlertFacts::default()
        };
        self.alert(Kind::AlertDeadLettered, alert, correlation_id)
    }

    /// The operators' alert that a consumer is stuck on one message.
    pub fn consumer_stuck(&self, stuck: &ConsumerStuck) -> Vec<Planned> {
        let alert = AlertFacts {
            service: stuck.service.clone(),
            queue: stuck.queue.clone(),
            message_id: stuck.message_id.clone(),
            failing_secs: stuck.failing_secs.to_string(),
            ..AlertFacts::default()
        };
        self.alert(Kind::AlertConsumerStuck, alert, &stuck.correlation_id)
    }

    /// An alert of `kind` to every operator, about the referral `correlation_id` names (if any).
    fn alert(&self, kind: Kind, alert: AlertFacts, correlation_id: &str) -> Vec<Planned> {
        let referral_id = correlation_id.trim().parse::<Uuid>().ok();
        let facts = Facts {
            referral_id: referral_id.map(|r| r.to_string()).unwrap_or_default(),
            alert: Some(alert),
            ..Facts::default()
        };
        recipients::operators(&self.organisations)
            .into_iter()
            .map(|r| Planned {
                id: Uuid::now_v7(),
                referral_id,
                kind,
                area_code: String::new(),
                content: Some(message::render(kind, &facts, r.personal_data)),
                recipient: Some(r),
                unaddressed: None,
                refused: None,
                must_not_be_told: MustNotBeTold::default(),
                lawful_basis: None,
            })
            .collect()
    }

    /// A Community MARAC case's notice to the statutory services of the area of residence.
    /// Always exactly one: addressed, refused, or owed to nobody yet.
    pub fn residence_notice(
        &self,
        notice_id: Uuid,
        referral_id: Uuid,
        event: &ResidenceNoticeRequested,
        referral: &Referral,
    ) -> Planned {
        let decision = event.decision.clone().unwrap_or_default();
        let area = AreaCode::parse(&event.residence_area_code).ok();
        let area_code = area
            .as_ref()
            .map(|a| a.as_str().to_string())
            .unwrap_or_else(|| event.residence_area_code.trim().to_string());
        let mut facts = self.facts(referral, &decision, "");
        facts.area = self.label(&event.panel_area_code);
        facts.residence_area = self.label(&area_code);
        let recipient = area
            .as_ref()
            .and_then(|a| recipients::statutory_recipient(&self.directory, a));
        match recipient {
            Some(r) => {
                let mut planned = self.to_each(
                    Kind::ResidenceNotice,
                    vec![r],
                    &facts,
                    referral,
                    referral_id,
                    &area_code,
                );
                let mut notice = planned.pop().expect("one recipient, one notification");
                notice.id = notice_id;
                notice
            }
            None => Planned {
                id: notice_id,
                referral_id: Some(referral_id),
                kind: Kind::ResidenceNotice,
                recipient: None,
                unaddressed: area
                    .as_ref()
                    .and_then(|a| recipients::statutory_services(&self.directory, a))
                    .map(|c| (c.organisation.clone(), c.role.clone())),
                area_code,
                content: None,
                refused: None,
                must_not_be_told: MustNotBeTold::of(referral),
                lawful_basis: refroute_platform::audit::lawful_basis(referral.details.as_ref()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_platform::access::organisations::ChannelAddress;
    use refroute_proto::v1::{
        CommunityMaracReferral, Criterion, DomesticAbuseReferral, Outcome, Pathway,
        Person as WirePerson,
    };

    const FP: [&str; 4] = [
        "aa00000000000000000000000000000000000000000000000000000000000001",
        "aa00000000000000000000000000000000000000000000000000000000000002",
        "aa00000000000000000000000000000000000000000000000000000000000003",
        "aa00000000000000000000000000000000000000000000000000000000000004",
    ];

    pub(super) fn planner() -> Planner {
        let orgs = Organisations::parse(&format!(
            r#"
[[organisation]]
id = "colp"
name = "City of London Police"
kind = "police_force"
certificates = ["{}"]
roles = ["referrer"]
[[organisation.channel]]
webhook = "https://colp.example/hook"

[[organisation]]
id = "city-marac"
name = "City of London MARAC"
kind = "partnership"
certificates = ["{}"]
[[organisation.coordinates]]
area = "E09000001"
panels = ["MARAC", "REVIEW"]
[[organisation.channel]]
email = "marac@city.example"
personal_data = true

[[organisation]]
id = "housing"
name = "Acme Housing"
kind = "partner_agency"
certificates = ["{}"]
[[organisation.coordinates]]
area = "E09000001"
panels = ["MARAC"]
[[organisation.channel]]
email = "housing@acme.example"

[[organisation]]
id = "quiet"
name = "Quiet Referrer"
kind = "partner_agency"
certificates = ["{}"]
roles = ["referrer"]
"#,
            FP[0], FP[1], FP[2], FP[3]
        ))
        .unwrap();
        let directory = refroute_platform::reference::directory(
            &refroute_platform::settings::DirectorySettings {
                file: String::new(),
            },
        )
        .unwrap();
        Planner::new(Arc::new(orgs), Arc::new(directory), 18)
    }

    pub(super) fn da_referral(
        dash: u32,
        cannot_wait: bool,
        do_not_inform: &[&str],
    ) -> (Referral, Decision) {
        let referral = Referral {
            id: Uuid::now_v7().to_string(),
            referrer_id: "colp".into(),
            referrer_reference: "COLP-1".into(),
            details: Some(referral::Details::DomesticAbuse(DomesticAbuseReferral {
                victim: Some(WirePerson {
                    full_name: "Jane Victim".into(),
                    ..Default::default()
                }),
                perpetrator: Some(WirePerson {
                    full_name: "John Perp".into(),
                    ..Default::default()
                }),
                do_not_inform: do_not_inform.iter().map(|s| s.to_string()).collect(),
                cannot_wait_for_next_meeting: cannot_wait,
                lawful_basis: "DPA 2018 s.35".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let decision = Decision {
            outcome: Outcome::Routed as i32,
            pathway: Pathway::DomesticAbuse as i32,
            panel: Panel::Marac as i32,
            destination_area_code: "E09000001".into(),
            criterion: Criterion::VisibleHighRisk as i32,
            dash_yes_count: dash,
            ..Default::default()
        };
        (referral, decision)
    }

    fn queueing(r: &Referral, d: &Decision) -> Queueing {
        Queueing {
            referral_id: r.id.parse().unwrap(),
            referral: r.clone(),
            decision: d.clone(),
            transfer_id: String::new(),
        }
    }

    pub(super) fn told(planned: &[Planned]) -> Vec<(Kind, String, bool)> {
        planned
            .iter()
            .map(|p| {
                let r = p.recipient.as_ref().unwrap();
                (p.kind, r.id.clone(), p.refused.is_some())
            })
            .collect()
    }

    #[test]
    fn a_routed_case_tells_its_coordinators_and_its_referrer() {
        let p = planner();
        let (r, d) = da_referral(15, false, &[]);
        let planned = p.routed(&queueing(&r, &d), true);
        assert_eq!(
            told(&planned),
            vec![
                (Kind::CaseRouted, "city-marac".into(), false),
                (Kind::CaseRouted, "housing".into(), false),
                (Kind::ReferralRouted, "colp".into(), false),
            ]
        );
        // Only the approved channel names the victim.
        let named: Vec<bool> = planned
            .iter()
            .map(|p| p.content.as_ref().unwrap().text.contains("Jane Victim"))
            .collect();
        assert_eq!(named, vec![true, false, false]);
        assert_eq!(planned[0].lawful_basis.as_deref(), Some("DPA 2018 s.35"));
        // Moved within its queue (decided again): only the referrer hears.
        assert_eq!(told(&p.routed(&queueing(&r, &d), false)).len(), 1);
    }

    #[test]
    fn a_case_at_or_above_the_urgent_score_or_that_cannot_wait_is_urgent() {
        let p = planner();
        for (dash, cannot_wait, urgent) in [
            (17, false, false),
            (18, false, true),
            (24, false, true),
            (14, true, true),
        ] {
            let (r, d) = da_referral(dash, cannot_wait, &[]);
            let planned = p.routed(&queueing(&r, &d), true);
            let want = if urgent {
                Kind::CaseUrgent
            } else {
                Kind::CaseRouted
            };
            assert_eq!(planned[0].kind, want, "{dash} {cannot_wait}");
            if urgent {
                let text = &planned[0].content.as_ref().unwrap().text;
                assert!(text.contains("emergency MARAC"), "{text}");
            }
        }
    }

    #[test]
    fn a_listed_recipient_is_refused_and_everyone_else_told() {
        let p = planner();
        let (r, d) = da_referral(15, false, &["  ACME   housing "]);
        let planned = p.routed(&queueing(&r, &d), true);
        assert_eq!(
            told(&planned),
            vec![
                (Kind::CaseRouted, "city-marac".into(), false),
                (Kind::CaseRouted, "housing".into(), true),
                (Kind::ReferralRouted, "colp".into(), false),
            ]
        );
        assert!(
            planned[1].content.is_none(),
            "nothing is rendered for a refused recipient"
        );
    }

    #[test]
    fn a_referrer_without_a_channel_is_told_nothing() {
        let p = planner();
        let (mut r, d) = da_referral(15, false, &[]);
        r.referrer_id = "quiet".into();
        let planned = p.routed(&queueing(&r, &d), false);
        assert!(planned.is_empty());
    }

    #[test]
    fn a_review_tells_the_review_coordinators_once_and_the_referrer_what_to_supply() {
        let p = planner();
        let (r, mut d) = da_referral(15, false, &[]);
        d.outcome = Outcome::NeedsReview as i32;
        d.panel = Panel::Review as i32;
        d.action_required = "Give the full postcode".into();
        let planned = p.needs_review(&queueing(&r, &d), true);
        assert_eq!(
            told(&planned),
            vec![
                (Kind::CaseForReview, "city-marac".into(), false),
                (Kind::ReferralNeedsReview, "colp".into(), false),
            ]
        );
        let to_referrer = &planned[1].content.as_ref().unwrap();
        assert!(
            to_referrer
                .text
                .contains("Please supply: Give the full postcode")
        );
        assert_eq!(told(&p.needs_review(&queueing(&r, &d), false)).len(), 1);
    }

    #[test]
    fn a_transfer_tells_the_referrer_given_apart_from_the_minimised_referral() {
        let p = planner();
        let (mut r, mut d) = da_referral(15, false, &[]);
        r.referrer_id.clear();
        r.referrer_reference.clear();
        d.outcome = Outcome::TransferRequested as i32;
        d.destination_area_code = "E09000012".into();
        d.transfer_kind = TransferKind::MaracToMarac as i32;
        let planned = p.resolved(
            Kind::ReferralTransferred,
            r.id.parse().unwrap(),
            &r,
            &d,
            "colp",
            "COLP-9",
        );
        assert_eq!(
            told(&planned),
            vec![(Kind::ReferralTransferred, "colp".into(), false)]
        );
        let c = planned[0].content.as_ref().unwrap();
        assert!(
            c.subject.contains("COLP-9") && c.subject.contains("Hackney (E09000012) MARAC"),
            "{}",
            c.subject
        );
        assert_eq!(planned[0].area_code, "E09000012");
    }

    #[test]
    fn a_residence_notice_is_one_delivery_whoever_it_reaches() {
        let p = planner();
        let referral = Referral {
            id: Uuid::now_v7().to_string(),
            details: Some(referral::Details::CommunityMarac(
                CommunityMaracReferral::default(),
            )),
            ..Default::default()
        };
        let event = |area: &str| ResidenceNoticeRequested {
            notice_id: Uuid::now_v7().to_string(),
            referral_id: referral.id.clone(),
            panel_area_code: "E09000001".into(),
            residence_area_code: area.into(),
            decision: None,
            referral: Some(referral.clone()),
        };
        let id = referral.id.parse().unwrap();
        let notice_id = Uuid::now_v7();
        // The shipped directory leaves addresses to the deployment: owed to nobody yet.
        let n = p.residence_notice(notice_id, id, &event("e09000012"), &referral);
        assert_eq!(n.id, notice_id);
        assert_eq!(n.area_code, "E09000012");
        assert!(n.recipient.is_none());
        // A deployment's directory file gives it one.
        let mut directory = refroute_platform::reference::directory(
            &refroute_platform::settings::DirectorySettings {
                file: String::new(),
            },
        )
        .unwrap();
        directory
            .extend_from_toml(
                "[[area]]\ncode = \"E09000012\"\nname = \"Hackney\"\npolice_force = \"E23000001\"\npanels = [\"MARAC\"]\n\
                 [[area.contacts]]\nrole = \"Statutory services\"\norganisation = \"London Borough of Hackney\"\naddress = \"asc@hackney.example\"\n",
            )
            .unwrap();
        let p = Planner::new(p.organisations.clone(), Arc::new(directory), 18);
        let n = p.residence_notice(notice_id, id, &event("E09000012"), &referral);
        let r = n.recipient.as_ref().unwrap();
        assert_eq!(
            r.address,
            ChannelAddress::Email("asc@hackney.example".into())
        );
        let text = &n.content.as_ref().unwrap().text;
        assert!(
            text.contains("Hackney (E09000012)") && text.contains("City of London (E09000001)"),
            "{text}"
        );
    }
}
