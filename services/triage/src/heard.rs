//! Consumes `case.heard`: the meeting that heard a MARAC case, so that areas counting repeats
//! from the last meeting have a date to count from.

use refroute_platform::messaging::{HandleError, Handler, Incoming};
use refroute_proto::v1::{CaseHeard, Panel};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct HeardHandler;

impl Handler for HeardHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: CaseHeard = message.decode()?;
        let permanent = HandleError::permanent;
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
        let updated =
            sqlx::query("UPDATE triage.marac_referrals SET heard_on = $2 WHERE referral_id = $1")
                .bind(referral_id)
                .bind(heard_on)
                .execute(tx)
                .await?;
        if updated.rows_affected() == 0 {
            tracing::warn!(%referral_id, "hearing recorded for a case triage did not send to MARAC");
        } else {
            tracing::info!(%referral_id, %heard_on, "MARAC hearing recorded");
        }
        Ok(())
    }
}
