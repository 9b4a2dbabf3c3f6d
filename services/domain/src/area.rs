//! Local authorities by ONS GSS code (docs/DOMAIN.md 3.1). A code is only a well-formed identifier;
//! whether refroute knows the area, its name and its police force is the [`crate::Directory`]'s
//! business, because a deployment extends the directory by configuration, and whether it names a
//! current local authority at all is the shipped ONSPD list's (`refroute_geography::local_authorities`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The City of London: the default receiving area.
pub const CITY_OF_LONDON: &str = "E09000001";

/// A well-formed GSS code (a letter and 8 digits), upper-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AreaError {
    #[error("'{0}' is not a GSS code (expected a letter and 8 digits, e.g. E09000001)")]
    Malformed(String),
    #[error("'{0}' is not a local authority in refroute's area directory")]
    Unknown(String),
}

impl AreaCode {
    /// Checks the form only; see [`crate::Directory::known`] for whether the area exists.
    pub fn parse(raw: &str) -> Result<Self, AreaError> {
        let code = raw.trim().to_ascii_uppercase();
        let well_formed = code.len() == 9
            && code.as_bytes()[0].is_ascii_uppercase()
            && code[1..].bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(AreaError::Malformed(raw.to_string()));
        }
        Ok(Self(code))
    }

    pub fn city_of_london() -> Self {
        Self(CITY_OF_LONDON.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
    fn normalises_case_and_space() {
        assert_eq!(
            AreaCode::parse(" e09000001 ").unwrap().as_str(),
            "E09000001"
        );
        assert_eq!(AreaCode::parse("E06000035").unwrap().as_str(), "E06000035");
    }

    #[test]
    fn refuses_malformed_codes() {
        for bad in ["E0900001", "SW1A 1AA", "", "109000001", "E0900000X"] {
            assert!(
                matches!(AreaCode::parse(bad), Err(AreaError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
