//! Consumes `transfer.requested`: records the transfer triage asked for, sealed, in state
//! REQUESTED, with the time by which a receipt must come. The courier offers it from there.

use crate::changed::Announcer;
use crate::state::State;
use crate::store;
use prost::Message;
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::messaging::{HandleError, Handler, Incoming};
use refroute_proto::v1::{TransferKind, TransferRequested};
use sqlx::PgConnection;
use std::time::Duration;
use uuid::Uuid;

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
    pub announcer: Announcer,
    /// How long the receiver has to give a receipt.
    pub deliver_within: Duration,
}

fn uuid(s: &str, what: &str) -> Result<Uuid, HandleError> {
    s.parse::<Uuid>()
        .map_err(|_| HandleError::permanent(format!("{what} '{}' is not a UUID", s.escape_debug())))
}

impl Handler for TransferRequestedHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: TransferRequested = message.decode()?;
        let transfer_id = uuid(&event.transfer_id, "transfer_id")?;
        let referral_id = uuid(&event.referral_id, "referral_id")?;
        let (kind, panel) = kind_and_panel(event.kind)?;
        let force = Some(event.to_police_force_code.trim()).filter(|f| !f.is_empty());
        let within = chrono::Duration::from_std(self.deliver_within)
            .map_err(|e| HandleError::permanent(format!("delivery window: {e}")))?;
        let requested = store::Requested {
            id: transfer_id,
            referral_id,
            from_area_code: &event.from_area_code,
            to_area_code: &event.to_area_code,
            panel,
            kind: kind.as_str_name(),
            to_police_force_code: force,
            sealed_case: self
                .announcer
                .sealer
                .seal(&event.transfer_id, &event.encode_to_vec()),
            deliver_by: chrono::Utc::now() + within,
        };
        if !store::insert_requested(tx, &requested).await? {
            return Ok(());
        }
        self.announcer
            .step(
                tx,
                transfer_id,
                State::Requested,
                &format!(
                    "{} asked for by triage, from {} to {}",
                    match kind {
                        TransferKind::PreventHandover => "Prevent handover",
                        _ => "MARAC-to-MARAC transfer",
                    },
                    event.from_area_code,
                    force.unwrap_or(&event.to_area_code)
                ),
                &message.trace,
            )
            .await
            .map_err(crate::classified)?;
        // What the receiving area will be passed, by field name, recorded with the transfer.
        let entry = Entry::new(
            crate::SCHEMA,
            crate::SCHEMA,
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
        Ok(())
    }
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
