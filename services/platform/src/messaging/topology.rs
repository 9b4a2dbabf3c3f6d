//! The broker topology, declared in full by every service on every (re)connect, so that no
//! publish is unroutable because a consumer has not started yet, and a restarted broker is
//! rebuilt by whichever service reconnects first.

use crate::settings::AmqpSettings;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// Where messages that failed for good go, one dead-letter queue per source queue.
pub const DEAD_LETTER_EXCHANGE: &str = "refroute.dead-letter";

pub struct QueueSpec {
    pub name: &'static str,
    pub bindings: &'static [&'static str],
}

pub const TRIAGE_REFERRAL_RECEIVED: QueueSpec = QueueSpec {
    name: "triage.referral-received",
    bindings: &["referral.received.v1"],
};
pub const TRIAGE_CASE_HEARD: QueueSpec = QueueSpec {
    name: "triage.case-heard",
    bindings: &["case.heard.v1"],
};
pub const INTAKE_REFERRAL_OUTCOMES: QueueSpec = QueueSpec {
    name: "intake.referral-outcomes",
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
    bindings: &["referral.routed.v1"],
};
pub const NOTIFICATION_REFERRAL_NEEDS_REVIEW: QueueSpec = QueueSpec {
    name: "notification.referral-needs-review",
    bindings: &["referral.needs_review.v1"],
};
/// Outcomes that leave no case in a queue: a referral that waited for review and was then
/// decided one of these leaves the review queue.
pub const NOTIFICATION_REVIEW_RESOLVED: QueueSpec = QueueSpec {
    name: "notification.review-resolved",
    bindings: &[
        "referral.below_threshold.v1",
        "referral.declined.v1",
        "transfer.requested.v1",
    ],
};
pub const NOTIFICATION_RESIDENCE_NOTICE: QueueSpec = QueueSpec {
    name: "notification.residence-notice",
    bindings: &["residence.notice_requested.v1"],
};
pub const TRANSFER_TRANSFER_REQUESTED: QueueSpec = QueueSpec {
    name: "transfer.transfer-requested",
    bindings: &["transfer.requested.v1"],
};

pub const QUEUES: [&QueueSpec; 8] = [
    &TRIAGE_REFERRAL_RECEIVED,
    &TRIAGE_CASE_HEARD,
    &INTAKE_REFERRAL_OUTCOMES,
    &NOTIFICATION_REFERRAL_ROUTED,
    &NOTIFICATION_REFERRAL_NEEDS_REVIEW,
    &NOTIFICATION_REVIEW_RESOLVED,
    &NOTIFICATION_RESIDENCE_NOTICE,
    &TRANSFER_TRANSFER_REQUESTED,
];

pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
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

pub async fn declare(channel: &Channel, settings: &AmqpSettings) -> lapin::Result<()> {
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
    for spec in QUEUES {
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
        for key in spec.bindings {
            channel
                .queue_bind(
                    ShortString::from(spec.name),
                    ShortString::from(settings.exchange.as_str()),
                    ShortString::from(*key),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    Ok(())
}
