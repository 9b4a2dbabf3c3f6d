//! A case another deployment transferred here (docs/DOMAIN.md 2.4): the receiving area decides
//! it under its own rules, or, where its rules say `reassess_transfers = false`, accepts the
//! sending area's assessment and hears it. Either way the decision says where the case came
//! from, and a received case is never transferred on by itself: one that resolves to yet
//! another area waits for a person in review.

use crate::area::AreaCode;
use crate::decision::{Criterion, Decision, Outcome, Panel, TransferKind};
use crate::directory::Directory;
use crate::rules::RuleSet;

/// How a case came here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The area that transferred it.
    pub from_area: AreaCode,
    /// This deployment's area it was offered to: its rules apply.
    pub to_area: AreaCode,
    pub kind: TransferKind,
    pub sender: SenderAssessment,
}

/// What the sending area's decision found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderAssessment {
    /// The panel the case was transferred for; `None` when the sender's decision names no
    /// hearing panel (the pathway's panel is taken then).
    pub panel: Option<Panel>,
    pub criterion: Option<Criterion>,
    pub criteria_met: Vec<Criterion>,
    pub dash_yes_count: u32,
    pub reason: String,
}

/// The decision on a received case. `own` is this area's decision under its own rules: the
/// pathway's `decide` with the received area set to [`Received::to_area`].
pub fn decide(
    own: Decision,
    received: &Received,
    rule_set: &RuleSet,
    directory: &Directory,
) -> Decision {
    if rule_set.rules_for(&received.to_area).reassess_transfers {
        reassessed(own, received, directory)
    } else {
        accepted(own, received, directory)
    }
}

/// What a reassessed decision's reason starts with, so the coordinator (and the explanation)
/// sees where the case came from: "Transferred from City of London (MARAC-to-MARAC). ".
pub fn origin(received: &Received, directory: &Directory) -> String {
    format!(
        "Transferred from {} ({}). ",
        directory.name(&received.from_area),
        received.kind.label()
    )
}

/// This area's own decision, saying where the case came from.
fn reassessed(own: Decision, received: &Received, directory: &Directory) -> Decision {
    let mut d = if own.outcome == Outcome::TransferRequested {
        not_transferred_on(own, received, directory)
    } else {
        own
    };
    d.reason = format!("{}{}", origin(received, directory), d.reason);
    d
}

/// A received case whose residence resolves to yet another area goes to this area's review
/// queue: the sender and the receiver disagree about where the person lives, and transferring
/// it on by rule could pass it between deployments for ever. A person decides.
fn not_transferred_on(own: Decision, received: &Received, directory: &Directory) -> Decision {
    let here = directory.name(&received.to_area);
    let from = directory.name(&received.from_area);
    let reason = format!(
        "Needs review: {from} offered the case as belonging to {here}, but under {here}'s rules it belongs to {}, and a case received by transfer is never transferred on automatically. What {here}'s rules found: {}",
        directory.label(&own.destination),
        own.reason
    );
    let action = format!(
        "Confirm with {from} where the person lives now: accept the case here if it belongs to {here}, or decline the transfer so that {from} sends it where it belongs"
    );
    Decision {
        outcome: Outcome::NeedsReview,
        panel: Panel::Review,
        destination: received.to_area.clone(),
        transfer_kind: None,
        police_force: None,
        action_required: Some(action),
        reason,
        ..own
    }
}

/// The sending area's assessment accepted: straight to this area's panel, on the sender's
/// criterion, under this area's name and the rule set in force (which said so).
fn accepted(own: Decision, received: &Received, directory: &Directory) -> Decision {
    let sender = &received.sender;
    let panel = sender
        .panel
        .filter(|p| *p != Panel::Review)
        .unwrap_or(own.pathway.panel());
    let reason = format!(
        "Transferred from {}, whose assessment {} accepts (reassess_transfers = false): {}",
        directory.name(&received.from_area),
        directory.name(&received.to_area),
        sender.reason
    );
    Decision {
        outcome: Outcome::Routed,
        panel,
        destination: received.to_area.clone(),
        criterion: sender.criterion,
        criteria_met: sender.criteria_met.clone(),
        reason,
        rules_area: received.to_area.clone(),
        transfer_kind: None,
        police_force: None,
        notify_areas: Vec::new(),
        action_required: None,
        dash_yes_count: sender.dash_yes_count,
        ..own
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dash::DashChecklist;
    use crate::decision::{Pathway, Residence};
    use crate::directory::tests::directory;
    use crate::marac::{self, DaCase};
    use crate::prevent::{self, PvCase};
    use crate::rules::tests::rule_set;

    const CITY: &str = "E09000001";
    const HACKNEY: &str = "E09000012";
    const ISLINGTON: &str = "E09000019";
    /// Accepts the sender's assessment in the test rules.
    const TOWER_HAMLETS: &str = "E09000030";
    const MEDWAY: &str = "E06000035";

    fn area(code: &str) -> AreaCode {
        AreaCode::parse(code).unwrap()
    }

    fn lives_in(code: &str) -> Residence {
        Residence::Area {
            code: area(code),
            how: format!("local-authority code {code}"),
        }
    }

    const SENDER_REASON: &str = "Visible high risk: DASH score 16 is at or above City of London's threshold of 14. The victim lives in ...";

    /// Offered by the City to `to`, where the City found visible high risk on 16 yes answers.
    fn received(to: &str, kind: TransferKind) -> Received {
        Received {
            from_area: area(CITY),
            to_area: area(to),
            kind,
            sender: SenderAssessment {
                panel: Some(Panel::Marac),
                criterion: Some(Criterion::VisibleHighRisk),
                criteria_met: vec![Criterion::VisibleHighRisk, Criterion::ProfessionalJudgement],
                dash_yes_count: 16,
                reason: SENDER_REASON.into(),
            },
        }
    }

    /// A victim living in `lives` with `yes` answers, decided under `to`'s rules.
    fn da(to: &str, lives: &str, yes: usize) -> (Decision, Received) {
        let case = DaCase {
            received_area: area(to),
            residence: lives_in(lives),
            incident_area: area(CITY),
            incident_date: "2026-10-15".parse().unwrap(),
            dash: DashChecklist::with_yes_count(yes),
            professional_judgement_reasons: vec![],
            police_incident_dates: vec![],
            earlier_incident_dates: vec![],
            indicators: vec![],
        };
        let set = rule_set();
        let own = marac::decide(&case, &[], &set, &directory());
        let r = received(to, TransferKind::MaracToMarac);
        (decide(own, &r, &set, &directory()), r)
    }

    #[test]
    fn reassessed_under_the_receiving_areas_own_threshold_saying_where_it_came_from() {
        // Hackney re-applies its threshold of 15: the City's 14 is not enough there.
        let (d, _) = da(HACKNEY, HACKNEY, 14);
        assert_eq!(d.outcome, Outcome::BelowThreshold, "{}", d.reason);
        assert_eq!(d.rules_area, area(HACKNEY));
        assert!(
            d.reason.starts_with(
                "Transferred from City of London (MARAC-to-MARAC). Below the MARAC threshold under Hackney's rules"
            ),
            "{}",
            d.reason
        );
        let (d, _) = da(HACKNEY, HACKNEY, 15);
        assert_eq!(
            (d.outcome, d.panel, d.destination.clone()),
            (Outcome::Routed, Panel::Marac, area(HACKNEY)),
            "{}",
            d.reason
        );
        assert_eq!(d.criterion, Some(Criterion::VisibleHighRisk));
        assert_eq!(
            d.dash_yes_count, 15,
            "this area's own count, not the sender's"
        );
        assert!(
            d.reason
                .starts_with("Transferred from City of London (MARAC-to-MARAC). Visible high risk")
        );
    }

    #[test]
    fn accepted_where_the_receiving_area_does_not_reassess() {
        // 5 yes answers would be below any threshold: the sender's finding stands.
        let (d, r) = da(TOWER_HAMLETS, TOWER_HAMLETS, 5);
        assert_eq!(
            (d.outcome, d.panel, d.destination.clone()),
            (Outcome::Routed, Panel::Marac, area(TOWER_HAMLETS))
        );
        assert_eq!(d.criterion, Some(Criterion::VisibleHighRisk));
        assert_eq!(d.criteria_met, r.sender.criteria_met);
        assert_eq!(d.dash_yes_count, 16);
        assert_eq!(d.rules_area, area(TOWER_HAMLETS));
        assert_eq!((d.rule_set.as_str(), d.rule_set_version), ("test-rules", 7));
        assert_eq!(d.pathway, Pathway::DomesticAbuse);
        assert_eq!((d.transfer_kind, d.action_required.clone()), (None, None));
        assert_eq!(
            d.reason,
            format!(
                "Transferred from City of London, whose assessment Tower Hamlets accepts (reassess_transfers = false): {SENDER_REASON}"
            )
        );
        // Accepted means accepted: this area's view of the residence does not send it on.
        let (d, _) = da(TOWER_HAMLETS, ISLINGTON, 20);
        assert_eq!(
            (d.outcome, d.destination),
            (Outcome::Routed, area(TOWER_HAMLETS))
        );
    }

    #[test]
    fn a_sender_decision_without_a_hearing_panel_is_heard_by_the_pathways_panel() {
        let set = rule_set();
        let (own, mut r) = da(TOWER_HAMLETS, TOWER_HAMLETS, 5);
        r.sender.panel = Some(Panel::Review);
        assert_eq!(accepted(own.clone(), &r, &directory()).panel, Panel::Marac);
        r.sender.panel = None;
        assert_eq!(decide(own, &r, &set, &directory()).panel, Panel::Marac);
    }

    #[test]
    fn a_received_case_resolving_to_yet_another_area_goes_to_review_not_on() {
        let (d, _) = da(HACKNEY, ISLINGTON, 20);
        assert_eq!(
            (d.outcome, d.panel, d.destination.clone()),
            (Outcome::NeedsReview, Panel::Review, area(HACKNEY)),
            "{}",
            d.reason
        );
        assert_eq!((d.transfer_kind, d.police_force.clone()), (None, None));
        assert_eq!(
            d.criterion,
            Some(Criterion::VisibleHighRisk),
            "what was found stays"
        );
        assert!(
            d.reason.starts_with(
                "Transferred from City of London (MARAC-to-MARAC). Needs review: City of London offered the case as belonging to Hackney, but under Hackney's rules it belongs to Islington (E09000019)"
            ),
            "{}",
            d.reason
        );
        assert!(d.reason.contains("never transferred on"), "{}", d.reason);
        assert!(
            d.action_required
                .as_deref()
                .is_some_and(|a| a.contains("Confirm with City of London")),
            "{:?}",
            d.action_required
        );
        // A victim living in the receiving area is no transfer: routed there.
        assert_eq!(da(HACKNEY, HACKNEY, 20).0.outcome, Outcome::Routed);
    }

    #[test]
    fn a_prevent_handover_resolving_elsewhere_goes_to_review_without_a_police_force() {
        let case = PvCase {
            received_area: area(HACKNEY),
            incident_area: area(CITY),
            residence: lives_in(MEDWAY),
            age: 30,
        };
        let set = rule_set();
        let own = prevent::decide(&case, &set, &directory());
        assert_eq!(own.outcome, Outcome::TransferRequested);
        let r = received(HACKNEY, TransferKind::PreventHandover);
        let d = decide(own, &r, &set, &directory());
        assert_eq!(
            (d.outcome, d.destination.clone(), d.police_force.clone()),
            (Outcome::NeedsReview, area(HACKNEY), None)
        );
        assert!(
            d.reason
                .starts_with("Transferred from City of London (Prevent handover). Needs review"),
            "{}",
            d.reason
        );
        // Living in the receiving area: its Channel panel.
        let own = prevent::decide(
            &PvCase {
                residence: lives_in(HACKNEY),
                ..case
            },
            &set,
            &directory(),
        );
        let d = decide(own, &r, &set, &directory());
        assert_eq!(
            (d.outcome, d.panel, d.destination),
            (Outcome::Routed, Panel::Channel, area(HACKNEY))
        );
    }
}
