//! Local authorities by ONS GSS code (DOMAIN.md 3.1).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The 33 London local authorities. Issue 3 replaces this with a configurable directory that
/// also covers the neighbouring counties; until then only London codes are accepted.
const LONDON: [(&str, &str); 33] = [
    ("E09000001", "City of London"),
    ("E09000002", "Barking and Dagenham"),
    ("E09000003", "Barnet"),
    ("E09000004", "Bexley"),
    ("E09000005", "Brent"),
    ("E09000006", "Bromley"),
    ("E09000007", "Camden"),
    ("E09000008", "Croydon"),
    ("E09000009", "Ealing"),
    ("E09000010", "Enfield"),
    ("E09000011", "Greenwich"),
    ("E09000012", "Hackney"),
    ("E09000013", "Hammersmith and Fulham"),
    ("E09000014", "Haringey"),
    ("E09000015", "Harrow"),
    ("E09000016", "Havering"),
    ("E09000017", "Hillingdon"),
    ("E09000018", "Hounslow"),
    ("E09000019", "Islington"),
    ("E09000020", "Kensington and Chelsea"),
    ("E09000021", "Kingston upon Thames"),
    ("E09000022", "Lambeth"),
    ("E09000023", "Lewisham"),
    ("E09000024", "Merton"),
    ("E09000025", "Newham"),
    ("E09000026", "Redbridge"),
    ("E09000027", "Richmond upon Thames"),
    ("E09000028", "Southwark"),
    ("E09000029", "Sutton"),
    ("E09000030", "Tower Hamlets"),
    ("E09000031", "Waltham Forest"),
    ("E09000032", "Wandsworth"),
    ("E09000033", "Westminster"),
];

/// The City of London: the default receiving area.
pub const CITY_OF_LONDON: &str = "E09000001";

/// A known local-authority GSS code. Construction is the only validation point, so holding one
/// means the area exists in the directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AreaError {
    #[error(
        "'{0}' is not a GSS local-authority code (expected a letter and 8 digits, e.g. E09000001)"
    )]
    Malformed(String),
    #[error("'{0}' is not a local authority refroute knows (the 33 London authorities)")]
    Unknown(String),
}

impl AreaCode {
    pub fn parse(raw: &str) -> Result<Self, AreaError> {
        let code = raw.trim().to_ascii_uppercase();
        let well_formed = code.len() == 9
            && code.as_bytes()[0].is_ascii_uppercase()
            && code[1..].bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(AreaError::Malformed(raw.to_string()));
        }
        if !LONDON.iter().any(|(c, _)| *c == code) {
            return Err(AreaError::Unknown(raw.to_string()));
        }
        Ok(Self(code))
    }

    pub fn city_of_london() -> Self {
        Self(CITY_OF_LONDON.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The authority's name, for reasons a person reads.
    pub fn name(&self) -> &'static str {
        LONDON
            .iter()
            .find(|(c, _)| *c == self.0)
            .map(|(_, n)| *n)
            .unwrap_or("unknown area")
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AreaCode {
    type Error = AreaError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AreaCode> for String {
    fn from(value: AreaCode) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_london_code_and_normalises_case() {
        for (code, name) in LONDON {
            let parsed = AreaCode::parse(&code.to_lowercase()).unwrap();
            assert_eq!(parsed.as_str(), code);
            assert_eq!(parsed.name(), name);
        }
    }

    #[test]
    fn refuses_malformed_and_unknown_codes() {
        assert!(matches!(
            AreaCode::parse("E0900001"),
            Err(AreaError::Malformed(_))
        ));
        assert!(matches!(
            AreaCode::parse("SW1A 1AA"),
            Err(AreaError::Malformed(_))
        ));
        assert!(matches!(
            AreaCode::parse("E09000034"),
            Err(AreaError::Unknown(_))
        ));
        assert!(matches!(AreaCode::parse(""), Err(AreaError::Malformed(_))));
    }
}
