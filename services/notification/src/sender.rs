//! Sends what is due, by email or webhook, and records how it went. Each of
//! `delivery.senders` loops claims the delivery due longest ([`deliveries::claim`]), checks
//! its recipient against the referral's do-not-inform list once more, sends it, and records:
//! - sent: the recipient's server accepted it (SMTP) or answered 2xx (webhook), with the audit
//!   entry of the disclosure;
//! - failed: a failure that may pass (the server is down, SMTP 4xx, HTTP 5xx): due again after
//!   a backoff doubling from `retry_initial_ms` to `retry_max_ms`, until `give_up_after_secs`
//!   after it was first due;
//! - given up: a refusal no retry can change (SMTP 5xx, HTTP 4xx), or failing for too long;
//!   alarmed (`alarm=notification_given_up`).
//!
//! No database connection is held while a message is on its way: the claim moves the next
//! attempt past the send's timeout, so a sender that dies mid-send leaves the delivery due
//! again. The recipient may then see it twice, and can tell by the notification id.

use crate::channel::{Address, Channels, Outgoing, SendError};
use crate::deliveries::{self, Due, state};
use crate::recipients::Recipient;
use chrono::Utc;
use refroute_platform::access::organisations::ChannelAddress;
use refroute_platform::audit::Entry;
use refroute_platform::crypto::Sealer;
use refroute_platform::settings::DeliverySettings;
use sqlx::PgPool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Sender {
    pool: PgPool,
    sealer: Sealer,
    channels: Channels,
    settings: DeliverySettings,
}

/// The pause before attempt `attempts + 1`, after `attempts` failures.
pub fn backoff(settings: &DeliverySettings, attempts: u32) -> Duration {
    let initial = settings.retry_initial_ms.max(1);
    let factor = 1u64 << attempts.saturating_sub(1).min(30);
    Duration::from_millis(
        initial
            .saturating_mul(factor)
            .min(settings.retry_max_ms.max(initial)),
    )
}

impl Sender {
    pub fn new(
        pool: PgPool,
        sealer: Sealer,
        channels: Channels,
        settings: DeliverySettings,
    ) -> Self {
        Self {
            pool,
            sealer,
            channels,
            settings,
        }
    }

    /// Runs `delivery.senders` loops until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let loops: Vec<_> = (0..self.settings.senders.max(1))
            .map(|_| tokio::spawn(self.clone().run_one(stop.clone())))
            .collect();
        for l in loops {
            let _ = l.await;
        }
    }

    async fn run_one(self, stop: CancellationToken) {
        let idle = Duration::from_millis(self.settings.poll_ms.max(10));
        while !stop.is_cancelled() {
            let pause = match self.send_next().await {
                Ok(true) => continue,
                Ok(false) => idle,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "notification sender: the database is not answering; trying again");
                    idle * 4
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// The longest an attempt can take: the claim's lease.
    fn lease(&self) -> Duration {
        let longest = self
            .settings
            .email
            .timeout_secs
            .max(self.settings.webhook.timeout_secs);
        Duration::from_secs(longest.saturating_mul(2).max(5))
    }

    /// Sends the delivery due longest; false when none is due.
    async fn send_next(&self) -> anyhow::Result<bool> {
        let Some(due) = deliveries::claim(&self.pool, self.lease()).await? else {
            return Ok(false);
        };
        let span = tracing::info_span!("notification", notification_id = %due.id, referral_id = ?due.referral_id, kind = %due.kind);
        let _entered = span.enter();
        let prepared = match due.open(&self.sealer) {
            Ok(p) => p,
            Err(e) => {
                self.give_up(
                    &due,
                    &format!("its sealed message cannot be opened ({e:#})"),
                )
                .await?;
                return Ok(true);
            }
        };
        let Some(recipient) = recipient_of(&due, prepared.contact.clone()) else {
            self.give_up(&due, "its channel is not one refroute knows")
                .await?;
            return Ok(true);
        };
        // Again before every send, whatever was planned.
        if let Some(why) = prepared.must_not_be_told.refuses(&recipient) {
            let entry =
                deliveries::refusal_entry(due.referral_id, due.id, &due.recipient_id, &due.kind);
            deliveries::refused(&self.pool, due.id, why, &entry).await?;
            deliveries::count(&due.kind, &due.channel, state::REFUSED);
            tracing::warn!(alarm = "notification_refused", recipient = %due.recipient_id, "notification refused at send time: {why}");
            return Ok(true);
        }
        let address = match &recipient.address {
            ChannelAddress::Email(a) => Address::Email(a),
            ChannelAddress::Webhook(url) => Address::Webhook {
                url,
                organisation_id: &due.recipient_id,
            },
        };
        let outgoing = Outgoing {
            id: due.id,
            kind: &due.kind,
            subject: &prepared.subject,
            text: &prepared.text,
            json: prepared.json.as_bytes(),
        };
        drop(_entered);
        let result = self.channels.send(&address, &outgoing).await;
        let _entered = span.enter();
        match result {
            Ok(()) => {
                let (record_kind, record_id) = deliveries::audited_record(due.referral_id, due.id);
                let entry = Entry::new(
                    crate::SCHEMA,
                    &due.recipient_id,
                    deliveries::action::SENT,
                    record_kind,
                    &record_id,
                )
                .fields(prepared.fields.clone())
                .lawful_basis(prepared.lawful_basis.clone());
                deliveries::sent(&self.pool, due.id, &entry).await?;
                deliveries::count(&due.kind, &due.channel, state::SENT);
                tracing::info!(recipient = %due.recipient_id, channel = %due.channel, attempts = due.attempts, "notification sent");
            }
            Err(SendError::Permanent(why)) => self.give_up(&due, &why).await?,
            Err(SendError::Transient(why)) => {
                let first_due = due.created_at;
                let giving_up_at =
                    first_due + chrono::Duration::seconds(self.settings.give_up_after_secs as i64);
                if Utc::now() >= giving_up_at {
                    let why = format!(
                        "still failing after {} s: {why}",
                        self.settings.give_up_after_secs
                    );
                    self.give_up(&due, &why).await?;
                } else {
                    let pause = backoff(&self.settings, due.attempts.max(1) as u32);
                    let next = Utc::now()
                        + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::MAX);
                    deliveries::failed(&self.pool, due.id, &why, next).await?;
                    deliveries::count(&due.kind, &due.channel, state::FAILED);
                    tracing::info!(attempts = due.attempts, retry_in_ms = pause.as_millis() as u64, error = %why, "notification not sent yet; will retry");
                }
            }
        }
        Ok(true)
    }

    async fn give_up(&self, due: &Due, why: &str) -> anyhow::Result<()> {
        deliveries::given_up(&self.pool, due.id, why).await?;
        deliveries::count(&due.kind, &due.channel, state::GIVEN_UP);
        tracing::error!(
            alarm = "notification_given_up",
            notification_id = %due.id,
            referral_id = ?due.referral_id,
            kind = %due.kind,
            recipient = %due.recipient_id,
            channel = %due.channel,
            attempts = due.attempts,
            "notification given up: {why}. Tell the recipient another way; \
             `refroute deliveries <referral-id>` shows it"
        );
        Ok(())
    }
}

/// The recipient a delivery row names.
fn recipient_of(due: &Due, contact: Option<String>) -> Option<Recipient> {
    let address = due.recipient_address.clone().unwrap_or_default();
    let address = match due.channel.as_str() {
        "email" => ChannelAddress::Email(address),
        "webhook" => ChannelAddress::Webhook(address),
        _ => return None,
    };
    Some(Recipient {
        id: due.recipient_id.clone(),
        organisation: due.recipient_organisation.clone(),
        role: due.recipient_role.clone(),
        contact,
        address,
        personal_data: due.personal_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let mut s = refroute_platform::Settings::defaults().unwrap().delivery;
        s.retry_initial_ms = 100;
        s.retry_max_ms = 1000;
        let ms = |n| backoff(&s, n).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(4), ms(5), ms(40)],
            [100, 200, 400, 800, 1000, 1000]
        );
    }
}
