//! Per-area threshold rules, loaded from configuration and validated before use. Nothing here
//! names an area: every difference between areas is data (ARCHITECTURE.md, "never if borough ==").

use crate::area::{AreaCode, AreaError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The MARAC thresholds one area applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaRules {
    /// Visible high risk: this many DASH "yes" answers or more (SafeLives: 14).
    pub dash_threshold: u32,
    /// Potential escalation: this many police-reported incidents or more ...
    pub escalation_incidents: u32,
    /// ... within this many months up to the incident (SafeLives: 3 in 12; Kent and Medway: 3 in 6).
    pub escalation_window_months: u32,
    /// Repeat: a further incident within this many months of the last MARAC referral.
    pub repeat_window_months: u32,
}

/// A partial [`AreaRules`]: what an area changes from the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaOverride {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub dash_threshold: Option<u32>,
    #[serde(default)]
    pub escalation_incidents: Option<u32>,
    #[serde(default)]
    pub escalation_window_months: Option<u32>,
    #[serde(default)]
    pub repeat_window_months: Option<u32>,
}

impl AreaOverride {
    fn merge(&mut self, later: AreaOverride) {
        self.name = later.name.or(self.name.take());
        self.dash_threshold = later.dash_threshold.or(self.dash_threshold);
        self.escalation_incidents = later.escalation_incidents.or(self.escalation_incidents);
        self.escalation_window_months = later
            .escalation_window_months
            .or(self.escalation_window_months);
        self.repeat_window_months = later.repeat_window_months.or(self.repeat_window_months);
    }
}

/// The rule set as written in configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSetConfig {
    pub name: String,
    pub version: u32,
    pub defaults: AreaRules,
    #[serde(default)]
    pub areas: BTreeMap<String, AreaOverride>,
}

/// A validated rule set: every area's rules are within range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSet {
    name: String,
    version: u32,
    defaults: AreaRules,
    areas: BTreeMap<AreaCode, AreaRules>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleSetError {
    #[error("rule set name must not be empty")]
    EmptyName,
    #[error("rule set version must be 1 or more")]
    ZeroVersion,
    #[error("rules.areas.{key}: {source}")]
    Area { key: String, source: AreaError },
    #[error("{scope}.{field} = {value} is out of range ({min} to {max})")]
    OutOfRange {
        scope: String,
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
}

impl RuleSet {
    pub fn from_config(config: RuleSetConfig) -> Result<Self, RuleSetError> {
        if config.name.trim().is_empty() {
            return Err(RuleSetError::EmptyName);
        }
        if config.version == 0 {
            return Err(RuleSetError::ZeroVersion);
        }
        check_ranges("rules.defaults", &config.defaults)?;
        // Keys are matched case-insensitively and merged in key order, so an environment
        // override (the config crate lowercases those keys) lands on top of the file's entry.
        let mut merged: BTreeMap<AreaCode, AreaOverride> = BTreeMap::new();
        for (key, over) in config.areas {
            let code = AreaCode::parse(&key).map_err(|source| RuleSetError::Area {
                key: key.clone(),
                source,
            })?;
            merged.entry(code).or_default().merge(over);
        }
        let mut areas = BTreeMap::new();
        for (code, over) in merged {
            let d = &config.defaults;
            let rules = AreaRules {
                dash_threshold: over.dash_threshold.unwrap_or(d.dash_threshold),
                escalation_incidents: over.escalation_incidents.unwrap_or(d.escalation_incidents),
                escalation_window_months: over
                    .escalation_window_months
                    .unwrap_or(d.escalation_window_months),
                repeat_window_months: over.repeat_window_months.unwrap_or(d.repeat_window_months),
            };
            check_ranges(&format!("rules.areas.{code}"), &rules)?;
            areas.insert(code, rules);
        }
        Ok(Self {
            name: config.name,
            version: config.version,
            defaults: config.defaults,
            areas,
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

fn check_ranges(scope: &str, rules: &AreaRules) -> Result<(), RuleSetError> {
    let checks = [
        ("dash_threshold", rules.dash_threshold, 1, 24),
        ("escalation_incidents", rules.escalation_incidents, 1, 100),
        (
            "escalation_window_months",
            rules.escalation_window_months,
            1,
            60,
        ),
        ("repeat_window_months", rules.repeat_window_months, 1, 60),
    ];
    for (field, value, min, max) in checks {
        if !(min..=max).contains(&value) {
            return Err(RuleSetError::OutOfRange {
                scope: scope.to_string(),
                field,
                value,
                min,
                max,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn safelives_defaults() -> AreaRules {
        AreaRules {
            dash_threshold: 14,
            escalation_incidents: 3,
            escalation_window_months: 12,
            repeat_window_months: 12,
        }
    }

    fn config_with(areas: &[(&str, AreaOverride)]) -> RuleSetConfig {
        RuleSetConfig {
            name: "test".into(),
            version: 3,
            defaults: safelives_defaults(),
            areas: areas
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn an_area_overrides_only_what_it_sets() {
        let set = RuleSet::from_config(config_with(&[(
            "e09000012",
            AreaOverride {
                dash_threshold: Some(15),
                ..Default::default()
            },
        )]))
        .unwrap();
        let hackney = set.rules_for(&AreaCode::parse("E09000012").unwrap());
        assert_eq!(hackney.dash_threshold, 15);
        assert_eq!(hackney.escalation_incidents, 3);
        let city = set.rules_for(&AreaCode::city_of_london());
        assert_eq!(city, &safelives_defaults());
        assert_eq!(set.version(), 3);
    }

    #[test]
    fn refuses_out_of_range_values_naming_the_field() {
        let err = RuleSet::from_config(config_with(&[(
            "E09000019",
            AreaOverride {
                dash_threshold: Some(25),
                ..Default::default()
            },
        )]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "rules.areas.E09000019.dash_threshold = 25 is out of range (1 to 24)"
        );
    }

    #[test]
    fn a_lowercase_key_from_the_environment_merges_over_the_file_entry() {
        let set = RuleSet::from_config(config_with(&[
            (
                "E09000012",
                AreaOverride {
                    dash_threshold: Some(15),
                    escalation_window_months: Some(6),
                    ..Default::default()
                },
            ),
            (
                "e09000012",
                AreaOverride {
                    dash_threshold: Some(16),
                    ..Default::default()
                },
            ),
        ]))
        .unwrap();
        let hackney = set.rules_for(&AreaCode::parse("E09000012").unwrap());
        assert_eq!(
            (hackney.dash_threshold, hackney.escalation_window_months),
            (16, 6)
        );
    }

    #[test]
    fn refuses_unknown_area_keys() {
        let err = RuleSet::from_config(config_with(&[("E12345678", AreaOverride::default())]))
            .unwrap_err();
        assert!(matches!(err, RuleSetError::Area { .. }), "{err}");
    }

    #[test]
    fn refuses_version_zero_and_empty_name() {
        let mut c = config_with(&[]);
        c.version = 0;
        assert_eq!(
            RuleSet::from_config(c).unwrap_err(),
            RuleSetError::ZeroVersion
        );
        let mut c = config_with(&[]);
        c.name = " ".into();
        assert_eq!(
            RuleSet::from_config(c).unwrap_err(),
            RuleSetError::EmptyName
        );
    }
}
