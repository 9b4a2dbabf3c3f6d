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
