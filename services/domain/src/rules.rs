//! Per-area rule sets: versioned data, validated before use. A rule file is TOML; every error
//! names the line and the reason, so an operator fixing a refused reload at 3 a.m. knows where
//! to look. Nothing here names an area: every difference between areas is data
//! (ARCHITECTURE.md, "never if borough ==").

use crate::area::AreaCode;
use crate::directory::Directory;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use toml::Spanned;

/// What a repeat window counts from (docs/DOMAIN.md 2.1: some areas count from the last meeting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepeatAnchor {
    LastReferral,
    LastMeeting,
}

impl RepeatAnchor {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "last_referral" => Some(Self::LastReferral),
            "last_meeting" => Some(Self::LastMeeting),
            _ => None,
        }
    }
    pub fn id(self) -> &'static str {
        match self {
            Self::LastReferral => "last_referral",
            Self::LastMeeting => "last_meeting",
        }
    }
}

/// A local MARAC criterion an area may add to the SafeLives four.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LocalCriterion {
    /// Kent and Medway: the victim has threatened or attempted suicide or self-harm.
    SuicideOrSelfHarm,
}

impl LocalCriterion {
    pub const ALL: [LocalCriterion; 1] = [LocalCriterion::SuicideOrSelfHarm];

    pub fn id(self) -> &'static str {
        match self {
            Self::SuicideOrSelfHarm => "suicide-or-self-harm",
        }
    }
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.id() == id)
    }
    pub fn describe(self) -> &'static str {
        match self {
            Self::SuicideOrSelfHarm => {
                "the victim has threatened or attempted suicide or self-harm"
            }
        }
    }
}

/// The rules one area applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AreaRules {
    /// MARAC visible high risk: this many DASH "yes" answers or more (SafeLives: 14).
    pub dash_threshold: u32,
    /// MARAC potential escalation: this many police-reported incidents or more ...
    pub escalation_incidents: u32,
    /// ... within this many months up to the incident (SafeLives: 3 in 12; Kent and Medway: 3 in 6).
    pub escalation_window_months: u32,
    /// MARAC repeat: a further incident within this many months of the anchor.
    pub repeat_window_months: u32,
    pub repeat_anchor: RepeatAnchor,
    pub local_criteria: Vec<LocalCriterion>,
    /// Community MARAC: a risk-matrix score at or above this is high risk; `None` when the area
    /// uses no matrix (no national cut-off is published).
    pub community_risk_threshold: Option<u32>,
    /// A case transferred in from another area (MARAC-to-MARAC, Prevent handover) is decided
    /// under this area's own rules like any referral (true), or the sending area's assessment is
    /// accepted and the case goes straight to this area's panel (false). docs/DOMAIN.md 2.1 and
    /// 2.4: not nationally published, so a per-area setting; the default re-applies the threshold.
    pub reassess_transfers: bool,
}

impl AreaRules {
    /// The settings as a rule-file fragment, for `refroute explain`.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "dash_threshold = {}", self.dash_threshold);
        let _ = writeln!(s, "escalation_incidents = {}", self.escalation_incidents);
        let _ = writeln!(
            s,
            "escalation_window_months = {}",
            self.escalation_window_months
        );
        let _ = writeln!(s, "repeat_window_months = {}", self.repeat_window_months);
        let _ = writeln!(s, "repeat_anchor = \"{}\"", self.repeat_anchor.id());
        let ids: Vec<String> = self
            .local_criteria
            .iter()
            .map(|c| format!("\"{}\"", c.id()))
            .collect();
        let _ = writeln!(s, "local_criteria = [{}]", ids.join(", "));
        match self.community_risk_threshold {
            Some(t) => {
                let _ = writeln!(s, "community_marac_risk_threshold = {t}");
            }
            None => s.push_str("# community_marac_risk_threshold: none (no risk matrix)\n"),
        }
        let _ = writeln!(s, "reassess_transfers = {}", self.reassess_transfers);
        s
    }
}

/// A validated rule set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSet {
    name: String,
    version: u32,
    defaults: AreaRules,
    areas: BTreeMap<AreaCode, AreaRules>,
}

/// Why a rule file was refused: the line (1-based) when one is to blame, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct RuleSetError {
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    name: Spanned<String>,
    version: Spanned<u32>,
    defaults: Spanned<SettingsForm>,
    #[serde(default)]
    areas: BTreeMap<String, Spanned<SettingsForm>>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct SettingsForm {
    /// For the reader of the file; the directory owns names.
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    dash_threshold: Option<Spanned<u32>>,
    escalation_incidents: Option<Spanned<u32>>,
    escalation_window_months: Option<Spanned<u32>>,
    repeat_window_months: Option<Spanned<u32>>,
    repeat_anchor: Option<Spanned<String>>,
    local_criteria: Option<Spanned<Vec<String>>>,
    community_marac_risk_threshold: Option<Spanned<u32>>,
    reassess_transfers: Option<bool>,
}

/// Turns byte offsets into line numbers for error messages.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn at(&self, offset: usize) -> usize {
        self.0[..offset.min(self.0.len())].matches('\n').count() + 1
    }
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> Result<T, RuleSetError> {
        Err(RuleSetError {
            line: Some(self.at(span.start)),
            message: message.into(),
        })
    }
}

/// Range checks: (field, min, max).
const RANGES: [(&str, u32, u32); 5] = [
    ("dash_threshold", 1, 24),
    ("escalation_incidents", 1, 100),
    ("escalation_window_months", 1, 60),
    ("repeat_window_months", 1, 60),
    ("community_marac_risk_threshold", 1, 1000),
];

impl RuleSet {
    /// Parses and validates a rule file against the area directory.
    pub fn parse(text: &str, directory: &Directory) -> Result<Self, RuleSetError> {
        let lines = Lines(text);
        let form: FileForm = toml::from_str(text).map_err(|e| RuleSetError {
            line: e.span().map(|s| lines.at(s.start)),
            message: e.message().trim().to_string(),
        })?;
        if form.name.get_ref().trim().is_empty() {
            return lines.err(form.name.span(), "name must not be empty");
        }
        if *form.version.get_ref() == 0 {
            return lines.err(form.version.span(), "version must be 1 or more");
        }
        let base = form.defaults.get_ref();
        let defaults = Self::settings(&lines, "defaults", base, None)?;
        let mut areas = BTreeMap::new();
        for (key, settings) in &form.areas {
            let code = match AreaCode::parse(key) {
                Ok(c) if directory.known(&c) => c,
                Ok(_) => {
                    return lines.err(
                        settings.span(),
                        format!("areas.{key}: not a local authority in the area directory"),
                    );
                }
                Err(e) => return lines.err(settings.span(), format!("areas.{key}: {e}")),
            };
            if areas.contains_key(&code) {
                return lines.err(
                    settings.span(),
                    format!("areas.{key}: {code} is configured twice"),
                );
            }
            let rules = Self::settings(
                &lines,
                &format!("areas.{key}"),
                settings.get_ref(),
                Some(&defaults),
            )?;
            areas.insert(code, rules);
        }
        Ok(Self {
            name: form.name.into_inner(),
            version: form.version.into_inner(),
            defaults,
            areas,
        })
    }

    /// One settings table, validated; an area's missing fields come from `defaults`.
    fn settings(
        lines: &Lines,
        scope: &str,
        f: &SettingsForm,
        defaults: Option<&AreaRules>,
    ) -> Result<AreaRules, RuleSetError> {
        let number = |field: &str,
                      value: &Option<Spanned<u32>>,
                      default: Option<u32>|
         -> Result<Option<u32>, RuleSetError> {
            let Some(v) = value else {
                return match (default, defaults) {
                    (d, Some(_)) => Ok(d),
                    (_, None) if field == "community_marac_risk_threshold" => Ok(None),
                    (_, None) => Err(RuleSetError {
                        line: None,
                        message: format!("{scope}.{field} is required"),
                    }),
                };
            };
            let (_, min, max) = RANGES
                .iter()
                .find(|(f, ..)| *f == field)
                .expect("ranged field");
            let n = *v.get_ref();
            if !(*min..=*max).contains(&n) {
                return lines.err(
                    v.span(),
                    format!("{scope}.{field} = {n} is out of range ({min} to {max})"),
                );
            }
            Ok(Some(n))
        };
        let d = defaults;
        let dash_threshold = number(
            "dash_threshold",
            &f.dash_threshold,
            d.map(|d| d.dash_threshold),
        )?;
        let escalation_incidents = number(
            "escalation_incidents",
            &f.escalation_incidents,
            d.map(|d| d.escalation_incidents),
        )?;
        let escalation_window_months = number(
            "escalation_window_months",
            &f.escalation_window_months,
            d.map(|d| d.escalation_window_months),
        )?;
        let repeat_window_months = number(
            "repeat_window_months",
            &f.repeat_window_months,
            d.map(|d| d.repeat_window_months),
        )?;
        let community_risk_threshold = number(
            "community_marac_risk_threshold",
            &f.community_marac_risk_threshold,
            d.and_then(|d| d.community_risk_threshold),
        )?;
        let repeat_anchor = match &f.repeat_anchor {
            Some(a) => RepeatAnchor::parse(a.get_ref()).map_or_else(
                || {
                    lines.err(
                        a.span(),
                        format!(
                            "{scope}.repeat_anchor = \"{}\" is not last_referral or last_meeting",
                            a.get_ref()
                        ),
                    )
                },
                Ok,
            )?,
            None => d
                .map(|d| d.repeat_anchor)
                .unwrap_or(RepeatAnchor::LastReferral),
        };
        let local_criteria = match &f.local_criteria {
            Some(list) => list
                .get_ref()
                .iter()
                .map(|id| {
                    LocalCriterion::parse(id).map_or_else(
                        || {
                            let known: Vec<&str> = LocalCriterion::ALL.iter().map(|c| c.id()).collect();
                            lines.err(
                                list.span(),
                                format!("{scope}.local_criteria: unknown criterion \"{id}\" (known: {})", known.join(", ")),
                            )
                        },
                        Ok,
                    )
                })
                .collect::<Result<_, _>>()?,
            None => d.map(|d| d.local_criteria.clone()).unwrap_or_default(),
        };
        // Optional in [defaults] too, so rule files written before transfers still load: a
        // receiving area re-applies its own threshold unless it says otherwise.
        let reassess_transfers = f
            .reassess_transfers
            .or(d.map(|d| d.reassess_transfers))
            .unwrap_or(true);
        let required = |v: Option<u32>| v.expect("defaults are required, areas inherit");
        Ok(AreaRules {
            dash_threshold: required(dash_threshold),
            escalation_incidents: required(escalation_incidents),
            escalation_window_months: required(escalation_window_months),
            repeat_window_months: required(repeat_window_months),
            repeat_anchor,
            local_criteria,
            community_risk_threshold,
            reassess_transfers,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// The rules of `area`: its own settings where configured, the defaults otherwise.
    pub fn rules_for(&self, area: &AreaCode) -> &AreaRules {
        self.areas.get(area).unwrap_or(&self.defaults)
    }

    /// Areas with their own settings.
    pub fn configured_areas(&self) -> impl Iterator<Item = &AreaCode> {
        self.areas.keys()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::directory::tests::directory;

    /// SafeLives defaults; Hackney at 15 yes answers, 3 in 6 months, 6-month repeat window from
    /// the last meeting; Islington counting 5 incidents with a risk matrix (above 31 is high);
    /// Medway (Kent and Medway) 3 in 6 months and the suicide or self-harm local criterion; Tower
    /// Hamlets accepting the sending area's assessment of a case transferred in.
    pub const TEST_RULES: &str = r#"
name = "test-rules"
version = 7

[defaults]
dash_threshold = 14
escalation_incidents = 3
escalation_window_months = 12
repeat_window_months = 12
repeat_anchor = "last_referral"
local_criteria = []

[areas.E09000012]
dash_threshold = 15
escalation_window_months = 6
repeat_window_months = 6
repeat_anchor = "last_meeting"

[areas.E09000019]
escalation_incidents = 5
community_marac_risk_threshold = 32

[areas.E06000035]
escalation_window_months = 6
local_criteria = ["suicide-or-self-harm"]

[areas.E09000030]
reassess_transfers = false
"#;

    pub fn rule_set() -> RuleSet {
        RuleSet::parse(TEST_RULES, &directory()).unwrap()
    }

    fn refused(text: &str) -> String {
        RuleSet::parse(text, &directory()).unwrap_err().to_string()
    }

    #[test]
    fn an_area_overrides_only_what_it_sets() {
        let set = rule_set();
        let hackney = set.rules_for(&AreaCode::parse("E09000012").unwrap());
        assert_eq!(hackney.dash_threshold, 15);
        assert_eq!(hackney.escalation_incidents, 3);
        assert_eq!(hackney.repeat_anchor, RepeatAnchor::LastMeeting);
        let city = set.rules_for(&AreaCode::city_of_london());
        assert_eq!(city.dash_threshold, 14);
        assert_eq!(city.community_risk_threshold, None);
        assert_eq!((set.name(), set.version()), ("test-rules", 7));
        let medway = set.rules_for(&AreaCode::parse("E06000035").unwrap());
        assert_eq!(
            medway.local_criteria,
            vec![LocalCriterion::SuicideOrSelfHarm]
        );
    }

    #[test]
    fn out_of_range_values_name_the_line_and_field() {
        let text = TEST_RULES.replace("dash_threshold = 15", "dash_threshold = 25");
        assert_eq!(
            refused(&text),
            "line 14: areas.E09000012.dash_threshold = 25 is out of range (1 to 24)"
        );
    }

    #[test]
    fn syntax_errors_unknown_keys_and_wrong_types_name_the_line() {
        let broken = TEST_RULES.replace("escalation_incidents = 5", "escalation_incidents = = 5");
        assert!(
            refused(&broken).starts_with("line 20:"),
            "{}",
            refused(&broken)
        );
        let unknown = TEST_RULES.replace("escalation_incidents = 5", "escalation_incidnets = 5");
        let e = refused(&unknown);
        assert!(
            e.starts_with("line 20:") && e.contains("escalation_incidnets"),
            "{e}"
        );
        let typed = TEST_RULES.replace("dash_threshold = 15", "dash_threshold = \"fifteen\"");
        assert!(
            refused(&typed).starts_with("line 14:"),
            "{}",
            refused(&typed)
        );
    }

    #[test]
    fn unknown_areas_anchors_and_criteria_are_refused() {
        let e = refused(&TEST_RULES.replace("[areas.E09000019]", "[areas.E09000099]"));
        assert!(
            e.contains("areas.E09000099: not a local authority in the area directory"),
            "{e}"
        );
        assert!(e.starts_with("line "), "{e}");
        let e = refused(&TEST_RULES.replace("\"last_meeting\"", "\"last_hearing\""));
        assert!(
            e.starts_with("line 17:") && e.contains("last_hearing"),
            "{e}"
        );
        let e = refused(&TEST_RULES.replace("[\"suicide-or-self-harm\"]", "[\"pregnancy\"]"));
        assert!(e.contains("unknown criterion \"pregnancy\""), "{e}");
    }

    #[test]
    fn defaults_must_be_complete_and_version_positive() {
        let e = refused(&TEST_RULES.replace("repeat_window_months = 12\n", ""));
        assert_eq!(e, "defaults.repeat_window_months is required");
        let e = refused(&TEST_RULES.replace("version = 7", "version = 0"));
        assert_eq!(e, "line 3: version must be 1 or more");
        let e = refused(&TEST_RULES.replace("name = \"test-rules\"", "name = \" \""));
        assert_eq!(e, "line 2: name must not be empty");
    }

    #[test]
    fn transfers_are_reassessed_unless_an_area_accepts_the_senders_assessment() {
        let set = rule_set();
        let tower_hamlets = AreaCode::parse("E09000030").unwrap();
        assert!(!set.rules_for(&tower_hamlets).reassess_transfers);
        assert!(
            set.rules_for(&AreaCode::city_of_london())
                .reassess_transfers
        );
        assert!(
            set.rules_for(&AreaCode::parse("E09000012").unwrap())
                .reassess_transfers,
            "an area that does not set it inherits [defaults]"
        );
        // Left out of [defaults] (a file from before transfers): re-applied, the safe default.
        assert!(set.defaults.reassess_transfers);
        // An area inherits an explicit default.
        let text = TEST_RULES.replace(
            "local_criteria = []\n",
            "local_criteria = []\nreassess_transfers = false\n",
        );
        let set = RuleSet::parse(&text, &directory()).unwrap();
        assert!(
            !set.rules_for(&AreaCode::city_of_london())
                .reassess_transfers
        );
        let e = refused(
            &TEST_RULES.replace("reassess_transfers = false", "reassess_transfers = \"no\""),
        );
        assert!(e.starts_with("line 28:") && e.contains("bool"), "{e}");
        assert!(
            set.rules_for(&tower_hamlets)
                .to_toml()
                .contains("reassess_transfers = false\n")
        );
    }

    #[test]
    fn describes_an_areas_rules_as_toml() {
        let set = rule_set();
        let islington = set
            .rules_for(&AreaCode::parse("E09000019").unwrap())
            .to_toml();
        assert!(
            islington.contains("escalation_incidents = 5"),
            "{islington}"
        );
        assert!(
            islington.contains("community_marac_risk_threshold = 32"),
            "{islington}"
        );
    }
}
