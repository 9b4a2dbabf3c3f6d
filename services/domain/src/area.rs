//! Local authorities by ONS GSS code (DOMAIN.md 3.1). A code is only a well-formed identifier;
//! whether refroute knows the area, its name and its police force is the [`crate::Directory`]'s
//! business, because a deployment extends the directory by configuration.

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

    /// Whether the code is of a kind that names a local authority anywhere in the UK: unitary
    /// authorities, districts and metropolitan districts of England (E06, E07, E08), London
    /// boroughs (E09), and the councils of Wales (W06), Scotland (S12) and Northern Ireland (N09).
    /// London's 33 are a closed set (E09000001 to E09000033), so an E09 code beyond is a mistake.
    pub fn is_local_authority(&self) -> bool {
        let (kind, serial) = self.0.split_at(3);
        match kind {
            "E09" => serial.parse::<u32>().is_ok_and(|n| (1..=33).contains(&n)),
            "E06" | "E07" | "E08" | "W06" | "S12" | "N09" => true,
            _ => false,
        }
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
    fn local_authority_kinds() {
        for code in [
            "E09000001",
            "E09000033",
            "E08000003",
            "E06000035",
            "W06000015",
            "S12000036",
        ] {
            assert!(
                AreaCode::parse(code).unwrap().is_local_authority(),
                "{code}"
            );
        }
        for code in [
            "E09000034",
            "E09000000",
            "E23000001",
            "E12000007",
            "K04000001",
        ] {
            assert!(
                !AreaCode::parse(code).unwrap().is_local_authority(),
                "{code}"
            );
        }
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
