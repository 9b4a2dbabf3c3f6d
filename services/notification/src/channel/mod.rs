//! Delivery channels: how one rendered notification reaches its receiver, by email through the
//! deployment's SMTP relay or by a signed webhook to an organisation's HTTPS endpoint. A channel
//! only sends and says how it went; the delivery planner decides what to send, when, and what a
//! failure means for the next attempt.
//!
//! A failure is [`SendError::Transient`] (retry with backoff) or [`SendError::Permanent`] (stop
//! and raise it). Its text is logged and stored with the notification, so it names status codes,
//! the failure's class and at most a host: never the recipient's address, a URL's path, the
//! message, or a server's free text (which may quote the address back).

mod email;
pub mod signature;
mod webhook;

use refroute_platform::Secret;
use refroute_platform::settings::DeliverySettings;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One message ready to go: what a channel sends, already rendered and minimised.
pub struct Outgoing<'a> {
    /// The notification id: the receiver counts and de-duplicates by it.
    pub id: uuid::Uuid,
    /// e.g. "CASE_ROUTED"
    pub kind: &'a str,
    pub subject: &'a str,
    /// Plain-text body of an email.
    pub text: &'a str,
    /// JSON body of a webhook (already serialised).
    pub json: &'a [u8],
}

pub enum Address<'a> {
    Email(&'a str),
    /// `organisation_id` names the key in delivery.webhook_secrets.
    Webhook {
        url: &'a str,
        organisation_id: &'a str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// May succeed later: connection refused or reset, timeout, SMTP 4xx, HTTP 408/425/429/5xx,
    /// TLS handshake trouble, no SMTP relay configured.
    #[error("transient: {0}")]
    Transient(String),
    /// Will never succeed as configured: SMTP 5xx, HTTP 3xx/4xx (other than 408/425/429), a
    /// webhook URL that is not https, no secret for the organisation, a malformed address.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Both channels, built once from settings.
#[derive(Clone)]
pub struct Channels {
    /// `None` when `delivery.email.host` is empty.
    email: Option<email::EmailChannel>,
    webhook: webhook::WebhookChannel,
    webhook_secrets: Arc<BTreeMap<String, Secret>>,
}

impl Channels {
    /// Reads the CA files and builds the SMTP transport and the webhook TLS configuration; a bad
    /// value fails here, naming its key, not at the first send.
    pub fn from_settings(settings: &DeliverySettings) -> anyhow::Result<Self> {
        let email = if settings.email.host.trim().is_empty() {
            None
        } else {
            Some(email::EmailChannel::from_settings(&settings.email)?)
        };
        Ok(Self {
            email,
            webhook: webhook::WebhookChannel::from_settings(&settings.webhook)?,
            webhook_secrets: Arc::new(settings.webhook_secrets.clone()),
        })
    }

    /// Whether a webhook secret is configured for `organisation_id` (the service refuses to
    /// start when an organisation with a webhook has none). An empty value is none, so the
    /// environment can withdraw a key the configuration file gives.
    pub fn has_webhook_secret(&self, organisation_id: &str) -> bool {
        self.webhook_secret(organisation_id).is_some()
    }

    fn webhook_secret(&self, organisation_id: &str) -> Option<&[u8]> {
        self.webhook_secrets
            .get(organisation_id)
            .map(|s| s.expose().as_bytes())
            .filter(|s| !s.is_empty())
    }

    pub async fn send(&self, to: &Address<'_>, message: &Outgoing<'_>) -> Result<(), SendError> {
        match *to {
            Address::Email(address) => match &self.email {
                Some(email) => email.send(address, message).await,
                None => Err(SendError::Transient(
                    "no SMTP relay configured (delivery.email.host)".into(),
                )),
            },
            Address::Webhook {
                url,
                organisation_id,
            } => {
                let Some(secret) = self.webhook_secret(organisation_id) else {
                    return Err(SendError::Permanent(format!(
                        "no webhook secret for organisation '{organisation_id}' \
                         (delivery.webhook_secrets)"
                    )));
                };
                self.webhook.send(url, secret, message).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: Outgoing<'static> = Outgoing {
        id: uuid::Uuid::nil(),
        kind: "CASE_ROUTED",
        subject: "A case was routed",
        text: "text",
        json: b"{}",
    };

    fn channels(secrets: &[(&str, &str)]) -> Channels {
        let mut settings = refroute_platform::Settings::defaults().unwrap().delivery;
        settings.webhook_secrets = secrets
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect();
        Channels::from_settings(&settings).unwrap()
    }

    #[tokio::test]
    async fn without_a_relay_email_waits_and_without_a_key_a_webhook_is_refused() {
        let channels = channels(&[("city-police", "k"), ("withdrawn", "")]);
        assert_eq!(
            channels
                .send(&Address::Email("coordinator@example.org"), &MESSAGE)
                .await,
            Err(SendError::Transient(
                "no SMTP relay configured (delivery.email.host)".into()
            ))
        );
        assert!(channels.has_webhook_secret("city-police"));
        assert!(!channels.has_webhook_secret("withdrawn"), "empty is none");
        assert!(!channels.has_webhook_secret("elsewhere"));
        let hook = |organisation_id| Address::Webhook {
            url: "https://hooks.example.org/in",
            organisation_id,
        };
        let err = channels
            .send(&hook("withdrawn"), &MESSAGE)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SendError::Permanent(t) if t.contains("delivery.webhook_secrets")),
            "{err}"
        );
    }
}
