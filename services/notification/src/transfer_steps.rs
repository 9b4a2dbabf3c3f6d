//! A transfer's steps (`transfer.state_changed`), on the side that holds the transfer.
//!
//! - Outbound, declined by the receiver or undeliverable to it: the case comes back to the
//!   sender's queue (the sending area's queue of the transfer's panel), through
//!   [`QueueStore::enqueue`] like any routed case, with a decision that says why it is back; the
//!   sending coordinators are told (`TRANSFER_DECLINED`, or the non-delivery alert
//!   `TRANSFER_UNDELIVERABLE`), and of a decline the referrer too (`REFERRAL_TRANSFER_DECLINED`).
//! - Outbound, accepted or acknowledged: the referrer is told (`REFERRAL_TRANSFER_ACCEPTED`).
//!   The steps before (requested, offered, received) tell nobody: the referrer was told at the
//!   request (`REFERRAL_TRANSFERRED`).
//! - Inbound, declined by this deployment's coordinator: the case it made here leaves the queue
//!   ([`queue::leave`]); it goes back to the sender, whose deployment puts it in its queue.
//!
//! Everything happens in the consumer's transaction, so a redelivered step changes nothing
//! twice (the inbox); a step repeated under another message id is not newer than itself
//! ([`queue::newest`]), so it queues and tells nothing either.

use crate::deliveries::Notifier;
use crate::message::Kind;
use crate::queue::{self, Destination, Leaving, QueueStore, Queued, Queueing};
use chrono::{DateTime, Utc};
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming};
use refroute_platform::wire::timestamp;
use refroute_proto::v1::{
    Decision, Outcome, Panel, Referral, Transfer, TransferDirection, TransferKind, TransferState,
    TransferStateChanged,
};
use sqlx::PgConnection;
use uuid::Uuid;

/// How an outbound transfer came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    Declined,
    Undeliverable,
}

/// A case back in the sender's queue, and who is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returning {
    pub how: Returned,
    /// What the sending coordinators of the panel are told.
    pub coordinators: Kind,
    /// What the referrer is told, if anything.
    pub referrer: Option<Kind>,
}

/// What a step does here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Return(Returning),
    /// Only the referrer is told.
    TellReferrer(Kind),
    /// The case that came by the transfer leaves this deployment's queue.
    Leave,
    Nothing,
}

/// What the step to `state` of a transfer held `direction` does.
pub fn effect(direction: TransferDirection, state: TransferState) -> Effect {
    use TransferDirection::{Inbound, Outbound};
    match (direction, state) {
        (Outbound, TransferState::Declined) => Effect::Return(Returning {
            how: Returned::Declined,
            coordinators: Kind::TransferDeclined,
            referrer: Some(Kind::ReferralTransferDeclined),
        }),
        // The referrer hears what becomes of the case from the sending coordinator, who now
        // has it back: nothing went wrong with the referral.
        (Outbound, TransferState::Undeliverable) => Effect::Return(Returning {
            how: Returned::Undeliverable,
            coordinators: Kind::TransferUndeliverable,
            referrer: None,
        }),
        (Outbound, TransferState::Accepted | TransferState::Acknowledged) => {
            Effect::TellReferrer(Kind::ReferralTransferAccepted)
        }
        (Inbound, TransferState::Declined) => Effect::Leave,
        _ => Effect::Nothing,
    }
}

/// The step an event reports: the transfer, which way it is held, and the state it reached.
/// `Err` says why it is malformed; retrying cannot help.
pub fn parse(
    event: &TransferStateChanged,
) -> Result<(&Transfer, TransferDirection, TransferState), String> {
    let transfer = event.transfer.as_ref().ok_or("without its transfer")?;
    let direction = match TransferDirection::try_from(transfer.direction) {
        Ok(TransferDirection::Unspecified) | Err(_) => {
            return Err(format!(
                "whose transfer has no known direction ({})",
                transfer.direction
            ));
        }
        Ok(d) => d,
    };
    let state = match TransferState::try_from(transfer.state) {
        Ok(TransferState::Unspecified) | Err(_) => {
            return Err(format!(
                "whose transfer has no known state ({})",
                transfer.state
            ));
        }
        Ok(s) => s,
    };
    Ok((transfer, direction, state))
}

/// When the step was taken: the last of the history (the step just taken), else the
/// transfer's update time. It orders the step among the referral's decisions.
pub fn step_time(transfer: &Transfer) -> Option<DateTime<Utc>> {
    transfer
        .history
        .last()
        .and_then(|s| s.time.as_ref())
        .or(transfer.update_time.as_ref())
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
}

fn uuid(what: &str, value: &str) -> Result<Uuid, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("whose {what} is not a UUID"))
}

/// The decision that puts a returned case back in the sender's queue: the sender's own, now
/// routed to the transfer's panel in the sending area, saying why it is back (`origin` and
/// `destination` as [`crate::plan::transfers::Places`] names them), decided when the step
/// was taken (so it is newer than the transfer request it answers).
pub fn returned_decision(
    how: Returned,
    transfer: &Transfer,
    sent: &Decision,
    origin: &str,
    destination: &str,
    at: DateTime<Utc>,
) -> Decision {
    let reason = transfer.reason.trim();
    let reason = match how {
        Returned::Declined if reason.is_empty() => {
            format!("Declined by {destination}. Back with {origin}.")
        }
        Returned::Declined => format!("Declined by {destination}: {reason}. Back with {origin}."),
        Returned::Undeliverable => {
            let received = if transfer.route.trim_start().starts_with("contact") {
                "acknowledgement"
            } else {
                "receipt"
            };
            let why = if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            };
            format!(
                "Undeliverable: no {received} from {destination} within the delivery window{why}. Back with {origin}."
            )
        }
    };
    Decision {
        outcome: Outcome::Routed as i32,
        panel: transfer.panel,
        destination_area_code: transfer.from_area_code.clone(),
        reason,
        decide_time: Some(timestamp(at)),
        // Routed here now: no longer a transfer.
        transfer_kind: TransferKind::Unspecified as i32,
        destination_police_force_code: String::new(),
        action_required: String::new(),
        ..sent.clone()
    }
}

/// The case as the sender had it: the event's minimised referral under the original referral's
/// id, with the referrer and its reference, which never crossed, put back.
fn sender_referral(
    event: &TransferStateChanged,
    transfer: &Transfer,
    name: Option<String>,
) -> Referral {
    let mut referral = event.referral.clone().unwrap_or_default();
    referral.id = transfer.referral_id.trim().to_string();
    referral.referrer_id = event.referrer_id.clone();
    referral.referrer_reference = event.referrer_reference.clone();
    if referral.referring_organisation.trim().is_empty()
        && let Some(name) = name
    {
        referral.referring_organisation = name;
    }
    referral
}

/// Consumes `transfer.state_changed`: returned cases into the sender's queue, cases declined
/// here out of it, and who is told.
pub struct TransferStepHandler {
    store: QueueStore,
    notifier: Notifier,
}

impl TransferStepHandler {
    pub fn new(store: QueueStore, notifier: Notifier) -> Self {
        Self { store, notifier }
    }

    async fn returned(
        &self,
        tx: &mut PgConnection,
        event: &TransferStateChanged,
        transfer: &Transfer,
        returning: Returning,
    ) -> Result<(), HandleError> {
        let how = returning.how;
        let invalid =
            |why: String| HandleError::permanent(format!("{} {why}", TransferStateChanged::TYPE));
        let referral_id = uuid("transfer's referral_id", &transfer.referral_id).map_err(invalid)?;
        let sent = event
            .decision
            .as_ref()
            .ok_or_else(|| invalid("without the sender's decision".into()))?;
        if event
            .referral
            .as_ref()
            .and_then(|r| r.details.as_ref())
            .is_none()
        {
            return Err(invalid(
                "without the case's details, so it cannot go back in the queue".into(),
            ));
        }
        if matches!(transfer.panel(), Panel::Unspecified | Panel::Review) {
            return Err(invalid(format!(
                "whose transfer names no panel to return the case to ({})",
                transfer.panel
            )));
        }
        let at = step_time(transfer)
            .ok_or_else(|| invalid("without a step time: its order cannot be known".into()))?;
        let planner = &self.notifier.planner;
        let places = planner.places_of(transfer);
        let decision =
            returned_decision(how, transfer, sent, &places.origin, &places.destination, at);
        let referral = sender_referral(
            event,
            transfer,
            planner.organisation_name(&event.referrer_id),
        );
        let case = queue::to_case(
            Some(referral.clone()),
            Some(decision.clone()),
            Destination::DecidedPanel,
        )
        .map_err(invalid)?;
        let queued = self.store.enqueue(tx, &case).await?;
        if queued == Queued::Unchanged {
            // Already back (the same step again), or a later decision applied: nobody is told twice.
            return Ok(());
        }
        tracing::info!(
            transfer_id = %transfer.transfer_id,
            %referral_id,
            area = %transfer.from_area_code,
            returned = ?how,
            "transfer came back: the case is in the sending queue again"
        );
        let queueing = Queueing {
            referral_id,
            referral,
            decision,
            transfer_id: String::new(),
        };
        let planned = planner.transfer_returned(
            transfer,
            &queueing,
            &event.referrer_id,
            returning.coordinators,
            returning.referrer,
        );
        self.notifier.owe(tx, &planned).await
    }

    async fn tell_referrer(
        &self,
        tx: &mut PgConnection,
        event: &TransferStateChanged,
        transfer: &Transfer,
        kind: Kind,
    ) -> Result<(), HandleError> {
        let invalid =
            |why: &str| HandleError::permanent(format!("{} {why}", TransferStateChanged::TYPE));
        let referral_id =
            uuid("transfer's referral_id", &transfer.referral_id).map_err(|why| invalid(&why))?;
        // Without the referral its do-not-inform list cannot be checked: nobody is told blind.
        let referral = event
            .referral
            .as_ref()
            .filter(|r| r.details.is_some())
            .ok_or_else(|| {
                invalid("without its referral, so its do-not-inform list cannot be checked")
            })?;
        let mut referral = referral.clone();
        referral.id = referral_id.to_string();
        let planned =
            self.notifier
                .planner
                .transfer_answered(event, transfer, referral_id, &referral, kind);
        self.notifier.owe(tx, &planned).await
    }

    async fn leave(&self, tx: &mut PgConnection, transfer: &Transfer) -> Result<(), HandleError> {
        let invalid =
            |why: String| HandleError::permanent(format!("{} {why}", TransferStateChanged::TYPE));
        let transfer_id = uuid("transfer_id", &transfer.transfer_id).map_err(invalid)?;
        let referral_id = uuid("transfer's referral_id", &transfer.referral_id).map_err(invalid)?;
        let at = step_time(transfer)
            .ok_or_else(|| invalid("without a step time: its order cannot be known".into()))?;
        // Ordered like a decision, so a routing replayed after the decline cannot put the case
        // back in the queue.
        if !queue::newest(tx, referral_id, at).await? {
            tracing::warn!(%transfer_id, "a transfer's decline arrived after a later decision; ignored");
            return Ok(());
        }
        if queue::leave(tx, referral_id, Leaving::Transfer(transfer_id)).await? {
            tracing::info!(%transfer_id, area = %transfer.to_area_code, "transfer declined here: the case left the queue");
        }
        Ok(())
    }
}

impl Handler for TransferStepHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: TransferStateChanged = message.decode()?;
        let (transfer, direction, state) = parse(&event).map_err(|why| {
            HandleError::permanent(format!("{} {why}", TransferStateChanged::TYPE))
        })?;
        match effect(direction, state) {
            Effect::Return(returning) => self.returned(tx, &event, transfer, returning).await,
            Effect::TellReferrer(kind) => self.tell_referrer(tx, &event, transfer, kind).await,
            Effect::Leave => self.leave(tx, transfer).await,
            Effect::Nothing => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_proto::v1::{Criterion, DomesticAbuseReferral, TransferStep, referral};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn transfer(direction: TransferDirection, state: TransferState) -> Transfer {
        Transfer {
            transfer_id: Uuid::now_v7().to_string(),
            kind: TransferKind::MaracToMarac as i32,
            direction: direction as i32,
            state: state as i32,
            from_area_code: "E09000001".into(),
            to_area_code: "E09000012".into(),
            panel: Panel::Marac as i32,
            referral_id: Uuid::now_v7().to_string(),
            route: "peer hackney-refroute".into(),
            reason: "below Hackney's threshold".into(),
            update_time: Some(timestamp(at(1_000))),
            history: vec![
                TransferStep {
                    state: TransferState::Offered as i32,
                    time: Some(timestamp(at(500))),
                    detail: String::new(),
                },
                TransferStep {
                    state: state as i32,
                    time: Some(timestamp(at(900))),
                    detail: String::new(),
                },
            ],
            ..Default::default()
        }
    }

    fn sent() -> Decision {
        Decision {
            outcome: Outcome::TransferRequested as i32,
            panel: Panel::Marac as i32,
            destination_area_code: "E09000012".into(),
            criterion: Criterion::VisibleHighRisk as i32,
            reason: "Visible high risk; the victim lives in Hackney".into(),
            dash_yes_count: 16,
            transfer_kind: TransferKind::MaracToMarac as i32,
            decide_time: Some(timestamp(at(100))),
            ..Default::default()
        }
    }

    #[test]
    fn each_step_does_what_its_direction_and_state_say() {
        use TransferDirection::{Inbound, Outbound};
        use TransferState::*;
        let returned = |how, coordinators, referrer| {
            Effect::Return(Returning {
                how,
                coordinators,
                referrer,
            })
        };
        let cases = [
            (Outbound, Requested, Effect::Nothing),
            (Outbound, Offered, Effect::Nothing),
            (Outbound, Received, Effect::Nothing),
            (
                Outbound,
                Accepted,
                Effect::TellReferrer(Kind::ReferralTransferAccepted),
            ),
            (
                Outbound,
                Acknowledged,
                Effect::TellReferrer(Kind::ReferralTransferAccepted),
            ),
            (
                Outbound,
                Declined,
                returned(
                    Returned::Declined,
                    Kind::TransferDeclined,
                    Some(Kind::ReferralTransferDeclined),
                ),
            ),
            (
                Outbound,
                Undeliverable,
                returned(Returned::Undeliverable, Kind::TransferUndeliverable, None),
            ),
            (Inbound, Requested, Effect::Nothing),
            (Inbound, Offered, Effect::Nothing),
            (Inbound, Received, Effect::Nothing),
            (Inbound, Accepted, Effect::Nothing),
            (Inbound, Acknowledged, Effect::Nothing),
            (Inbound, Undeliverable, Effect::Nothing),
            (Inbound, Declined, Effect::Leave),
        ];
        for (direction, state, want) in cases {
            assert_eq!(effect(direction, state), want, "{direction:?} {state:?}");
        }
    }

    #[test]
    fn a_step_without_its_transfer_or_with_an_unknown_state_is_malformed() {
        let ok = TransferStateChanged {
            transfer: Some(transfer(
                TransferDirection::Outbound,
                TransferState::Declined,
            )),
            ..Default::default()
        };
        let (_, direction, state) = parse(&ok).unwrap();
        assert_eq!(
            (direction, state),
            (TransferDirection::Outbound, TransferState::Declined)
        );
        let without = TransferStateChanged::default();
        assert!(
            parse(&without)
                .unwrap_err()
                .contains("without its transfer")
        );
        for bad_state in [0, 99] {
            let mut e = ok.clone();
            e.transfer.as_mut().unwrap().state = bad_state;
            assert!(
                parse(&e).unwrap_err().contains("no known state"),
                "{bad_state}"
            );
        }
        for bad_direction in [0, 7] {
            let mut e = ok.clone();
            e.transfer.as_mut().unwrap().direction = bad_direction;
            assert!(
                parse(&e).unwrap_err().contains("no known direction"),
                "{bad_direction}"
            );
        }
    }

    #[test]
    fn a_step_is_timed_by_its_last_history_entry_else_the_update() {
        let mut t = transfer(TransferDirection::Outbound, TransferState::Declined);
        assert_eq!(step_time(&t), Some(at(900)));
        t.history.clear();
        assert_eq!(step_time(&t), Some(at(1_000)));
        t.update_time = None;
        assert_eq!(step_time(&t), None);
    }

    #[test]
    fn a_declined_case_goes_back_to_the_sending_queue_saying_why() {
        let t = transfer(TransferDirection::Outbound, TransferState::Declined);
        let d = returned_decision(
            Returned::Declined,
            &t,
            &sent(),
            "City of London MARAC",
            "Hackney MARAC",
            at(900),
        );
        assert_eq!(
            d.reason,
            "Declined by Hackney MARAC: below Hackney's threshold. Back with City of London MARAC."
        );
        assert_eq!(d.outcome(), Outcome::Routed);
        assert_eq!(d.panel(), Panel::Marac);
        assert_eq!(d.destination_area_code, "E09000001", "the sender's queue");
        assert_eq!(d.transfer_kind(), TransferKind::Unspecified);
        assert_eq!(
            d.decide_time,
            Some(timestamp(at(900))),
            "newer than the request"
        );
        // What the sender decided still shows.
        assert_eq!(d.criterion(), Criterion::VisibleHighRisk);
        assert_eq!(d.dash_yes_count, 16);

        let mut t = t;
        t.reason.clear();
        let d = returned_decision(Returned::Declined, &t, &sent(), "A", "B", at(900));
        assert_eq!(d.reason, "Declined by B. Back with A.");
    }

    #[test]
    fn an_undeliverable_case_says_what_never_came() {
        let mut t = transfer(TransferDirection::Outbound, TransferState::Undeliverable);
        t.reason = "refused for good: unknown peer certificate".into();
        let d = returned_decision(
            Returned::Undeliverable,
            &t,
            &sent(),
            "City of London MARAC",
            "Hackney MARAC",
            at(900),
        );
        assert_eq!(
            d.reason,
            "Undeliverable: no receipt from Hackney MARAC within the delivery window (refused for good: unknown peer certificate). Back with City of London MARAC."
        );
        t.route = "contact prevent@kent.pnn.police.uk".into();
        t.reason.clear();
        let d = returned_decision(
            Returned::Undeliverable,
            &t,
            &sent(),
            "City of London Channel panel",
            "Kent Police Prevent team",
            at(900),
        );
        assert_eq!(
            d.reason,
            "Undeliverable: no acknowledgement from Kent Police Prevent team within the delivery window. Back with City of London Channel panel."
        );
    }

    #[test]
    fn the_returned_case_is_the_senders_with_its_referrer_put_back() {
        let t = transfer(TransferDirection::Outbound, TransferState::Declined);
        let event = TransferStateChanged {
            transfer: Some(t.clone()),
            referral: Some(Referral {
                // As offered: the transfer's id, no referrer.
                id: t.transfer_id.clone(),
                details: Some(referral::Details::DomesticAbuse(
                    DomesticAbuseReferral::default(),
                )),
                ..Default::default()
            }),
            decision: Some(sent()),
            referrer_id: "colp".into(),
            referrer_reference: "COLP-9".into(),
        };
        let r = sender_referral(&event, &t, Some("City of London Police".into()));
        assert_eq!(r.id, t.referral_id);
        assert_eq!(r.referrer_id, "colp");
        assert_eq!(r.referrer_reference, "COLP-9");
        assert_eq!(r.referring_organisation, "City of London Police");
        // The referral's own name for its referrer wins.
        let mut named = event.clone();
        named.referral.as_mut().unwrap().referring_organisation = "Victim Support".into();
        let r = sender_referral(&named, &t, Some("City of London Police".into()));
        assert_eq!(r.referring_organisation, "Victim Support");

        let case = queue::to_case(
            Some(r),
            Some(returned_decision(
                Returned::Declined,
                &t,
                &sent(),
                "City of London MARAC",
                "Hackney MARAC",
                at(900),
            )),
            Destination::DecidedPanel,
        )
        .unwrap();
        assert_eq!(
            (case.area_code.as_str(), case.panel()),
            ("E09000001", Panel::Marac)
        );
        assert_eq!(case.referrer_reference, "COLP-9");
        assert!(
            case.transfer_id.is_empty(),
            "no longer a transfer to decide"
        );
    }
}
