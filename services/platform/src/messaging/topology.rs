//! The broker topology, and who may touch which part of it. Each service declares, on every
//! (re)connect, the two exchanges and its own queues (with their dead-letter queues and
//! bindings), and nothing of any other service: its broker user may configure nothing else
//! ([`permissions`]). An event published before its consumer has ever declared its queue is
//! returned as unroutable and stays in the outbox, which publishes it again shortly.

use super::Event;
use crate::settings::AmqpSettings;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use refroute_proto::v1;

/// Where messages that failed for good go, one dead-letter queue per source queue.
pub const DEAD_LETTER_EXCHANGE: &str = "refroute.dead-letter";

pub struct QueueSpec {
    pub name: &'static str,
    /// The exchange its bindings are on.
    pub source: Source,
    /// Routing keys: events (`referral.routed.v1`), or for [`Source::DeadLetters`] the names of
    /// the queues whose dead letters it takes a copy of.
    pub bindings: &'static [&'static str],
}

/// Where a queue's messages come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The events exchange.
    Events,
    /// The dead-letter exchange: a copy of every message another queue dead-letters (each
    /// queue's own `.dlq` keeps the message itself, for `refroute dead-letters`).
    DeadLetters,
}

pub const TRIAGE_REFERRAL_RECEIVED: QueueSpec = QueueSpec {
    name: "triage.referral-received",
    source: Source::Events,
    bindings: &["referral.received.v1"],
};
pub const TRIAGE_CASE_HEARD: QueueSpec = QueueSpec {
    name: "triage.case-heard",
    source: Source::Events,
    bindings: &["case.heard.v1"],
};
pub const INTAKE_REFERRAL_OUTCOMES: QueueSpec = QueueSpec {
    name: "intake.referral-outcomes",
    source: Source::Events,
    bindings: &[
        "referral.routed.v1",
        "referral.below_threshold.v1",
        "referral.declined.v1",
        "referral.needs_review.v1",
        "transfer.requested.v1",
    ],
};
pub const NOTIFICATION_REFERRAL_ROUTED: QueueSpec = QueueSpec {
    name: "notification.referral-routed",
    source: Source::Events,
    bindings: &["referral.routed.v1"],
};
pub const NOTIFICATION_REFERRAL_NEEDS_REVIEW: QueueSpec = QueueSpec {
    name: "notification.referral-needs-review",
    source: Source::Events,
    bindings: &["referral.needs_review.v1"],
};
/// Outcomes that leave no case in a queue: a referral that waited for review and was then
/// decided one of these leaves the review queue.
pub const NOTIFICATION_REVIEW_RESOLVED: QueueSpec = QueueSpec {
    name: "notification.review-resolved",
    source: Source::Events,
    bindings: &[
        "referral.below_threshold.v1",
        "referral.declined.v1",
        "transfer.requested.v1",
    ],
};
pub const NOTIFICATION_RESIDENCE_NOTICE: QueueSpec = QueueSpec {
    name: "notification.residence-notice",
    source: Source::Events,
    bindings: &["residence.notice_requested.v1"],
};
pub const TRANSFER_TRANSFER_REQUESTED: QueueSpec = QueueSpec {
    name: "transfer.transfer-requested",
    source: Source::Events,
    bindings: &["transfer.requested.v1"],
};

/// A case a peer deployment offered here, for triage under this deployment's rules.
pub const TRIAGE_TRANSFER_RECEIVED: QueueSpec = QueueSpec {
    name: "triage.transfer-received",
    source: Source::Events,
    bindings: &["transfer.received.v1"],
};
/// Outcomes that answer a received transfer without a coordinator: the receiving area's own
/// threshold not met, or its panel's rules not accepting the case (a declined transfer).
pub const TRANSFER_REFERRAL_OUTCOMES: QueueSpec = QueueSpec {
    name: "transfer.referral-outcomes",
    source: Source::Events,
    bindings: &["referral.below_threshold.v1", "referral.declined.v1"],
};
/// Transfers' steps: who is told, and a declined or undeliverable case back in the sender's queue.
pub const NOTIFICATION_TRANSFER_STATE_CHANGED: QueueSpec = QueueSpec {
    name: "notification.transfer-state-changed",
    source: Source::Events,
    bindings: &["transfer.state_changed.v1"],
};
/// Transfers to destinations with no deployment, sent to their directory contact.
pub const NOTIFICATION_TRANSFER_CONTACT: QueueSpec = QueueSpec {
    name: "notification.transfer-contact",
    source: Source::Events,
    bindings: &["transfer.contact_requested.v1"],
};

/// Alerts any service raises about itself (a stuck consumer), for the operators.
pub const NOTIFICATION_ALERTS: QueueSpec = QueueSpec {
    name: "notification.alerts",
    source: Source::Events,
    bindings: &["consumer.stuck.v1"],
};

/// A copy of every dead letter, so the operators are alerted (notification's `alerts.rs`).
pub const NOTIFICATION_DEAD_LETTERED: QueueSpec = QueueSpec {
    name: "notification.dead-lettered",
    source: Source::DeadLetters,
    bindings: &[
        "triage.referral-received",
        "triage.case-heard",
        "intake.referral-outcomes",
        "notification.referral-routed",
        "notification.referral-needs-review",
        "notification.review-resolved",
        "notification.residence-notice",
        "transfer.transfer-requested",
        "notification.alerts",
        "triage.transfer-received",
        "transfer.referral-outcomes",
        "notification.transfer-state-changed",
        "notification.transfer-contact",
    ],
};

/// Every queue; each belongs to the service its name begins with (`triage.case-heard`: triage).
pub const QUEUES: [&QueueSpec; 14] = [
    &TRIAGE_REFERRAL_RECEIVED,
    &TRIAGE_CASE_HEARD,
    &INTAKE_REFERRAL_OUTCOMES,
    &NOTIFICATION_REFERRAL_ROUTED,
    &NOTIFICATION_REFERRAL_NEEDS_REVIEW,
    &NOTIFICATION_REVIEW_RESOLVED,
    &NOTIFICATION_RESIDENCE_NOTICE,
    &TRANSFER_TRANSFER_REQUESTED,
    &NOTIFICATION_ALERTS,
    &NOTIFICATION_DEAD_LETTERED,
    &TRIAGE_TRANSFER_RECEIVED,
    &TRANSFER_REFERRAL_OUTCOMES,
    &NOTIFICATION_TRANSFER_STATE_CHANGED,
    &NOTIFICATION_TRANSFER_CONTACT,
];

pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

/// Which service publishes each event (routing key and `type`): a consumer refuses an event
/// from any other broker user (when per-service users are configured, `amqp.users`).
pub const PUBLISHERS: [(&str, &str, &str); 12] = [
    publisher::<v1::ReferralReceived>("intake"),
    publisher::<v1::ReferralRouted>("triage"),
    publisher::<v1::ReferralBelowThreshold>("triage"),
    publisher::<v1::ReferralDeclined>("triage"),
    publisher::<v1::ReferralNeedsReview>("triage"),
    publisher::<v1::TransferRequested>("triage"),
    publisher::<v1::ResidenceNoticeRequested>("triage"),
    publisher::<v1::CaseHeard>("notification"),
    publisher::<v1::ConsumerStuck>(ANY_SERVICE),
    publisher::<v1::TransferReceived>("transfer"),
    publisher::<v1::TransferStateChanged>("transfer"),
    publisher::<v1::TransferContactRequested>("transfer"),
];

/// The publisher of an event every service may publish (about itself).
pub const ANY_SERVICE: &str = "*";

const fn publisher<E: Event>(service: &'static str) -> (&'static str, &'static str, &'static str) {
    (E::ROUTING_KEY, E::TYPE, service)
}

/// The service that publishes a message sent under `routing_key`, or, for one put straight onto
/// its queue (a dead letter replayed through the default exchange, which takes write permission
/// on the queue itself), the service that publishes its `message_type`.
pub fn publisher_of(routing_key: &str, message_type: &str) -> Option<&'static str> {
    PUBLISHERS
        .iter()
        .find(|(key, _, _)| *key == routing_key)
        .or_else(|| PUBLISHERS.iter().find(|(_, kind, _)| *kind == message_type))
        .map(|(_, _, service)| *service)
}

/// The queues `service` consumes, and so declares.
pub fn queues_of(service: &str) -> Vec<&'static QueueSpec> {
    QUEUES
        .into_iter()
        .filter(|q| {
            q.name
                .split_once('.')
                .is_some_and(|(owner, _)| owner == service)
        })
        .collect()
}

/// A service broker user's rights in the virtual host, as RabbitMQ regular expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    pub configure: String,
    pub write: String,
    pub read: String,
}

/// The one statement of what `service`'s broker user may do: declare the two exchanges and its
/// own queues and their dead-letter queues (configure); publish to the events exchange, bind its
/// queues and name the dead-letter exchange in a queue's arguments, which RabbitMQ counts as
/// writing to it (write); consume its own queues and bind from the exchanges (read). It can neither
/// consume, declare, bind nor delete another service's queue, nor read a dead-letter queue
/// (that is the operator's, `refroute dead-letters`). `refroute broker-users` prints it as
/// rabbitmqctl commands.
pub fn permissions(service: &str, exchange: &str) -> Permissions {
    let queues: Vec<String> = queues_of(service)
        .iter()
        .map(|q| q.name.to_string())
        .collect();
    let dead_letter: Vec<String> = queues.iter().map(|q| dead_letter_queue(q)).collect();
    let exchanges = [exchange.to_string(), DEAD_LETTER_EXCHANGE.to_string()];
    let any_of = |names: &[&[String]]| {
        let names: Vec<String> = names
            .iter()
            .flat_map(|n| n.iter())
            .map(|n| escape(n))
            .collect();
        format!("^({})$", names.join("|"))
    };
    Permissions {
        configure: any_of(&[&exchanges, &queues, &dead_letter]),
        write: any_of(&[&exchanges, &queues, &dead_letter]),
        read: any_of(&[&exchanges, &queues]),
    }
}

/// `name` as a regular expression matching itself alone.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The user an AMQP URI logs in as (`guest` when it names none, as the client defaults).
pub fn user_of(uri: &str) -> Option<String> {
    uri.parse::<lapin::uri::AMQPUri>()
        .ok()
        .map(|u| u.authority.userinfo.username)
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn quorum_args(settings: &AmqpSettings, dead_letter_to: Option<&str>) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(ShortString::from("x-queue-type"), text("quorum"));
    if let Some(queue) = dead_letter_to {
        // RabbitMQ 3.10 has no default delivery limit: without one a message that crashes its
        // consumer is redelivered for ever.
        args.insert(
            ShortString::from("x-delivery-limit"),
            AMQPValue::LongInt(settings.delivery_limit as i32),
        );
        args.insert(
            ShortString::from("x-dead-letter-exchange"),
            text(DEAD_LETTER_EXCHANGE),
        );
        args.insert(ShortString::from("x-dead-letter-routing-key"), text(queue));
        // At-least-once dead-lettering keeps the message in the source queue until the
        // dead-letter queue confirms it; it requires reject-publish overflow.
        args.insert(
            ShortString::from("x-dead-letter-strategy"),
            text("at-least-once"),
        );
        args.insert(ShortString::from("x-overflow"), text("reject-publish"));
    }
    args
}

/// Declares every queue, exchange and binding over a connection of its own to `settings.uri`
/// (a user allowed to configure them all). Services with their own broker users declare only
/// their own queues, so this runs once before they first start: otherwise an event published
/// before its consumer's queue existed would reach the other queues bound to it and never that
/// one.
pub async fn declare_everything(settings: &AmqpSettings) -> lapin::Result<()> {
    let conn = lapin::Connection::connect(
        settings.uri.expose(),
        lapin::ConnectionProperties::default(),
    )
    .await?;
    let channel = conn.create_channel().await?;
    declare(&channel, settings, &QUEUES).await?;
    conn.close(200, ShortString::from("topology declared"))
        .await
}

/// Declares the events and dead-letter exchanges and `queues`, each with its dead-letter queue
/// and bindings.
pub async fn declare(
    channel: &Channel,
    settings: &AmqpSettings,
    queues: &[&QueueSpec],
) -> lapin::Result<()> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            ShortString::from(settings.exchange.as_str()),
            ExchangeKind::Topic,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            ShortString::from(DEAD_LETTER_EXCHANGE),
            ExchangeKind::Direct,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    for spec in queues {
        let dlq = dead_letter_queue(spec.name);
        channel
            .queue_declare(
                ShortString::from(dlq.as_str()),
                durable(),
                quorum_args(settings, None),
            )
            .await?;
        channel
            .queue_bind(
                ShortString::from(dlq.as_str()),
                ShortString::from(DEAD_LETTER_EXCHANGE),
                ShortString::from(spec.name),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_declare(
                ShortString::from(spec.name),
                durable(),
                quorum_args(settings, Some(spec.name)),
            )
            .await?;
        let exchange = match spec.source {
            Source::Events => settings.exchange.as_str(),
            Source::DeadLetters => DEAD_LETTER_EXCHANGE,
        };
        for key in spec.bindings {
            channel
                .queue_bind(
                    ShortString::from(spec.name),
                    ShortString::from(exchange),
                    ShortString::from(*key),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_queue_belongs_to_a_service_and_every_key_has_one_publisher() {
        let owned: usize = crate::db::SERVICES.iter().map(|s| queues_of(s).len()).sum();
        assert_eq!(owned, QUEUES.len());
        for queue in QUEUES.iter().filter(|q| q.source == Source::Events) {
            for key in queue.bindings {
                assert!(publisher_of(key, "").is_some(), "{key} has no publisher");
            }
        }
    }

    #[test]
    fn the_dead_letter_copy_takes_every_other_queues_dead_letters() {
        let others: Vec<&str> = QUEUES
            .iter()
            .filter(|q| q.source == Source::Events)
            .map(|q| q.name)
            .collect();
        assert_eq!(NOTIFICATION_DEAD_LETTERED.bindings, others.as_slice());
    }

    #[test]
    fn a_replayed_dead_letter_is_known_by_its_type() {
        assert_eq!(
            publisher_of("notification.referral-routed", "refroute.v1.ReferralRouted"),
            Some("triage")
        );
        assert_eq!(publisher_of("case.heard.v1", ""), Some("notification"));
        assert_eq!(publisher_of("triage.case-heard", "made.Up"), None);
    }

    #[test]
    fn a_services_permissions_name_its_own_queues_only() {
        let p = permissions("intake", "refroute.events");
        assert_eq!(
            p.configure,
            r"^(refroute\.events|refroute\.dead-letter|intake\.referral-outcomes|intake\.referral-outcomes\.dlq)$"
        );
        assert_eq!(
            p.write,
            r"^(refroute\.events|refroute\.dead-letter|intake\.referral-outcomes|intake\.referral-outcomes\.dlq)$"
        );
        assert_eq!(
            p.read,
            r"^(refroute\.events|refroute\.dead-letter|intake\.referral-outcomes)$"
        );
        let triage = permissions("triage", "refroute.events");
        assert!(triage.read.contains(r"triage\.case-heard"));
        assert!(!triage.read.contains("notification"));
    }

    #[test]
    fn the_user_of_a_uri() {
        assert_eq!(
            user_of("amqps://refroute-intake:pw@mq.example:5671/refroute").as_deref(),
            Some("refroute-intake")
        );
        assert_eq!(
            user_of("amqp://127.0.0.1:5672/%2f").as_deref(),
            Some("guest")
        );
    }
}
