//! The reference data every service reads the same way: the area directory (shipped, then the
//! deployment's file on top) and the rule file (the deployment's, or the built-in one).

use crate::settings::{DirectorySettings, RulesSettings};
use anyhow::Context;
use refroute_domain::Directory;

/// The shipped directory: London and the neighbouring counties.
pub const BUILT_IN_AREAS: &str = include_str!("../../geography/data/areas.toml");
/// The shipped rule set.
pub const BUILT_IN_RULES: &str = include_str!("../../../config/rules.toml");

/// The shipped directory with the deployment's file (if any) applied on top.
pub fn directory(settings: &DirectorySettings) -> anyhow::Result<Directory> {
    let mut directory =
        Directory::from_toml(BUILT_IN_AREAS).context("the built-in area directory")?;
    if !settings.file.is_empty() {
        let text = std::fs::read_to_string(&settings.file)
            .with_context(|| format!("reading directory.file {}", settings.file))?;
        directory
            .extend_from_toml(&text)
            .with_context(|| format!("directory.file {}", settings.file))?;
    }
    Ok(directory)
}

/// A rule file's text and where it came from.
#[derive(Clone, Debug)]
pub struct RuleSource {
    /// The path, or "built-in".
    pub origin: String,
    pub text: String,
}

/// Reads the configured rule file (the built-in one when none is configured).
pub fn read_rules(settings: &RulesSettings) -> anyhow::Result<RuleSource> {
    if settings.file.is_empty() {
        return Ok(RuleSource {
            origin: "built-in".into(),
            text: BUILT_IN_RULES.into(),
        });
    }
    let text = std::fs::read_to_string(&settings.file)
        .with_context(|| format!("reading rules.file {}", settings.file))?;
    Ok(RuleSource {
        origin: settings.file.clone(),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_domain::{AreaCode, RuleSet};

    #[test]
    fn the_built_in_directory_and_rules_load_and_agree() {
        let directory = directory(&DirectorySettings {
            file: String::new(),
        })
        .unwrap();
        assert!(
            directory.areas().count() >= 33 + 40,
            "London and the counties"
        );
        for code in 1..=33 {
            let code = AreaCode::parse(&format!("E090000{code:02}")).unwrap();
            assert!(directory.known(&code), "{code}");
        }
        let rules = RuleSet::parse(BUILT_IN_RULES, &directory).unwrap();
        assert_eq!(rules.name(), "london-and-home-counties");
    }
}
