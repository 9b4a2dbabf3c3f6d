//! Personal data at rest is sealed per record (ChaCha20-Poly1305, a fresh nonce each time, the
//! record id as associated data so a sealed blob cannot be moved to another row). Recognising the
//! same person across referrals uses a keyed hash, so the database holds no searchable names.
//!
//! Data keys form a keyring: each has a numeric id, new records are sealed under the current one,
//! and every sealed record says which key sealed it, so a record sealed under an older key still
//! opens while `refroute keys rotate` re-seals it under the current one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::Arc;

const NONCE_LEN: usize = 12;

/// The first byte of every sealed record: the format, so a later one can be told apart.
pub const SEALED_VERSION: u8 = 1;

/// Version byte, then the key id (big-endian u16).
pub const HEADER_LEN: usize = 3;

/// The id of a data key, carried in every record it seals.
pub type KeyId = u16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{0} must be 32 bytes of base64")]
    BadKey(String),
    #[error("security.data_key_id {0} has no key in security.data_keys")]
    NoCurrentKey(KeyId),
    #[error("sealed record is corrupt or was sealed under another key or record id")]
    Open,
    #[error("sealed record is under data key {0}, which is not configured in security.data_keys")]
    UnknownKey(KeyId),
}

/// 32 bytes from base64; `name` says which setting was wrong.
pub fn decode_key(name: &str, b64: &str) -> Result<[u8; 32], CryptoError> {
    STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
        .ok_or_else(|| CryptoError::BadKey(name.to_string()))
}

/// The key id a sealed record names, or `None` when it is not in a format this build writes.
pub fn sealed_key_id(sealed: &[u8]) -> Option<KeyId> {
    match sealed {
        [SEALED_VERSION, hi, lo, ..] if sealed.len() >= HEADER_LEN + NONCE_LEN => {
            Some(KeyId::from_be_bytes([*hi, *lo]))
        }
        _ => None,
    }
}

/// The header of a record sealed under `key_id`: what the rotation compares stored records to.
pub fn sealed_header(key_id: KeyId) -> [u8; HEADER_LEN] {
    let [hi, lo] = key_id.to_be_bytes();
    [SEALED_VERSION, hi, lo]
}

/// Seals under the current data key; opens under whichever configured key a record names.
#[derive(Clone)]
pub struct Sealer {
    current: KeyId,
    ciphers: Arc<BTreeMap<KeyId, ChaCha20Poly1305>>,
}

impl Sealer {
    /// A keyring of `keys` (id, 32-byte key) sealing under `current`, which must be among them.
    pub fn new(current: KeyId, keys: &BTreeMap<KeyId, [u8; 32]>) -> Result<Self, CryptoError> {
        if !keys.contains_key(&current) {
            return Err(CryptoError::NoCurrentKey(current));
        }
        let ciphers = keys
            .iter()
            .map(|(id, key)| (*id, ChaCha20Poly1305::new(Key::from_slice(key))))
            .collect();
        Ok(Self {
            current,
            ciphers: Arc::new(ciphers),
        })
    }

    /// The id new records are sealed under.
    pub fn current(&self) -> KeyId {
        self.current
    }

    /// version || key id || nonce || ciphertext, bound to `record_id` and to the header (so
    /// the key id cannot be altered either).
    pub fn seal(&self, record_id: &str, plaintext: &[u8]) -> Vec<u8> {
        let header = sealed_header(self.current);
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self.ciphers[&self.current]
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad(&header, record_id),
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key_id = sealed_key_id(sealed).ok_or(CryptoError::Open)?;
        let cipher = self
            .ciphers
            .get(&key_id)
            .ok_or(CryptoError::UnknownKey(key_id))?;
        let (header, rest) = sealed.split_at(HEADER_LEN);
        let (nonce, body) = rest.split_at(NONCE_LEN);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &aad(header, record_id),
                },
            )
            .map_err(|_| CryptoError::Open)
    }
}

fn aad(header: &[u8], record_id: &str) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(record_id.as_bytes());
    aad
}

/// HMAC-SHA256 under the identity key.
#[derive(Clone)]
pub struct IdentityHasher {
    key: [u8; 32],
}

impl IdentityHasher {
    pub fn from_base64(b64: &str) -> Result<Self, CryptoError> {
        Ok(Self {
            key: decode_key("security.identity_key", b64)?,
        })
    }

    pub fn from_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// A stable key for a person, from the name in the form it is matched on (NFC, case-folded,
    /// words joined by single spaces: `refroute_wire::PersonName::matching`) and the date of birth
    /// as a date, so however either was typed one person has one key.
    pub fn person_key(&self, matching_name: &str, date_of_birth: chrono::NaiveDate) -> Vec<u8> {
        let born = date_of_birth.format("%Y-%m-%d").to_string();
        self.digest(&[b"person", matching_name.as_bytes(), born.as_bytes()])
    }

    /// Keyed digest of several parts (length-prefixed, so parts cannot run into each other).
    pub fn digest(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ZGV2LW9ubHktZGF0YS1rZXktMzItYnl0ZXMtbG9uZyE=";

    fn ring(current: KeyId, ids: &[KeyId]) -> Sealer {
        let keys = ids.iter().map(|id| (*id, [*id as u8; 32])).collect();
        Sealer::new(current, &keys).unwrap()
    }

    #[test]
    fn sealed_records_open_only_under_their_own_id() {
        let s = ring(1, &[1]);
        let sealed = s.seal("a", b"Jane Doe");
        assert!(!sealed.windows(4).any(|w| w == b"Jane"));
        assert_eq!(s.open("a", &sealed).unwrap(), b"Jane Doe");
        assert!(s.open("b", &sealed).is_err());
    }

    #[test]
    fn a_record_names_its_key_and_opens_under_it_whichever_key_is_current() {
        let old = ring(1, &[1]);
        let sealed = old.seal("a", b"Jane Doe");
        assert_eq!(&sealed[..HEADER_LEN], &[SEALED_VERSION, 0, 1]);
        assert_eq!(sealed_key_id(&sealed), Some(1));
        let both = ring(2, &[1, 2]);
        assert_eq!(both.open("a", &sealed).unwrap(), b"Jane Doe");
        let resealed = both.seal("a", b"Jane Doe");
        assert_eq!(sealed_key_id(&resealed), Some(2));
        assert_eq!(&resealed[..HEADER_LEN], &sealed_header(2));
        // Once key 1 is gone, its records say so rather than merely failing.
        let new = ring(2, &[2]);
        assert_eq!(new.open("a", &resealed).unwrap(), b"Jane Doe");
        assert!(matches!(
            new.open("a", &sealed),
            Err(CryptoError::UnknownKey(1))
        ));
    }

    #[test]
    fn the_key_id_cannot_be_altered() {
        // Two ids with the same key: only the authenticated header tells them apart.
        let keys = BTreeMap::from([(1, [7; 32]), (2, [7; 32])]);
        let s = Sealer::new(1, &keys).unwrap();
        let mut sealed = s.seal("a", b"Jane Doe");
        sealed[2] = 2;
        assert_eq!(sealed_key_id(&sealed), Some(2));
        assert!(matches!(s.open("a", &sealed), Err(CryptoError::Open)));
        assert!(s.open("a", &sealed[..HEADER_LEN + NONCE_LEN - 1]).is_err());
        assert!(s.open("a", b"").is_err());
    }

    #[test]
    fn the_current_key_must_be_in_the_ring_and_keys_must_be_32_bytes() {
        let keys = BTreeMap::from([(1, [1; 32])]);
        assert!(matches!(
            Sealer::new(2, &keys),
            Err(CryptoError::NoCurrentKey(2))
        ));
        let err = decode_key("security.data_keys.1", "c2hvcnQ=").unwrap_err();
        assert_eq!(
            err.to_string(),
            "security.data_keys.1 must be 32 bytes of base64"
        );
        assert!(decode_key("k", KEY).is_ok());
    }

    #[test]
    fn person_key_is_the_name_and_the_date_not_how_the_date_was_typed() {
        let h = IdentityHasher::from_base64(KEY).unwrap();
        let born = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let a = h.person_key("jane o doe", born(1990, 1, 2));
        assert_eq!(a, h.person_key("jane o doe", "1990-01-02".parse().unwrap()));
        assert_ne!(a, h.person_key("jane o doe", born(1990, 1, 3)));
        assert_ne!(a, h.person_key("jane o dee", born(1990, 1, 2)));
        // The form keys had before dates were parsed: stored keys still match.
        assert_eq!(a, h.digest(&[b"person", b"jane o doe", b"1990-01-02"]));
    }
}
