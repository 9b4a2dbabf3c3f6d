//! Transfer: records every MARAC-to-MARAC transfer triage requests, sealed, in state REQUESTED.
//! Delivering it to the receiving deployment (`ExchangeService`, receipts, non-delivery alerts)
//! builds on this record.

use prost::Message;
use refroute_platform::Settings;
use refroute_platform::crypto::Sealer;
use refroute_platform::grpc::GrpcServer;
use refroute_platform::messaging::{
    HandleError, Handler, Incoming, Outbox, Worker, inbox, topology,
};
use refroute_platform::service;
use refroute_proto::v1::TransferRequested;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const SCHEMA: &str = "transfer";
const CONSUMER: &str = "transfer.transfer-requested";

/// The state of a transfer that has been asked for and not yet offered to the receiver.
pub const STATE_REQUESTED: &str = "REQUESTED";

pub struct TransferRequestedHandler {
    pool: PgPool,
    sealer: Sealer,
}

impl Handler for TransferRequestedHandler {
    async fn handle(&self, message: &Incoming) -> Result<(), HandleError> {
        let event = TransferRequested::decode(message.payload.as_slice())?;
        let parse = |s: &str, what: &str| {
            s.parse::<Uuid>()
                .map_err(|_| HandleError::Permanent(anyhow::anyhow!("{what} '{s}' is not a UUID")))
        };
        let transfer_id = parse(&event.transfer_id, "transfer_id")?;
        let referral_id = parse(&event.referral_id, "referral_id")?;
        let sealed = self.sealer.seal(&event.transfer_id, &event.encode_to_vec());

        let mut tx = self.pool.begin().await?;
        if !inbox::claim(&mut tx, SCHEMA, CONSUMER, message.message_id).await? {
            return Ok(());
        }
        let done = sqlx::query(
            "INSERT INTO transfer.transfers (id, referral_id, from_area_code, to_area_code, panel, state, sealed_case) \
             VALUES ($1, $2, $3, $4, 'MARAC', $5, $6) ON CONFLICT (referral_id) DO NOTHING",
        )
        .bind(transfer_id)
        .bind(referral_id)
        .bind(&event.from_area_code)
        .bind(&event.to_area_code)
        .bind(STATE_REQUESTED)
        .bind(sealed)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if done.rows_affected() == 1 {
            tracing::info!(%transfer_id, from = %event.from_area_code, to = %event.to_area_code, "transfer requested");
        }
        Ok(())
    }
}

pub async fn run(
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let sealer = Sealer::from_base64(settings.security.data_key.expose())?;
    let outbox = Outbox::new(SCHEMA, sealer.clone());
    let server = GrpcServer::new();
    let handler = TransferRequestedHandler {
        pool: pool.clone(),
        sealer,
    };
    let consumers = vec![Worker::consumer(
        topology::TRANSFER_TRANSFER_REQUESTED.name,
        settings.amqp.prefetch,
        Arc::new(handler),
    )];
    let parts = service::Parts {
        name: "transfer",
        server,
        outbox,
        consumers,
        metrics_addr: settings.transfer.metrics_addr.clone(),
    };
    service::run(parts, &settings, pool, listener, stop).await
}
