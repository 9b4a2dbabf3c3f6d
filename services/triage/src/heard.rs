//! Consumes `case.heard`: the meeting that heard a MARAC case, so that areas counting repeats
//! from the last meeting have a date to count from. The latest meeting wins, whatever order the
//! events arrive in.

use chrono::NaiveDate;
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
        let heard_on: NaiveDate = event.meeting_date.parse().map_err(|_| {
            permanent(format!(
                "meeting date '{}' is not a date",
                event.meeting_date
            ))
        })?;
        if event.panel() != Panel::Marac {
            // Only MARAC repeats are counted; other panels' hearings need nothing here.
            return Ok(());
        }
        // Repeat windows anchored on the last meeting must never move back: an older
        // case.heard arriving late (or replayed) leaves the later date, and a meeting before
        // the case was referred cannot have heard it.
        let stored: Option<(Option<NaiveDate>,)> = sqlx::query_as(
            "UPDATE triage.marac_referrals SET heard_on = GREATEST(heard_on, $2) \
             WHERE referral_id = $1 AND referred_on <= $2 RETURNING heard_on",
        )
        .bind(referral_id)
        .bind(heard_on)
        .fetch_optional(&mut *tx)
        .await?;
        match stored {
            Some((Some(latest),)) if latest == heard_on => {
                tracing::info!(%referral_id, %heard_on, "MARAC hearing recorded")
            }
            Some((latest,)) => tracing::warn!(
                %referral_id,
                %heard_on,
                latest = ?latest,
                "a MARAC hearing earlier than the one recorded arrived late or was replayed; the later stays"
            ),
            None => {
                let referred: Option<(NaiveDate,)> = sqlx::query_as(
                    "SELECT referred_on FROM triage.marac_referrals WHERE referral_id = $1",
                )
                .bind(referral_id)
                .fetch_optional(&mut *tx)
                .await?;
                match referred {
                    Some((referred_on,)) => tracing::warn!(
                        %referral_id,
                        %heard_on,
                        %referred_on,
                        "a MARAC hearing dated before the case was referred cannot have heard it; ignored"
                    ),
                    None => tracing::warn!(
                        %referral_id,
                        "hearing recorded for a case triage did not send to MARAC"
                    ),
                }
            }
        }
        Ok(())
    }
}
