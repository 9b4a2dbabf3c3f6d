//! Notification: owns the coordinator queues and the deliveries. A routed referral becomes a
//! case in the queue of its panel and area, and a referral that needs review a case in the
//! receiving area's review queue; coordinators list, read and watch them, and record the meeting
//! that heard a case (`case.heard`). Every outcome also tells those who need to know, and only
//! them: the panel's coordinators, the referrer, the statutory services of a Community MARAC
//! subject's home area ([`plan`]), by email or signed webhook ([`channel`]), tracked until sent
//! ([`deliveries`], [`sender`]). Transfers between deployments: a declined or undeliverable one
//! comes back to the sender's queue, and a case declined here leaves it ([`transfer_steps`]); a
//! transfer to a destination without a deployment goes to its directory contact
//! ([`transfer_contact`]).

pub mod alerts;
pub mod announce;
pub mod channel;
pub mod coordinator;
pub mod deliveries;
pub mod do_not_inform;
pub mod error;
pub mod invitation;
pub mod message;
pub mod notice;
pub mod plan;
pub mod queue;
pub mod recipients;
pub mod sender;
pub mod transfer_contact;
pub mod transfer_steps;

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
    let organisations = Arc::new(refroute_platform::access::organisations(&settings.access)?);
    let channels = channel::Channels::from_settings(&settings.delivery)?;
    refuse_webhooks_without_secrets(&organisations, &channels)?;
    let notifier = deliveries::Notifier::new(
        plan::Planner::new(
            organisations,
            directory,
            settings.delivery.urgent_dash_score,
        ),
        sealer.clone(),
    );

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
            queue::RoutedHandler::new(store.clone(), notifier.clone()),
        ),
        Worker::consumer(
            &topology::NOTIFICATION_REFERRAL_NEEDS_REVIEW,
            context.clone(),
            queue::ReviewHandler::new(store.clone(), notifier.clone()),
        ),
        Worker::consumer(
            &topology::NOTIFICATION_REVIEW_RESOLVED,
            context.clone(),
            queue::ReviewResolvedHandler::new(notifier.clone()),
        ),
        Worker::consumer(
            &topology::NOTIFICATION_RESIDENCE_NOTICE,
            context.clone(),
            notice::NoticeHandler::new(notifier.clone()),
        ),
        Worker::consumer(
            &topology::NOTIFICATION_TRANSFER_STATE_CHANGED,
            context.clone(),
            transfer_steps::TransferStepHandler::new(store.clone(), notifier.clone()),
        ),
        Worker::consumer(
            &topology::NOTIFICATION_TRANSFER_CONTACT,
            context.clone(),
            transfer_contact::TransferContactHandler::new(notifier.clone()),
        ),
        Worker::consumer(
            &topology::NOTIFICATION_ALERTS,
            context.clone(),
            alerts::StuckHandler::new(notifier.clone()),
        ),
        Worker::consumer(
            &topology::NOTIFICATION_DEAD_LETTERED,
            context,
            alerts::DeadLetterHandler::new(notifier),
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
    let sender = sender::Sender::new(pool.clone(), sealer, channels, settings.delivery.clone());
    let sending = stop.child_token();
    let sender = tokio::spawn(sender.run(sending.clone()));
    let served = service::run(parts, &settings, pool, listener, stop).await;
    announcing.cancel();
    sending.cancel();
    announcer.await?;
    sender.await?;
    served
}

/// An organisation told by webhook signs nothing without its key: refuse to start, naming it.
fn refuse_webhooks_without_secrets(
    organisations: &refroute_platform::access::Organisations,
    channels: &channel::Channels,
) -> anyhow::Result<()> {
    for org in organisations.all() {
        let has_webhook = org.channels.iter().any(|c| {
            matches!(
                c.address,
                refroute_platform::access::organisations::ChannelAddress::Webhook(_)
            )
        });
        if has_webhook && !channels.has_webhook_secret(&org.id) {
            anyhow::bail!(
                "organisation '{id}' has a webhook channel but no signing key: set \
                 delivery.webhook_secrets.\"{id}\" in the REFROUTE_CONFIG file (or \
                 REFROUTE__DELIVERY__WEBHOOK_SECRETS__{id})",
                id = org.id,
            );
        }
    }
    Ok(())
}
