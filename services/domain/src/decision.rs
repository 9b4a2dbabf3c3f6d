//! What every pathway decides: where a referral goes, the rule that fired and why. One shape for
//! all three pathways, so a coordinator, an auditor and `refroute explain` read them alike.

use crate::area::AreaCode;
use crate::rules::LocalCriterion;
use chrono::NaiveDate;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pathway {
    DomesticAbuse,
    CommunityMarac,
    Prevent,
}

impl Pathway {
    /// The panel that hears the pathway's cases.
    pub fn panel(self) -> Panel {
        match self {
            Pathway::DomesticAbuse => Panel::Marac,
            Pathway::CommunityMarac => Panel::CommunityMarac,
            Pathway::Prevent => Panel::Channel,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Panel {
    Marac,
    CommunityMarac,
    Channel,
    /// The receiving partnership's review queue (not a panel).
    Review,
}

impl Panel {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "MARAC" => Some(Panel::Marac),
            "COMMUNITY_MARAC" => Some(Panel::CommunityMarac),
            "CHANNEL" => Some(Panel::Channel),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Panel::Marac => "MARAC",
            Panel::CommunityMarac => "Community MARAC",
            Panel::Channel => "Channel panel",
            Panel::Review => "review queue",
        }
    }
}

/// The rule that decided a referral. For MARAC, several may be met; the one reported is the
/// first in this order: the score first (it is what the checklist exists for), then repeat
/// (heard again whatever the threshold), escalation, local criteria, and professional judgement
/// last (it raises, never lowers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Criterion {
    VisibleHighRisk,
    Repeat,
    PotentialEscalation,
    Local(LocalCriterion),
    ProfessionalJudgement,
    AsbHighRisk,
    AsbWithVulnerability,
    SuicideRiskAlone,
    RadicalisationConcern,
    ResidenceUnresolved,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Into the queue of `panel` in `destination`.
    Routed,
    /// Belongs to another area's panel or police force.
    TransferRequested,
    /// No criterion met; the referrer is told and the case signposted.
    BelowThreshold,
    /// A person must look before it can be routed.
    NeedsReview,
    /// The panel's rules do not accept it.
    Declined,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferKind {
    MaracToMarac,
    PreventHandover,
}

impl TransferKind {
    pub fn label(self) -> &'static str {
        match self {
            TransferKind::MaracToMarac => "MARAC-to-MARAC",
            TransferKind::PreventHandover => "Prevent handover",
        }
    }
}

/// Where the person lives, as triage resolved it before deciding. Resolution (a postcode
/// lookup) happens at the edge; the rules only see the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Residence {
    /// Resolved to an area; `how` says from what ("postcode EC2M 7PY is in ...").
    Area {
        code: AreaCode,
        how: String,
    },
    NoFixedAbode,
    /// Could not be resolved with certainty: `why`, and what the referrer should `supply`.
    Unresolved {
        why: String,
        supply: String,
    },
}

impl Residence {
    pub fn area(&self) -> Option<&AreaCode> {
        match self {
            Residence::Area { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Residence::Area { how, .. } => how.clone(),
            Residence::NoFixedAbode => "no fixed abode".into(),
            Residence::Unresolved { why, .. } => why.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub pathway: Pathway,
    pub outcome: Outcome,
    pub panel: Panel,
    /// The area whose panel hears (or is asked to hear) the case; for a review or a refusal,
    /// the receiving area.
    pub destination: AreaCode,
    pub criterion: Option<Criterion>,
    pub criteria_met: Vec<Criterion>,
    pub reason: String,
    pub rules_area: AreaCode,
    pub rule_set: String,
    pub rule_set_version: u32,
    pub transfer_kind: Option<TransferKind>,
    /// Prevent handover: the receiving police force's GSS code.
    pub police_force: Option<String>,
    /// Community MARAC: areas whose statutory services are notified and invited.
    pub notify_areas: Vec<AreaCode>,
    pub residence: Residence,
    /// Needs review, or a Community MARAC invitation waiting for the residence: what the
    /// referrer should supply.
    pub action_required: Option<String>,
    pub dash_yes_count: u32,
    pub subject_age: Option<u32>,
    pub risk_score: Option<u32>,
}

impl Decision {
    /// A decision with nothing met yet, for the pathways to fill in.
    pub(crate) fn new(
        pathway: Pathway,
        panel: Panel,
        received: &AreaCode,
        residence: &Residence,
        rule_set: &crate::RuleSet,
    ) -> Self {
        Self {
            pathway,
            outcome: Outcome::BelowThreshold,
            panel,
            destination: received.clone(),
            criterion: None,
            criteria_met: Vec::new(),
            reason: String::new(),
            rules_area: received.clone(),
            rule_set: rule_set.name().to_string(),
            rule_set_version: rule_set.version(),
            transfer_kind: None,
            police_force: None,
            notify_areas: Vec::new(),
            residence: residence.clone(),
            action_required: None,
            dash_yes_count: 0,
            subject_age: None,
            risk_score: None,
        }
    }

    /// A Community MARAC case heard where the behaviour happened whose person's residence is
    /// not known yet: the invitation of their home area's statutory services waits for it
    /// (docs/DOMAIN.md 2.2), and supplying the residence decides the case again to send it.
    pub fn invitation_awaits_residence(&self) -> bool {
        self.pathway == Pathway::CommunityMarac
            && self.outcome == Outcome::Routed
            && self.criteria_met.contains(&Criterion::ResidenceUnresolved)
    }

    /// Sends the referral to the receiving area's review queue because the residence is
    /// unresolved; `assessed` says what the rules found meanwhile, for the reviewer.
    pub(crate) fn needs_review(&mut self, why: &str, supply: &str, assessed: &str) {
        self.outcome = Outcome::NeedsReview;
        self.panel = Panel::Review;
        self.criterion = Some(Criterion::ResidenceUnresolved);
        self.criteria_met.insert(0, Criterion::ResidenceUnresolved);
        self.action_required = Some(supply.to_string());
        self.reason = format!(
            "Needs review: {why}. Where the person lives decides which panel hears the case, and refroute never guesses it. {supply}. {assessed}"
        );
    }
}

/// Whole years from `born` to `on` (0 if `on` is before `born`).
pub fn age_on(born: NaiveDate, on: NaiveDate) -> u32 {
    on.years_since(born).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_turns_on_the_birthday() {
        let born: NaiveDate = "2008-11-23".parse().unwrap();
        assert_eq!(age_on(born, "2026-11-22".parse().unwrap()), 17);
        assert_eq!(age_on(born, "2026-11-23".parse().unwrap()), 18);
        assert_eq!(age_on(born, "2001-01-01".parse().unwrap()), 0);
    }
}
