//! Notification: owns the coordinator queues and the deliveries. A routed referral becomes a
//! case in the queue of its panel and area, and a referral that needs review a case in the
//! receiving area's review queue; coordinators list, read and watch them, and record the meeting
//! that heard a case (`case.heard`). A Community MARAC residence notice becomes a delivery owed
//! to the statutory services of the area where the person lives.

pub mod announce;
pub mod coordinator;
pub mod error;
pub mod invitation;
pub mod notice;
pub mod queue;

use anyhow::Context;
use refroute_platform::Settings;
use refroute_platform::grpc::GrpcServer;
use refroute_platform::messaging::{ConsumerContext, Outbox, Worker, topology};
use refroute_platform::service;
use refroute_proto::v1::coordinator_service_server::CoordinatorServiceServer;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const SCHEMA: &str = "notification";

pub async fn run(
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let sealer = refroute_platform::keys::load(&settings)?.sealer;
    let outbox = Outbox::new(SCHEMA, sealer.clone());
    // Newly queued cases fan out to every watching coordinator in this process.
    let announcements = announce::Announcements::new(1024);
    let store = queue::QueueStore::new(pool.clone(), sealer.clone());
    let directory = Arc::new(refroute_platform::reference::directory(
        &settings.directory,
    )?);

    let api = coordinator::CoordinatorApi::new(
        store.clone(),
        outbox.clone(),
        announcements.clone(),
        stop.clone(),
    );
    let server = GrpcServer::new().add_service(
        CoordinatorServiceServer::new(api)
            .max_decoding_message_size(settings.notification.max_request_bytes),
    );
    let context = ConsumerContext {
        pool: pool.clone(),
        schema: SCHEMA,
        outbox: Some(outbox.clone()),
    };
    let consumers = vec![
        Worker::consumer(
            &topology::NOTIFICATION_REFERRAL_ROUTED,
            context.clone(),
            queue::RoutedHandler::new(store.clone()),
        ),
        Worker::consumer(
            &topology::NOTIFICATION_REFERRAL_NEEDS_REVIEW,
            context.clone(),
            queue::ReviewHandler::new(store.clone()),
        ),
        Worker::consumer(
            &topology::NOTIFICATION_REVIEW_RESOLVED,
            context.clone(),
            queue::ReviewResolvedHandler,
        ),
        Worker::consumer(
            &topology::NOTIFICATION_RESIDENCE_NOTICE,
            context,
            notice::NoticeHandler::new(sealer, directory),
        ),
    ];
    let parts = service::Parts {
        name: "notification",
        server,
        outbox,
        consumers,
        metrics_addr: settings.notification.metrics_addr.clone(),
    };
    // Listening before serving, so no watcher is refused for want of a listener at start. The
    // announcer stops with the service, however the service stops.
    let announcer = announce::Announcer::listen(store, announcements)
        .await
        .context("listening for queue announcements")?;
    let announcing = stop.child_token();
    let announcer = tokio::spawn(announcer.run(announcing.clone()));
    let served = service::run(parts, &settings, pool, listener, stop).await;
    announcing.cancel();
    announcer.await?;
    served
}
