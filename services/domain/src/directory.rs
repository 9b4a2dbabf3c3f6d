//! The area directory: every local authority refroute routes to, with its police force, the
//! panels it runs and its contacts. It ships as data (London and the neighbouring counties) and
//! a deployment overrides or extends it with a file in the same form, entry by entry, because
//! panels and contacts change more often than code should.

use crate::area::AreaCode;
use crate::decision::Panel;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub role: String,
    pub organisation: String,
    /// The email address notifications go to; shipped entries leave it to the deployment.
    #[serde(default)]
    pub address: Option<String>,
    /// The address is approved for personal data (a secure one such as CJSM or PNN): only then
    /// may a message to it name the person.
    #[serde(default)]
    pub personal_data: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Area {
    pub code: AreaCode,
    pub name: String,
    /// GSS code of the police force area.
    pub police_force: String,
    pub panels: Vec<Panel>,
    pub contacts: Vec<Contact>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoliceForce {
    pub code: String,
    pub name: String,
    pub contacts: Vec<Contact>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    areas: BTreeMap<AreaCode, Area>,
    forces: BTreeMap<String, PoliceForce>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    Toml(String),
    #[error("area {code}: {why}")]
    Area { code: String, why: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    #[serde(default)]
    police_force: Vec<ForceForm>,
    #[serde(default)]
    area: Vec<AreaForm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceForm {
    code: String,
    name: String,
    #[serde(default)]
    contacts: Vec<Contact>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaForm {
    code: String,
    name: String,
    police_force: String,
    panels: Vec<String>,
    #[serde(default)]
    contacts: Vec<Contact>,
}

impl Directory {
    /// Parses a directory file. Forces must be defined (here or in an earlier layer) before an
    /// area names one; see [`Directory::extend_from_toml`].
    pub fn from_toml(text: &str) -> Result<Self, DirectoryError> {
        let mut d = Self::default();
        d.extend_from_toml(text)?;
        Ok(d)
    }

    /// Overrides or adds entries from another file of the same form (a deployment's own).
    pub fn extend_from_toml(&mut self, text: &str) -> Result<(), DirectoryError> {
        let form: FileForm =
            toml::from_str(text).map_err(|e| DirectoryError::Toml(e.to_string()))?;
        for f in form.police_force {
            self.forces.insert(
                f.code.clone(),
                PoliceForce {
                    code: f.code,
                    name: f.name,
                    contacts: f.contacts,
                },
            );
        }
        for a in form.area {
            let bad = |why: String| DirectoryError::Area {
                code: a.code.clone(),
                why,
            };
            let code = AreaCode::parse(&a.code).map_err(|e| bad(e.to_string()))?;
            if !self.forces.contains_key(&a.police_force) {
                return Err(bad(format!(
                    "police_force '{}' is not a police force in the directory",
                    a.police_force
                )));
            }
            let panels = a
                .panels
                .iter()
                .map(|p| {
                    Panel::from_name(p).ok_or_else(|| {
                        bad(format!(
                            "unknown panel '{p}' (MARAC, COMMUNITY_MARAC or CHANNEL)"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            self.areas.insert(
                code.clone(),
                Area {
                    code,
                    name: a.name,
                    police_force: a.police_force,
                    panels,
                    contacts: a.contacts,
                },
            );
        }
        Ok(())
    }

    pub fn area(&self, code: &AreaCode) -> Option<&Area> {
        self.areas.get(code)
    }

    pub fn known(&self, code: &AreaCode) -> bool {
        self.areas.contains_key(code)
    }

    /// The area's name, or its code when the directory does not have it.
    pub fn name<'a>(&'a self, code: &'a AreaCode) -> &'a str {
        self.areas
            .get(code)
            .map(|a| a.name.as_str())
            .unwrap_or(code.as_str())
    }

    /// "Hackney (E09000012)", for reasons a person reads; the bare code for an area the
    /// directory does not have.
    pub fn label(&self, code: &AreaCode) -> String {
        match self.areas.get(code) {
            Some(a) => format!("{} ({code})", a.name),
            None => code.to_string(),
        }
    }

    pub fn police_force(&self, code: &str) -> Option<&PoliceForce> {
        self.forces.get(code)
    }

    /// The police force of an area, when both are in the directory.
    pub fn force_of(&self, area: &AreaCode) -> Option<&PoliceForce> {
        self.area(area)
            .and_then(|a| self.forces.get(&a.police_force))
    }

    pub fn runs(&self, area: &AreaCode, panel: Panel) -> bool {
        self.area(area).is_some_and(|a| a.panels.contains(&panel))
    }

    pub fn areas(&self) -> impl Iterator<Item = &Area> {
        self.areas.values()
    }

    pub fn forces(&self) -> impl Iterator<Item = &PoliceForce> {
        self.forces.values()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small directory for the rules' unit tests: the City, three neighbours, Medway and Kent.
    pub const TEST_DIRECTORY: &str = r#"
[[police_force]]
code = "E23000001"
name = "Metropolitan Police Service"
[[police_force]]
code = "E23000034"
name = "City of London Police"
[[police_force]]
code = "E23000032"
name = "Kent Police"

[[area]]
code = "E09000001"
name = "City of London"
police_force = "E23000034"
panels = ["MARAC", "COMMUNITY_MARAC", "CHANNEL"]
[[area]]
code = "E09000012"
name = "Hackney"
police_force = "E23000001"
panels = ["MARAC", "CHANNEL"]
[[area]]
code = "E09000019"
name = "Islington"
police_force = "E23000001"
panels = ["MARAC", "COMMUNITY_MARAC", "CHANNEL"]
[[area]]
code = "E09000030"
name = "Tower Hamlets"
police_force = "E23000001"
panels = ["MARAC", "CHANNEL"]
[[area]]
code = "E06000035"
name = "Medway"
police_force = "E23000032"
panels = ["MARAC", "CHANNEL"]
"#;

    pub fn directory() -> Directory {
        Directory::from_toml(TEST_DIRECTORY).unwrap()
    }

    #[test]
    fn names_forces_and_panels() {
        let d = directory();
        let medway = AreaCode::parse("E06000035").unwrap();
        assert_eq!(d.name(&medway), "Medway");
        assert_eq!(d.force_of(&medway).unwrap().name, "Kent Police");
        assert!(d.runs(&AreaCode::city_of_london(), Panel::CommunityMarac));
        assert!(!d.runs(
            &AreaCode::parse("E09000012").unwrap(),
            Panel::CommunityMarac
        ));
        let unknown = AreaCode::parse("E06000001").unwrap();
        assert!(!d.known(&unknown));
        assert_eq!(d.name(&unknown), "E06000001");
    }

    #[test]
    fn a_deployment_file_overrides_and_extends() {
        let mut d = directory();
        d.extend_from_toml(
            r#"
[[area]]
code = "E09000012"
name = "Hackney"
police_force = "E23000001"
panels = ["MARAC", "COMMUNITY_MARAC", "CHANNEL"]
[[area.contacts]]
role = "Community MARAC coordinator"
organisation = "London Borough of Hackney"
address = "ccm@example.invalid"
"#,
        )
        .unwrap();
        let hackney = AreaCode::parse("E09000012").unwrap();
        assert!(d.runs(&hackney, Panel::CommunityMarac));
        assert_eq!(d.area(&hackney).unwrap().contacts.len(), 1);
    }

    #[test]
    fn refuses_unknown_forces_and_panels() {
        let mut d = directory();
        let err = d
            .extend_from_toml("[[area]]\ncode = \"E09000002\"\nname = \"x\"\npolice_force = \"E23999999\"\npanels = []\n")
            .unwrap_err();
        assert!(err.to_string().contains("E23999999"), "{err}");
        let err = d
            .extend_from_toml("[[area]]\ncode = \"E09000002\"\nname = \"x\"\npolice_force = \"E23000001\"\npanels = [\"CAFE\"]\n")
            .unwrap_err();
        assert!(err.to_string().contains("unknown panel 'CAFE'"), "{err}");
    }
}
