//! Prometheus metrics in the text exposition format, served on each service's `metrics_addr`.
//! Counters live in one registry per process; gauges that describe the database (outbox
//! backlog and lag) are read at scrape time, so they are never stale.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Registry {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    gauges: Mutex<BTreeMap<(&'static str, Labels), i64>>,
    broker_connected: AtomicBool,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

const HELP: [(&str, &str); 7] = [
    (
        "refroute_access_refused_total",
        "Calls refused by caller identity (no or unknown certificate, missing role, another organisation's record, a TLS handshake refused), by service, method and reason.",
    ),
    (
        "refroute_messages_total",
        "Messages settled by a consumer, by queue and result (acked, dead_lettered, retried).",
    ),
    (
        "refroute_events_published_total",
        "Outbox events the broker confirmed, by routing key.",
    ),
    (
        "refroute_events_unroutable_total",
        "Outbox events the broker returned as unroutable (an alarm), by routing key.",
    ),
    (
        "refroute_decisions_total",
        "Triage decisions, by pathway, outcome and the criterion that fired.",
    ),
    (
        "refroute_rule_reloads_total",
        "Rule-file reloads by trigger (SIGHUP, ReloadRuleSet) and result (applied, refused: alert on refused).",
    ),
    (
        "refroute_notifications_total",
        "Notifications reaching a state (PENDING, SENT, FAILED, GIVEN_UP, REFUSED, NO_RECIPIENT), by kind and channel (alert on GIVEN_UP, REFUSED and NO_RECIPIENT).",
    ),
];

/// Adds one to counter `name` with `labels`.
pub fn increment(name: &'static str, labels: &[(&'static str, &str)]) {
    let key = (
        name,
        labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    );
    let mut counters = registry().counters.lock().expect("metrics lock");
    *counters.entry(key).or_default() += 1;
}

/// Gauges set by the service as things happen (the database-derived ones are read at scrape).
const GAUGE_HELP: [(&str, &str); 1] = [(
    "refroute_consumer_stuck",
    "1 while a queue's consumer has been retrying one message for longer than amqp.stuck_alarm_secs (alert on 1).",
)];

/// Sets gauge `name` with `labels` to `value`.
pub fn set_gauge(name: &'static str, labels: &[(&'static str, &str)], value: i64) {
    let key = (
        name,
        labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    );
    registry()
        .gauges
        .lock()
        .expect("metrics lock")
        .insert(key, value);
}

pub fn set_broker_connected(connected: bool) {
    registry()
        .broker_connected
        .store(connected, Ordering::Relaxed);
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render_labels(labels: &Labels) -> String {
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    labels.join(",")
}

fn render_counters(out: &mut String) {
    let counters = registry().counters.lock().expect("metrics lock");
    for (name, help) in HELP {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for ((_, labels), value) in counters.iter().filter(|((n, _), _)| *n == name) {
            let _ = writeln!(out, "{name}{{{}}} {value}", render_labels(labels));
        }
    }
    drop(counters);
    let gauges = registry().gauges.lock().expect("metrics lock");
    for (name, help) in GAUGE_HELP {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for ((_, labels), value) in gauges.iter().filter(|((n, _), _)| *n == name) {
            let _ = writeln!(out, "{name}{{{}}} {value}", render_labels(labels));
        }
    }
}

/// Everything a scrape returns for the service owning `schema`.
pub async fn render(pool: &PgPool, schema: &'static str) -> String {
    let mut out = String::new();
    render_counters(&mut out);
    let connected = registry().broker_connected.load(Ordering::Relaxed) as u8;
    let _ = writeln!(
        out,
        "# HELP refroute_broker_connected 1 while the service holds a broker connection.\n# TYPE refroute_broker_connected gauge\nrefroute_broker_connected {connected}"
    );
    let backlog: Result<(i64, Option<f64>), _> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*), extract(epoch FROM now() - min(created_at))::float8 FROM {schema}.outbox WHERE published_at IS NULL"
    )))
    .fetch_one(pool)
    .await;
    let up = backlog.is_ok() as u8;
    let (pending, lag) = backlog.unwrap_or((0, None));
    let _ = writeln!(
        out,
        "# HELP refroute_outbox_pending Events committed but not yet confirmed by the broker.\n# TYPE refroute_outbox_pending gauge\nrefroute_outbox_pending{{schema=\"{schema}\"}} {pending}\n\
         # HELP refroute_outbox_lag_seconds Age of the oldest unpublished event (0 when none).\n# TYPE refroute_outbox_lag_seconds gauge\nrefroute_outbox_lag_seconds{{schema=\"{schema}\"}} {}\n\
         # HELP refroute_database_up 1 when the scrape could read the database.\n# TYPE refroute_database_up gauge\nrefroute_database_up {up}",
        lag.unwrap_or(0.0)
    );
    out
}

/// Serves `GET /metrics` until `stop`.
pub async fn serve(
    listener: TcpListener,
    pool: PgPool,
    schema: &'static str,
    stop: CancellationToken,
) -> std::io::Result<()> {
    async fn scrape(State((pool, schema)): State<(PgPool, &'static str)>) -> impl IntoResponse {
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            render(&pool, schema).await,
        )
    }
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state((pool, schema));
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_escaped_labels() {
        increment(
            "refroute_decisions_total",
            &[("outcome", "ROUTED"), ("criterion", "a\"b")],
        );
        increment(
            "refroute_decisions_total",
            &[("outcome", "ROUTED"), ("criterion", "a\"b")],
        );
        let mut out = String::new();
        render_counters(&mut out);
        assert!(
            out.contains("refroute_decisions_total{outcome=\"ROUTED\",criterion=\"a\\\"b\"} 2"),
            "{out}"
        );
        assert!(out.contains("# TYPE refroute_messages_total counter"));
    }

    #[test]
    fn gauges_render_their_latest_value() {
        set_gauge("refroute_consumer_stuck", &[("queue", "q.test")], 1);
        set_gauge("refroute_consumer_stuck", &[("queue", "q.test")], 0);
        let mut out = String::new();
        render_counters(&mut out);
        assert!(
            out.contains("# TYPE refroute_consumer_stuck gauge"),
            "{out}"
        );
        assert!(
            out.contains("refroute_consumer_stuck{queue=\"q.test\"} 0"),
            "{out}"
        );
    }
}
