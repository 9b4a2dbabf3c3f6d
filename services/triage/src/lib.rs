//! Triage: decides where each received referral goes and records why. The decision itself is
//! `refroute_domain::decide`; this crate fetches the history it needs, stores the decision and
//! emits the outcome event in one transaction.

pub mod case;
pub mod handler;

use anyhow::Context;
use refroute_domain::RuleSet;
use refroute_platform::Settings;
use refroute_platform::crypto::{IdentityHasher, Sealer};
use refroute_platform::grpc::GrpcServer;
use refroute_platform::messaging::{Outbox, Worker, topology};
use refroute_platform::service;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const SCHEMA: &str = "triage";

pub async fn run(
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let rules = RuleSet::from_config(settings.rules.clone())
        .context("rule set in configuration is invalid")?;
    tracing::info!(
        rule_set = rules.name(),
        version = rules.version(),
        "rules loaded"
    );
    let hasher = IdentityHasher::from_base64(settings.security.identity_key.expose())?;
    let sealer = Sealer::from_base64(settings.security.data_key.expose())?;
    let outbox = Outbox::new(SCHEMA, sealer);
    let server = GrpcServer::new();

    let handler =
        handler::TriageHandler::new(pool.clone(), Arc::new(rules), hasher, outbox.clone());
    let consumers = vec![Worker::consumer(
        topology::TRIAGE_REFERRAL_RECEIVED.name,
        settings.amqp.prefetch,
        Arc::new(handler),
    )];
    let parts = service::Parts {
        name: "triage",
        server,
        outbox,
        consumers,
        metrics_addr: settings.triage.metrics_addr.clone(),
    };
    service::run(parts, &settings, pool, listener, stop).await
}
