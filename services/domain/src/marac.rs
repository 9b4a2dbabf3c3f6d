//! Domestic-abuse MARAC triage (docs/DOMAIN.md 2.1): which SafeLives criterion (or local criterion)
//! a case meets under the rules of the area that received it, and whose MARAC hears it: where
//! the victim lives; where the incident happened when the victim has no fixed abode.

use crate::area::AreaCode;
use crate::dash::DashChecklist;
use crate::decision::{Criterion, Decision, Outcome, Panel, Pathway, Residence, TransferKind};
use crate::directory::Directory;
use crate::rules::{AreaRules, LocalCriterion, RepeatAnchor, RuleSet};
use chrono::{Months, NaiveDate};

/// What triage needs to know of a domestic-abuse referral. Names and dates of birth never reach
/// this module: repeat detection is done by the caller on keyed hashes and handed in as history.
#[derive(Clone, Debug)]
pub struct DaCase {
    /// The area whose partnership received the referral; its rules apply.
    pub received_area: AreaCode,
    /// Where the victim currently lives, as resolved.
    pub residence: Residence,
    pub incident_area: AreaCode,
    pub incident_date: NaiveDate,
    pub dash: DashChecklist,
    /// Non-empty when the referrer uses professional judgement (reasons are mandatory).
    pub professional_judgement_reasons: Vec<String>,
    pub police_incident_dates: Vec<NaiveDate>,
    /// Police-reported incident dates the same victim's earlier referrals gave (matched by
    /// keyed hash), so that escalation is counted across referrals, not just within one.
    pub earlier_incident_dates: Vec<NaiveDate>,
    /// Indicators the referral carries that an area's local criteria may name.
    pub indicators: Vec<LocalCriterion>,
}

/// An earlier MARAC referral of the same victim, and the meeting that heard it, once recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorMaracReferral {
    pub referred_on: NaiveDate,
    pub heard_on: Option<NaiveDate>,
}

/// Decides a domestic-abuse case. Pure: same inputs, same decision.
pub fn decide(
    case: &DaCase,
    history: &[PriorMaracReferral],
    rule_set: &RuleSet,
    directory: &Directory,
) -> Decision {
    let rules = rule_set.rules_for(&case.received_area);
    let findings = Findings::assess(case, history, rules);
    let met = findings.criteria_met(rules);
    let mut d = Decision::new(
        Pathway::DomesticAbuse,
        Panel::Marac,
        &case.received_area,
        &case.residence,
        rule_set,
    );
    d.dash_yes_count = findings.yes_count;
    d.criterion = met.first().copied();
    d.criteria_met = met.clone();
    let area = directory.name(&case.received_area);
    let mut parts: Vec<String> = met
        .iter()
        .map(|c| findings.explain(*c, case, rules, area))
        .collect();

    let hearing_area = match &case.residence {
        Residence::Area { code, .. } => code.clone(),
        Residence::NoFixedAbode => case.incident_area.clone(),
        Residence::Unresolved { why, supply } => {
            let assessed = if met.is_empty() {
                format!("No MARAC criterion is met under {area}'s rules meanwhile.")
            } else {
                format!("Meanwhile under {area}'s rules: {}", parts.join(" "))
            };
            d.needs_review(why, supply, &assessed);
            return d;
        }
    };
    let heard_at = directory.label(&hearing_area);
    let routing = match (met.is_empty(), hearing_area == case.received_area) {
        (true, _) => {
            let band = case.dash.band();
            format!(
                "Below the MARAC threshold under {area}'s rules: DASH score {} ({}; threshold {}), {} police-reported incidents in {} months{} (threshold {}), no MARAC referral in the last {} months{}, no professional judgement. Signpost to {} services and tell the referrer.",
                findings.yes_count,
                band.label(),
                rules.dash_threshold,
                findings.incidents_in_window,
                rules.escalation_window_months,
                findings.earlier_note(),
                rules.escalation_incidents,
                rules.repeat_window_months,
                if rules.local_criteria.is_empty() {
                    String::new()
                } else {
                    ", no local criterion".into()
                },
                band.label()
            )
        }
        (false, true) => {
            d.outcome = Outcome::Routed;
            match case.residence {
                Residence::NoFixedAbode => format!(
                    "The victim has no fixed abode, so the case is heard where the incident happened: {heard_at} MARAC."
                ),
                _ => format!(
                    "Heard at {heard_at} MARAC, where the victim lives ({}).",
                    case.residence.describe()
                ),
            }
        }
        (false, false) => {
            d.outcome = Outcome::TransferRequested;
            d.transfer_kind = Some(TransferKind::MaracToMarac);
            d.destination = hearing_area.clone();
            match case.residence {
                Residence::NoFixedAbode => format!(
                    "The victim has no fixed abode and the incident happened in {heard_at}: MARAC-to-MARAC transfer to {heard_at} MARAC, which applies its own threshold."
                ),
                _ => format!(
                    "The victim lives in {heard_at} ({}): MARAC-to-MARAC transfer to {} MARAC, which applies its own threshold.",
                    case.residence.describe(),
                    directory.name(&hearing_area)
                ),
            }
        }
    };
    parts.push(routing);
    d.reason = parts.join(" ");
    d
}

/// The measurements each criterion is judged on, kept so the reason can quote them.
struct Findings {
    yes_count: u32,
    incidents_in_window: u32,
    /// How many of those only earlier referrals reported.
    earlier_in_window: u32,
    /// The anchor date of the repeat window that a prior referral falls in, and what it was.
    repeat_anchor: Option<(NaiveDate, &'static str)>,
    local: Vec<LocalCriterion>,
    professional_judgement: usize,
}

impl Findings {
    fn assess(case: &DaCase, history: &[PriorMaracReferral], rules: &AreaRules) -> Self {
        // One incident per date: two referrals about the same incident report the same date.
        let mut incidents: Vec<NaiveDate> = case.police_incident_dates.clone();
        incidents.sort_unstable();
        incidents.dedup();
        let mut earlier_only: Vec<NaiveDate> = case
            .earlier_incident_dates
            .iter()
            .copied()
            .filter(|d| incidents.binary_search(d).is_err())
            .collect();
        earlier_only.sort_unstable();
        earlier_only.dedup();
        incidents.extend(&earlier_only);
        let repeat_anchor = history
            .iter()
            .map(|p| match (rules.repeat_anchor, p.heard_on) {
                (RepeatAnchor::LastMeeting, Some(heard)) => (heard, "heard at MARAC"),
                // A case referred but not yet heard is still open at MARAC: its referral date
                // is the anchor until a meeting is recorded.
                (RepeatAnchor::LastMeeting, None) => {
                    (p.referred_on, "referred to MARAC (not yet heard)")
                }
                (RepeatAnchor::LastReferral, _) => (p.referred_on, "referred to MARAC"),
            })
            .filter(|(on, _)| {
                within_months_after(*on, case.incident_date, rules.repeat_window_months)
            })
            .max_by_key(|(on, _)| *on);
        Self {
            yes_count: case.dash.yes_count(),
            incidents_in_window: count_in_window(
                &incidents,
                case.incident_date,
                rules.escalation_window_months,
            ),
            earlier_in_window: count_in_window(
                &earlier_only,
                case.incident_date,
                rules.escalation_window_months,
            ),
            repeat_anchor,
            local: rules
                .local_criteria
                .iter()
                .copied()
                .filter(|c| case.indicators.contains(c))
                .collect(),
            professional_judgement: case.professional_judgement_reasons.len(),
        }
    }

    fn criteria_met(&self, rules: &AreaRules) -> Vec<Criterion> {
        let mut met = Vec::new();
        if self.yes_count >= rules.dash_threshold {
            met.push(Criterion::VisibleHighRisk);
        }
        if self.repeat_anchor.is_some() {
            met.push(Criterion::Repeat);
        }
        if self.incidents_in_window >= rules.escalation_incidents {
            met.push(Criterion::PotentialEscalation);
        }
        met.extend(self.local.iter().map(|c| Criterion::Local(*c)));
        if self.professional_judgement > 0 {
            met.push(Criterion::ProfessionalJudgement);
        }
        met
    }

    fn explain(&self, c: Criterion, case: &DaCase, rules: &AreaRules, area: &str) -> String {
        match c {
            Criterion::VisibleHighRisk => format!(
                "Visible high risk: DASH score {} is at or above {area}'s threshold of {}.",
                self.yes_count, rules.dash_threshold
            ),
            Criterion::Repeat => {
                let (on, what) = self.repeat_anchor.expect("repeat implies an anchor");
                format!(
                    "Repeat: the victim was {what} on {on}, within {} months before this incident (counted from the last {}).",
                    rules.repeat_window_months,
                    match rules.repeat_anchor {
                        RepeatAnchor::LastReferral => "referral",
                        RepeatAnchor::LastMeeting => "meeting",
                    }
                )
            }
            Criterion::PotentialEscalation => format!(
                "Potential escalation: {} police-reported incidents in the {} months to {}{} (threshold {}).",
                self.incidents_in_window,
                rules.escalation_window_months,
                case.incident_date,
                self.earlier_note(),
                rules.escalation_incidents
            ),
            Criterion::Local(l) => {
                format!("Local criterion '{}' of {area}: {}.", l.id(), l.describe())
            }
            Criterion::ProfessionalJudgement => format!(
                "Professional judgement: the referrer gave {} reason(s), recorded with the referral.",
                self.professional_judgement
            ),
            _ => unreachable!("not a MARAC criterion"),
        }
    }
}

impl Findings {
    fn earlier_note(&self) -> String {
        match self.earlier_in_window {
            0 => String::new(),
            n => format!(", {n} of them reported in earlier referrals of the same victim"),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::tests::directory;
    use crate::rules::tests::rule_set;

    const CITY: &str = "E09000001";
    const HACKNEY: &str = "E09000012";
    const ISLINGTON: &str = "E09000019";
    const MEDWAY: &str = "E06000035";

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn area(code: &str) -> AreaCode {
        AreaCode::parse(code).unwrap()
    }

    fn lives_in(code: &str) -> Residence {
        Residence::Area {
            code: area(code),
            how: format!("local-authority code {code}"),
        }
    }

    fn case(received: &str, yes: usize) -> DaCase {
        DaCase {
            received_area: area(received),
            residence: lives_in(received),
            incident_area: area(received),
            incident_date: date("2026-10-15"),
            dash: DashChecklist::with_yes_count(yes),
            professional_judgement_reasons: vec![],
            police_incident_dates: vec![],
            earlier_incident_dates: vec![],
            indicators: vec![],
        }
    }

    fn decide_now(c: &DaCase) -> Decision {
        decide(c, &[], &rule_set(), &directory())
    }

    fn with_history(c: &DaCase, history: &[PriorMaracReferral]) -> Decision {
        decide(c, history, &rule_set(), &directory())
    }

    fn prior(referred: &str, heard: Option<&str>) -> PriorMaracReferral {
        PriorMaracReferral {
            referred_on: date(referred),
            heard_on: heard.map(date),
        }
    }

    /// Every criterion at its boundary under two area settings: (area, setup, expected criterion).
    #[test]
    fn every_criterion_at_its_boundary_under_two_settings() {
        let incidents = |c: &mut DaCase, n: u64, spacing_days: u64| {
            c.police_incident_dates = (0..n)
                .map(|i| c.incident_date - chrono::Days::new(i * spacing_days))
                .collect();
        };
        type Row = (
            &'static str,
            &'static str,
            Box<dyn Fn(&mut DaCase)>,
            Option<Criterion>,
        );
        let table: Vec<Row> = vec![
            // Visible high risk: 13 / 14 / 15 under the defaults, 14 / 15 / 16 in Hackney.
            (
                CITY,
                "13 yes",
                Box::new(|c| c.dash = DashChecklist::with_yes_count(13)),
                None,
            ),
            (
                CITY,
                "14 yes",
                Box::new(|c| c.dash = DashChecklist::with_yes_count(14)),
                Some(Criterion::VisibleHighRisk),
            ),
            (
                CITY,
                "15 yes",
                Box::new(|c| c.dash = DashChecklist::with_yes_count(15)),
                Some(Criterion::VisibleHighRisk),
            ),
            (
                HACKNEY,
                "14 yes",
                Box::new(|c| c.dash = DashChecklist::with_yes_count(14)),
                None,
            ),
            (
                HACKNEY,
                "15 yes",
                Box::new(|c| c.dash = DashChecklist::with_yes_count(15)),
                Some(Criterion::VisibleHighRisk),
            ),
            (
                HACKNEY,
                "16 yes",
                Box::new(|c| c.dash = DashChecklist::with_yes_count(16)),
                Some(Criterion::VisibleHighRisk),
            ),
            // Potential escalation: 2 / 3 / 4 by default; 4 / 5 / 6 in Islington.
            (
                CITY,
                "2 incidents",
                Box::new(move |c| incidents(c, 2, 20)),
                None,
            ),
            (
                CITY,
                "3 incidents",
                Box::new(move |c| incidents(c, 3, 20)),
                Some(Criterion::PotentialEscalation),
            ),
            (
                CITY,
                "4 incidents",
                Box::new(move |c| incidents(c, 4, 20)),
                Some(Criterion::PotentialEscalation),
            ),
            (
                ISLINGTON,
                "4 incidents",
                Box::new(move |c| incidents(c, 4, 20)),
                None,
            ),
            (
                ISLINGTON,
                "5 incidents",
                Box::new(move |c| incidents(c, 5, 20)),
                Some(Criterion::PotentialEscalation),
            ),
            (
                ISLINGTON,
                "6 incidents",
                Box::new(move |c| incidents(c, 6, 20)),
                Some(Criterion::PotentialEscalation),
            ),
            // The escalation window: 12 months by default (start day counts), 6 in Hackney.
            (
                CITY,
                "3 in 12 months to the day",
                Box::new(|c| {
                    c.police_incident_dates =
                        vec![date("2025-10-15"), date("2026-01-01"), date("2026-10-15")]
                }),
                Some(Criterion::PotentialEscalation),
            ),
            (
                CITY,
                "3 over 12 months and a day",
                Box::new(|c| {
                    c.police_incident_dates =
                        vec![date("2025-10-14"), date("2026-01-01"), date("2026-10-15")]
                }),
                None,
            ),
            (
                HACKNEY,
                "3 in 6 months to the day",
                Box::new(|c| {
                    c.police_incident_dates =
                        vec![date("2026-04-15"), date("2026-06-01"), date("2026-10-15")]
                }),
                Some(Criterion::PotentialEscalation),
            ),
            (
                HACKNEY,
                "3 over 6 months and a day",
                Box::new(|c| {
                    c.police_incident_dates =
                        vec![date("2026-04-14"), date("2026-06-01"), date("2026-10-15")]
                }),
                None,
            ),
            // Professional judgement raises a low score anywhere.
            (
                CITY,
                "judgement",
                Box::new(|c| c.professional_judgement_reasons = vec!["fears for her life".into()]),
                Some(Criterion::ProfessionalJudgement),
            ),
            (
                HACKNEY,
                "judgement",
                Box::new(|c| c.professional_judgement_reasons = vec!["fears for her life".into()]),
                Some(Criterion::ProfessionalJudgement),
            ),
            // Local criterion: only where the area's rules name it.
            (
                MEDWAY,
                "suicide or self-harm",
                Box::new(|c| c.indicators = vec![LocalCriterion::SuicideOrSelfHarm]),
                Some(Criterion::Local(LocalCriterion::SuicideOrSelfHarm)),
            ),
            (
                CITY,
                "suicide or self-harm",
                Box::new(|c| c.indicators = vec![LocalCriterion::SuicideOrSelfHarm]),
                None,
            ),
        ];
        for (received, what, setup, expected) in table {
            let mut c = case(received, 3);
            setup(&mut c);
            let d = decide_now(&c);
            assert_eq!(d.criterion, expected, "{what} in {received}: {}", d.reason);
            let outcome = if expected.is_some() {
                Outcome::Routed
            } else {
                Outcome::BelowThreshold
            };
            assert_eq!(d.outcome, outcome, "{what} in {received}");
        }
    }

    #[test]
    fn escalation_counts_incidents_from_earlier_referrals_of_the_same_victim_once() {
        let mut c = case(CITY, 2);
        c.police_incident_dates = vec![date("2026-10-15")];
        // The same incident reported again is one incident, not two.
        c.earlier_incident_dates = vec![date("2026-10-15"), date("2026-06-01")];
        let d = decide_now(&c);
        assert_eq!(d.outcome, Outcome::BelowThreshold, "{}", d.reason);
        assert!(
            d.reason.contains(
                "2 police-reported incidents in 12 months, 1 of them reported in earlier referrals"
            ),
            "{}",
            d.reason
        );
        c.earlier_incident_dates.push(date("2026-02-01"));
        let d = decide_now(&c);
        assert_eq!(
            d.criterion,
            Some(Criterion::PotentialEscalation),
            "{}",
            d.reason
        );
        assert!(d.reason.contains("3 police-reported incidents in the 12 months to 2026-10-15, 2 of them reported in earlier referrals"), "{}", d.reason);
        // Outside the window they do not count.
        c.earlier_incident_dates = vec![date("2025-10-14"), date("2025-06-01")];
        assert_eq!(decide_now(&c).outcome, Outcome::BelowThreshold);
    }

    #[test]
    fn repeat_within_the_window_of_the_last_referral_at_its_boundary() {
        let c = case(CITY, 1);
        for (referred, expected) in [
            ("2025-10-14", None),
            ("2025-10-15", Some(Criterion::Repeat)),
            ("2025-10-16", Some(Criterion::Repeat)),
            // A referral after this incident is not an earlier one.
            ("2026-10-16", None),
        ] {
            let d = with_history(&c, &[prior(referred, None)]);
            assert_eq!(d.criterion, expected, "referred {referred}");
        }
        let d = with_history(&c, &[prior("2026-03-01", Some("2026-04-01"))]);
        assert!(
            d.reason.contains("referred to MARAC on 2026-03-01"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn repeat_anchored_on_the_last_meeting_where_the_area_says_so() {
        // Hackney: 6 months from the last meeting. Referred 2026-01-10, heard 2026-04-15.
        let c = case(HACKNEY, 1);
        let d = with_history(&c, &[prior("2026-01-10", Some("2026-04-15"))]);
        assert_eq!(d.criterion, Some(Criterion::Repeat), "{}", d.reason);
        assert!(
            d.reason.contains("heard at MARAC on 2026-04-15"),
            "{}",
            d.reason
        );
        assert!(
            d.reason.contains("counted from the last meeting"),
            "{}",
            d.reason
        );
        let d = with_history(&c, &[prior("2026-01-10", Some("2026-04-14"))]);
        assert_eq!(d.outcome, Outcome::BelowThreshold, "{}", d.reason);
        // The same history under the City's last-referral anchor and 12 months: repeat.
        let d = with_history(&case(CITY, 1), &[prior("2026-01-10", Some("2026-04-14"))]);
        assert_eq!(d.criterion, Some(Criterion::Repeat));
        // Not yet heard: the referral date anchors.
        let d = with_history(&c, &[prior("2026-04-15", None)]);
        assert!(d.reason.contains("not yet heard"), "{}", d.reason);
    }

    #[test]
    fn professional_judgement_never_lowers_and_free_text_stays_out() {
        let mut high = case(CITY, 18);
        high.professional_judgement_reasons = vec!["she fears for her life".into()];
        let d = decide_now(&high);
        assert_eq!(d.criterion, Some(Criterion::VisibleHighRisk));
        assert_eq!(
            d.criteria_met,
            vec![Criterion::VisibleHighRisk, Criterion::ProfessionalJudgement]
        );
        assert!(!d.reason.contains("fears"), "{}", d.reason);
    }

    #[test]
    fn a_victim_living_elsewhere_is_transferred_to_their_areas_marac() {
        let mut c = case(CITY, 16);
        c.residence = lives_in(HACKNEY);
        let d = decide_now(&c);
        assert_eq!(d.outcome, Outcome::TransferRequested);
        assert_eq!(d.transfer_kind, Some(TransferKind::MaracToMarac));
        assert_eq!(d.destination, area(HACKNEY));
        assert_eq!(d.rules_area, area(CITY), "the receiving area's rules apply");
        assert!(
            d.reason.contains("transfer to Hackney MARAC"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn no_fixed_abode_is_heard_where_the_incident_happened() {
        let mut c = case(CITY, 16);
        c.residence = Residence::NoFixedAbode;
        let d = decide_now(&c);
        assert_eq!(
            (d.outcome, d.destination.clone()),
            (Outcome::Routed, area(CITY))
        );
        assert!(d.reason.contains("no fixed abode"), "{}", d.reason);
        c.incident_area = area(ISLINGTON);
        let d = decide_now(&c);
        assert_eq!(
            (d.outcome, d.destination),
            (Outcome::TransferRequested, area(ISLINGTON))
        );
    }

    #[test]
    fn an_unresolved_residence_goes_to_review_with_what_to_supply() {
        let mut c = case(CITY, 16);
        c.residence = Residence::Unresolved {
            why: "postcode ZZ9 9ZZ is not in the ONS Postcode Directory".into(),
            supply: "Give the victim's full current postcode or local-authority GSS code".into(),
        };
        let d = decide_now(&c);
        assert_eq!(d.outcome, Outcome::NeedsReview);
        assert_eq!(d.panel, Panel::Review);
        assert_eq!(d.criterion, Some(Criterion::ResidenceUnresolved));
        assert!(d.criteria_met.contains(&Criterion::VisibleHighRisk));
        assert!(
            d.action_required
                .as_deref()
                .unwrap()
                .contains("full current postcode")
        );
        assert!(
            d.reason.contains("ZZ9 9ZZ") && d.reason.contains("Visible high risk"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn below_threshold_stays_with_the_receiving_area_and_names_the_band() {
        let mut c = case(CITY, 5);
        c.residence = lives_in(HACKNEY);
        let d = decide_now(&c);
        assert_eq!(
            (d.outcome, d.destination.clone()),
            (Outcome::BelowThreshold, area(CITY))
        );
        assert!(d.reason.contains("standard risk"), "{}", d.reason);
        let d = decide_now(&case(CITY, 13));
        assert!(
            d.reason
                .contains("DASH score 13 (medium risk; threshold 14)"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn every_decision_names_its_rule_set_and_version() {
        let d = decide_now(&case(CITY, 20));
        assert_eq!((d.rule_set.as_str(), d.rule_set_version), ("test-rules", 7));
        assert_eq!(d.dash_yes_count, 20);
    }
}
