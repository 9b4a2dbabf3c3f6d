//! The webhook signature: HMAC-SHA256, under the receiving organisation's key, of
//! `"{timestamp}.{body}"`. Signing the timestamp with the body lets a receiver refuse a request
//! replayed later (it checks the timestamp is recent), and the key being the organisation's own
//! lets it tell a request from refroute from anyone else's POST to the same URL.
//!
//! Headers on every webhook request:
//! - `refroute-timestamp`: Unix seconds when it was sent;
//! - `refroute-signature`: `v1=` and the lower-case hex HMAC (the version names the scheme, so a
//!   later one can be told apart);
//! - `refroute-notification-id`: the notification id, the same on every retry, for de-duplicating.
//!
//! [`verify`] is what a receiver does (the test sinks use it): recompute, compare in constant
//! time, and refuse a timestamp outside the tolerance either way.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "refroute-signature";
pub const TIMESTAMP_HEADER: &str = "refroute-timestamp";
pub const ID_HEADER: &str = "refroute-notification-id";
/// The notification's kind, e.g. `CASE_ROUTED`.
pub const KIND_HEADER: &str = "refroute-kind";

/// The scheme prefix of the signature header's value.
const V1: &str = "v1=";

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `refroute-signature` value for `body` sent at `timestamp` (Unix seconds): `v1=<hex>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    let mut out = String::with_capacity(V1.len() + 2 * tag.len());
    out.push_str(V1);
    for byte in tag {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether `signature_header` is the signature of `body` sent at `timestamp_header` under
/// `secret`, and that timestamp is within `tolerance_secs` of `now_unix` (either way: a clock
/// ahead is refused as well as a replay).
pub fn verify(
    secret: &[u8],
    timestamp_header: &str,
    body: &[u8],
    signature_header: &str,
    now_unix: i64,
    tolerance_secs: i64,
) -> bool {
    // Digits only: the signed text is the header as sent, so "+17…" or " 17…" must not pass as
    // the same instant.
    if timestamp_header.is_empty() || !timestamp_header.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(timestamp) = timestamp_header.parse::<i64>() else {
        return false;
    };
    let Ok(tolerance) = u64::try_from(tolerance_secs) else {
        return false;
    };
    if now_unix.abs_diff(timestamp) > tolerance {
        return false;
    }
    let Some(tag) = signature_header
        .trim()
        .strip_prefix(V1)
        .and_then(decode_hex)
    else {
        return false;
    };
    mac(secret, timestamp_header, body)
        .verify_slice(&tag)
        .is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"a":1}"#;
    const AT: i64 = 1_700_000_000;
    /// Python: hmac.new(b'secret', b'1700000000.{"a":1}', 'sha256').hexdigest()
    const EXPECTED: &str = "v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686";

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        assert_eq!(sign(b"secret", AT, BODY), EXPECTED);
    }

    #[test]
    fn a_signature_verifies_within_the_tolerance_either_way() {
        for now in [AT, AT + 300, AT - 300] {
            assert!(
                verify(b"secret", "1700000000", BODY, EXPECTED, now, 300),
                "{now}"
            );
        }
        assert!(verify(
            b"secret",
            "1700000000",
            BODY,
            &EXPECTED.to_uppercase().replace("V1=", "v1="),
            AT,
            300
        ));
    }

    #[test]
    fn tampering_with_body_timestamp_key_or_signature_fails() {
        let ok = |secret: &[u8], ts: &str, body: &[u8], sig: &str| {
            verify(secret, ts, body, sig, AT, 300)
        };
        assert!(!ok(b"secret", "1700000000", br#"{"a":2}"#, EXPECTED));
        assert!(!ok(b"secret", "1700000001", BODY, EXPECTED));
        assert!(!ok(b"Secret", "1700000000", BODY, EXPECTED));
        assert!(!ok(
            b"secret",
            "1700000000",
            BODY,
            &EXPECTED.replace("v1=", "v0=")
        ));
        assert!(!ok(
            b"secret",
            "1700000000",
            BODY,
            &EXPECTED[..EXPECTED.len() - 2]
        ));
        assert!(!ok(b"secret", "1700000000", BODY, "v1=zz"));
        assert!(!ok(b"secret", "1700000000", BODY, ""));
        assert!(!ok(b"secret", "+1700000000", BODY, EXPECTED));
        assert!(!ok(b"secret", "", BODY, EXPECTED));
    }

    #[test]
    fn a_stale_or_future_timestamp_fails() {
        assert!(!verify(
            b"secret",
            "1700000000",
            BODY,
            EXPECTED,
            AT + 301,
            300
        ));
        assert!(!verify(
            b"secret",
            "1700000000",
            BODY,
            EXPECTED,
            AT - 301,
            300
        ));
        assert!(!verify(b"secret", "1700000000", BODY, EXPECTED, AT, -1));
        assert!(!verify(
            b"secret",
            "99999999999999999999",
            BODY,
            EXPECTED,
            AT,
            i64::MAX
        ));
    }
}
