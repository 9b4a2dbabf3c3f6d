//! Operators are told when a consumer is stuck ([`StuckHandler`]: any service publishes
//! `consumer.stuck` about itself) and when a message is dead-lettered ([`DeadLetterHandler`]). The `notification.dead-lettered` queue
//! is bound to the dead-letter exchange under every other queue's name, so it gets a copy of
//! each message any consumer rejects for good and each one the broker dead-letters at its
//! delivery limit, whichever service consumed it; the message itself stays in its queue's
//! `.dlq` for `refroute dead-letters`. Each copy becomes an `ALERT_DEAD_LETTERED` notification
//! to every operator, naming the queue, the message's type and id and the referral, never its
//! content. A message replayed and dead-lettered again keeps its id, so the inbox lets it
//! alert only once.

use crate::deliveries::Notifier;
use refroute_platform::messaging::{HandleError, Handler, Incoming};
use refroute_proto::v1::ConsumerStuck;
use sqlx::PgConnection;

pub struct DeadLetterHandler {
    notifier: Notifier,
}

impl DeadLetterHandler {
    pub fn new(notifier: Notifier) -> Self {
        Self { notifier }
    }
}

impl Handler for DeadLetterHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        // Dead-lettered under the name of the queue that gave it up.
        let queue = &message.routing_key;
        tracing::warn!(
            alarm = "message_dead_lettered",
            queue = %queue,
            message_id = %message.message_id,
            message_type = %message.message_type.escape_debug(),
            "a message was dead-lettered; the operators are told"
        );
        let planned = self.notifier.planner.dead_lettered(
            queue,
            &message.message_type,
            message.message_id,
            &message.correlation_id,
        );
        self.notifier.owe(tx, &planned).await
    }
}

/// Consumes `consumer.stuck` into an `ALERT_CONSUMER_STUCK` notification to every operator.
pub struct StuckHandler {
    notifier: Notifier,
}

impl StuckHandler {
    pub fn new(notifier: Notifier) -> Self {
        Self { notifier }
    }
}

impl Handler for StuckHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let stuck: ConsumerStuck = message.decode()?;
        let planned = self.notifier.planner.consumer_stuck(&stuck);
        self.notifier.owe(tx, &planned).await
    }
}
