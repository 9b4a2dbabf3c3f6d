//! Where a person lives: what the referrer gave ([`GivenResidence`], checked at the door), and
//! what it resolves to ([`resolve`]: a GSS code, a postcode looked up in the ONS Postcode
//! Directory table, or no fixed abode). Anything short of certainty resolves to
//! `Residence::Unresolved` with what the referrer should supply: a residence is never guessed,
//! because a wrong guess sends a high-risk case to the wrong MARAC.
//!
//! Intake refuses only a postcode that is not one at all: a partial or Northern Irish postcode
//! is well formed but cannot be resolved, so the referral goes to review with what to supply.
//! Reasons are stored in clear, so they show a postcode only to its sector ("EC2M 7**").

use crate::code;
use crate::violation::Violations;
use refroute_domain::{AreaCode, Directory, Residence};
use refroute_geography::{Lookup, Postcode, PostcodeError, PostcodeTable};
use refroute_proto::v1::{self, residence};

/// Longer than any postcode however it is spaced; anything longer is not one.
pub const MAX_POSTCODE: usize = 16;

/// A residence as given, canonical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GivenResidence {
    /// A current UK local authority (or one in the deployment's directory).
    LocalAuthority(AreaCode),
    /// A full postcode of Great Britain.
    Postcode(Postcode),
    /// A district or sector only ("EC2M", "EC2M 7").
    PartialPostcode,
    /// A BT postcode, whose data refroute may not use.
    NorthernIrishPostcode,
    NoFixedAbode,
}

impl GivenResidence {
    /// The wire form, canonical: codes upper case, postcodes spaced ("EC2M 7PY").
    pub fn canonical_wire(&self, raw: &v1::Residence) -> v1::Residence {
        let kind = match self {
            GivenResidence::LocalAuthority(code) => {
                residence::Kind::LocalAuthorityCode(code.to_string())
            }
            GivenResidence::Postcode(p) => {
                residence::Kind::Postcode(format!("{} {}", p.outward(), p.inward()))
            }
            // Kept as sent (it is trimmed and upper-cased only): a reviewer sees what was given.
            GivenResidence::PartialPostcode | GivenResidence::NorthernIrishPostcode => {
                match &raw.kind {
                    Some(residence::Kind::Postcode(s)) => {
                        residence::Kind::Postcode(s.trim().to_ascii_uppercase())
                    }
                    other => {
                        return v1::Residence {
                            kind: other.clone(),
                        };
                    }
                }
            }
            GivenResidence::NoFixedAbode => residence::Kind::NoFixedAbode(true),
        };
        v1::Residence { kind: Some(kind) }
    }
}

const KINDS: &str = "give local_authority_code, postcode or no_fixed_abode";

/// Checks a residence. `required` says why it is needed when it is; `None` when absent and not
/// required, or refused.
pub fn parse(
    v: &mut Violations,
    field: &str,
    given: Option<&v1::Residence>,
    required: Option<&str>,
    directory: &Directory,
) -> Option<GivenResidence> {
    match given.and_then(|r| r.kind.as_ref()) {
        None => {
            if let Some(why) = required {
                v.push(field, format!("is required: {why}; {KINDS}"));
            }
            None
        }
        Some(residence::Kind::LocalAuthorityCode(raw)) => {
            code::local_authority(v, &format!("{field}.local_authority_code"), raw, directory)
                .map(GivenResidence::LocalAuthority)
        }
        Some(residence::Kind::Postcode(raw)) => postcode(v, &format!("{field}.postcode"), raw),
        Some(residence::Kind::NoFixedAbode(true)) => Some(GivenResidence::NoFixedAbode),
        Some(residence::Kind::NoFixedAbode(false)) => {
            v.push(
                format!("{field}.no_fixed_abode"),
                "must be true when set: set no_fixed_abode to true, or give a postcode or \
                 local-authority code",
            );
            None
        }
    }
}

fn postcode(v: &mut Violations, field: &str, raw: &str) -> Option<GivenResidence> {
    let len = raw.chars().count();
    if raw.trim().is_empty() {
        v.push(
            field,
            "is empty: give the full postcode (e.g. EC2M 7PY), or set local_authority_code \
             instead",
        );
        return None;
    }
    if len > MAX_POSTCODE {
        v.push(
            field,
            format!(
                "must be at most {MAX_POSTCODE} characters (got {len}): give the full postcode, \
                 e.g. EC2M 7PY"
            ),
        );
        return None;
    }
    match Postcode::parse(raw) {
        Ok(p) => Some(GivenResidence::Postcode(p)),
        Err(PostcodeError::Partial) => Some(GivenResidence::PartialPostcode),
        Err(PostcodeError::NorthernIrish) => Some(GivenResidence::NorthernIrishPostcode),
        Err(PostcodeError::Malformed) => {
            v.push(
                field,
                "is not a UK postcode: expected a full postcode such as EC2M 7PY, SW1A 1AA or \
                 ME7 1AA (letters and digits; spaces are ignored), or set local_authority_code \
                 instead",
            );
            None
        }
    }
}

const GIVE_FULL: &str = "Give the person's full current postcode (e.g. EC2M 7PY) or the local-authority GSS code (e.g. E09000001)";

/// What a given residence resolves to. `None` (no residence given) is unresolved too.
pub fn resolve(
    given: Option<&GivenResidence>,
    postcodes: &PostcodeTable,
    directory: &Directory,
) -> Residence {
    match given {
        Some(GivenResidence::LocalAuthority(code)) if directory.known(code) => Residence::Area {
            how: format!("local-authority code {code}"),
            code: code.clone(),
        },
        // Somewhere in the UK beyond the directory (people live "elsewhere in the UK"): routed
        // by its code; what needs a contact there raises it.
        Some(GivenResidence::LocalAuthority(code)) => Residence::Area {
            how: format!("local-authority code {code}, outside refroute's area directory"),
            code: code.clone(),
        },
        Some(GivenResidence::Postcode(p)) => postcode_area(p, postcodes, directory),
        Some(GivenResidence::PartialPostcode) => unresolved(
            "the postcode given is partial, and only a full postcode decides the local authority (districts and sectors straddle borough lines)".into(),
            GIVE_FULL,
        ),
        Some(GivenResidence::NorthernIrishPostcode) => unresolved(
            "the postcode given is in Northern Ireland, whose postcode data refroute may not use (Open Government Licence excludes BT postcodes)".into(),
            "Give the local-authority GSS code of the person's residence",
        ),
        Some(GivenResidence::NoFixedAbode) => Residence::NoFixedAbode,
        None => unresolved("no residence was given".into(), GIVE_FULL),
    }
}

fn unresolved(why: String, supply: &str) -> Residence {
    Residence::Unresolved {
        why,
        supply: supply.to_string(),
    }
}

fn postcode_area(
    postcode: &Postcode,
    postcodes: &PostcodeTable,
    directory: &Directory,
) -> Residence {
    let lookup = postcodes.lookup(postcode);
    let sector = sector(postcode);
    if let Some(place) = lookup
        .laua()
        .and_then(refroute_geography::local_authorities::crown_dependency)
    {
        return unresolved(
            format!(
                "postcode {sector} is in {place} (ONS Postcode Directory pseudo code {}), a Crown Dependency outside the UK with no UK local authority",
                lookup.laua().unwrap_or_default()
            ),
            "If the person lives in the UK, give that residence's postcode or local-authority GSS code; a referral about a resident of the Isle of Man or the Channel Islands is for a person to pass to that island's own services",
        );
    }
    let found = |laua: &str| match AreaCode::parse(laua) {
        Ok(code) => Residence::Area {
            how: format!(
                "postcode {sector} is in {} per the ONS Postcode Directory",
                directory.label(&code)
            ),
            code,
        },
        Err(_) => unresolved(
            format!("postcode {sector} maps to '{laua}', not a local authority"),
            GIVE_FULL,
        ),
    };
    match lookup {
        Lookup::Live { laua } | Lookup::LiveOrTerminated { laua } => found(laua),
        Lookup::Terminated { laua } => unresolved(
            format!(
                "postcode {sector} has been terminated (it was in {})",
                AreaCode::parse(laua).map_or_else(|_| laua.to_string(), |c| directory.label(&c))
            ),
            "Give the person's current postcode, or the local-authority GSS code",
        ),
        Lookup::Unknown => unresolved(
            format!("postcode {sector} is not in the ONS Postcode Directory data refroute holds"),
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
                Directory::from_toml(refroute_geography::SHIPPED_AREAS).unwrap(),
            )
        })
    }

    fn given(kind: residence::Kind) -> Result<Option<GivenResidence>, Vec<String>> {
        let mut v = Violations::new();
        let got = parse(
            &mut v,
            "r",
            Some(&v1::Residence { kind: Some(kind) }),
            Some("needed"),
            &shipped().1,
        );
        if v.is_empty() {
            Ok(got)
        } else {
            Err(v.into_vec().into_iter().map(|v| v.field).collect())
        }
    }

    fn by_postcode(raw: &str) -> Residence {
        let (table, directory) = shipped();
        let g = given(residence::Kind::Postcode(raw.into())).unwrap();
        resolve(g.as_ref(), table, directory)
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
    fn postcodes_across_great_britain_resolve_as_the_onspd_says() {
        assert_eq!(area_of("CF10 1EP"), "W06000015", "Cardiff");
        assert_eq!(area_of("M1 1AE"), "E08000003", "Manchester");
        assert_eq!(area_of("EH1 1YZ"), "S12000036", "City of Edinburgh");
        assert_eq!(area_of("DA1 1AA"), "E07000107", "Dartford");
        assert_eq!(area_of("DA7 4AA"), "E09000004", "Bexley");
        let Residence::Area { how, .. } = by_postcode("M1 1AE") else {
            panic!("resolves")
        };
        assert!(how.contains("Manchester (E08000003)"), "{how}");
    }

    #[test]
    fn crown_dependency_postcodes_name_no_uk_local_authority() {
        for (raw, place, code) in [
            ("IM1 1AA", "the Isle of Man", "M99999999"),
            ("JE2 3AB", "the Channel Islands", "L99999999"),
            ("GY1 1AA", "the Channel Islands", "L99999999"),
        ] {
            match by_postcode(raw) {
                Residence::Unresolved { why, supply } => {
                    assert!(
                        why.contains(place)
                            && why.contains(code)
                            && why.contains("Crown Dependency"),
                        "{raw}: {why}"
                    );
                    assert!(supply.contains("GSS code"), "{supply}");
                }
                other => panic!("{raw} resolved to {other:?}"),
            }
        }
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
        let p = Postcode::parse("EC2M 7PY").unwrap();
        let table = PostcodeTable::from_rows([Row {
            postcode: p,
            laua: GssCode::parse("E09000001").unwrap(),
            status: PostcodeStatus::Terminated,
        }])
        .unwrap();
        let r = resolve(Some(&GivenResidence::Postcode(p)), &table, directory);
        assert!(
            matches!(&r, Residence::Unresolved { why, .. } if why.contains("terminated")),
            "{r:?}"
        );
    }

    #[test]
    fn codes_are_canonical_and_must_name_a_local_authority() {
        let code = |raw: &str| given(residence::Kind::LocalAuthorityCode(raw.into()));
        assert_eq!(
            code(" e09000012 "),
            Ok(Some(GivenResidence::LocalAuthority(
                AreaCode::parse("E09000012").unwrap()
            )))
        );
        // Outside the directory but real: Manchester, Cardiff, Edinburgh, Belfast.
        for real in ["E08000003", "W06000015", "S12000036", "N09000003"] {
            assert!(code(real).is_ok(), "{real}");
        }
        for made_up in [
            "E07999999",
            "E09000034",
            "E23000001",
            "M99999999",
            "SW1A 1AA",
            "",
        ] {
            assert_eq!(
                code(made_up),
                Err(vec!["r.local_authority_code".to_string()]),
                "{made_up}"
            );
        }
    }

    #[test]
    fn only_what_is_not_a_postcode_at_all_is_refused() {
        let pc = |raw: &str| given(residence::Kind::Postcode(raw.into()));
        assert!(matches!(
            pc("ec2m7py"),
            Ok(Some(GivenResidence::Postcode(_)))
        ));
        assert_eq!(pc("EC2M"), Ok(Some(GivenResidence::PartialPostcode)));
        assert_eq!(
            pc("BT1 1AA"),
            Ok(Some(GivenResidence::NorthernIrishPostcode))
        );
        assert_eq!(pc("  E C 2 M 7 P Y "), pc("EC2M 7PY"));
        for bad in ["XYZ", " ", "  E C 2 M 7 P Y  ", "EC2M\u{0}7PY"] {
            assert_eq!(pc(bad), Err(vec!["r.postcode".to_string()]), "{bad:?}");
        }
    }

    #[test]
    fn the_canonical_wire_form() {
        let raw = v1::Residence {
            kind: Some(residence::Kind::Postcode("ec2m7py".into())),
        };
        let g = GivenResidence::Postcode(Postcode::parse("ec2m7py").unwrap());
        assert_eq!(
            g.canonical_wire(&raw).kind,
            Some(residence::Kind::Postcode("EC2M 7PY".into()))
        );
    }
}
