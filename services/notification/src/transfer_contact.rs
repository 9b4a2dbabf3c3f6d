//! Transfers to a destination with no refroute deployment (`transfer.contact_requested`): another
//! force's Prevent team, a MARAC not on refroute. The case goes to the destination's contacts in
//! the area directory ([`crate::recipients::transfer_recipients`]) by a channel approved for
//! personal data only, since the message is the case itself (`TRANSFER_CONTACT`), with the
//! single-use code its recipient gives back to the sending coordinator to acknowledge it.
//!
//! - With no such contact it is recorded `NO_RECIPIENT`, which alarms, so an operator sees it;
//!   the transfer service raises the non-delivery alert at the end of the window anyway.
//! - A contact on the referral's do-not-inform list is refused (docs/DOMAIN.md 4).
//! - Recorded in the consumer's transaction, so a redelivered request is recorded once (the
//!   inbox).

use crate::deliveries::Notifier;
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming};
use refroute_proto::v1::{Referral, TransferContactRequested, TransferKind};
use sqlx::PgConnection;
use uuid::Uuid;

/// The referral a contact request's deliveries are recorded under (the case's own id, else
/// the transfer's), and the referral itself, whose do-not-inform list is checked. `Err` says
/// why the request is malformed; retrying cannot help.
pub fn parse(event: &TransferContactRequested) -> Result<(Uuid, &Referral), String> {
    let transfer_id: Uuid = event
        .transfer_id
        .trim()
        .parse()
        .map_err(|_| "whose transfer_id is not a UUID".to_string())?;
    if matches!(
        TransferKind::try_from(event.kind),
        Ok(TransferKind::Unspecified) | Err(_)
    ) {
        return Err(format!(
            "whose kind is not a known transfer kind ({})",
            event.kind
        ));
    }
    if event.acknowledgement_code.trim().is_empty() {
        return Err("without an acknowledgement code, so it could never be acknowledged".into());
    }
    let referral = event
        .referral
        .as_ref()
        .filter(|r| r.details.is_some())
        .ok_or("without the case's details, so there is nothing to send and no do-not-inform list to check")?;
    let referral_id = referral.id.trim().parse().unwrap_or(transfer_id);
    Ok((referral_id, referral))
}

/// Consumes `transfer.contact_requested` into `TRANSFER_CONTACT` deliveries.
pub struct TransferContactHandler {
    notifier: Notifier,
}

impl TransferContactHandler {
    pub fn new(notifier: Notifier) -> Self {
        Self { notifier }
    }
}

impl Handler for TransferContactHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: TransferContactRequested = message.decode()?;
        let (referral_id, referral) = parse(&event).map_err(|why| {
            HandleError::permanent(format!("{} {why}", TransferContactRequested::TYPE))
        })?;
        let planned = self
            .notifier
            .planner
            .transfer_contact(&event, referral_id, referral);
        self.notifier.owe(tx, &planned).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_proto::v1::{PreventReferral, referral};

    fn request() -> TransferContactRequested {
        TransferContactRequested {
            transfer_id: Uuid::now_v7().to_string(),
            kind: TransferKind::PreventHandover as i32,
            acknowledgement_code: "K7Q2-M9XD".into(),
            referral: Some(Referral {
                id: Uuid::now_v7().to_string(),
                details: Some(referral::Details::Prevent(PreventReferral::default())),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_request_is_recorded_under_the_cases_referral_else_the_transfer() {
        let e = request();
        let (id, _) = parse(&e).unwrap();
        assert_eq!(id.to_string(), e.referral.as_ref().unwrap().id);
        let mut e = request();
        e.referral.as_mut().unwrap().id.clear();
        assert_eq!(parse(&e).unwrap().0.to_string(), e.transfer_id);
    }

    #[test]
    fn a_request_that_cannot_be_sent_or_checked_is_malformed() {
        let mut e = request();
        e.transfer_id = "x".into();
        assert!(parse(&e).unwrap_err().contains("transfer_id"));
        for kind in [0, 9] {
            let mut e = request();
            e.kind = kind;
            assert!(parse(&e).unwrap_err().contains("kind"), "{kind}");
        }
        let mut e = request();
        e.acknowledgement_code = " ".into();
        assert!(parse(&e).unwrap_err().contains("acknowledgement code"));
        let mut e = request();
        e.referral.as_mut().unwrap().details = None;
        assert!(parse(&e).unwrap_err().contains("do-not-inform"));
        let mut e = request();
        e.referral = None;
        assert!(parse(&e).unwrap_err().contains("do-not-inform"));
    }
}
