//! Transfer: records every transfer triage requests, sealed, in state REQUESTED: a
//! MARAC-to-MARAC transfer to the MARAC of the area where the victim lives, or a Prevent handover
//! to the police force of the area where the person lives. Each record keeps its kind, the panel
//! it is for and, for a handover, the receiving police force. Delivering it to the receiving
//! deployment (`ExchangeService`, receipts, non-delivery alerts) builds on this record.

use prost::Message;
use refroute_platform::Settings;
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::crypto::Sealer;
use refroute_platform::grpc::GrpcServer;
use refroute_platform::messaging::{
    ConsumerContext, HandleError, Handler, Incoming, Outbox, Worker, topology,
};
use refroute_platform::service;
use refroute_proto::v1::{TransferKind, TransferRequested};
use sqlx::{PgConnection, PgPool};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const SCHEMA: &str = "transfer";

/// The state of a transfer that has been asked for and not yet offered to the receiver.
pub const STATE_REQUESTED: &str = "REQUESTED";

/// The kind a transfer is stored under and the panel it is for. Events from before transfers had
/// a kind are MARAC-to-MARAC: that was the only kind.
pub fn kind_and_panel(kind: i32) -> Result<(TransferKind, &'static str), HandleError> {
    match TransferKind::try_from(kind) {
        Ok(TransferKind::Unspecified | TransferKind::MaracToMarac) => {
            Ok((TransferKind::MaracToMarac, "MARAC"))
        }
        Ok(TransferKind::PreventHandover) => Ok((TransferKind::PreventHandover, "PREVENT")),
        Err(_) => Err(HandleError::permanent(format!(
            "transfer kind {kind} is not a TransferKind"
        ))),
    }
}

pub struct TransferRequestedHandler {
    sealer: Sealer,
}

impl Handler for TransferRequestedHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: TransferRequested = message.decode()?;
        let parse = |s: &str, what: &str| {
            s.parse::<Uuid>().map_err(|_| {
                HandleError::permanent(format!("{what} '{}' is not a UUID", s.escape_debug()))
            })
        };
        let transfer_id = parse(&event.transfer_id, "transfer_id")?;
        let referral_id = parse(&event.referral_id, "referral_id")?;
        let (kind, panel) = kind_and_panel(event.kind)?;
        let force = Some(event.to_police_force_code.trim()).filter(|f| !f.is_empty());
        let sealed = self.sealer.seal(&event.transfer_id, &event.encode_to_vec());

        let done = sqlx::query(
            "INSERT INTO transfer.transfers (id, referral_id, from_area_code, to_area_code, panel, state, sealed_case, kind, to_police_force_code) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (referral_id) DO NOTHING",
        )
        .bind(transfer_id)
        .bind(referral_id)
        .bind(&event.from_area_code)
        .bind(&event.to_area_code)
        .bind(panel)
        .bind(STATE_REQUESTED)
        .bind(sealed)
        .bind(kind.as_str_name())
        .bind(force)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            // What the receiving area will be passed, by field name, recorded with the transfer.
            let entry = Entry::new(
                SCHEMA,
                SCHEMA,
                action::TRANSFER_REQUESTED,
                audit::REFERRAL,
                &event.referral_id,
            )
            .fields(audit::fields_of(&event))
            .lawful_basis(audit::lawful_basis(
                event.referral.as_ref().and_then(|r| r.details.as_ref()),
            ));
            // Last: the audit head stays locked until the consumer commits.
            audit::append(tx, &entry).await?;
            tracing::info!(
                %transfer_id,
                kind = kind.as_str_name(),
                from = %event.from_area_code,
                to = %event.to_area_code,
                to_police_force = force.unwrap_or(""),
                "{} requested",
                match kind {
                    TransferKind::PreventHandover => "Prevent handover",
                    _ => "MARAC-to-MARAC transfer",
                }
            );
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
    let sealer = refroute_platform::keys::load(&settings)?.sealer;
    let outbox = Outbox::new(SCHEMA, sealer.clone());
    let server = GrpcServer::new();
    let context = ConsumerContext {
        pool: pool.clone(),
        schema: SCHEMA,
        outbox: Some(outbox.clone()),
    };
    let consumers = vec![Worker::consumer(
        &topology::TRANSFER_TRANSFER_REQUESTED,
        context,
        TransferRequestedHandler { sealer },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_their_panels() {
        let kind = |k: TransferKind| kind_and_panel(k as i32).unwrap();
        assert_eq!(
            kind(TransferKind::MaracToMarac),
            (TransferKind::MaracToMarac, "MARAC")
        );
        assert_eq!(
            kind(TransferKind::PreventHandover),
            (TransferKind::PreventHandover, "PREVENT")
        );
        // Events from before transfers had a kind.
        assert_eq!(
            kind(TransferKind::Unspecified),
            (TransferKind::MaracToMarac, "MARAC")
        );
        assert!(matches!(kind_and_panel(9), Err(HandleError::Permanent(_))));
        assert_eq!(
            TransferKind::MaracToMarac.as_str_name(),
            "TRANSFER_KIND_MARAC_TO_MARAC",
            "the migration's default for existing rows"
        );
    }
}
