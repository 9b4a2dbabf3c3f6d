//! Residence notices (docs/DOMAIN.md 2.2): a Community MARAC case stays with the panel of the area
//! where the behaviour happened, and the statutory services of the area where the person lives
//! are notified and invited. Each notice becomes one delivery in `notification.deliveries`,
//! addressed to that area's statutory-services contact in the directory and sent like every
//! other notification ([`crate::sender`]).
//!
//! Two rules hold here, whatever the directory says:
//! - a notice is never dropped: with no contact to address it to, it is recorded `NO_RECIPIENT`
//!   and raised as `alarm=notification_without_recipient`;
//! - nobody on the referral's do-not-inform list is ever told (docs/DOMAIN.md 4): a notice
//!   addressed to one is recorded `REFUSED`, never sent, and alarmed.

use crate::deliveries::Notifier;
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming};
use refroute_proto::v1::{Referral, ResidenceNoticeRequested};
use sqlx::PgConnection;
use uuid::Uuid;

/// `deliveries.kind` of a residence notice.
pub const RESIDENCE_NOTICE: &str = crate::message::Kind::ResidenceNotice.as_str();
/// `deliveries.recipient_role` of a notice not yet addressed to anyone.
pub const UNRESOLVED: &str = "UNRESOLVED";

/// Why a notice cannot be recorded: permanent, so the message is dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {0}", kind = ResidenceNoticeRequested::TYPE)]
pub struct InvalidNotice(String);

/// The notice's id, its referral's id, and the referral, whose do-not-inform list must be
/// checked before anyone is told.
pub fn parse(event: &ResidenceNoticeRequested) -> Result<(Uuid, Uuid, &Referral), InvalidNotice> {
    let invalid = |why: &str| InvalidNotice(why.to_string());
    let notice_id: Uuid = event
        .notice_id
        .trim()
        .parse()
        .map_err(|_| invalid("whose notice_id is not a UUID"))?;
    let referral_id: Uuid = event
        .referral_id
        .trim()
        .parse()
        .map_err(|_| invalid("whose referral_id is not a UUID"))?;
    let referral = event.referral.as_ref().ok_or_else(|| {
        invalid("without its referral, so its do-not-inform list cannot be checked")
    })?;
    if referral.details.is_none() {
        return Err(invalid(
            "whose referral has no details, so its do-not-inform list cannot be checked",
        ));
    }
    if !referral.id.is_empty() && referral.id.trim().parse::<Uuid>().ok() != Some(referral_id) {
        return Err(invalid("whose referral is not the one referral_id names"));
    }
    Ok((notice_id, referral_id, referral))
}

/// Consumes `residence.notice_requested` into `notification.deliveries`.
pub struct NoticeHandler {
    notifier: Notifier,
}

impl NoticeHandler {
    pub fn new(notifier: Notifier) -> Self {
        Self { notifier }
    }
}

impl Handler for NoticeHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: ResidenceNoticeRequested = message.decode()?;
        let (notice_id, referral_id, referral) = parse(&event).map_err(HandleError::permanent)?;
        let planned =
            self.notifier
                .planner
                .residence_notice(notice_id, referral_id, &event, referral);
        self.notifier.owe(tx, std::slice::from_ref(&planned)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_proto::v1::{CommunityMaracReferral, referral};

    fn notice() -> ResidenceNoticeRequested {
        let referral_id = Uuid::now_v7().to_string();
        ResidenceNoticeRequested {
            notice_id: Uuid::now_v7().to_string(),
            referral_id: referral_id.clone(),
            panel_area_code: "E09000001".into(),
            residence_area_code: "E09000012".into(),
            decision: None,
            referral: Some(Referral {
                id: referral_id,
                details: Some(referral::Details::CommunityMarac(
                    CommunityMaracReferral::default(),
                )),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_notice_names_itself_and_its_referral() {
        let e = notice();
        let (notice_id, referral_id, _) = parse(&e).unwrap();
        assert_eq!(notice_id.to_string(), e.notice_id);
        assert_eq!(referral_id.to_string(), e.referral_id);
    }

    #[test]
    fn a_notice_whose_list_cannot_be_checked_is_refused() {
        let mut e = notice();
        e.referral = None;
        assert!(parse(&e).unwrap_err().to_string().contains("do-not-inform"));
        let mut e = notice();
        e.referral.as_mut().unwrap().details = None;
        assert!(parse(&e).unwrap_err().to_string().contains("no details"));
        let mut e = notice();
        e.notice_id = "x".into();
        assert!(parse(&e).unwrap_err().to_string().contains("notice_id"));
        let mut e = notice();
        e.referral_id = Uuid::now_v7().to_string();
        assert!(parse(&e).unwrap_err().to_string().contains("not the one"));
    }
}
