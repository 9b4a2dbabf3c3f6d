//! Triage: decides where each received referral goes and records why. It resolves where the
//! person lives (postcodes from the ONS Postcode Directory), applies the pathway's rules from
//! `refroute_domain` under the rule set in force, and stores the decision and emits its outcome
//! in one transaction. A case another deployment transferred here is decided the same way,
//! under this deployment's rules (`received`). Operators ask it why (`TriageAdminService`) and reload its rules there or
//! with SIGHUP.

pub mod admin;
pub mod handler;
pub mod heard;
pub mod postcodes;
pub mod received;
pub mod rulebook;
pub mod store;

use anyhow::Context;
use refroute_platform::Settings;
use refroute_platform::grpc::GrpcServer;
use refroute_platform::messaging::{ConsumerContext, Outbox, Worker, topology};
use refroute_platform::{reference, service};
use refroute_proto::v1::triage_admin_service_server::TriageAdminServiceServer;
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
    // First, so a service with the wrong keys refuses to start before it touches anything.
    let refroute_platform::keys::Keys { sealer, hasher } =
        refroute_platform::keys::load(&settings)?;
    let directory = Arc::new(reference::directory(&settings.directory)?);
    let rules = rulebook::RuleBook::load(settings.rules.clone(), directory.clone(), pool.clone())
        .await
        .context("loading the rule set")?;
    rulebook::log_reload(&Ok(rules.current()), "start");
    let postcodes = Arc::new(postcodes::load(&pool).await.context("loading postcodes")?);
    let outbox = Outbox::new(SCHEMA, sealer);
    let admin = admin::AdminApi::new(pool.clone(), rules.clone());
    let server = GrpcServer::new().add_service(
        TriageAdminServiceServer::new(admin)
            .max_decoding_message_size(settings.triage.max_request_bytes),
    );

    let triage = || handler::TriageHandler {
        rules: rules.clone(),
        directory: directory.clone(),
        postcodes: postcodes.clone(),
        hasher: hasher.clone(),
        outbox: outbox.clone(),
    };
    let handler = triage();
    let received = received::TransferReceivedHandler { triage: triage() };
    let context = ConsumerContext {
        pool: pool.clone(),
        schema: SCHEMA,
        outbox: Some(outbox.clone()),
    };
    let consumers = vec![
        Worker::consumer(
            &topology::TRIAGE_REFERRAL_RECEIVED,
            context.clone(),
            handler,
        ),
        Worker::consumer(
            &topology::TRIAGE_TRANSFER_RECEIVED,
            context.clone(),
            received,
        ),
        Worker::consumer(&topology::TRIAGE_CASE_HEARD, context, heard::HeardHandler),
    ];
    let parts = service::Parts {
        name: "triage",
        server,
        outbox,
        consumers,
        metrics_addr: settings.triage.metrics_addr.clone(),
    };
    let reloading = stop.child_token();
    let reloader = tokio::spawn(rulebook::reload_on_sighup(rules, reloading.clone()));
    let served = service::run(parts, &settings, pool, listener, stop).await;
    reloading.cancel();
    reloader.await?;
    served
}
