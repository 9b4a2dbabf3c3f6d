//! Consumes `case.heard`: the meeting that heard a MARAC case, so that areas counting repeats
//! from the last meeting have a date to count from.

use crate::SCHEMA;
use prost::Message;
use refroute_platform::messaging::{HandleError, Handler, Incoming, inbox};
use refroute_proto::v1::{CaseHeard, Panel};
use sqlx::PgPool;
use uuid::Uuid;

const CONSUMER: &str = "triage.case-heard";

pub struct HeardHandler {
    pool: PgPool,
}

impl HeardHandler {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl Handler for HeardHandler {
    async fn handle(&self, message: &Incoming) -> Result<(), HandleError> {
        let event = CaseHeard::decode(message.payload.as_slice())?;
        let permanent = |why: String| HandleError::Permanent(anyhow::anyhow!(why));
        let referral_id: Uuid = event
            .referral_id
            .parse()
            .map_err(|_| permanent(format!("referral id '{}' is not a UUID", event.referral_id)))?;
        let heard_on: chrono::NaiveDate = event.meeting_date.parse().map_err(|_| {
            permanent(format!(
                "meeting date '{}' is not a date",
                event.meeting_date
            ))
        })?;
        if event.panel() != Panel::Marac {
            // Only MARAC repeats are counted; other panels' hearings need nothing here.
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        if !inbox::claim(&mut tx, SCHEMA, CONSUMER, message.message_id).await? {
            return Ok(());
        }
        let updated =
            sqlx::query("UPDATE triage.marac_referrals SET heard_on = $2 WHERE referral_id = $1")
                .bind(referral_id)
                .bind(heard_on)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        if updated.rows_affected() == 0 {
            tracing::warn!(%referral_id, "hearing recorded for a case triage did not send to MARAC");
        } else {
            tracing::info!(%referral_id, %heard_on, "MARAC hearing recorded");
        }
        Ok(())
    }
}
