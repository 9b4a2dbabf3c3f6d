//! Domestic-abuse MARAC triage (DOMAIN.md 2.1): which SafeLives criterion a case meets under the
//! rules of the area that received it, and whose MARAC hears it (the victim's area of residence).

use crate::area::AreaCode;
use crate::dash::DashChecklist;
use crate::rules::{AreaRules, RuleSet};
use chrono::{Months, NaiveDate};

/// What triage needs to know of a domestic-abuse referral. Names and dates of birth never reach
/// this module: repeat detection is done by the caller on keyed hashes and handed in as history.
#[derive(Clone, Debug)]
pub struct DaCase {
    /// The area whose partnership received the referral; its rules apply.
    pub received_area: AreaCode,
    /// Where the victim currently lives; its MARAC hears the case.
    pub residence: AreaCode,
    pub incident_date: NaiveDate,
    pub dash: DashChecklist,
    /// Non-empty when the referrer uses professional judgement (reasons are mandatory).
    pub professional_judgement_reasons: Vec<String>,
    pub police_incident_dates: Vec<NaiveDate>,
}

/// An earlier referral of the same victim that went to a MARAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorMaracReferral {
    pub referred_on: NaiveDate,
}

/// SafeLives MARAC referral criteria, in the order the firing one is chosen when several are met:
/// the score first (it is what the checklist exists for), then repeat (heard again whatever the
/// threshold), escalation, and professional judgement last (it raises, never lowers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Criterion {
    VisibleHighRisk,
    Repeat,
    PotentialEscalation,
    ProfessionalJudgement,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Into the MARAC queue of the receiving area.
    Routed,
    /// Meets the criteria but the victim lives elsewhere: MARAC-to-MARAC transfer.
    TransferRequested,
    /// No criterion met; the referrer is told and the case signposted.
    BelowThreshold,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The area whose MARAC hears the case (below threshold: the receiving area, which signposts).
    pub destination: AreaCode,
    pub criterion: Option<Criterion>,
    pub criteria_met: Vec<Criterion>,
    pub reason: String,
    pub rules_area: AreaCode,
    pub rule_set: String,
    pub rule_set_version: u32,
    pub dash_yes_count: u32,
}

/// Decides a domestic-abuse case. Pure: same inputs, same decision.
pub fn decide(case: &DaCase, history: &[PriorMaracReferral], rule_set: &RuleSet) -> Decision {
    let rules = rule_set.rules_for(&case.received_area);
    let findings = Findings::assess(case, history, rules);
    let criteria_met = findings.criteria_met();
    let criterion = criteria_met.first().copied();

    let (outcome, destination) = match criterion {
        None => (Outcome::BelowThreshold, case.received_area.clone()),
        Some(_) if case.residence == case.received_area => {
            (Outcome::Routed, case.received_area.clone())
        }
        Some(_) => (Outcome::TransferRequested, case.residence.clone()),
    };

    let reason = explain(case, rules, &findings, &criteria_met, outcome);
    Decision {
        outcome,
        destination,
        criterion,
        criteria_met,
        reason,
        rules_area: case.received_area.clone(),
        rule_set: rule_set.name().to_string(),
        rule_set_version: rule_set.version(),
        dash_yes_count: findings.yes_count,
    }
}

/// The measurements each criterion is judged on, kept so the reason can quote them.
struct Findings {
    yes_count: u32,
    visible_high_risk: bool,
    incidents_in_window: u32,
    escalation: bool,
    last_referral_in_window: Option<NaiveDate>,
    professional_judgement: usize,
}

impl Findings {
    fn assess(case: &DaCase, history: &[PriorMaracReferral], rules: &AreaRules) -> Self {
        let yes_count = case.dash.yes_count();
        let incidents_in_window = count_in_window(
            &case.police_incident_dates,
            case.incident_date,
            rules.escalation_window_months,
        );
        let last_referral_in_window = history
            .iter()
            .map(|p| p.referred_on)
            .filter(|&on| within_months_after(on, case.incident_date, rules.repeat_window_months))
            .max();
        Self {
            yes_count,
            visible_high_risk: yes_count >= rules.dash_threshold,
            incidents_in_window,
            escalation: incidents_in_window >= rules.escalation_incidents,
            last_referral_in_window,
            professional_judgement: case.professional_judgement_reasons.len(),
        }
    }

    fn criteria_met(&self) -> Vec<Criterion> {
        let mut met = Vec::new();
        if self.visible_high_risk {
            met.push(Criterion::VisibleHighRisk);
        }
        if self.last_referral_in_window.is_some() {
            met.push(Criterion::Repeat);
        }
        if self.escalation {
            met.push(Criterion::PotentialEscalation);
        }
        if self.professional_judgement > 0 {
            met.push(Criterion::ProfessionalJudgement);
        }
        met
    }
}

/// Incidents dated in the `months` up to and including `until` (the start day counts).
fn count_in_window(dates: &[NaiveDate], until: NaiveDate, months: u32) -> u32 {
    let start = until
        .checked_sub_months(Months::new(months))
        .unwrap_or(NaiveDate::MIN);
    dates.iter().filter(|d| (start..=until).contains(d)).count() as u32
}

/// True when `later` falls on or after `earlier` and no more than `months` after it.
fn within_months_after(earlier: NaiveDate, later: NaiveDate, months: u32) -> bool {
    let end = earlier
        .checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX);
    earlier <= later && later <= end
}

fn explain(
    case: &DaCase,
    rules: &AreaRules,
    f: &Findings,
    met: &[Criterion],
    outcome: Outcome,
) -> String {
    let area = case.received_area.name();
    let mut parts: Vec<String> = met
        .iter()
        .map(|c| match c {
            Criterion::VisibleHighRisk => format!(
                "Visible high risk: DASH score {} is at or above {area}'s threshold of {}.",
                f.yes_count, rules.dash_threshold
            ),
            Criterion::Repeat => format!(
                "Repeat: the victim was referred to MARAC on {}, within {} months before this incident.",
                f.last_referral_in_window.expect("repeat implies a date"),
                rules.repeat_window_months
            ),
            Criterion::PotentialEscalation => format!(
                "Potential escalation: {} police-reported incidents in the {} months to {} (threshold {}).",
                f.incidents_in_window,
                rules.escalation_window_months,
                case.incident_date,
                rules.escalation_incidents
            ),
            Criterion::ProfessionalJudgement => format!(
                "Professional judgement: the referrer gave {} reason(s), recorded with the referral.",
                f.professional_judgement
            ),
        })
        .collect();

    let routing = match outcome {
        Outcome::Routed => format!("Heard at {area} MARAC, where the victim lives."),
        Outcome::TransferRequested => format!(
            "The victim lives in {} ({}), so the case is transferred to {} MARAC (MARAC-to-MARAC), which applies its own threshold.",
            case.residence.name(),
            case.residence,
            case.residence.name()
        ),
        Outcome::BelowThreshold => {
            let band = case.dash.band();
            format!(
                "Below the MARAC threshold under {area}'s rules: DASH score {} ({}; threshold {}), {} police-reported incidents in {} months (threshold {}), no MARAC referral in the last {} months, no professional judgement. Signpost to {} services and tell the referrer.",
                f.yes_count,
                band.label(),
                rules.dash_threshold,
                f.incidents_in_window,
                rules.escalation_window_months,
                rules.escalation_incidents,
                rules.repeat_window_months,
                band.label()
            )
        }
    };
    parts.push(routing);
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{AreaOverride, RuleSetConfig, tests::safelives_defaults};

    const HACKNEY: &str = "E09000012";
    const ISLINGTON: &str = "E09000019";

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn area(code: &str) -> AreaCode {
        AreaCode::parse(code).unwrap()
    }

    /// The SafeLives defaults everywhere, with Hackney at 15 yes answers and 3 in 6 months, and
    /// Islington counting 5 incidents, so each criterion is checked under two settings.
    fn rule_set() -> RuleSet {
        let mut areas = std::collections::BTreeMap::new();
        areas.insert(
            HACKNEY.to_string(),
            AreaOverride {
                dash_threshold: Some(15),
                escalation_window_months: Some(6),
                repeat_window_months: Some(6),
                ..Default::default()
            },
        );
        areas.insert(
            ISLINGTON.to_string(),
            AreaOverride {
                escalation_incidents: Some(5),
                ..Default::default()
            },
        );
        RuleSet::from_config(RuleSetConfig {
            name: "test-rules".into(),
            version: 7,
            defaults: safelives_defaults(),
            areas,
        })
        .unwrap()
    }

    fn case(received: &str, yes: usize) -> DaCase {
        DaCase {
            received_area: area(received),
            residence: area(received),
            incident_date: date("2026-10-15"),
            dash: DashChecklist::with_yes_count(yes),
            professional_judgement_reasons: vec![],
            police_incident_dates: vec![],
        }
    }

    fn decide_now(c: &DaCase) -> Decision {
        decide(c, &[], &rule_set())
    }

    #[test]
    fn visible_high_risk_at_the_default_threshold_boundary() {
        for (yes, expected) in [
            (13, None),
            (14, Some(Criterion::VisibleHighRisk)),
            (15, Some(Criterion::VisibleHighRisk)),
        ] {
            let d = decide_now(&case("E09000001", yes));
            assert_eq!(d.criterion, expected, "{yes} yes answers");
        }
        let d = decide_now(&case("E09000001", 13));
        assert_eq!(d.outcome, Outcome::BelowThreshold);
        assert!(
            d.reason
                .contains("DASH score 13 (medium risk; threshold 14)"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn visible_high_risk_follows_the_receiving_areas_threshold() {
        for (yes, expected) in [
            (14, Outcome::BelowThreshold),
            (15, Outcome::Routed),
            (16, Outcome::Routed),
        ] {
            assert_eq!(
                decide_now(&case(HACKNEY, yes)).outcome,
                expected,
                "{yes} yes answers in Hackney"
            );
        }
    }

    #[test]
    fn professional_judgement_raises_a_low_score_and_never_lowers_a_high_one() {
        let mut low = case("E09000001", 2);
        low.professional_judgement_reasons = vec!["victim fears for her life".into()];
        let d = decide_now(&low);
        assert_eq!(d.criterion, Some(Criterion::ProfessionalJudgement));
        assert_eq!(d.outcome, Outcome::Routed);
        assert!(
            !d.reason.contains("fears"),
            "free text stays out of the reason"
        );

        let mut high = case("E09000001", 18);
        high.professional_judgement_reasons = vec!["also concerned".into()];
        let d = decide_now(&high);
        assert_eq!(d.criterion, Some(Criterion::VisibleHighRisk));
        assert_eq!(
            d.criteria_met,
            vec![Criterion::VisibleHighRisk, Criterion::ProfessionalJudgement]
        );
    }

    #[test]
    fn potential_escalation_counts_incidents_in_the_window() {
        let incident = date("2026-10-15");
        let mut c = case("E09000001", 3);
        for (n, expected) in [
            (2, Outcome::BelowThreshold),
            (3, Outcome::Routed),
            (4, Outcome::Routed),
        ] {
            c.police_incident_dates = (0..n)
                .map(|i| incident - chrono::Days::new(i * 20))
                .collect();
            let d = decide_now(&c);
            assert_eq!(d.outcome, expected, "{n} incidents");
        }
        assert_eq!(
            decide_now(&c).criterion,
            Some(Criterion::PotentialEscalation)
        );

        // The window starts 12 months before the incident, that day included.
        c.police_incident_dates = vec![date("2025-10-15"), date("2026-01-01"), incident];
        assert_eq!(decide_now(&c).outcome, Outcome::Routed);
        c.police_incident_dates = vec![date("2025-10-14"), date("2026-01-01"), incident];
        assert_eq!(decide_now(&c).outcome, Outcome::BelowThreshold);
    }

    #[test]
    fn potential_escalation_under_other_area_settings() {
        // Hackney: 3 in 6 months. Three incidents spread over 9 months are not escalation there.
        let mut c = case(HACKNEY, 3);
        c.police_incident_dates = vec![date("2026-01-20"), date("2026-06-01"), date("2026-10-15")];
        assert_eq!(decide_now(&c).outcome, Outcome::BelowThreshold);
        c.police_incident_dates[0] = date("2026-04-15");
        assert_eq!(decide_now(&c).outcome, Outcome::Routed);

        // Islington: 5 incidents needed.
        let mut c = case(ISLINGTON, 3);
        c.police_incident_dates = (0..4)
            .map(|i| date("2026-10-15") - chrono::Days::new(i * 10))
            .collect();
        assert_eq!(decide_now(&c).outcome, Outcome::BelowThreshold);
        c.police_incident_dates.push(date("2026-05-01"));
        assert_eq!(
            decide_now(&c).criterion,
            Some(Criterion::PotentialEscalation)
        );
    }

    #[test]
    fn repeat_within_the_window_of_the_last_referral() {
        let c = case("E09000001", 1);
        let rules = rule_set();
        let prior = |on: &str| {
            vec![PriorMaracReferral {
                referred_on: date(on),
            }]
        };
        // 12 months to the day still counts; a day more does not.
        assert_eq!(
            decide(&c, &prior("2025-10-15"), &rules).criterion,
            Some(Criterion::Repeat)
        );
        assert_eq!(
            decide(&c, &prior("2025-10-14"), &rules).outcome,
            Outcome::BelowThreshold
        );
        // A referral after this incident is not an earlier one.
        assert_eq!(
            decide(&c, &prior("2026-10-16"), &rules).outcome,
            Outcome::BelowThreshold
        );
        let d = decide(&c, &prior("2026-03-01"), &rules);
        assert!(
            d.reason.contains("referred to MARAC on 2026-03-01"),
            "{}",
            d.reason
        );
        // Hackney counts 6 months.
        let h = case(HACKNEY, 1);
        assert_eq!(
            decide(&h, &prior("2026-04-15"), &rules).criterion,
            Some(Criterion::Repeat)
        );
        assert_eq!(
            decide(&h, &prior("2026-04-14"), &rules).outcome,
            Outcome::BelowThreshold
        );
    }

    #[test]
    fn a_victim_living_elsewhere_is_transferred_to_their_areas_marac() {
        let mut c = case("E09000001", 16);
        c.residence = area(HACKNEY);
        let d = decide_now(&c);
        assert_eq!(d.outcome, Outcome::TransferRequested);
        assert_eq!(d.destination, area(HACKNEY));
        assert_eq!(
            d.rules_area,
            area("E09000001"),
            "the receiving area's rules apply"
        );
        assert!(
            d.reason.contains("transferred to Hackney MARAC"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn below_threshold_stays_with_the_receiving_area_even_when_the_victim_lives_elsewhere() {
        let mut c = case("E09000001", 5);
        c.residence = area(HACKNEY);
        let d = decide_now(&c);
        assert_eq!(d.outcome, Outcome::BelowThreshold);
        assert_eq!(d.destination, area("E09000001"));
        assert!(d.reason.contains("standard risk"), "{}", d.reason);
    }

    #[test]
    fn every_decision_names_its_rule_set_and_version() {
        let d = decide_now(&case("E09000001", 20));
        assert_eq!((d.rule_set.as_str(), d.rule_set_version), ("test-rules", 7));
        assert_eq!(d.dash_yes_count, 20);
    }
}
