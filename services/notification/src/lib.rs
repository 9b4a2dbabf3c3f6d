//! Notification: owns the coordinator queues. A routed referral becomes a case in the queue of
//! its panel and area; coordinators list it, read it, and watch the queue live.

pub mod announce;
pub mod coordinator;
pub mod queue;

use refroute_platform::Settings;
use refroute_platform::crypto::Sealer;
use refroute_platform::grpc::GrpcServer;
use refroute_platform::messaging::{Outbox, Worker, topology};
use refroute_platform::service;
use refroute_proto::v1::coordinator_service_server::CoordinatorServiceServer;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub const SCHEMA: &str = "notification";

pub async fn run(
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let sealer = Sealer::from_base64(settings.security.data_key.expose())?;
    let outbox = Outbox::new(SCHEMA, sealer.clone());
    // Newly queued cases fan out to every watching coordinator in this process.
    let (routed, _) = broadcast::channel(1024);
    let store = queue::QueueStore::new(pool.clone(), sealer);

    let api = coordinator::CoordinatorApi::new(store.clone(), routed.clone(), stop.clone());
    let server = GrpcServer::new().add_service(
        CoordinatorServiceServer::new(api)
            .max_decoding_message_size(settings.notification.max_request_bytes),
    );
    let consumers = vec![Worker::consumer(
        topology::NOTIFICATION_REFERRAL_ROUTED.name,
        settings.amqp.prefetch,
        Arc::new(queue::RoutedHandler::new(store.clone())),
    )];
    let parts = service::Parts {
        name: "notification",
        server,
        outbox,
        consumers,
        metrics_addr: settings.notification.metrics_addr.clone(),
    };
    // The announcer stops with the service, however the service stops.
    let announcing = stop.child_token();
    let announcer = tokio::spawn(announce::announce_queued_cases(
        store,
        routed,
        announcing.clone(),
    ));
    let served = service::run(parts, &settings, pool, listener, stop).await;
    announcing.cancel();
    announcer.await?;
    served
}
