//! Transfer: carries each MARAC-to-MARAC transfer and Prevent handover triage asks for to the
//! area that must hear it, and tracks it until it is answered (docs/TRANSFERS.md).
//!
//! - Sending: `transfer.requested` is recorded (`requested.rs`); the courier (`courier.rs`)
//!   offers it to the peer deployment serving the destination over mutual TLS (`peers.rs`),
//!   retrying with backoff until a receipt comes, or sends it to the destination's directory
//!   contact when no deployment serves it; no receipt within `exchange.deliver_within_secs`
//!   makes it undeliverable.
//! - Receiving: `ExchangeService` (`exchange.rs`) stores a peer's offer and answers with a
//!   receipt; triage decides it under this deployment's rules; the coordinator's answer
//!   (`api.rs`) or the rules' (`outcomes.rs`) goes back to the sender.
//! - Every step is a row of history and a `transfer.state_changed` event (`changed.rs`).

pub mod api;
pub mod changed;
pub mod courier;
pub mod crossing;
pub mod error;
pub mod exchange;
pub mod outcomes;
pub mod peers;
pub mod requested;
pub mod state;
pub mod store;

use anyhow::Context;
use refroute_domain::AreaCode;
use refroute_platform::access::Role;
use refroute_platform::grpc::GrpcServer;
use refroute_platform::messaging::{ConsumerContext, HandleError, Outbox, Worker, topology};
use refroute_platform::{Settings, reference, service};
use refroute_proto::v1::exchange_service_server::ExchangeServiceServer;
use refroute_proto::v1::transfer_service_server::TransferServiceServer;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const SCHEMA: &str = "transfer";

/// A failure inside a consumer: the database's may pass, anything else (a record that cannot
/// be opened) will not.
pub(crate) fn classified(e: anyhow::Error) -> HandleError {
    match e.downcast::<sqlx::Error>() {
        Ok(db) => db.into(),
        Err(other) => HandleError::Permanent(other),
    }
}

pub async fn run(
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let sealer = refroute_platform::keys::load(&settings)?.sealer;
    let organisations = Arc::new(refroute_platform::access::organisations(&settings.access)?);
    let has_peers = organisations.all().iter().any(|o| o.has(Role::Peer));
    let peers = peers::Peers::from_settings(&settings, has_peers)?;
    let crossing = crossing::Crossing::new(&settings.exchange.fields)?;
    let directory = Arc::new(reference::directory(&settings.directory)?);
    let area = AreaCode::parse(&settings.partnership.receiving_area_code)
        .context("partnership.receiving_area_code")?;
    let outbox = Outbox::new(SCHEMA, sealer.clone());
    let announcer = || changed::Announcer {
        outbox: outbox.clone(),
        sealer: sealer.clone(),
    };
    let shared = Arc::new(announcer());
    let max = settings.transfer.max_request_bytes;
    let server = GrpcServer::new()
        .add_service(
            ExchangeServiceServer::new(exchange::ExchangeApi {
                pool: pool.clone(),
                announcer: shared.clone(),
                directory,
                area,
            })
            .max_decoding_message_size(max),
        )
        .add_service(
            TransferServiceServer::new(api::TransferApi {
                pool: pool.clone(),
                announcer: shared.clone(),
            })
            .max_decoding_message_size(max),
        );
    let context = ConsumerContext {
        pool: pool.clone(),
        schema: SCHEMA,
        outbox: Some(outbox.clone()),
    };
    let consumers = vec![
        Worker::consumer(
            &topology::TRANSFER_TRANSFER_REQUESTED,
            context.clone(),
            requested::TransferRequestedHandler {
                announcer: announcer(),
                deliver_within: settings.exchange.deliver_within(),
            },
        ),
        Worker::consumer(
            &topology::TRANSFER_REFERRAL_OUTCOMES,
            context,
            outcomes::OutcomeHandler {
                announcer: announcer(),
            },
        ),
    ];
    let courier = courier::Courier {
        pool: pool.clone(),
        announcer: shared,
        organisations,
        peers,
        crossing,
        settings: settings.exchange.clone(),
    };
    let parts = service::Parts {
        name: "transfer",
        server,
        outbox,
        consumers,
        metrics_addr: settings.transfer.metrics_addr.clone(),
    };
    let carrying = stop.child_token();
    let courier = tokio::spawn(courier.run(carrying.clone()));
    let served = service::run(parts, &settings, pool, listener, stop).await;
    carrying.cancel();
    courier.await?;
    served
}
