//! Where a person lives, from what the referrer gave: a GSS code, a postcode looked up in the
//! ONS Postcode Directory table, or no fixed abode. Anything short of certainty becomes
//! `Residence::Unresolved` with what the referrer should supply: a residence is never guessed
//! (DOMAIN.md 3.3), because a wrong guess sends a high-risk case to the wrong MARAC.
//!
//! Reasons are stored in clear, so they show a postcode only to its sector ("EC2M 7**"): enough
//! for a reviewer to see what was resolved, too coarse to point at a home.

use refroute_domain::{AreaCode, Directory, Residence};
use refroute_geography::{Lookup, Postcode, PostcodeError, PostcodeTable};
use refroute_proto::v1::{self, residence};

const GIVE_FULL: &str = "Give the person's full current postcode (e.g. EC2M 7PY) or the local-authority GSS code (e.g. E09000001)";

/// Resolves the wire residence. `None` (no residence given) is unresolved too.
pub fn resolve(
    given: Option<&v1::Residence>,
    postcodes: &PostcodeTable,
    directory: &Directory,
) -> Residence {
    match given.and_then(|r| r.kind.as_ref()) {
        Some(residence::Kind::LocalAuthorityCode(code)) => match AreaCode::parse(code) {
            Ok(code) if directory.known(&code) => Residence::Area {
                how: format!("local-authority code {code}"),
                code,
            },
            // Somewhere in the UK beyond the directory (DOMAIN.md 2.2: people "resident
            // elsewhere in the UK"): routed by its code; what needs a contact there raises it.
            Ok(code) if code.is_local_authority() => Residence::Area {
                how: format!("local-authority code {code}, outside refroute's area directory"),
                code,
            },
            _ => unresolved(
                format!("local-authority code '{code}' is not in the area directory"),
                GIVE_FULL,
            ),
        },
        Some(residence::Kind::Postcode(raw)) => postcode(raw, postcodes, directory),
        Some(residence::Kind::NoFixedAbode(true)) => Residence::NoFixedAbode,
        Some(residence::Kind::NoFixedAbode(false)) | None => {
            unresolved("no residence was given".into(), GIVE_FULL)
        }
    }
}

fn unresolved(why: String, supply: &str) -> Residence {
    Residence::Unresolved {
        why,
        supply: supply.to_string(),
    }
}

fn postcode(raw: &str, postcodes: &PostcodeTable, directory: &Directory) -> Residence {
    let postcode = match Postcode::parse(raw) {
        Ok(p) => p,
        Err(PostcodeError::Partial) => {
            return unresolved(
                "the postcode given is partial, and only a full postcode decides the local authority (districts and sectors straddle borough lines)".into(),
                GIVE_FULL,
            );
        }
        Err(PostcodeError::NorthernIrish) => {
            return unresolved(
                "the postcode given is in Northern Ireland, whose postcode data refroute may not use (Open Government Licence excludes BT postcodes)".into(),
                "Give the local-authority GSS code of the person's residence",
            );
        }
        Err(_) => {
            return unresolved("the postcode given is not a UK postcode".into(), GIVE_FULL);
        }
    };
    let lookup = postcodes.lookup(&postcode);
    let postcode = sector(&postcode);
    let found = |laua: &str, caveat: &str| match AreaCode::parse(laua) {
        Ok(code) => Residence::Area {
            how: format!(
                "postcode {postcode} is in {} per the ONS Postcode Directory{caveat}",
                directory.label(&code)
            ),
            code,
        },
        Err(_) => unresolved(
            format!("postcode {postcode} maps to '{laua}', not a local authority"),
            GIVE_FULL,
        ),
    };
    match lookup {
        Lookup::Live { laua } => found(laua, ""),
        Lookup::LiveOrTerminated { laua } => found(laua, ""),
        Lookup::Terminated { laua } => unresolved(
            format!(
                "postcode {postcode} has been terminated (it was in {})",
                AreaCode::parse(laua).map_or_else(|_| laua.to_string(), |c| directory.label(&c))
            ),
            "Give the person's current postcode, or the local-authority GSS code",
        ),
        Lookup::Unknown => unresolved(
            format!("postcode {postcode} is not in the ONS Postcode Directory data refroute holds"),
            "Check the postcode, or give the local-authority GSS code of the person's residence",
        ),
    }
}

/// "EC2M 7PY" as "EC2M 7**".
fn sector(p: &Postcode) -> String {
    format!("{} {}**", p.outward(), &p.inward()[..1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_geography::{GssCode, PostcodeStatus, Row};
    use std::sync::OnceLock;

    fn shipped() -> &'static (PostcodeTable, Directory) {
        static DATA: OnceLock<(PostcodeTable, Directory)> = OnceLock::new();
        DATA.get_or_init(|| {
            (
                PostcodeTable::shipped().unwrap(),
                Directory::from_toml(refroute_platform::reference::BUILT_IN_AREAS).unwrap(),
            )
        })
    }

    fn by_postcode(raw: &str) -> Residence {
        let (table, directory) = shipped();
        resolve(
            Some(&v1::Residence {
                kind: Some(residence::Kind::Postcode(raw.into())),
            }),
            table,
            directory,
        )
    }

    fn area_of(raw: &str) -> String {
        match by_postcode(raw) {
            Residence::Area { code, .. } => code.to_string(),
            other => panic!("{raw} did not resolve: {other:?}"),
        }
    }

    #[test]
    fn real_postcodes_resolve_as_the_onspd_says() {
        assert_eq!(area_of("EC2M 7PY"), "E09000001", "City of London");
        assert_eq!(area_of("sw1a1aa"), "E09000033", "Westminster");
        assert_eq!(area_of("ME7 1AA"), "E06000035", "Medway (Gillingham)");
        // Letters mislead: EC postcodes outside the City, an E1 postcode inside it.
        assert_eq!(area_of("EC1V 2PD"), "E09000019", "Islington");
        assert_eq!(area_of("EC2A 3AY"), "E09000012", "Hackney");
        assert_eq!(area_of("E1 7AA"), "E09000001", "City of London");
    }

    #[test]
    fn the_reason_shows_a_postcode_only_to_its_sector() {
        let Residence::Area { how, .. } = by_postcode("EC2M 7PY") else {
            panic!("resolves")
        };
        assert!(
            how.contains("EC2M 7**") && how.contains("City of London (E09000001)"),
            "{how}"
        );
        assert!(!how.contains("7PY"), "{how}");
    }

    #[test]
    fn what_cannot_be_resolved_with_certainty_is_never_guessed() {
        for (raw, why) in [
            ("EC2M", "partial"),
            ("EC2M 7", "partial"),
            ("BT1 1AA", "Northern Ireland"),
            ("ZZ9 9ZZ", "not in the ONS Postcode Directory"),
        ] {
            match by_postcode(raw) {
                Residence::Unresolved { why: got, supply } => {
                    assert!(got.contains(why), "{raw}: {got}");
                    assert!(!supply.is_empty());
                }
                other => panic!("{raw} resolved to {other:?}"),
            }
        }
    }

    #[test]
    fn a_terminated_postcode_needs_review() {
        let (_, directory) = shipped();
        let table = PostcodeTable::from_rows([Row {
            postcode: Postcode::parse("EC2M 7PY").unwrap(),
            laua: GssCode::parse("E09000001").unwrap(),
            status: PostcodeStatus::Terminated,
        }])
        .unwrap();
        let r = resolve(
            Some(&v1::Residence {
                kind: Some(residence::Kind::Postcode("EC2M 7PY".into())),
            }),
            &table,
            directory,
        );
        assert!(
            matches!(&r, Residence::Unresolved { why, .. } if why.contains("terminated")),
            "{r:?}"
        );
    }

    #[test]
    fn codes_and_no_fixed_abode() {
        let (table, directory) = shipped();
        let kind = |k| resolve(Some(&v1::Residence { kind: Some(k) }), table, directory);
        assert!(matches!(
            kind(residence::Kind::LocalAuthorityCode("E09000012".into())),
            Residence::Area { .. }
        ));
        assert!(matches!(
            kind(residence::Kind::LocalAuthorityCode("E09000099".into())),
            Residence::Unresolved { .. }
        ));
        assert_eq!(
            kind(residence::Kind::NoFixedAbode(true)),
            Residence::NoFixedAbode
        );
        assert!(matches!(
            resolve(None, table, directory),
            Residence::Unresolved { .. }
        ));
    }
}
