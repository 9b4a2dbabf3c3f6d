//! Configuration in three layers, later winning: the defaults compiled in from
//! `config/default.toml`, the file named by `REFROUTE_CONFIG`, then `REFROUTE__SECTION__KEY`
//! environment variables.

use config::{Config, ConfigError, Environment, File, FileFormat};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// A string that never shows itself in `Debug` output or logs.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
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
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub deployment: DeploymentSettings,
    pub security: SecuritySettings,
    pub telemetry: TelemetrySettings,
    pub partnership: PartnershipSettings,
    pub intake: GrpcSettings,
    pub triage: GrpcSettings,
    pub transfer: GrpcSettings,
    pub notification: GrpcSettings,
    pub retention: RetentionSettings,
    pub rules: RulesSettings,
    pub directory: DirectorySettings,
    pub tls: TlsSettings,
    pub access: AccessSettings,
    pub client: ClientSettings,
    pub delivery: DeliverySettings,
    pub exchange: ExchangeSettings,
}

/// Transfers between deployments (the transfer service): how this deployment offers cases to its
/// peers and sends its answers back, how long it waits for a receipt, and what crosses.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSettings {
    /// The client certificate and key this deployment presents to its peers' `ExchangeService`.
    pub cert_file: String,
    pub key_file: String,
    /// The CA (PEM, one or more certificates) whose server certificates peers must present;
    /// empty: tls.ca_file.
    pub ca_file: String,
    /// No receipt (or, for a destination without a deployment, no acknowledgement) this long
    /// after the transfer was asked for: it is undeliverable, and the sending coordinator is
    /// alerted. MESH's five days.
    pub deliver_within_secs: u64,
    /// How often the courier looks for work when nothing woke it.
    pub poll_ms: u64,
    /// Backoff between attempts to reach a peer: doubles from initial to max.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// Seconds allowed for one call to a peer, connecting included.
    pub timeout_secs: u64,
    /// The fields of each pathway's details that cross to the receiver; the rest stays here.
    pub fields: CrossingFields,
}

/// Field names of `DomesticAbuseReferral` and `PreventReferral` (proto names) that a transfer
/// carries. `do_not_inform` always crosses, listed or not.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossingFields {
    pub domestic_abuse: Vec<String>,
    pub prevent: Vec<String>,
}

impl ExchangeSettings {
    pub fn deliver_within(&self) -> Duration {
        Duration::from_secs(self.deliver_within_secs)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("exchange.deliver_within_secs", self.deliver_within_secs),
            ("exchange.poll_ms", self.poll_ms),
            ("exchange.retry_initial_ms", self.retry_initial_ms),
            ("exchange.timeout_secs", self.timeout_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::Message(format!("{key} must be at least 1")));
            }
        }
        if self.retry_max_ms < self.retry_initial_ms {
            return Err(ConfigError::Message(format!(
                "exchange.retry_max_ms = {} is less than exchange.retry_initial_ms = {}",
                self.retry_max_ms, self.retry_initial_ms
            )));
        }
        Ok(())
    }
}

/// PEM files for mutual TLS. The CA is the deployment's own: nothing is trusted by default.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The CA whose certificates clients (and, for the CLI, servers) must present.
    pub ca_file: String,
    /// This server's certificate chain and key.
    pub cert_file: String,
    pub key_file: String,
}

/// Who may call: the organisations file (see `access::organisations`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSettings {
    pub organisations_file: String,
}

/// The certificate the `refroute` CLI presents when it calls the services.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub cert_file: String,
    pub key_file: String,
}

/// How the notification service delivers: its senders, their retries, and the two channels.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// Concurrent senders in each notification replica.
    pub senders: usize,
    /// How often a sender looks for due notifications when nothing woke it.
    pub poll_ms: u64,
    /// Retry backoff after a transient failure: doubles from initial to max.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// A notification still failing transiently this long after it was due is given up (alarm).
    pub give_up_after_secs: u64,
    /// A MARAC case routed with this many DASH "yes" answers or more is announced to the
    /// coordinator as urgent (may need an emergency MARAC). Not nationally published: a
    /// deployment setting.
    pub urgent_dash_score: u32,
    pub email: EmailSettings,
    pub webhook: WebhookSettings,
    /// HMAC key of each organisation's webhooks, by organisation id (the organisations file's id).
    #[serde(default)]
    pub webhook_secrets: BTreeMap<String, Secret>,
}

impl DeliverySettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = [
            ("delivery.senders", self.senders as u64),
            ("delivery.poll_ms", self.poll_ms),
            ("delivery.retry_initial_ms", self.retry_initial_ms),
            ("delivery.email.timeout_secs", self.email.timeout_secs),
            ("delivery.webhook.timeout_secs", self.webhook.timeout_secs),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                return Err(ConfigError::Message(format!("{key} must be at least 1")));
            }
        }
        if self.retry_max_ms < self.retry_initial_ms {
            return Err(ConfigError::Message(format!(
                "delivery.retry_max_ms = {} is less than delivery.retry_initial_ms = {}",
                self.retry_max_ms, self.retry_initial_ms
            )));
        }
        if !EMAIL_TLS_MODES.contains(&self.email.tls.as_str()) {
            return Err(ConfigError::Message(format!(
                "delivery.email.tls = {:?} is not one of {}",
                self.email.tls,
                EMAIL_TLS_MODES.join(", ")
            )));
        }
        Ok(())
    }
}

/// The values `delivery.email.tls` may take.
pub const EMAIL_TLS_MODES: [&str; 3] = ["starttls", "tls", "none"];

/// The SMTP relay email notifications are handed to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// SMTP relay host. Empty: no email channel (email notifications wait as failed, alarmed,
    /// until one is configured).
    pub host: String,
    pub port: u16,
    /// "starttls" (STARTTLS required), "tls" (implicit TLS, usually port 465) or "none" (plain;
    /// for a development sink on loopback only).
    pub tls: String,
    /// A CA (PEM) to trust for the relay's certificate besides the webpki roots; empty: none.
    pub ca_file: String,
    pub from: String,
    /// Empty: no AUTH.
    pub username: String,
    pub password: Secret,
    pub timeout_secs: u64,
}

/// How webhooks are posted.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// A CA (PEM) to trust for endpoints' certificates besides the webpki roots; empty: none.
    pub ca_file: String,
    pub timeout_secs: u64,
}

/// Where the rule set is read from, at start, on SIGHUP and on `ReloadRuleSet`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSettings {
    /// A rule file (TOML); empty means the built-in `config/rules.toml`.
    #[serde(default)]
    pub file: String,
}

/// A deployment's additions to the shipped area directory.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySettings {
    /// A directory file in the shipped form whose entries override or extend it; empty for none.
    #[serde(default)]
    pub file: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    pub outbox_published_hours: u32,
    pub inbox_hours: u32,
    pub prune_interval_secs: u64,
}

/// The longest retention accepted, in hours: ten years. Anything longer is surely a mistake
/// (or a "for ever" that would overflow an interval), and is refused at load.
pub const MAX_RETENTION_HOURS: u32 = 87_600;

impl RetentionSettings {
    /// How long published outbox events are kept.
    pub fn outbox_published(&self) -> Duration {
        Duration::from_secs(u64::from(self.outbox_published_hours) * 3600)
    }

    /// How long applied message ids are remembered.
    pub fn inbox(&self) -> Duration {
        Duration::from_secs(u64::from(self.inbox_hours) * 3600)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (key, hours) in [
            (
                "retention.outbox_published_hours",
                self.outbox_published_hours,
            ),
            ("retention.inbox_hours", self.inbox_hours),
        ] {
            if hours > MAX_RETENTION_HOURS {
                return Err(ConfigError::Message(format!(
                    "{key} = {hours} is more than {MAX_RETENTION_HOURS} (ten years)"
                )));
            }
        }
        if self.inbox_hours == 0 {
            return Err(ConfigError::Message(
                "retention.inbox_hours = 0 would forget applied message ids at once, so a \
                 redelivery could apply twice; it must be at least 1"
                    .into(),
            ));
        }
        if self.prune_interval_secs == 0 {
            return Err(ConfigError::Message(
                "retention.prune_interval_secs must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// The owner's URL: `refroute migrate` and operator tools connect with it.
    pub url: Secret,
    pub max_connections: u32,
    /// Each service's own login (see [`crate::db::service_url`]); empty derives it from `url`.
    #[serde(default)]
    pub logins: PerService<Secret>,
}

/// One value for each service, e.g. each service's own login; a service reads its own.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerService<T> {
    pub intake: T,
    pub triage: T,
    pub transfer: T,
    pub notification: T,
}

impl<T> PerService<T> {
    /// The value for `service` (`intake`, `triage`, `transfer`, `notification`).
    pub fn get(&self, service: &str) -> Option<&T> {
        match service {
            "intake" => Some(&self.intake),
            "triage" => Some(&self.triage),
            "transfer" => Some(&self.transfer),
            "notification" => Some(&self.notification),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, service: &str) -> Option<&mut T> {
        match service {
            "intake" => Some(&mut self.intake),
            "triage" => Some(&mut self.triage),
            "transfer" => Some(&mut self.transfer),
            "notification" => Some(&mut self.notification),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    pub uri: Secret,
    pub exchange: String,
    pub delivery_limit: u32,
    pub prefetch: u16,
    pub reconnect_initial_ms: u64,
    pub reconnect_max_ms: u64,
    pub outbox_poll_ms: u64,
    /// A message still failing (transiently) after this long raises `alarm=consumer_stuck`.
    pub stuck_alarm_secs: u64,
    /// Each service's own broker URI, with its own user; empty means `uri`.
    #[serde(default)]
    pub logins: PerService<Secret>,
    /// Each service's broker user name, for checking who published a message; all empty: not
    /// checked (every service shares `uri`'s user).
    #[serde(default)]
    pub users: PerService<String>,
}

impl AmqpSettings {
    /// The URI `service` connects with: its own login, or the shared `uri`.
    pub fn uri_for(&self, service: &str) -> &Secret {
        match self.logins.get(service) {
            Some(login) if !login.expose().is_empty() => login,
            _ => &self.uri,
        }
    }

    /// The broker user that must have published a message `service` sent, when per-service
    /// users are configured.
    pub fn expected_user(&self, service: &str) -> Option<&str> {
        self.users
            .get(service)
            .map(String::as_str)
            .filter(|u| !u.is_empty())
    }

    /// Whether consumers check who published each message (`amqp.users` is set).
    pub fn checks_publishers(&self) -> bool {
        !self.users.intake.is_empty()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let set = [
            &self.users.intake,
            &self.users.triage,
            &self.users.transfer,
            &self.users.notification,
        ]
        .iter()
        .filter(|u| !u.is_empty())
        .count();
        if set != 0 && set != 4 {
            return Err(ConfigError::Message(
                "amqp.users: name every service's broker user, or none (a message from a \
                 service without one could not be checked)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// What kind of deployment this is.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSettings {
    /// A development deployment may run with the public development keys (with a warning at
    /// start); any other refuses to start with them (`crate::keys::load`).
    pub development: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// The data key new records are sealed under: an id in `data_keys`.
    pub data_key_id: u16,
    /// Data keys by id (0 to 65535), 32 bytes of base64 each. Every key a stored record may be
    /// sealed under must be here; an empty value retires its id.
    pub data_keys: BTreeMap<String, Secret>,
    pub identity_key: Secret,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub format: String,
    pub filter: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnershipSettings {
    pub receiving_area_code: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcSettings {
    pub grpc_addr: String,
    /// Where Prometheus scrapes `GET /metrics`.
    pub metrics_addr: String,
    pub max_request_bytes: usize,
}

impl Settings {
    /// Defaults, then `REFROUTE_CONFIG` (if set), then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::layered(std::env::var("REFROUTE_CONFIG").ok().as_deref(), None)
    }

    /// The layering itself. `env` replaces the process environment (for tests).
    pub fn layered(
        file: Option<&str>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(File::with_name(path).required(true));
        }
        builder
            .add_source(
                Environment::with_prefix("REFROUTE")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .source(env),
            )
            .build()?
            .try_deserialize::<Self>()?
            .validated()
    }

    /// The compiled-in defaults alone, ignoring the environment (for tests that set fields).
    pub fn defaults() -> Result<Self, ConfigError> {
        Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()?
            .try_deserialize::<Self>()?
            .validated()
    }

    /// Refuses values that parse but cannot be meant, naming the key.
    pub fn validated(self) -> Result<Self, ConfigError> {
        self.retention.validate()?;
        self.amqp.validate()?;
        self.delivery.validate()?;
        self.exchange.validate()?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_file_then_the_environment_override_defaults() {
        let dir = std::env::temp_dir().join(format!("refroute-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("deployment.toml");
        std::fs::write(
            &file,
            "[rules]\nfile = \"/etc/refroute/rules.toml\"\n[amqp]\nprefetch = 7\n",
        )
        .unwrap();
        let env = HashMap::from([
            (
                "REFROUTE__RULES__FILE".to_string(),
                "/srv/rules-v2.toml".to_string(),
            ),
            (
                "REFROUTE__DATABASE__URL".to_string(),
                "postgres://elsewhere/db".to_string(),
            ),
        ]);
        let s = Settings::layered(Some(file.to_str().unwrap()), Some(env)).unwrap();
        assert_eq!(s.database.url.expose(), "postgres://elsewhere/db");
        assert_eq!(s.rules.file, "/srv/rules-v2.toml");
        assert_eq!(s.amqp.prefetch, 7);
        assert_eq!(s.directory.file, "");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let env = HashMap::from([(
            "REFROUTE__AMQP__DELIVERY_LIMIT".to_string(),
            "many".to_string(),
        )]);
        let err = Settings::layered(None, Some(env)).unwrap_err().to_string();
        assert!(err.contains("delivery_limit"), "{err}");
    }

    #[test]
    fn retention_beyond_ten_years_is_refused_naming_its_key() {
        let load = |key: &str, value: &str| {
            Settings::layered(
                None,
                Some(HashMap::from([(key.to_string(), value.to_string())])),
            )
        };
        // 2^32 - 1, once cast to i32, was -1 hours: every prune emptied the inbox.
        let err = load("REFROUTE__RETENTION__INBOX_HOURS", "4294967295")
            .unwrap_err()
            .to_string();
        assert!(err.contains("retention.inbox_hours"), "{err}");
        let err = load("REFROUTE__RETENTION__OUTBOX_PUBLISHED_HOURS", "87601")
            .unwrap_err()
            .to_string();
        assert!(err.contains("retention.outbox_published_hours"), "{err}");
        let err = load("REFROUTE__RETENTION__INBOX_HOURS", "0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("retention.inbox_hours"), "{err}");
        let ten_years = load("REFROUTE__RETENTION__INBOX_HOURS", "87600").unwrap();
        assert_eq!(
            ten_years.retention.inbox(),
            Duration::from_secs(87_600 * 3600)
        );
    }

    #[test]
    fn an_unknown_key_is_refused_naming_it() {
        let env = HashMap::from([(
            "REFROUTE__RULES__AREAS__E09000012__DASH_THRESHOLD".to_string(),
            "15".to_string(),
        )]);
        let err = Settings::layered(None, Some(env)).unwrap_err().to_string();
        assert!(err.contains("areas"), "{err}");
        let dir = std::env::temp_dir().join(format!("refroute-unknown-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("typo.toml");
        std::fs::write(&file, "[amqp]\nprefech = 7\n").unwrap();
        let err = Settings::layered(Some(file.to_str().unwrap()), Some(HashMap::new()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("prefech"), "{err}");
    }

    #[test]
    fn broker_users_are_named_for_every_service_or_none() {
        let users = |n: usize| {
            let env = ["INTAKE", "TRIAGE", "TRANSFER", "NOTIFICATION"]
                .iter()
                .take(n)
                .map(|s| (format!("REFROUTE__AMQP__USERS__{s}"), format!("mq-{s}")))
                .collect();
            Settings::layered(None, Some(env))
        };
        let err = users(3).unwrap_err().to_string();
        assert!(err.contains("amqp.users"), "{err}");
        assert!(!users(0).unwrap().amqp.checks_publishers());
        let all = users(4).unwrap().amqp;
        assert!(all.checks_publishers());
        assert_eq!(all.expected_user("triage"), Some("mq-TRIAGE"));
    }

    #[test]
    fn a_service_without_its_own_broker_login_uses_the_shared_uri() {
        let env = HashMap::from([(
            "REFROUTE__AMQP__LOGINS__TRIAGE".to_string(),
            "amqp://refroute-triage:pw@mq/refroute".to_string(),
        )]);
        let amqp = Settings::layered(None, Some(env)).unwrap().amqp;
        assert_eq!(
            amqp.uri_for("triage").expose(),
            "amqp://refroute-triage:pw@mq/refroute"
        );
        assert_eq!(amqp.uri_for("intake").expose(), amqp.uri.expose());
    }

    #[test]
    fn defaults_parse_and_hide_secrets() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.partnership.receiving_area_code, "E09000001");
        assert_eq!(s.rules.file, "");
        let shown = format!("{s:?}");
        assert!(!shown.contains("postgres://"), "{shown}");
        assert!(!shown.contains(s.security.data_keys["1"].expose()));
        assert!(
            !s.deployment.development,
            "a deployment is not development unless it says so"
        );
    }

    #[test]
    fn delivery_defaults_and_the_environment_layer_over_them() {
        let d = Settings::defaults().unwrap().delivery;
        assert_eq!((d.senders, d.poll_ms), (2, 250));
        assert_eq!((d.retry_initial_ms, d.retry_max_ms), (1000, 300_000));
        assert_eq!(d.give_up_after_secs, 259_200);
        assert_eq!(d.urgent_dash_score, 18);
        assert_eq!(d.email.host, "", "no email channel unless configured");
        assert_eq!((d.email.port, d.email.tls.as_str()), (587, "starttls"));
        assert_eq!(d.webhook.timeout_secs, 10);
        assert!(d.webhook_secrets.is_empty());

        let env = HashMap::from([
            (
                "REFROUTE__DELIVERY__EMAIL__HOST".to_string(),
                "smtp.example.org".to_string(),
            ),
            (
                "REFROUTE__DELIVERY__EMAIL__TLS".to_string(),
                "tls".to_string(),
            ),
            (
                "REFROUTE__DELIVERY__EMAIL__PASSWORD".to_string(),
                "relay-password".to_string(),
            ),
            ("REFROUTE__DELIVERY__SENDERS".to_string(), "4".to_string()),
            (
                "REFROUTE__DELIVERY__WEBHOOK_SECRETS__CITY-POLICE".to_string(),
                "hook-key".to_string(),
            ),
        ]);
        let d = Settings::layered(None, Some(env)).unwrap().delivery;
        assert_eq!(d.email.host, "smtp.example.org");
        assert_eq!(d.email.tls, "tls");
        assert_eq!(d.senders, 4);
        assert_eq!(d.email.password.expose(), "relay-password");
        // Environment names arrive lower-cased: the key is under the organisation's id.
        assert_eq!(d.webhook_secrets["city-police"].expose(), "hook-key");
        let shown = format!("{d:?}");
        assert!(!shown.contains("relay-password"), "{shown}");
        assert!(!shown.contains("hook-key"), "{shown}");
    }

    #[test]
    fn delivery_values_that_cannot_be_meant_are_refused_naming_their_key() {
        let load = |pairs: &[(&str, &str)]| {
            let env = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Settings::layered(None, Some(env))
        };
        for (key, value, named) in [
            ("REFROUTE__DELIVERY__SENDERS", "0", "delivery.senders"),
            ("REFROUTE__DELIVERY__POLL_MS", "0", "delivery.poll_ms"),
            (
                "REFROUTE__DELIVERY__RETRY_MAX_MS",
                "10",
                "delivery.retry_max_ms",
            ),
            (
                "REFROUTE__DELIVERY__EMAIL__TLS",
                "ssl",
                "delivery.email.tls",
            ),
            ("REFROUTE__DELIVERY__EMAIL__LOGIN", "x", "login"),
        ] {
            let err = load(&[(key, value)]).unwrap_err().to_string();
            assert!(err.contains(named), "{key}={value}: {err}");
        }
    }

    #[test]
    fn data_keys_are_layered_by_id_from_the_environment() {
        let env = HashMap::from([
            (
                "REFROUTE__SECURITY__DATA_KEYS__2".to_string(),
                "c2Vjb25kLWtleS1zZWNvbmQta2V5LXNlY29uZC1rZXk=".to_string(),
            ),
            (
                "REFROUTE__SECURITY__DATA_KEY_ID".to_string(),
                "2".to_string(),
            ),
            (
                "REFROUTE__SECURITY__DATA_KEYS__1".to_string(),
                String::new(),
            ),
            (
                "REFROUTE__DEPLOYMENT__DEVELOPMENT".to_string(),
                "true".to_string(),
            ),
        ]);
        let s = Settings::layered(None, Some(env)).unwrap();
        assert_eq!(s.security.data_key_id, 2);
        let ids: Vec<&str> = s.security.data_keys.keys().map(String::as_str).collect();
        assert_eq!(ids, ["1", "2"]);
        assert_eq!(s.security.data_keys["1"].expose(), "", "retired");
        assert!(s.deployment.development);
    }
}
