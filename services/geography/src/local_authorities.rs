//! The local authorities that exist today, by GSS code: every code the ONS Postcode Directory
//! assigns to a live or terminated postcode (`lad25cd`), 350 in Great Britain, plus the 11
//! councils of Northern Ireland (whose codes ONSPD carries though refroute may not use their
//! postcodes). A well-formed code that is not on this list (`E07999999`) names no local
//! authority: a referral naming it is refused at the door rather than transferred to a MARAC
//! that does not exist. ONSPD's pseudo codes for the Channel Islands (`L99999999`) and the Isle
//! of Man (`M99999999`) are not local authorities and are not on the list.

use std::sync::LazyLock;

/// One GSS code a line, sorted; see `data/README.md` for how it was made.
const LIST: &str = include_str!("../data/local-authorities.txt");

static CODES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut codes: Vec<&str> = LIST
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    codes.sort_unstable();
    codes
});

/// Whether `code` (upper case, as `AreaCode` holds it) names a current UK local authority.
pub fn is_current(code: &str) -> bool {
    CODES.binary_search(&code).is_ok()
}

/// ONSPD's pseudo code for the Isle of Man's postcodes (IM).
pub const ISLE_OF_MAN: &str = "M99999999";
/// ONSPD's pseudo code for the Channel Islands' postcodes (JE, Jersey; GY, Guernsey).
pub const CHANNEL_ISLANDS: &str = "L99999999";

/// The Crown Dependency an ONSPD pseudo code stands for: the Isle of Man and the Channel
/// Islands have postcodes but no UK local authority, so ONSPD gives their postcodes these codes
/// in `laua` (docs/DOMAIN.md 3.3). `None` for every other code.
pub fn crown_dependency(code: &str) -> Option<&'static str> {
    match code {
        ISLE_OF_MAN => Some("the Isle of Man"),
        CHANNEL_ISLANDS => Some("the Channel Islands"),
        _ => None,
    }
}

/// Every current local authority's code, sorted.
pub fn all() -> impl Iterator<Item = &'static str> {
    CODES.iter().copied()
}

/// How many codes the list holds.
pub fn count() -> usize {
    CODES.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_every_local_authority_of_the_uk() {
        assert_eq!(count(), 361);
        let of_kind = |p: &str| CODES.iter().filter(|c| c.starts_with(p)).count();
        // England: 33 London boroughs, 36 metropolitan districts, 63 unitaries, 164 districts;
        // Wales 22, Scotland 32, Northern Ireland 11 (ONSPD November 2025).
        assert_eq!(
            [
                of_kind("E09"),
                of_kind("E08"),
                of_kind("E06"),
                of_kind("E07"),
                of_kind("W06"),
                of_kind("S12"),
                of_kind("N09")
            ],
            [33, 36, 63, 164, 22, 32, 11]
        );
    }

    #[test]
    fn real_codes_are_current_and_made_up_ones_are_not() {
        for code in [
            "E09000001",
            "E08000003",
            "W06000015",
            "S12000036",
            "E07000107",
            "N09000003",
        ] {
            assert!(is_current(code), "{code}");
        }
        for code in [
            "E07999999",
            "E09000034",
            "L99999999",
            "M99999999",
            "E12000007",
            "e09000001",
        ] {
            assert!(!is_current(code), "{code}");
        }
    }

    #[test]
    fn the_pseudo_codes_name_crown_dependencies_and_nothing_else_does() {
        assert_eq!(crown_dependency("M99999999"), Some("the Isle of Man"));
        assert_eq!(crown_dependency("L99999999"), Some("the Channel Islands"));
        for code in ["E09000001", "N99999999", "E99999999", "m99999999"] {
            assert_eq!(crown_dependency(code), None, "{code}");
        }
    }
}
