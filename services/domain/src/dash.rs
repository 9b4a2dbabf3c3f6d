//! The SafeLives DASH risk checklist: 24 questions answered yes / no / not known.

/// Number of questions on the checklist.
pub const DASH_QUESTIONS: usize = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DashAnswer {
    Yes,
    No,
    NotKnown,
}

/// A complete checklist. Only constructible with exactly 24 answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashChecklist([DashAnswer; DASH_QUESTIONS]);

/// Local DASH bands (docs/DOMAIN.md 2.1): 1-9 standard, 10-13 medium, 14+ high.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskBand {
    Standard,
    Medium,
    High,
}

impl DashChecklist {
    /// `None` unless there are exactly 24 answers.
    pub fn new(answers: &[DashAnswer]) -> Option<Self> {
        answers.try_into().ok().map(Self)
    }

    /// The DASH score: the count of "yes" answers ("not known" is not a yes).
    pub fn yes_count(&self) -> u32 {
        self.0.iter().filter(|a| **a == DashAnswer::Yes).count() as u32
    }

    pub fn band(&self) -> RiskBand {
        RiskBand::of(self.yes_count())
    }

    /// A checklist with `yes` yes answers and the rest no; for tests and the demo.
    pub fn with_yes_count(yes: usize) -> Self {
        let mut answers = [DashAnswer::No; DASH_QUESTIONS];
        for a in answers.iter_mut().take(yes.min(DASH_QUESTIONS)) {
            *a = DashAnswer::Yes;
        }
        Self(answers)
    }
}

impl RiskBand {
    /// The band of a DASH score (the count of "yes" answers).
    pub fn of(yes_count: u32) -> Self {
        match yes_count {
            0..=9 => RiskBand::Standard,
            10..=13 => RiskBand::Medium,
            _ => RiskBand::High,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RiskBand::Standard => "standard risk",
            RiskBand::Medium => "medium risk",
            RiskBand::High => "high risk",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_exactly_24_answers() {
        assert!(DashChecklist::new(&[DashAnswer::Yes; 23]).is_none());
        assert!(DashChecklist::new(&[DashAnswer::Yes; 25]).is_none());
        assert!(DashChecklist::new(&[DashAnswer::Yes; 24]).is_some());
    }

    #[test]
    fn not_known_is_not_a_yes() {
        let mut answers = [DashAnswer::NotKnown; 24];
        answers[0] = DashAnswer::Yes;
        assert_eq!(DashChecklist::new(&answers).unwrap().yes_count(), 1);
    }

    #[test]
    fn bands_at_their_boundaries() {
        let band = |n| DashChecklist::with_yes_count(n).band();
        assert_eq!(band(9), RiskBand::Standard);
        assert_eq!(band(10), RiskBand::Medium);
        assert_eq!(band(13), RiskBand::Medium);
        assert_eq!(band(14), RiskBand::High);
    }
}
