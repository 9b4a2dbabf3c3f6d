//! Who is told of a transfer's steps, and what the contact of a destination without a
//! deployment is sent. Which step tells whom is [`crate::transfer_steps::effect`]'s to say;
//! this renders and addresses it, as the rest of [`crate::plan`] does.

use super::{Planned, Planner};
use crate::do_not_inform::MustNotBeTold;
use crate::message::{CaseFacts, Facts, Kind, TransferFacts, panel_label};
use crate::queue::Queueing;
use crate::recipients;
use chrono::DateTime;
use refroute_domain::AreaCode;
use refroute_proto::v1::{
    ConsentState, Incident, Panel, PreventConsent, Referral, Transfer, TransferContactRequested,
    TransferKind, TransferState, TransferStateChanged, referral,
};
use uuid::Uuid;

/// The two ends of a transfer as people name them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Places {
    /// The sending area's panel: "City of London MARAC".
    pub origin: String,
    /// "Hackney MARAC", or a Prevent handover's "Kent Police Prevent team".
    pub destination: String,
}

/// The panel a transfer of `kind` is for, when the event does not say.
pub fn panel_of(kind: TransferKind) -> Panel {
    match kind {
        TransferKind::PreventHandover => Panel::Channel,
        TransferKind::MaracToMarac | TransferKind::Unspecified => Panel::Marac,
    }
}

/// "2026-12-08 09:00 UTC"; "" for a time the event does not give.
pub fn when(seconds: i64, nanos: i32) -> String {
    u32::try_from(nanos)
        .ok()
        .and_then(|n| DateTime::from_timestamp(seconds, n))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// When a transfer was first offered (its history's first OFFERED step), else when it was made.
fn offered_since(transfer: &Transfer) -> String {
    transfer
        .history
        .iter()
        .find(|s| s.state() == TransferState::Offered)
        .and_then(|s| s.time.as_ref())
        .or(transfer.create_time.as_ref())
        .map(|t| when(t.seconds, t.nanos))
        .unwrap_or_default()
}

fn consent_label(consent: ConsentState) -> &'static str {
    match consent {
        ConsentState::Given => "given",
        ConsentState::Refused => "refused",
        ConsentState::NotSoughtUnsafe => "not sought: asking would put the victim at risk",
        ConsentState::Unspecified => "",
    }
}

fn prevent_consent_label(consent: PreventConsent) -> &'static str {
    match consent {
        PreventConsent::NotYetSought => "not yet sought",
        PreventConsent::Given => "given by the person",
        PreventConsent::GivenByParent => "given by a parent or guardian",
        PreventConsent::Refused => "refused",
        PreventConsent::Unspecified => "",
    }
}

impl Planner {
    /// The ends of a transfer of `kind` from `from_area`'s `panel` to `to_area` (or, for a
    /// Prevent handover, to the police force `to_force`, by default the force of `to_area`).
    pub fn places(
        &self,
        kind: TransferKind,
        from_area: &str,
        panel: Panel,
        to_area: &str,
        to_force: &str,
    ) -> Places {
        let destination = match kind {
            TransferKind::PreventHandover => {
                let force = match to_force.trim() {
                    "" => AreaCode::parse(to_area)
                        .ok()
                        .and_then(|a| self.directory.force_of(&a)),
                    code => self.directory.police_force(code),
                };
                let name = force.map(|f| f.name.clone()).unwrap_or_else(|| {
                    Some(to_force.trim())
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .unwrap_or_else(|| self.name(to_area))
                });
                format!("{name} {}", recipients::PREVENT_TEAM)
            }
            TransferKind::MaracToMarac | TransferKind::Unspecified => {
                format!("{} {}", self.name(to_area), panel_label(panel))
            }
        };
        Places {
            origin: format!("{} {}", self.name(from_area), panel_label(panel)),
            destination,
        }
    }

    /// [`Planner::places`] of a transfer as this deployment holds it.
    pub fn places_of(&self, transfer: &Transfer) -> Places {
        self.places(
            transfer.kind(),
            &transfer.from_area_code,
            transfer.panel(),
            &transfer.to_area_code,
            &transfer.to_police_force_code,
        )
    }

    /// The name the organisations file gives the organisation `id`.
    pub fn organisation_name(&self, id: &str) -> Option<String> {
        self.organisations.by_id(id).map(|o| o.name.clone())
    }

    fn transfer_facts(&self, transfer: &Transfer) -> TransferFacts {
        let places = self.places_of(transfer);
        TransferFacts {
            transfer_id: transfer.transfer_id.clone(),
            origin: places.origin,
            destination: places.destination,
            reason: transfer.reason.trim().to_string(),
            since: offered_since(transfer),
            ..TransferFacts::default()
        }
    }

    /// An outbound transfer declined by its destination, or undeliverable to it, whose case
    /// (`case`, with the decision that returned it) is back in the sending queue: the sending
    /// area's coordinators of the panel are told `coordinators`, and the referrer `referrer`
    /// (when it is told at all) by the organisations file, as `referrer_id` names it.
    pub fn transfer_returned(
        &self,
        transfer: &Transfer,
        case: &Queueing,
        referrer_id: &str,
        coordinators: Kind,
        referrer: Option<Kind>,
    ) -> Vec<Planned> {
        let Queueing {
            referral_id,
            referral,
            decision,
            ..
        } = case;
        let mut facts = self.facts(referral, decision, &referral.referrer_reference);
        facts.transfer = Some(self.transfer_facts(transfer));
        let mut out = Vec::new();
        if let Ok(area) = AreaCode::parse(&decision.destination_area_code) {
            let to = recipients::coordinators(
                &self.organisations,
                &self.directory,
                &area,
                decision.panel(),
            );
            out.extend(self.to_each(
                coordinators,
                to,
                &facts,
                referral,
                *referral_id,
                area.as_str(),
            ));
        }
        if let Some(kind) = referrer {
            out.extend(self.to_referrer(kind, &facts, referral, *referral_id, referrer_id));
        }
        out
    }

    /// An outbound transfer accepted by its destination, or acknowledged by the contact of one
    /// without a deployment: the referrer is told `kind`, given apart from the minimised
    /// referral.
    pub fn transfer_answered(
        &self,
        event: &TransferStateChanged,
        transfer: &Transfer,
        referral_id: Uuid,
        referral: &Referral,
        kind: Kind,
    ) -> Vec<Planned> {
        let decision = event.decision.clone().unwrap_or_default();
        let mut facts = self.facts(referral, &decision, &event.referrer_reference);
        let mut transfer_facts = self.transfer_facts(transfer);
        transfer_facts.answer = match transfer.state() {
            TransferState::Acknowledged => "acknowledged receipt of",
            _ => "accepted",
        }
        .to_string();
        facts.transfer = Some(transfer_facts);
        self.to_referrer(kind, &facts, referral, referral_id, &event.referrer_id)
    }

    /// What of the case crosses to a destination without a deployment, line by line.
    fn case_facts(&self, referral: &Referral) -> CaseFacts {
        let incident = |i: Option<&Incident>| {
            i.filter(|i| !i.date.trim().is_empty() || !i.area_code.trim().is_empty())
                .map(|i| {
                    let area = self.label(&i.area_code);
                    match (i.date.trim(), area.trim()) {
                        (d, "") => d.to_string(),
                        ("", a) => format!("in {a}"),
                        (d, a) => format!("{d}, in {a}"),
                    }
                })
                .unwrap_or_default()
        };
        let listed = |names: &[String], perpetrator_too: bool| {
            let mut names: Vec<&str> = names
                .iter()
                .map(|n| n.trim())
                .filter(|n| !n.is_empty())
                .collect();
            names.dedup();
            let mut line = names.join("; ");
            if perpetrator_too {
                if !line.is_empty() {
                    line.push_str("; ");
                }
                line.push_str("nor the perpetrator, whether listed or not");
            }
            line
        };
        match &referral.details {
            Some(referral::Details::DomesticAbuse(d)) => CaseFacts {
                incident: incident(d.incident.as_ref()),
                professional_judgement: d
                    .professional_judgement
                    .as_ref()
                    .filter(|p| p.applies)
                    .map(|p| p.reasons.join("; "))
                    .unwrap_or_default(),
                consent: consent_label(d.consent()).to_string(),
                lawful_basis: d.lawful_basis.trim().to_string(),
                concern_summary: String::new(),
                must_not_be_told: listed(&d.do_not_inform, true),
            },
            Some(referral::Details::Prevent(p)) => CaseFacts {
                incident: incident(p.incident.as_ref()),
                concern_summary: p.concern_summary.trim().to_string(),
                consent: prevent_consent_label(p.consent()).to_string(),
                must_not_be_told: listed(&p.do_not_inform, false),
                ..CaseFacts::default()
            },
            Some(referral::Details::CommunityMarac(c)) => CaseFacts {
                incident: incident(c.incident.as_ref()),
                consent: consent_label(c.consent()).to_string(),
                lawful_basis: c.lawful_basis.trim().to_string(),
                must_not_be_told: listed(&c.do_not_inform, false),
                ..CaseFacts::default()
            },
            None => CaseFacts::default(),
        }
    }

    /// A transfer to a destination without a deployment: the case, to each of the destination's
    /// directory contacts approved for personal data ([`recipients::transfer_recipients`]).
    /// Never nothing: with none to send it to, one notification owed to nobody, which alarms.
    pub fn transfer_contact(
        &self,
        event: &TransferContactRequested,
        referral_id: Uuid,
        referral: &Referral,
    ) -> Vec<Planned> {
        let kind = event.kind();
        let mut decision = event.decision.clone().unwrap_or_default();
        decision.transfer_kind = kind as i32;
        let places = self.places(
            kind,
            &event.from_area_code,
            panel_of(kind),
            &event.to_area_code,
            &event.to_police_force_code,
        );
        let mut facts: Facts = self.facts(referral, &decision, "");
        facts.transfer = Some(TransferFacts {
            transfer_id: event.transfer_id.clone(),
            origin: places.origin,
            destination: places.destination,
            deliver_by: event
                .deliver_by
                .as_ref()
                .map(|t| when(t.seconds, t.nanos))
                .unwrap_or_default(),
            acknowledgement_code: event.acknowledgement_code.trim().to_string(),
            ..TransferFacts::default()
        });
        facts.case = Some(self.case_facts(referral));
        let area = AreaCode::parse(&event.to_area_code).ok();
        let area_code = area
            .as_ref()
            .map(|a| a.as_str().to_string())
            .unwrap_or_else(|| event.to_area_code.trim().to_string());
        let to = recipients::transfer_recipients(
            &self.directory,
            kind,
            area.as_ref(),
            &event.to_police_force_code,
        );
        if !to.is_empty() {
            return self.to_each(
                Kind::TransferContact,
                to,
                &facts,
                referral,
                referral_id,
                &area_code,
            );
        }
        let (_, contacts) = recipients::destination_contacts(
            &self.directory,
            kind,
            area.as_ref(),
            &event.to_police_force_code,
        );
        vec![Planned {
            id: Uuid::now_v7(),
            referral_id: Some(referral_id),
            kind: Kind::TransferContact,
            area_code,
            recipient: None,
            unaddressed: contacts
                .first()
                .map(|c| (c.organisation.clone(), c.role.clone())),
            content: None,
            refused: None,
            must_not_be_told: MustNotBeTold::of(referral),
            lawful_basis: refroute_platform::audit::lawful_basis(referral.details.as_ref()),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{da_referral, planner, told};
    use super::*;
    use crate::transfer_steps::{Returned, returned_decision};
    use refroute_proto::v1::{PreventReferral, TransferDirection, TransferStep};
    use std::sync::Arc;

    /// Kent Police's Prevent referrals desk (approved for personal data) and Medway's MARAC
    /// coordinator (not approved).
    const DIRECTORY: &str = r#"
[[police_force]]
code = "E23000032"
name = "Kent Police"
[[police_force.contacts]]
role = "Prevent team"
organisation = "Kent Police Prevent"
address = "prevent@kent.pnn.police.uk"
personal_data = true
[[area]]
code = "E06000035"
name = "Medway"
police_force = "E23000032"
panels = ["MARAC", "CHANNEL"]
[[area.contacts]]
role = "MARAC coordinator"
organisation = "Medway MARAC"
address = "marac@medway.example"
"#;

    fn with_contacts() -> Planner {
        let p = planner();
        let mut directory = refroute_platform::reference::directory(
            &refroute_platform::settings::DirectorySettings {
                file: String::new(),
            },
        )
        .unwrap();
        directory.extend_from_toml(DIRECTORY).unwrap();
        Planner::new(p.organisations.clone(), Arc::new(directory), 18)
    }

    fn transfer(state: TransferState) -> Transfer {
        Transfer {
            transfer_id: Uuid::now_v7().to_string(),
            kind: TransferKind::MaracToMarac as i32,
            direction: TransferDirection::Outbound as i32,
            state: state as i32,
            from_area_code: "E09000001".into(),
            to_area_code: "E09000012".into(),
            panel: Panel::Marac as i32,
            referral_id: Uuid::now_v7().to_string(),
            route: "peer hackney-refroute".into(),
            reason: "below Hackney's threshold".into(),
            history: vec![TransferStep {
                state: TransferState::Offered as i32,
                time: Some(refroute_platform::wire::timestamp(
                    DateTime::from_timestamp(1_796_115_600, 0).unwrap(),
                )),
                detail: String::new(),
            }],
            ..Default::default()
        }
    }

    /// The case back in City of London's MARAC queue, as `transfer_steps` queues it.
    fn returned(p: &Planner, t: &Transfer, how: Returned, do_not_inform: &[&str]) -> Queueing {
        let (mut referral, sent) = da_referral(15, false, do_not_inform);
        referral.id = t.referral_id.clone();
        let places = p.places_of(t);
        let decision = returned_decision(
            how,
            t,
            &sent,
            &places.origin,
            &places.destination,
            chrono::Utc::now(),
        );
        Queueing {
            referral_id: t.referral_id.parse().unwrap(),
            referral,
            decision,
            transfer_id: String::new(),
        }
    }

    #[test]
    fn a_transfers_ends_are_named_as_people_name_them() {
        let p = with_contacts();
        let marac = p.places(
            TransferKind::MaracToMarac,
            "E09000001",
            Panel::Marac,
            "E09000012",
            "",
        );
        assert_eq!(marac.origin, "City of London MARAC");
        assert_eq!(marac.destination, "Hackney MARAC");
        let prevent = p.places(
            TransferKind::PreventHandover,
            "E09000001",
            Panel::Channel,
            "E06000035",
            "",
        );
        assert_eq!(prevent.origin, "City of London Channel panel");
        assert_eq!(prevent.destination, "Kent Police Prevent team");
    }

    #[test]
    fn a_declined_transfer_tells_the_sending_coordinators_and_the_referrer_its_reason() {
        let p = planner();
        let t = transfer(TransferState::Declined);
        let case = returned(&p, &t, Returned::Declined, &[]);
        let planned = p.transfer_returned(
            &t,
            &case,
            "colp",
            Kind::TransferDeclined,
            Some(Kind::ReferralTransferDeclined),
        );
        assert_eq!(
            told(&planned),
            vec![
                (Kind::TransferDeclined, "city-marac".into(), false),
                (Kind::TransferDeclined, "housing".into(), false),
                (Kind::ReferralTransferDeclined, "colp".into(), false),
            ]
        );
        for p in &planned {
            assert_eq!(p.area_code, "E09000001");
            assert_eq!(p.referral_id, Some(case.referral_id));
            let text = &p.content.as_ref().unwrap().text;
            assert!(text.contains("below Hackney's threshold"), "{text}");
            assert!(text.contains("Hackney MARAC"), "{text}");
        }
        let to_coordinator = &planned[0].content.as_ref().unwrap().text;
        assert!(to_coordinator.contains(&t.transfer_id), "{to_coordinator}");
        assert!(to_coordinator.contains("back in the queue of the MARAC of City of London"));
        // Only the approved channel names the victim.
        assert!(to_coordinator.contains("Jane Victim"));
        let to_housing = &planned[1].content.as_ref().unwrap().text;
        assert!(!to_housing.contains("Jane Victim"), "{to_housing}");
    }

    #[test]
    fn an_undeliverable_transfer_alerts_the_sending_coordinators_alone() {
        let p = planner();
        let mut t = transfer(TransferState::Undeliverable);
        t.reason = "no receipt within 5 days".into();
        let case = returned(&p, &t, Returned::Undeliverable, &["Acme Housing"]);
        let planned = p.transfer_returned(&t, &case, "colp", Kind::TransferUndeliverable, None);
        assert_eq!(
            told(&planned),
            vec![
                (Kind::TransferUndeliverable, "city-marac".into(), false),
                // On the do-not-inform list: refused, everyone else told.
                (Kind::TransferUndeliverable, "housing".into(), true),
            ]
        );
        let c = planned[0].content.as_ref().unwrap();
        for want in [
            t.transfer_id.as_str(),
            "to Hackney MARAC",
            "offered since 2026-12-01 09:00 UTC",
            "no receipt within 5 days",
            "back in the queue of the MARAC of City of London (E09000001)",
        ] {
            assert!(c.text.contains(want), "{want}: {}", c.text);
        }
        assert!(c.subject.contains("NOT DELIVERED"), "{}", c.subject);
    }

    #[test]
    fn the_referrer_hears_its_transfer_accepted_or_acknowledged() {
        let p = planner();
        let (mut referral, decision) = da_referral(15, false, &[]);
        referral.referrer_id.clear();
        referral.referrer_reference.clear();
        for (state, said) in [
            (
                TransferState::Accepted,
                "Hackney MARAC accepted the transfer",
            ),
            (
                TransferState::Acknowledged,
                "Hackney MARAC acknowledged receipt of the transfer",
            ),
        ] {
            let t = transfer(state);
            let event = TransferStateChanged {
                transfer: Some(t.clone()),
                referral: Some(referral.clone()),
                decision: Some(decision.clone()),
                referrer_id: "colp".into(),
                referrer_reference: "COLP-9".into(),
            };
            let id = t.referral_id.parse().unwrap();
            let planned =
                p.transfer_answered(&event, &t, id, &referral, Kind::ReferralTransferAccepted);
            assert_eq!(
                told(&planned),
                vec![(Kind::ReferralTransferAccepted, "colp".into(), false)]
            );
            let c = planned[0].content.as_ref().unwrap();
            assert!(c.text.contains(said), "{}", c.text);
            assert!(c.subject.contains("COLP-9"), "{}", c.subject);
        }
    }

    fn contact_request(kind: TransferKind, referral: Referral) -> TransferContactRequested {
        TransferContactRequested {
            transfer_id: Uuid::now_v7().to_string(),
            kind: kind as i32,
            from_area_code: "E09000001".into(),
            to_area_code: "E06000035".into(),
            to_police_force_code: "E23000032".into(),
            decision: None,
            referral: Some(referral),
            acknowledgement_code: "K7Q2-M9XD".into(),
            deliver_by: Some(refroute_platform::wire::timestamp(
                DateTime::from_timestamp(1_796_547_600, 0).unwrap(),
            )),
        }
    }

    fn prevent_referral(do_not_inform: &[&str]) -> Referral {
        Referral {
            id: Uuid::now_v7().to_string(),
            details: Some(referral::Details::Prevent(PreventReferral {
                incident: Some(Incident {
                    date: "2026-11-20".into(),
                    area_code: "E09000001".into(),
                }),
                subject: Some(refroute_proto::v1::Person {
                    full_name: "Sam Subject".into(),
                    date_of_birth: "2008-04-01".into(),
                    ..Default::default()
                }),
                concern_summary: "shares extremist material online".into(),
                consent: PreventConsent::NotYetSought as i32,
                do_not_inform: do_not_inform.iter().map(|s| s.to_string()).collect(),
            })),
            ..Default::default()
        }
    }

    #[test]
    fn a_prevent_handover_sends_the_case_to_the_forces_prevent_team() {
        let p = with_contacts();
        let referral = prevent_referral(&["Uncle Bob"]);
        let event = contact_request(TransferKind::PreventHandover, referral.clone());
        let id = referral.id.parse().unwrap();
        let planned = p.transfer_contact(&event, id, &referral);
        assert_eq!(planned.len(), 1);
        let n = &planned[0];
        assert_eq!(n.kind, Kind::TransferContact);
        assert_eq!(n.area_code, "E06000035");
        assert_eq!(n.refused, None);
        let r = n.recipient.as_ref().unwrap();
        assert_eq!(r.organisation, "Kent Police Prevent");
        assert!(r.personal_data);
        let c = n.content.as_ref().unwrap();
        for want in [
            event.transfer_id.as_str(),
            "City of London Channel panel",
            "Kent Police Prevent team",
            "Person: Sam Subject, born 2008-04-01",
            "Incident: 2026-11-20, in City of London (E09000001)",
            "Concern: shares extremist material online",
            "Consent: not yet sought",
            "Must not be told of this referral: Uncle Bob",
            "this code: K7Q2-M9XD. It can be used once.",
            "acknowledged by 2026-12-06 09:00 UTC",
        ] {
            assert!(c.text.contains(want), "{want}: {}", c.text);
        }
        assert!(c.fields.contains(&"concern_summary".to_string()));
    }

    #[test]
    fn a_destination_without_a_contact_approved_for_personal_data_is_owed_to_nobody() {
        let p = with_contacts();
        let (mut referral, _) = da_referral(15, false, &[]);
        referral.referrer_id.clear();
        let event = contact_request(TransferKind::MaracToMarac, referral.clone());
        let id = referral.id.parse().unwrap();
        let planned = p.transfer_contact(&event, id, &referral);
        assert_eq!(planned.len(), 1);
        let n = &planned[0];
        assert!(n.recipient.is_none(), "Medway's address is not approved");
        assert!(n.content.is_none(), "nothing rendered for nobody");
        assert_eq!(
            n.unaddressed,
            Some(("Medway MARAC".into(), "MARAC coordinator".into()))
        );
        assert!(
            n.unaddressed_because()
                .contains("approved for personal data")
        );
    }

    #[test]
    fn a_contact_on_the_do_not_inform_list_is_refused() {
        let p = with_contacts();
        let referral = prevent_referral(&["kent police prevent"]);
        let event = contact_request(TransferKind::PreventHandover, referral.clone());
        let planned = p.transfer_contact(&event, referral.id.parse().unwrap(), &referral);
        assert_eq!(planned.len(), 1);
        assert!(planned[0].refused.is_some());
        assert!(planned[0].content.is_none());
    }
}
