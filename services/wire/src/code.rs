//! GSS area codes, canonical (`e09000001` and ` E09000001 ` are E09000001) and real: an incident
//! happens in an area of the directory this deployment routes for; a person lives in any current
//! UK local authority (the shipped list), in the directory or not.

use crate::violation::Violations;
use refroute_domain::{AreaCode, Directory};
use refroute_geography::local_authorities;

const EXAMPLE: &str = "a GSS local-authority code such as E09000001 (City of London)";

fn well_formed(v: &mut Violations, field: &str, raw: &str, instead: &str) -> Option<AreaCode> {
    if raw.trim().is_empty() {
        v.push(field, format!("is required ({EXAMPLE}){instead}"));
        return None;
    }
    match AreaCode::parse(raw) {
        Ok(code) => Some(code),
        Err(_) => {
            v.push(
                field,
                format!("is not a GSS code: expected a letter and 8 digits, {EXAMPLE}{instead}"),
            );
            None
        }
    }
}

/// An area of the deployment's directory (where an incident happened, which partnership
/// received the referral).
pub fn in_directory(
    v: &mut Violations,
    field: &str,
    raw: &str,
    directory: &Directory,
) -> Option<AreaCode> {
    let code = well_formed(v, field, raw, "")?;
    if directory.known(&code) {
        Some(code)
    } else {
        v.push(
            field,
            format!(
                "'{code}' is not a local authority in refroute's area directory: send the current \
                 GSS code of the local authority, e.g. E09000001 (City of London)"
            ),
        );
        None
    }
}

/// Where someone lives: a current UK local authority, whether or not the directory has it
/// (people live all over the UK), or one the deployment added to its directory.
pub fn local_authority(
    v: &mut Violations,
    field: &str,
    raw: &str,
    directory: &Directory,
) -> Option<AreaCode> {
    const INSTEAD: &str = ", or give the postcode";
    let code = well_formed(v, field, raw, INSTEAD)?;
    if local_authorities::is_current(code.as_str()) || directory.known(&code) {
        Some(code)
    } else {
        v.push(
            field,
            format!(
                "'{code}' names no current UK local authority (ONS Postcode Directory): send the \
                 current GSS code of the local authority where the person lives{INSTEAD}"
            ),
        );
        None
    }
}
