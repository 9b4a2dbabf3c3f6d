//! The courier: offers each requested transfer to the peer deployment that serves its
//! destination (retrying with backoff until a receipt comes), sends a transfer to a destination
//! with no deployment to its directory contact, sends each answer given here back to the
//! sender, and declares undeliverable what has had no receipt within the window.

use crate::changed::{self, Announcer};
use crate::crossing::Crossing;
use crate::peers::{CallError, Peers};
use crate::state::{Answer, State};
use crate::store::{self, Row};
use anyhow::Context;
use refroute_domain::AreaCode;
use refroute_platform::access::Organisations;
use refroute_platform::audit::{self, Entry};
use refroute_platform::messaging::TraceContext;
use refroute_platform::settings::ExchangeSettings;
use refroute_proto::v1::{self, TransferContactRequested};
use sha2::Digest;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What audit entries about transfers record.
pub mod action {
    /// A peer deployment holds the case (its receipt): who received which fields, when, under
    /// which lawful basis. The actor is the peer.
    pub const DELIVERED: &str = "transfer.delivered";
    /// The case was handed to the notification service for the destination's contact (whose
    /// own `notification.sent` records the disclosure).
    pub const SENT_TO_CONTACT: &str = "transfer.sent_to_contact";
    /// A peer's offer was stored here.
    pub const RECEIVED: &str = "transfer.received";
    /// A coordinator here (or this area's rules) answered a received transfer.
    pub const DECIDED: &str = "transfer.decided";
    /// A destination's contact acknowledged a transfer (its code, read back).
    pub const ACKNOWLEDGED: &str = "transfer.acknowledged";
}

pub struct Courier {
    pub pool: PgPool,
    pub announcer: Arc<Announcer>,
    pub organisations: Arc<Organisations>,
    pub peers: Peers,
    pub crossing: Crossing,
    pub settings: ExchangeSettings,
}

/// A single-use acknowledgement code: 12 characters from an alphabet without look-alikes
/// (60 bits), in three groups to read over the phone.
pub fn acknowledgement_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // A v4 UUID is 122 bits from the operating system's generator; 32 symbols take 5 bits each.
    let random = uuid::Uuid::new_v4().as_u128();
    let chars: Vec<char> = (0..12)
        .map(|i| ALPHABET[((random >> (5 * i)) & 31) as usize] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The hash a code is kept as; the same code however it is typed back.
pub fn code_hash(code: &str) -> Vec<u8> {
    let canonical: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    sha2::Sha256::digest(canonical.as_bytes()).to_vec()
}

/// The wait before attempt `attempts + 1`: doubling from `initial`, at most `max`.
pub fn backoff(attempts: i32, initial: Duration, max: Duration) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    initial.saturating_mul(1 << doublings).min(max)
}

impl Courier {
    pub async fn run(self, stop: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_ms);
        loop {
            let worked = match self.tick().await {
                Ok(worked) => worked,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "transfer courier: will try again");
                    false
                }
            };
            if !worked {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(poll) => {}
                }
            } else if stop.is_cancelled() {
                return;
            }
        }
    }

    /// One round: closes overdue transfers, then does at most one offer and one answer.
    async fn tick(&self) -> anyhow::Result<bool> {
        for id in store::overdue(&self.pool).await? {
            self.undeliverable(id, "no receipt within the delivery window")
                .await?;
        }
        let lease = Duration::from_secs(self.settings.timeout_secs * 2 + 5);
        let mut worked = false;
        if let Some(row) = store::claim_offer(&self.pool, lease).await? {
            self.offer(row).await?;
            worked = true;
        }
        if let Some(row) = store::claim_answer(&self.pool, lease).await? {
            self.send_answer(row).await?;
            worked = true;
        }
        Ok(worked)
    }

    fn retry_at(&self, attempts: i32) -> chrono::DateTime<chrono::Utc> {
        let wait = backoff(
            attempts,
            Duration::from_millis(self.settings.retry_initial_ms),
            Duration::from_millis(self.settings.retry_max_ms),
        );
        chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
    }

    async fn undeliverable(&self, id: uuid::Uuid, reason: &str) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        if store::undeliverable(&mut tx, id, reason).await? {
            self.announcer
                .step(
                    &mut tx,
                    id,
                    State::Undeliverable,
                    reason,
                    &TraceContext::start(),
                )
                .await?;
            tracing::error!(
                alarm = "transfer_undeliverable",
                transfer_id = %id,
                reason,
                "transfer undeliverable: the sending coordinator is alerted"
            );
            refroute_platform::metrics::increment("refroute_transfers_undeliverable_total", &[]);
        }
        tx.commit().await?;
        self.announcer.outbox.notify_committed();
        Ok(())
    }

    /// Offers `row` to the peer serving its destination, or sends it to the destination's contact.
    async fn offer(&self, row: Row) -> anyhow::Result<()> {
        let to = AreaCode::parse(&row.to_area_code)
            .with_context(|| format!("transfer {} has no valid destination", row.id))?;
        let Some(peer) = self.organisations.peer_serving(&to).cloned() else {
            return self.send_to_contact(row).await;
        };
        let asked = changed::requested(&row, &self.announcer.sealer)?;
        let case = asked
            .referral
            .as_ref()
            .map(|r| self.crossing.apply(r, &asked.transfer_id));
        let offer = v1::OfferTransferRequest {
            transfer_id: asked.transfer_id.clone(),
            kind: asked.kind,
            from_area_code: asked.from_area_code.clone(),
            to_area_code: asked.to_area_code.clone(),
            to_police_force_code: asked.to_police_force_code.clone(),
            decision: asked.decision.clone(),
            referral: case.clone(),
        };
        if row.state() == State::Requested {
            let mut tx = self.pool.begin().await?;
            if store::offering(&mut tx, row.id, &peer.id).await? {
                let detail = format!("offering to {} ({})", peer.name, peer.id);
                self.announcer
                    .step(
                        &mut tx,
                        row.id,
                        State::Offered,
                        &detail,
                        &TraceContext::start(),
                    )
                    .await?;
            }
            tx.commit().await?;
        }
        let url = peer.exchange.clone().unwrap_or_default();
        let answer = match self.peers.client(&url).await {
            Ok(mut client) => client
                .offer_transfer(offer)
                .await
                .map(|r| r.into_inner())
                .map_err(|s| CallError::of(&s)),
            Err(e) => Err(e),
        };
        match answer {
            Ok(receipt) => self.receipt(&row, &peer, receipt, case.as_ref()).await,
            Err(CallError::Transient(why)) => {
                tracing::warn!(transfer_id = %row.id, peer = %peer.id, attempts = row.attempts, error = %why, "offer failed; will try again");
                store::attempt_failed(&self.pool, row.id, &why, self.retry_at(row.attempts))
                    .await?;
                Ok(())
            }
            Err(CallError::Refused(why)) => {
                let reason = format!("refused by {}: {why}", peer.id);
                self.undeliverable(row.id, &reason).await
            }
        }
    }

    async fn receipt(
        &self,
        row: &Row,
        peer: &refroute_platform::access::Organisation,
        receipt: v1::TransferReceipt,
        case: Option<&v1::Referral>,
    ) -> anyhow::Result<()> {
        let receipt_id: uuid::Uuid = receipt.receipt_id.parse().with_context(|| {
            format!("{} answered with a receipt id that is not a UUID", peer.id)
        })?;
        let mut tx = self.pool.begin().await?;
        if store::received(&mut tx, row.id, receipt_id).await? {
            let detail = format!("receipt {receipt_id} from {} ({})", peer.name, peer.id);
            self.announcer
                .step(
                    &mut tx,
                    row.id,
                    State::Received,
                    &detail,
                    &TraceContext::start(),
                )
                .await?;
            let entry = self.disclosed(&peer.id, action::DELIVERED, row, case);
            audit::append(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        self.announcer.outbox.notify_committed();
        Ok(())
    }

    /// A destination no peer serves: its directory contact is sent the case (by the notification
    /// service, by a channel approved for personal data) with a single-use acknowledgement code.
    async fn send_to_contact(&self, row: Row) -> anyhow::Result<()> {
        if row.state() != State::Requested {
            return Ok(());
        }
        let asked = changed::requested(&row, &self.announcer.sealer)?;
        // Known by the original referral's id: the deliveries that carry it are that
        // referral's (ListDeliveries), and no deployment there keys anything on it.
        let case = asked.referral.as_ref().map(|r| {
            let mut case = self.crossing.apply(r, &asked.transfer_id);
            case.id = row.referral_id.to_string();
            case
        });
        let code = acknowledgement_code();
        let mut tx = self.pool.begin().await?;
        if store::contacted(&mut tx, row.id, &code_hash(&code)).await? {
            let to = if asked.to_police_force_code.is_empty() {
                asked.to_area_code.clone()
            } else {
                asked.to_police_force_code.clone()
            };
            let detail =
                format!("sent to the directory contact of {to}; waiting for its acknowledgement");
            let moved = self
                .announcer
                .step(
                    &mut tx,
                    row.id,
                    State::Offered,
                    &detail,
                    &TraceContext::start(),
                )
                .await?;
            let event = TransferContactRequested {
                transfer_id: asked.transfer_id.clone(),
                kind: asked.kind,
                from_area_code: asked.from_area_code.clone(),
                to_area_code: asked.to_area_code.clone(),
                to_police_force_code: asked.to_police_force_code.clone(),
                decision: asked.decision.clone(),
                referral: case.clone(),
                acknowledgement_code: code,
                deliver_by: changed::to_wire(&moved, &[]).deliver_by,
            };
            self.announcer
                .outbox
                .enqueue(
                    &mut tx,
                    &event,
                    &row.referral_id.to_string(),
                    &TraceContext::start(),
                )
                .await?;
            let entry = self.disclosed(crate::SCHEMA, action::SENT_TO_CONTACT, &row, case.as_ref());
            audit::append(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        self.announcer.outbox.notify_committed();
        Ok(())
    }

    /// The audit entry of a case passed on: to whom (`actor`), which fields, the lawful basis.
    fn disclosed(
        &self,
        actor: &str,
        action: &str,
        row: &Row,
        case: Option<&v1::Referral>,
    ) -> Entry {
        Entry::new(
            crate::SCHEMA,
            actor,
            action,
            audit::REFERRAL,
            &row.referral_id.to_string(),
        )
        .fields(case.map(|c| self.crossing.fields(c)).unwrap_or_default())
        .lawful_basis(audit::lawful_basis(case.and_then(|c| c.details.as_ref())))
    }

    /// Sends the answer given here back to the deployment that offered the transfer.
    async fn send_answer(&self, row: Row) -> anyhow::Result<()> {
        let Some(answer) = Answer::of_state(row.state()) else {
            return Ok(());
        };
        let peer_id = row.peer_id.clone().unwrap_or_default();
        let Some(url) = self
            .organisations
            .by_id(&peer_id)
            .and_then(|p| p.exchange.clone())
        else {
            let why = format!(
                "the peer {peer_id} that offered it is no longer in the organisations file"
            );
            tracing::error!(alarm = "transfer_answer_undeliverable", transfer_id = %row.id, "{why}");
            return Ok(store::answer_refused(&self.pool, row.id, &why).await?);
        };
        let request = v1::AnswerTransferRequest {
            transfer_id: row.id.to_string(),
            answer: answer.to_wire() as i32,
            reason: row.reason.clone().unwrap_or_default(),
            answered_by: row.answered_by.clone().unwrap_or_default(),
        };
        let sent = match self.peers.client(&url).await {
            Ok(mut client) => client
                .answer_transfer(request)
                .await
                .map(drop)
                .map_err(|s| CallError::of(&s)),
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => {
                store::answer_sent(&self.pool, row.id).await?;
                tracing::info!(transfer_id = %row.id, peer = %peer_id, answer = answer.state().as_str(), "answer delivered to the sender");
            }
            Err(CallError::Transient(why)) => {
                tracing::warn!(transfer_id = %row.id, peer = %peer_id, error = %why, "answer not delivered; will try again");
                store::attempt_failed(&self.pool, row.id, &why, self.retry_at(row.attempts))
                    .await?;
            }
            Err(CallError::Refused(why)) => {
                tracing::error!(alarm = "transfer_answer_refused", transfer_id = %row.id, peer = %peer_id, error = %why, "the sender refused the answer");
                store::answer_refused(&self.pool, row.id, &why).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_single_use_shaped_and_typed_back_loosely() {
        let code = acknowledgement_code();
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!(code.matches('-').count(), 2);
        assert!(
            !code.contains('0')
                && !code.contains('O')
                && !code.contains('1')
                && !code.contains('I')
        );
        assert_ne!(code, acknowledgement_code());
        assert_eq!(
            code_hash(&code),
            code_hash(&code.to_lowercase().replace('-', " "))
        );
        assert_ne!(code_hash(&code), code_hash(&acknowledgement_code()));
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let (initial, max) = (Duration::from_secs(1), Duration::from_secs(60));
        let waits: Vec<u64> = (1..=8)
            .map(|a| backoff(a, initial, max).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(i32::MAX, initial, max), max);
        assert_eq!(backoff(0, initial, max), initial);
    }
}
