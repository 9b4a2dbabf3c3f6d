//! Personal data at rest is sealed per record (ChaCha20-Poly1305, a fresh nonce each time, the
//! record id as associated data so a sealed blob cannot be moved to another row). Recognising the
//! same person across referrals uses a keyed hash, so the database holds no searchable names.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{0} must be 32 bytes of base64")]
    BadKey(&'static str),
    #[error("sealed record is corrupt or was sealed under another key or record id")]
    Open,
}

fn decode_key(name: &'static str, b64: &str) -> Result<[u8; 32], CryptoError> {
    STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
        .ok_or(CryptoError::BadKey(name))
}

#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    pub fn from_base64(b64: &str) -> Result<Self, CryptoError> {
        let key = decode_key("security.data_key", b64)?;
        Ok(Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    /// nonce || ciphertext, bound to `record_id`.
    pub fn seal(&self, record_id: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: record_id.as_bytes(),
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: record_id.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)
    }
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

    #[test]
    fn sealed_records_open_only_under_their_own_id() {
        let s = Sealer::from_base64(KEY).unwrap();
        let sealed = s.seal("a", b"Jane Doe");
        assert!(!sealed.windows(4).any(|w| w == b"Jane"));
        assert_eq!(s.open("a", &sealed).unwrap(), b"Jane Doe");
        assert!(s.open("b", &sealed).is_err());
    }

    #[test]
    fn refuses_short_keys() {
        assert!(Sealer::from_base64("c2hvcnQ=").is_err());
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
