//! What a decision on the wire leaves waiting for the person's residence: every service that
//! acts on a residence supplied later (intake taking it, notification holding an invitation)
//! reads it the same way.

use crate::v1::{Criterion, Decision, Outcome, Pathway};

impl Decision {
    /// Routed to a Community MARAC, heard where the behaviour happened, while the residence is
    /// unknown: the invitation of the home area's statutory services waits for it.
    pub fn invitation_awaits_residence(&self) -> bool {
        self.outcome() == Outcome::Routed
            && self.pathway() == Pathway::CommunityMarac
            && self
                .criteria_met
                .contains(&(Criterion::ResidenceUnresolved as i32))
    }

    /// In review, or with an invitation waiting: a residence supplied now is decided again.
    pub fn awaits_residence(&self) -> bool {
        self.outcome() == Outcome::NeedsReview || self.invitation_awaits_residence()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(outcome: Outcome, pathway: Pathway, unresolved: bool) -> Decision {
        let mut criteria_met = vec![Criterion::AsbWithVulnerability as i32];
        if unresolved {
            criteria_met.push(Criterion::ResidenceUnresolved as i32);
        }
        Decision {
            outcome: outcome as i32,
            pathway: pathway as i32,
            criteria_met,
            ..Default::default()
        }
    }

    #[test]
    fn what_awaits_a_residence() {
        use Outcome::*;
        use Pathway::*;
        let d = decision(Routed, CommunityMarac, true);
        assert!(d.invitation_awaits_residence() && d.awaits_residence());
        assert!(decision(NeedsReview, DomesticAbuse, true).awaits_residence());
        assert!(!decision(NeedsReview, CommunityMarac, true).invitation_awaits_residence());
        for d in [
            decision(Routed, CommunityMarac, false),
            decision(Routed, DomesticAbuse, true),
            decision(TransferRequested, CommunityMarac, true),
            decision(Declined, CommunityMarac, true),
        ] {
            assert!(!d.awaits_residence(), "{d:?}");
        }
    }
}
