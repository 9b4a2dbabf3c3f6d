//! The keys a service starts with, built and checked here for every service and the CLI alike:
//! the data keyring ([`Sealer`]) and the identity key ([`IdentityHasher`]). A service refuses to
//! start with the public development keys of `config/default.toml` unless its configuration
//! marks a development deployment, and always with a data key equal to the identity key.

use crate::Settings;
use crate::crypto::{IdentityHasher, KeyId, Sealer, decode_key};
use std::collections::BTreeMap;

pub struct Keys {
    pub sealer: Sealer,
    pub hasher: IdentityHasher,
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("security.data_keys.{0}: a key id is a number from 0 to 65535")]
    BadId(String),
    #[error(
        "security.data_key_id = {0} has no key in security.data_keys; set REFROUTE__SECURITY__DATA_KEYS__{0}"
    )]
    NoCurrentKey(KeyId),
    #[error(
        "security.data_keys.{0} is the identity key; the data keys and security.identity_key must differ"
    )]
    DataKeyIsIdentityKey(KeyId),
    #[error("{}; or set REFROUTE__DEPLOYMENT__DEVELOPMENT=true for a development deployment", .0.join("; "))]
    PublicKeys(Vec<String>),
}

/// The keyring and identity key `settings` configure, refused as [`KeysError`] says. In a
/// development deployment the public development keys are accepted with a warning.
pub fn load(settings: &Settings) -> Result<Keys, KeysError> {
    let public = Public::compiled_in();
    let security = &settings.security;
    let identity = decode_key("security.identity_key", security.identity_key.expose())?;
    let mut public_in_use = Vec::new();
    if public.identity.contains(&identity) {
        public_in_use.push(
            "security.identity_key is the public development key; set \
             REFROUTE__SECURITY__IDENTITY_KEY to a key of your own (openssl rand -base64 32)"
                .to_string(),
        );
    }
    let mut ring = BTreeMap::new();
    for (id, b64) in &security.data_keys {
        // Retired: no record is sealed under it any more (see config/default.toml).
        if b64.expose().trim().is_empty() {
            continue;
        }
        let key_id: KeyId = id.parse().map_err(|_| KeysError::BadId(id.clone()))?;
        let key = decode_key(&format!("security.data_keys.{id}"), b64.expose())?;
        if key == identity {
            return Err(KeysError::DataKeyIsIdentityKey(key_id));
        }
        if public.data.contains(&key) {
            public_in_use.push(format!(
                "security.data_keys.{key_id} is the public development key; set \
                 REFROUTE__SECURITY__DATA_KEYS__{key_id} to a key of your own (openssl rand \
                 -base64 32), or to \"\" to retire the id once no record is sealed under it"
            ));
        }
        ring.insert(key_id, key);
    }
    if !ring.contains_key(&security.data_key_id) {
        return Err(KeysError::NoCurrentKey(security.data_key_id));
    }
    if !public_in_use.is_empty() {
        if !settings.deployment.development {
            return Err(KeysError::PublicKeys(public_in_use));
        }
        tracing::warn!(
            public_keys = %public_in_use.len(),
            "development deployment: running with the public development keys; nothing sealed \
             under them is secret (deployment.development = true)"
        );
    }
    Ok(Keys {
        sealer: Sealer::new(security.data_key_id, &ring)?,
        hasher: IdentityHasher::from_key(identity),
    })
}

/// The keys `config/default.toml` publishes.
struct Public {
    data: Vec<[u8; 32]>,
    identity: Vec<[u8; 32]>,
}

impl Public {
    fn compiled_in() -> Self {
        let defaults = Settings::defaults().expect("the compiled-in defaults parse");
        let decode = |b64: &str| decode_key("default", b64).ok();
        Self {
            data: defaults
                .security
                .data_keys
                .values()
                .filter_map(|k| decode(k.expose()))
                .collect(),
            identity: decode(defaults.security.identity_key.expose())
                .into_iter()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    const OWN_DATA: &str = "b3duLWRhdGEta2V5LW93bi1kYXRhLWtleS1vd24tZGE=";
    const OWN_DATA_2: &str = "c2Vjb25kLWtleS1zZWNvbmQta2V5LXNlY29uZC1rZXk=";
    const OWN_IDENTITY: &str = "b3duLWlkZW50aXR5LWtleS1vd24taWRlbnRpdHkta2U=";

    fn own_keys() -> Settings {
        let mut s = Settings::defaults().unwrap();
        s.security.identity_key = Secret::new(OWN_IDENTITY);
        s.security.data_keys = BTreeMap::from([("1".into(), Secret::new(OWN_DATA))]);
        s
    }

    #[test]
    fn the_public_development_keys_are_refused_naming_what_to_set() {
        let s = Settings::defaults().unwrap();
        let err = load(&s).err().unwrap().to_string();
        for wanted in [
            "security.data_keys.1 is the public development key",
            "REFROUTE__SECURITY__DATA_KEYS__1",
            "security.identity_key is the public development key",
            "REFROUTE__SECURITY__IDENTITY_KEY",
            "REFROUTE__DEPLOYMENT__DEVELOPMENT=true",
        ] {
            assert!(err.contains(wanted), "{wanted:?} not in: {err}");
        }
        // Either key alone is refused too.
        let mut s = own_keys();
        s.security.identity_key = Settings::defaults().unwrap().security.identity_key;
        let err = load(&s).err().unwrap().to_string();
        assert!(err.contains("security.identity_key"), "{err}");
        assert!(!err.contains("data_keys"), "{err}");
        let mut s = own_keys();
        s.security.data_keys.insert(
            "7".into(),
            Settings::defaults().unwrap().security.data_keys["1"].clone(),
        );
        let err = load(&s).err().unwrap().to_string();
        assert!(err.contains("REFROUTE__SECURITY__DATA_KEYS__7"), "{err}");
    }

    #[test]
    fn a_development_deployment_runs_with_them() {
        let mut s = Settings::defaults().unwrap();
        s.deployment.development = true;
        let keys = load(&s).unwrap();
        assert_eq!(keys.sealer.current(), 1);
    }

    #[test]
    fn a_deployment_with_its_own_keys_starts_and_a_retired_id_is_left_out() {
        let mut s = own_keys();
        let keys = load(&s).unwrap();
        let sealed = keys.sealer.seal("r", b"Jane");
        s.security
            .data_keys
            .insert("2".into(), Secret::new(OWN_DATA_2));
        s.security.data_key_id = 2;
        let both = load(&s).unwrap();
        assert_eq!(both.sealer.current(), 2);
        assert_eq!(both.sealer.open("r", &sealed).unwrap(), b"Jane");
        s.security.data_keys.insert("1".into(), Secret::new(""));
        let retired = load(&s).unwrap();
        assert!(retired.sealer.open("r", &sealed).is_err());
    }

    #[test]
    fn a_data_key_equal_to_the_identity_key_is_refused_even_in_development() {
        let mut s = own_keys();
        s.deployment.development = true;
        s.security
            .data_keys
            .insert("3".into(), Secret::new(OWN_IDENTITY));
        let err = load(&s).err().unwrap().to_string();
        assert!(
            err.contains("security.data_keys.3 is the identity key"),
            "{err}"
        );
    }

    #[test]
    fn the_current_id_needs_a_key_and_ids_are_numbers() {
        let mut s = own_keys();
        s.security.data_key_id = 2;
        let err = load(&s).err().unwrap().to_string();
        assert!(err.contains("security.data_key_id = 2 has no key"), "{err}");
        assert!(err.contains("REFROUTE__SECURITY__DATA_KEYS__2"), "{err}");
        let mut s = own_keys();
        s.security.data_keys.insert("1".into(), Secret::new(""));
        assert!(matches!(load(&s), Err(KeysError::NoCurrentKey(1))));
        let mut s = own_keys();
        s.security
            .data_keys
            .insert("new".into(), Secret::new(OWN_DATA_2));
        let err = load(&s).err().unwrap().to_string();
        assert!(err.contains("security.data_keys.new"), "{err}");
        let mut s = own_keys();
        s.security
            .data_keys
            .insert("2".into(), Secret::new("c2hvcnQ="));
        let err = load(&s).err().unwrap().to_string();
        assert!(
            err.contains("security.data_keys.2 must be 32 bytes"),
            "{err}"
        );
    }
}
