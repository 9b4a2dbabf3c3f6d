//! Structured logs. Spans carry referral and message ids, never personal data.

use crate::settings::TelemetrySettings;
use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. Safe to call twice (the second call is a no-op), which lets
/// tests start several services in one process.
pub fn init(settings: &TelemetrySettings) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new(settings.filter.as_str()));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if settings.format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}
