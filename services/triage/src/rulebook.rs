//! The rule set in force, swapped whole on reload. A reload that fails (unreadable file, a line
//! that does not validate, a version reused for different content) changes nothing: routing
//! continues under the rules already loaded, and the refusal says why.

use chrono::{DateTime, Utc};
use refroute_domain::{Directory, RuleSet, RuleSetError};
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::reference::{self, RuleSource};
use refroute_platform::settings::RulesSettings;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::sync::{Arc, RwLock};

/// One loaded rule file.
#[derive(Debug)]
pub struct Loaded {
    pub rules: RuleSet,
    pub sha256: String,
    pub origin: String,
    pub loaded_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0:#}")]
    Read(anyhow::Error),
    #[error("rule file {origin} refused: {error}")]
    Invalid { origin: String, error: RuleSetError },
    #[error(
        "rule file {origin} refused: {name} version {version} was already loaded with different content; give changed rules a new version"
    )]
    VersionReused {
        origin: String,
        name: String,
        version: u32,
    },
    #[error("recording the rule set: {0}")]
    Store(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct RuleBook {
    current: Arc<RwLock<Arc<Loaded>>>,
    settings: RulesSettings,
    directory: Arc<Directory>,
    pool: PgPool,
}

impl RuleBook {
    /// Loads the configured rules; triage does not start without valid ones.
    pub async fn load(
        settings: RulesSettings,
        directory: Arc<Directory>,
        pool: PgPool,
    ) -> Result<Self, ReloadError> {
        let loaded = read_validate_record(
            &settings,
            &directory,
            &pool,
            crate::SCHEMA,
            action::RULES_LOADED,
        )
        .await?;
        Ok(Self {
            current: Arc::new(RwLock::new(Arc::new(loaded))),
            settings,
            directory,
            pool,
        })
    }

    pub fn current(&self) -> Arc<Loaded> {
        self.current.read().expect("rule book lock").clone()
    }

    /// Reads the rule file again and, only if it is valid, puts it in force; `actor` asked
    /// for it (the audit log records who).
    pub async fn reload(&self, actor: &str) -> Result<Arc<Loaded>, ReloadError> {
        let loaded = Arc::new(
            read_validate_record(
                &self.settings,
                &self.directory,
                &self.pool,
                actor,
                action::RULES_RELOADED,
            )
            .await?,
        );
        *self.current.write().expect("rule book lock") = loaded.clone();
        Ok(loaded)
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }
}

/// The record kind of a rule set in the audit log; its id is `<name> v<version>`.
pub const AUDITED_RULE_SET: &str = "rule_set";

async fn read_validate_record(
    settings: &RulesSettings,
    directory: &Directory,
    pool: &PgPool,
    actor: &str,
    audited_as: &str,
) -> Result<Loaded, ReloadError> {
    let RuleSource { origin, text } = reference::read_rules(settings).map_err(ReloadError::Read)?;
    let rules = RuleSet::parse(&text, directory).map_err(|error| ReloadError::Invalid {
        origin: origin.clone(),
        error,
    })?;
    let sha256: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // First use of a name and version records its content; later loads must match it. The
    // record and its audit entry commit together; a refused file leaves neither.
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO triage.rule_sets (name, version, sha256, body, origin) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name, version) DO NOTHING",
    )
    .bind(rules.name())
    .bind(rules.version() as i32)
    .bind(&sha256)
    .bind(&text)
    .bind(&origin)
    .execute(&mut *tx)
    .await?;
    let (recorded,): (String,) =
        sqlx::query_as("SELECT sha256 FROM triage.rule_sets WHERE name = $1 AND version = $2")
            .bind(rules.name())
            .bind(rules.version() as i32)
            .fetch_one(&mut *tx)
            .await?;
    if recorded != sha256 {
        return Err(ReloadError::VersionReused {
            origin,
            name: rules.name().to_string(),
            version: rules.version(),
        });
    }
    let entry = Entry::new(
        crate::SCHEMA,
        actor,
        audited_as,
        AUDITED_RULE_SET,
        &format!("{} v{}", rules.name(), rules.version()),
    );
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(Loaded {
        rules,
        sha256,
        origin,
        loaded_at: Utc::now(),
    })
}

/// Reloads on every SIGHUP until `stop`. A refused reload is logged as an alarm; the rules in
/// force stay.
pub async fn reload_on_sighup(book: RuleBook, stop: tokio_util::sync::CancellationToken) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; reload rules with ReloadRuleSet");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            // A signal says nothing of who sent it; the log records the trigger.
            _ = hangups.recv() => log_reload(&book.reload(SIGHUP_ACTOR).await, "SIGHUP"),
        }
    }
}

/// The actor the audit log records for a reload on SIGHUP.
pub const SIGHUP_ACTOR: &str = "signal:SIGHUP";

pub fn log_reload(result: &Result<Arc<Loaded>, ReloadError>, trigger: &'static str) {
    if trigger != "start" {
        let outcome = if result.is_ok() { "applied" } else { "refused" };
        refroute_platform::metrics::increment(
            "refroute_rule_reloads_total",
            &[("trigger", trigger), ("result", outcome)],
        );
    }
    match result {
        Ok(l) => tracing::info!(
            trigger,
            rule_set = l.rules.name(),
            version = l.rules.version(),
            sha256 = %l.sha256,
            origin = %l.origin,
            "rules reloaded"
        ),
        Err(e) => {
            tracing::error!(trigger, alarm = "rules_reload_refused", error = %e, "rules reload refused; the rules in force stay")
        }
    }
}
