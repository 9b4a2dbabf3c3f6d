//! Community MARAC (docs/DOMAIN.md 2.2): place-based, for ASB, public disorder or crime with
//! vulnerability or high risk. Suicide threats or attempts alone are not accepted. The case
//! stays with the panel of the area where the behaviour happened even when the person lives
//! elsewhere; the statutory services of the area of residence are then notified and invited.
//! Because the residence decides only who is invited, a residence that cannot be resolved holds
//! back the invitation (until it is supplied), never the case.

use crate::area::AreaCode;
use crate::decision::{Criterion, Decision, Outcome, Panel, Pathway, Residence};
use crate::directory::Directory;
use crate::rules::RuleSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concern {
    AntiSocialBehaviour,
    PublicDisorder,
    Crime,
    SuicideThreat,
    SuicideAttempt,
}

impl Concern {
    /// ASB, public disorder or crime: what a Community MARAC exists for.
    fn qualifies(self) -> bool {
        matches!(
            self,
            Concern::AntiSocialBehaviour | Concern::PublicDisorder | Concern::Crime
        )
    }
}

#[derive(Clone, Debug)]
pub struct CmCase {
    pub received_area: AreaCode,
    /// Where the behaviour happened: that area's panel hears the case.
    pub incident_area: AreaCode,
    pub residence: Residence,
    pub concerns: Vec<Concern>,
    pub vulnerable: bool,
    pub risk_score: Option<u32>,
}

pub fn decide(case: &CmCase, rule_set: &RuleSet, directory: &Directory) -> Decision {
    let rules = rule_set.rules_for(&case.received_area);
    let mut d = Decision::new(
        Pathway::CommunityMarac,
        Panel::CommunityMarac,
        &case.received_area,
        &case.residence,
        rule_set,
    );
    d.risk_score = case.risk_score;
    let here = directory.label(&case.received_area);
    let area = directory.name(&case.received_area);

    if case.incident_area != case.received_area {
        d.outcome = Outcome::Declined;
        d.reason = format!(
            "Declined: the Community MARAC is place-based and the behaviour happened in {}, not {here}. Refer it to {}'s partnership.",
            directory.label(&case.incident_area),
            directory.name(&case.incident_area)
        );
        return d;
    }
    if !directory.runs(&case.received_area, Panel::CommunityMarac) {
        d.outcome = Outcome::Declined;
        d.reason = format!("Declined: {here} runs no Community MARAC (per the area directory).");
        return d;
    }

    let qualifying = case.concerns.iter().any(|c| c.qualifies());
    let high_risk = rules
        .community_risk_threshold
        .zip(case.risk_score)
        .filter(|(threshold, score)| score >= threshold);
    let mut met = Vec::new();
    let mut parts = Vec::new();
    if qualifying {
        if let Some((threshold, score)) = high_risk {
            met.push(Criterion::AsbHighRisk);
            parts.push(format!(
                "High risk: risk-matrix score {score} is at or above {area}'s threshold of {threshold}, with ASB, public disorder or crime."
            ));
        }
        if case.vulnerable {
            met.push(Criterion::AsbWithVulnerability);
            parts.push("ASB, public disorder or crime with a vulnerable person (reasons recorded with the referral).".to_string());
        }
    }
    d.criteria_met = met.clone();
    d.criterion = met.first().copied();

    let suicide_only = !qualifying
        && case
            .concerns
            .iter()
            .any(|c| matches!(c, Concern::SuicideThreat | Concern::SuicideAttempt));
    if suicide_only {
        d.outcome = Outcome::Declined;
        d.criterion = Some(Criterion::SuicideRiskAlone);
        d.criteria_met = vec![Criterion::SuicideRiskAlone];
        d.reason = format!(
            "Declined: the Community MARAC does not accept a case of suicide threats or attempts alone; it needs public disorder, anti-social behaviour or crime as well. Refer to mental health crisis services; the referral is kept in {here}."
        );
        return d;
    }
    if met.is_empty() {
        let matrix = match (rules.community_risk_threshold, case.risk_score) {
            (Some(t), Some(s)) => {
                format!("risk-matrix score {s} is below {area}'s threshold of {t}")
            }
            (Some(t), None) => format!("no risk-matrix score (threshold {t})"),
            (None, _) => format!("{area} uses no risk matrix"),
        };
        d.reason = format!(
            "Below the Community MARAC threshold: {}no vulnerability stated, and {matrix}. Signpost to the neighbourhood policing team and the ASB case review.",
            if qualifying {
                ""
            } else {
                "no ASB, public disorder or crime; "
            }
        );
        return d;
    }

    match &case.residence {
        // Place-based: where the person lives does not decide the panel, only whose services
        // are invited, so the case is heard here now and only the invitation waits.
        Residence::Unresolved { why, supply } => {
            d.criteria_met.push(Criterion::ResidenceUnresolved);
            d.action_required = Some(supply.clone());
            parts.push(format!(
                "Heard at {here} Community MARAC, where the behaviour happened, whatever the residence. Where the person lives is not known ({why}), so the invitation of their home area's statutory services waits for it: {supply}."
            ));
        }
        Residence::Area { code, how } if *code != case.received_area => {
            d.notify_areas = vec![code.clone()];
            parts.push(format!(
                "Heard at {here} Community MARAC, where the behaviour happened; the person lives in {} ({how}), so its statutory services (mental health, social care) are notified and invited.",
                directory.label(code)
            ));
        }
        Residence::Area { .. } => parts.push(format!("Heard at {here} Community MARAC, where the behaviour happened and the person lives.")),
        Residence::NoFixedAbode => parts.push(format!(
            "Heard at {here} Community MARAC, where the behaviour happened; the person has no fixed abode, so no other area is notified."
        )),
    }
    d.outcome = Outcome::Routed;
    d.reason = parts.join(" ");
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::tests::directory;
    use crate::rules::tests::rule_set;

    const CITY: &str = "E09000001";
    const ISLINGTON: &str = "E09000019";
    const HACKNEY: &str = "E09000012";

    fn area(code: &str) -> AreaCode {
        AreaCode::parse(code).unwrap()
    }

    fn case(received: &str) -> CmCase {
        CmCase {
            received_area: area(received),
            incident_area: area(received),
            residence: Residence::Area {
                code: area(received),
                how: "code".into(),
            },
            concerns: vec![Concern::AntiSocialBehaviour],
            vulnerable: true,
            risk_score: None,
        }
    }

    fn decide_now(c: &CmCase) -> Decision {
        decide(c, &rule_set(), &directory())
    }

    #[test]
    fn each_qualifying_concern_with_vulnerability_is_accepted() {
        for concern in [
            Concern::AntiSocialBehaviour,
            Concern::PublicDisorder,
            Concern::Crime,
        ] {
            let mut c = case(CITY);
            c.concerns = vec![concern, Concern::SuicideThreat];
            let d = decide_now(&c);
            assert_eq!(
                (d.outcome, d.criterion),
                (Outcome::Routed, Some(Criterion::AsbWithVulnerability)),
                "{concern:?}"
            );
            assert_eq!(d.panel, Panel::CommunityMarac);
        }
    }

    #[test]
    fn suicide_threats_or_attempts_alone_are_declined_with_that_reason() {
        for concerns in [
            vec![Concern::SuicideThreat],
            vec![Concern::SuicideAttempt],
            vec![Concern::SuicideThreat, Concern::SuicideAttempt],
        ] {
            let mut c = case(CITY);
            c.concerns = concerns;
            let d = decide_now(&c);
            assert_eq!(
                (d.outcome, d.criterion),
                (Outcome::Declined, Some(Criterion::SuicideRiskAlone))
            );
            assert!(
                d.reason.contains("suicide threats or attempts alone"),
                "{}",
                d.reason
            );
        }
    }

    #[test]
    fn the_risk_matrix_threshold_at_its_boundary_where_the_area_uses_one() {
        // Islington: above 31 is high risk. Not vulnerable, so the score alone decides.
        for (score, expected) in [
            (31, None),
            (32, Some(Criterion::AsbHighRisk)),
            (33, Some(Criterion::AsbHighRisk)),
        ] {
            let mut c = case(ISLINGTON);
            c.vulnerable = false;
            c.risk_score = Some(score);
            let d = decide_now(&c);
            assert_eq!(d.criterion, expected, "score {score}: {}", d.reason);
        }
        // The City uses no matrix: a score alone never accepts.
        let mut c = case(CITY);
        c.vulnerable = false;
        c.risk_score = Some(40);
        let d = decide_now(&c);
        assert_eq!(d.outcome, Outcome::BelowThreshold);
        assert!(
            d.reason.contains("City of London uses no risk matrix"),
            "{}",
            d.reason
        );
        // Both met: high risk fires first and both are recorded.
        let mut c = case(ISLINGTON);
        c.risk_score = Some(35);
        let d = decide_now(&c);
        assert_eq!(
            d.criteria_met,
            vec![Criterion::AsbHighRisk, Criterion::AsbWithVulnerability]
        );
    }

    #[test]
    fn a_person_living_elsewhere_stays_here_and_their_area_is_notified() {
        let mut c = case(CITY);
        c.residence = Residence::Area {
            code: area(HACKNEY),
            how: "postcode E8 1AA".into(),
        };
        let d = decide_now(&c);
        assert_eq!(
            (d.outcome, d.destination.clone()),
            (Outcome::Routed, area(CITY))
        );
        assert_eq!(d.notify_areas, vec![area(HACKNEY)]);
        assert!(d.reason.contains("notified and invited"), "{}", d.reason);
        c.residence = Residence::NoFixedAbode;
        assert!(decide_now(&c).notify_areas.is_empty());
    }

    #[test]
    fn declined_when_the_behaviour_happened_elsewhere_or_there_is_no_panel() {
        let mut c = case(CITY);
        c.incident_area = area(HACKNEY);
        let d = decide_now(&c);
        assert_eq!(d.outcome, Outcome::Declined);
        assert!(d.reason.contains("place-based"), "{}", d.reason);
        let d = decide_now(&case(HACKNEY));
        assert_eq!(d.outcome, Outcome::Declined);
        assert!(d.reason.contains("runs no Community MARAC"), "{}", d.reason);
    }

    #[test]
    fn not_vulnerable_and_no_matrix_is_below_threshold() {
        let mut c = case(CITY);
        c.vulnerable = false;
        let d = decide_now(&c);
        assert_eq!((d.outcome, d.criterion), (Outcome::BelowThreshold, None));
    }

    fn unresolved() -> Residence {
        Residence::Unresolved {
            why: "postcode EC2M is partial".into(),
            supply: "Give the full postcode".into(),
        }
    }

    #[test]
    fn an_unresolved_residence_holds_back_the_invitation_never_the_case() {
        let mut c = case(CITY);
        c.residence = unresolved();
        let d = decide_now(&c);
        assert_eq!(
            (d.outcome, d.panel, d.destination.clone()),
            (Outcome::Routed, Panel::CommunityMarac, area(CITY))
        );
        assert_eq!(d.criterion, Some(Criterion::AsbWithVulnerability));
        assert_eq!(
            d.criteria_met,
            vec![
                Criterion::AsbWithVulnerability,
                Criterion::ResidenceUnresolved
            ]
        );
        assert!(d.invitation_awaits_residence());
        assert!(d.notify_areas.is_empty());
        assert_eq!(d.action_required.as_deref(), Some("Give the full postcode"));
        assert!(
            d.reason.contains("whatever the residence")
                && d.reason
                    .contains("invitation of their home area's statutory services waits"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn an_unresolved_residence_changes_nothing_for_a_case_the_panel_would_not_hear() {
        // Below threshold, suicide risk alone, behaviour elsewhere: as with a known residence.
        let mut below = case(CITY);
        below.vulnerable = false;
        let mut suicide = case(CITY);
        suicide.concerns = vec![Concern::SuicideThreat];
        let mut elsewhere = case(CITY);
        elsewhere.incident_area = area(HACKNEY);
        for (mut c, outcome) in [
            (below, Outcome::BelowThreshold),
            (suicide, Outcome::Declined),
            (elsewhere, Outcome::Declined),
        ] {
            c.residence = unresolved();
            let d = decide_now(&c);
            assert_eq!(d.outcome, outcome, "{}", d.reason);
            assert!(!d.invitation_awaits_residence());
            assert!(!d.criteria_met.contains(&Criterion::ResidenceUnresolved));
        }
        // A known residence invites no one's services later.
        assert!(!decide_now(&case(CITY)).invitation_awaits_residence());
    }
}
