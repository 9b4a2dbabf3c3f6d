//! Configuration in three layers, later winning: the defaults compiled in from
//! `config/default.toml`, the file named by `REFROUTE_CONFIG`, then `REFROUTE__SECTION__KEY`
//! environment variables.

use config::{Config, ConfigError, Environment, File, FileFormat};
use refroute_domain::rules::RuleSetConfig;
use serde::Deserialize;
use std::fmt;

const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// A string that never shows itself in `Debug` output or logs.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub security: SecuritySettings,
    pub telemetry: TelemetrySettings,
    pub partnership: PartnershipSettings,
    pub intake: GrpcSettings,
    pub triage: GrpcSettings,
    pub transfer: GrpcSettings,
    pub notification: GrpcSettings,
    pub rules: RuleSetConfig,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseSettings {
    pub url: Secret,
    pub max_connections: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AmqpSettings {
    pub uri: Secret,
    pub exchange: String,
    pub delivery_limit: u32,
    pub prefetch: u16,
    pub reconnect_initial_ms: u64,
    pub reconnect_max_ms: u64,
    pub outbox_poll_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SecuritySettings {
    pub data_key: Secret,
    pub identity_key: Secret,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TelemetrySettings {
    pub format: String,
    pub filter: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PartnershipSettings {
    pub receiving_area_code: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct GrpcSettings {
    pub grpc_addr: String,
    pub max_request_bytes: usize,
}

impl Settings {
    /// Defaults, then `REFROUTE_CONFIG` (if set), then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Ok(path) = std::env::var("REFROUTE_CONFIG") {
            builder = builder.add_source(File::with_name(&path).required(true));
        }
        builder
            .add_source(
                Environment::with_prefix("REFROUTE")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()
    }

    /// The compiled-in defaults alone, ignoring the environment (for tests that set fields).
    pub fn defaults() -> Result<Self, ConfigError> {
        Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()?
            .try_deserialize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_hide_secrets() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.partnership.receiving_area_code, "E09000001");
        assert_eq!(s.rules.defaults.dash_threshold, 14);
        let shown = format!("{s:?}");
        assert!(!shown.contains("postgres://"), "{shown}");
        assert!(!shown.contains(s.security.data_key.expose()));
    }
}
