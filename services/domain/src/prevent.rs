//! Prevent (docs/DOMAIN.md 2.3): a radicalisation concern goes to the Channel panel of the local
//! authority where the person lives when that is the receiving area; otherwise it is handed over
//! to the police force of their residence, which runs its own Prevent assessment. Consent state
//! and age travel with the case because Channel is voluntary and a child's consent is a parent's.

use crate::area::AreaCode;
use crate::decision::{Criterion, Decision, Outcome, Panel, Pathway, Residence, TransferKind};
use crate::directory::Directory;
use crate::rules::RuleSet;

/// Under this age, consent to Channel support is a parent's or guardian's.
pub const ADULT_AGE: u32 = 18;

#[derive(Clone, Debug)]
pub struct PvCase {
    pub received_area: AreaCode,
    pub incident_area: AreaCode,
    pub residence: Residence,
    /// Whole years on the referral date.
    pub age: u32,
}

pub fn decide(case: &PvCase, rule_set: &RuleSet, directory: &Directory) -> Decision {
    let mut d = Decision::new(
        Pathway::Prevent,
        Panel::Channel,
        &case.received_area,
        &case.residence,
        rule_set,
    );
    d.subject_age = Some(case.age);
    d.criterion = Some(Criterion::RadicalisationConcern);
    d.criteria_met = vec![Criterion::RadicalisationConcern];
    let consent = if case.age < ADULT_AGE {
        format!(
            "The person is {} (under {ADULT_AGE}): a parent's or guardian's consent is needed before Channel support.",
            case.age
        )
    } else {
        format!(
            "The person is {}: their own consent is needed before Channel support.",
            case.age
        )
    };
    let home = match &case.residence {
        Residence::Area { code, .. } => code.clone(),
        Residence::NoFixedAbode => case.incident_area.clone(),
        Residence::Unresolved { why, supply } => {
            d.needs_review(why, supply, "A Prevent referral goes to the Channel panel where the person lives, or is handed over to that area's police force.");
            return d;
        }
    };
    let lives = match &case.residence {
        Residence::NoFixedAbode => format!(
            "has no fixed abode; the concern arose in {}",
            directory.label(&home)
        ),
        r => format!("lives in {} ({})", directory.label(&home), r.describe()),
    };
    if home == case.received_area {
        d.outcome = Outcome::Routed;
        d.reason = format!(
            "Radicalisation concern: the person {lives}, so the case goes to the {} Channel panel after the police Prevent assessment. {consent}",
            directory.name(&home)
        );
        return d;
    }
    match directory.force_of(&home) {
        Some(force) => {
            d.outcome = Outcome::TransferRequested;
            d.transfer_kind = Some(TransferKind::PreventHandover);
            d.destination = home.clone();
            d.police_force = Some(force.code.clone());
            d.reason = format!(
                "Radicalisation concern: the person {lives}, outside {}: Prevent handover to {} ({}), the police force where they live. {consent}",
                directory.name(&case.received_area),
                force.name,
                force.code
            );
        }
        None => d.needs_review(
            &format!("the person lives in {}, whose police force is not in the area directory", directory.label(&home)),
            "Add the area and its police force to the area directory, or give the local-authority GSS code of the residence",
            "A Prevent referral for a person living elsewhere is handed over to the police force where they live.",
        ),
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::tests::directory;
    use crate::rules::tests::rule_set;

    fn area(code: &str) -> AreaCode {
        AreaCode::parse(code).unwrap()
    }

    fn case(lives: Residence, age: u32) -> PvCase {
        PvCase {
            received_area: AreaCode::city_of_london(),
            incident_area: AreaCode::city_of_london(),
            residence: lives,
            age,
        }
    }

    fn lives_in(code: &str) -> Residence {
        Residence::Area {
            code: area(code),
            how: "code".into(),
        }
    }

    fn decide_now(c: &PvCase) -> Decision {
        decide(c, &rule_set(), &directory())
    }

    #[test]
    fn a_local_resident_goes_to_the_local_channel_panel() {
        let d = decide_now(&case(lives_in("E09000001"), 30));
        assert_eq!(
            (d.outcome, d.panel, d.destination.clone()),
            (Outcome::Routed, Panel::Channel, AreaCode::city_of_london())
        );
        assert_eq!(d.criterion, Some(Criterion::RadicalisationConcern));
        assert!(d.reason.contains("their own consent"), "{}", d.reason);
    }

    #[test]
    fn a_resident_elsewhere_is_handed_over_to_their_police_force() {
        let d = decide_now(&case(lives_in("E09000012"), 30));
        assert_eq!(
            (d.outcome, d.transfer_kind),
            (
                Outcome::TransferRequested,
                Some(TransferKind::PreventHandover)
            )
        );
        assert_eq!(d.police_force.as_deref(), Some("E23000001"));
        assert!(
            d.reason.contains("Metropolitan Police Service"),
            "{}",
            d.reason
        );
        let d = decide_now(&case(lives_in("E06000035"), 30));
        assert_eq!(d.police_force.as_deref(), Some("E23000032"));
        assert!(d.reason.contains("Kent Police"), "{}", d.reason);
    }

    #[test]
    fn age_decides_whose_consent_at_the_boundary() {
        for (age, parent) in [(17, true), (18, false), (19, false)] {
            let d = decide_now(&case(lives_in("E09000001"), age));
            assert_eq!(
                d.reason.contains("parent's or guardian's consent"),
                parent,
                "{age}: {}",
                d.reason
            );
            assert_eq!(d.subject_age, Some(age));
        }
    }

    #[test]
    fn no_fixed_abode_counts_where_the_concern_arose_and_unknown_forces_need_review() {
        let d = decide_now(&case(Residence::NoFixedAbode, 25));
        assert_eq!(d.outcome, Outcome::Routed);
        let d = decide_now(&case(lives_in("E06000001"), 25));
        assert_eq!(d.outcome, Outcome::NeedsReview);
        assert!(
            d.reason
                .contains("police force is not in the area directory"),
            "{}",
            d.reason
        );
    }
}
