//! Intake: referrers post referrals over gRPC (domestic abuse, Community MARAC or Prevent); each
//! is parsed by `refroute_wire` (the parse triage decides on, so what is stored can be routed),
//! stored sealed in its canonical form, and announced as `referral.received` through the outbox. Intake also follows the outcome events so that a
//! referrer asking `GetReferral` sees where its referral went and why.

pub mod api;
mod error;
pub mod outcomes;
pub mod store;

use anyhow::Context;
use refroute_domain::AreaCode;
use refroute_platform::Settings;
use refroute_platform::grpc::GrpcServer;
use refroute_platform::messaging::{ConsumerContext, Outbox, Worker, topology};
use refroute_platform::service;
use refroute_proto::v1::intake_service_server::IntakeServiceServer;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The database schema intake owns.
pub const SCHEMA: &str = "intake";

/// Runs intake until `stop`: the gRPC server and the broker supervisor side by side.
pub async fn run(
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    // First, so a service with the wrong keys refuses to start before it touches anything.
    let refroute_platform::keys::Keys { sealer, hasher } =
        refroute_platform::keys::load(&settings)?;
    let receiving_area = AreaCode::parse(&settings.partnership.receiving_area_code)
        .context("partnership.receiving_area_code")?;
    let directory = Arc::new(refroute_platform::reference::directory(
        &settings.directory,
    )?);
    anyhow::ensure!(
        directory.known(&receiving_area),
        "partnership.receiving_area_code {receiving_area} is not in the area directory"
    );
    let outbox = Outbox::new(SCHEMA, sealer.clone());
    let store = store::Store::new(pool.clone(), sealer);

    let api = api::IntakeApi::new(
        store.clone(),
        hasher,
        outbox.clone(),
        receiving_area.clone(),
        directory.clone(),
    );
    let service =
        IntakeServiceServer::new(api).max_decoding_message_size(settings.intake.max_request_bytes);
    let server = GrpcServer::new().add_service(service);

    let context = ConsumerContext {
        pool: pool.clone(),
        schema: SCHEMA,
        outbox: Some(outbox.clone()),
    };
    let consumers = vec![Worker::consumer(
        &topology::INTAKE_REFERRAL_OUTCOMES,
        context,
        outcomes::OutcomeHandler::new(store),
    )];
    tracing::info!(
        area = %receiving_area,
        name = directory.name(&receiving_area),
        areas = directory.areas().count(),
        "receiving referrals for this area"
    );
    let parts = service::Parts {
        name: "intake",
        server,
        outbox,
        consumers,
        metrics_addr: settings.intake.metrics_addr.clone(),
    };
    service::run(parts, &settings, pool, listener, stop).await
}
