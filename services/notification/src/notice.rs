//! Residence notices (docs/DOMAIN.md 2.2): a Community MARAC case stays with the panel of the area
//! where the behaviour happened, and the statutory services of the area where the person lives
//! are notified and invited. Each notice becomes a delivery in `notification.deliveries`,
//! addressed to that area's statutory-services contact in the directory. Nothing is sent yet
//! (a delivery channel is later work): a delivery is recorded `PENDING_DELIVERY`.
//!
//! Two rules hold here, whatever the directory says:
//! - a notice is never dropped: with no contact to address it to, it is recorded `UNRESOLVED`
//!   and raised as `alarm=notice_without_recipient`;
//! - nobody on the referral's do-not-inform list is ever told (docs/DOMAIN.md 4): a notice addressed
//!   to one is refused and dead-lettered, and nothing is recorded.

use prost::Message;
use refroute_domain::directory::Contact;
use refroute_domain::{AreaCode, Directory};
use refroute_platform::crypto::Sealer;
use refroute_platform::messaging::{Event, HandleError, Handler, Incoming};
use refroute_proto::v1::{Referral, ResidenceNoticeRequested, referral};
use sqlx::PgConnection;
use std::sync::Arc;
use uuid::Uuid;

/// `deliveries.kind` of a residence notice.
pub const RESIDENCE_NOTICE: &str = "RESIDENCE_NOTICE";
/// `deliveries.state` until a delivery channel sends it.
pub const PENDING_DELIVERY: &str = "PENDING_DELIVERY";
/// `deliveries.recipient_role` when the directory has no contact to address the notice to.
pub const UNRESOLVED: &str = "UNRESOLVED";
/// The directory role a residence notice is addressed to starts with this.
pub const STATUTORY_SERVICES: &str = "Statutory services";

/// The contact of `area` a residence notice goes to: the first whose role starts with
/// "Statutory services" (in any case). `None` when the area or such a contact is missing.
pub fn statutory_services<'a>(directory: &'a Directory, area: &AreaCode) -> Option<&'a Contact> {
    directory.area(area)?.contacts.iter().find(|c| {
        let role = c.role.trim_start();
        role.get(..STATUTORY_SERVICES.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(STATUTORY_SERVICES))
    })
}

/// The referral's do-not-inform list, whichever pathway it follows.
pub fn do_not_inform(referral: &Referral) -> &[String] {
    match &referral.details {
        Some(referral::Details::DomesticAbuse(d)) => &d.do_not_inform,
        Some(referral::Details::CommunityMarac(c)) => &c.do_not_inform,
        Some(referral::Details::Prevent(p)) => &p.do_not_inform,
        None => &[],
    }
}

/// Case-insensitive, with runs of white space counted as one space and the ends trimmed.
fn normalised(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether `recipient` is someone the referral says must not be told: its organisation (or its
/// address, when it has one) matches an entry of `do_not_inform`, ignoring case and spacing.
/// Returns the entry matched. Empty entries match nothing.
pub fn must_not_be_told<'a>(recipient: &Contact, do_not_inform: &'a [String]) -> Option<&'a str> {
    let mut names = vec![normalised(&recipient.organisation)];
    names.extend(recipient.address.as_deref().map(normalised));
    names.retain(|n| !n.is_empty());
    do_not_inform
        .iter()
        .find(|entry| {
            let entry = normalised(entry);
            !entry.is_empty() && names.contains(&entry)
        })
        .map(String::as_str)
}

/// Why a notice cannot be recorded. Both are permanent: the message is dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("{kind} {0}", kind = ResidenceNoticeRequested::TYPE)]
    Invalid(String),
    /// The recipient is on the do-not-inform list. The organisation is directory data, not the
    /// person's; the list's other entries are never logged.
    #[error(
        "residence notice {notice_id} refused: its recipient, {organisation} ({role}) of area {area}, \
         is on the referral's do-not-inform list, and nobody on it may ever be told of the case. \
         Nothing was recorded. Correct the area directory's statutory-services contact, or have \
         the case corrected, then replay the dead letter"
    )]
    MustNotBeTold {
        notice_id: Uuid,
        area: String,
        role: String,
        organisation: String,
    },
}

/// What a notice will be recorded as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticePlan {
    pub notice_id: Uuid,
    pub referral_id: Uuid,
    /// The residence area, upper-cased when well formed, as given otherwise.
    pub to_area_code: String,
    /// `None`: no statutory-services contact for the area (recorded `UNRESOLVED`).
    pub recipient: Option<Contact>,
}

/// Decides who a notice goes to, refusing a recipient the referral says must not be told.
pub fn plan(
    event: &ResidenceNoticeRequested,
    directory: &Directory,
) -> Result<NoticePlan, NoticeError> {
    let invalid = |why: &str| NoticeError::Invalid(why.to_string());
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
    // An unknown or malformed area is still a notice owed: recorded unresolved, never dropped.
    let area = AreaCode::parse(&event.residence_area_code).ok();
    let to_area_code = area
        .as_ref()
        .map(|a| a.as_str().to_string())
        .unwrap_or_else(|| event.residence_area_code.trim().to_string());
    let recipient = area
        .as_ref()
        .and_then(|a| statutory_services(directory, a))
        .cloned();
    if let Some(contact) = &recipient
        && must_not_be_told(contact, do_not_inform(referral)).is_some()
    {
        return Err(NoticeError::MustNotBeTold {
            notice_id,
            area: to_area_code,
            role: contact.role.clone(),
            organisation: contact.organisation.clone(),
        });
    }
    Ok(NoticePlan {
        notice_id,
        referral_id,
        to_area_code,
        recipient,
    })
}

/// Consumes `residence.notice_requested` into `notification.deliveries`.
pub struct NoticeHandler {
    sealer: Sealer,
    directory: Arc<Directory>,
}

impl NoticeHandler {
    pub fn new(sealer: Sealer, directory: Arc<Directory>) -> Self {
        Self { sealer, directory }
    }
}

impl Handler for NoticeHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: ResidenceNoticeRequested = message.decode()?;
        let plan = plan(&event, &self.directory).map_err(HandleError::permanent)?;
        // What a delivery channel will send: the minimised referral and decision as triage
        // sent them, bound to the notice id.
        let sealed = self
            .sealer
            .seal(&plan.notice_id.to_string(), &event.encode_to_vec());
        let (role, organisation, address) = match &plan.recipient {
            Some(c) => (c.role.as_str(), c.organisation.as_str(), c.address.clone()),
            None => (UNRESOLVED, "", None),
        };

        let recorded = sqlx::query(
            "INSERT INTO notification.deliveries \
             (id, referral_id, kind, to_area_code, recipient_role, recipient_organisation, recipient_address, state, sealed_payload) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        )
        .bind(plan.notice_id)
        .bind(plan.referral_id)
        .bind(RESIDENCE_NOTICE)
        .bind(&plan.to_area_code)
        .bind(role)
        .bind(organisation)
        .bind(address)
        .bind(PENDING_DELIVERY)
        .bind(sealed)
        .execute(tx)
        .await?
        .rows_affected()
            == 1;
        match (recorded, &plan.recipient) {
            (false, _) => {
                tracing::info!(notice_id = %plan.notice_id, "residence notice already recorded")
            }
            (true, Some(c)) => tracing::info!(
                notice_id = %plan.notice_id,
                to_area = %plan.to_area_code,
                recipient_role = %c.role,
                recipient_organisation = %c.organisation,
                "residence notice recorded, pending delivery"
            ),
            (true, None) => tracing::warn!(
                alarm = "notice_without_recipient",
                notice_id = %plan.notice_id,
                to_area = %plan.to_area_code,
                "residence notice recorded without a recipient: the area directory has no \
                 statutory-services contact for the area of residence; add one (directory.file)"
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_proto::v1::{CommunityMaracReferral, DomesticAbuseReferral, PreventReferral};

    const DIRECTORY: &str = r#"
[[police_force]]
code = "E23000001"
name = "Metropolitan Police Service"

[[area]]
code = "E09000012"
name = "Hackney"
police_force = "E23000001"
panels = ["MARAC"]
[[area.contacts]]
role = "MARAC coordinator"
organisation = "Hackney MARAC"
[[area.contacts]]
role = "Statutory services (adult social care and mental health)"
organisation = "London Borough of Hackney"
address = "statutory@hackney.example.invalid"

[[area]]
code = "E09000019"
name = "Islington"
police_force = "E23000001"
panels = ["MARAC"]
[[area.contacts]]
role = "MARAC coordinator"
organisation = "Islington MARAC"
"#;

    fn directory() -> Directory {
        Directory::from_toml(DIRECTORY).unwrap()
    }

    fn hackney() -> AreaCode {
        AreaCode::parse("E09000012").unwrap()
    }

    fn notice(area: &str, do_not_inform: &[&str]) -> ResidenceNoticeRequested {
        let referral_id = Uuid::now_v7().to_string();
        ResidenceNoticeRequested {
            notice_id: Uuid::now_v7().to_string(),
            referral_id: referral_id.clone(),
            panel_area_code: "E09000001".into(),
            residence_area_code: area.into(),
            decision: None,
            referral: Some(Referral {
                id: referral_id,
                details: Some(referral::Details::CommunityMarac(CommunityMaracReferral {
                    do_not_inform: do_not_inform.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_recipient_is_the_residence_areas_statutory_services() {
        let d = directory();
        let c = statutory_services(&d, &hackney()).unwrap();
        assert_eq!(c.organisation, "London Borough of Hackney");
        assert_eq!(
            c.address.as_deref(),
            Some("statutory@hackney.example.invalid")
        );
        // An area without such a contact, and an area not in the directory, have none.
        assert!(statutory_services(&d, &AreaCode::parse("E09000019").unwrap()).is_none());
        assert!(statutory_services(&d, &AreaCode::parse("E06000035").unwrap()).is_none());
        // The role is matched at its start, in any case.
        let mut d = directory();
        d.extend_from_toml(
            "[[area]]\ncode = \"E09000019\"\nname = \"Islington\"\npolice_force = \"E23000001\"\npanels = []\n\
             [[area.contacts]]\nrole = \"Not statutory services\"\norganisation = \"x\"\n\
             [[area.contacts]]\nrole = \"STATUTORY SERVICES\"\norganisation = \"Islington Council\"\n",
        )
        .unwrap();
        let c = statutory_services(&d, &AreaCode::parse("E09000019").unwrap()).unwrap();
        assert_eq!(c.organisation, "Islington Council");
    }

    #[test]
    fn the_built_in_directory_has_statutory_services_for_every_london_borough() {
        let d = refroute_platform::reference::directory(
            &refroute_platform::settings::DirectorySettings {
                file: String::new(),
            },
        )
        .unwrap();
        for code in 1..=33 {
            let code = AreaCode::parse(&format!("E090000{code:02}")).unwrap();
            assert!(statutory_services(&d, &code).is_some(), "{code}");
        }
    }

    #[test]
    fn a_notice_is_addressed_and_pending() {
        let event = notice("e09000012", &["Mr Perpetrator"]);
        let plan = plan(&event, &directory()).unwrap();
        assert_eq!(plan.notice_id.to_string(), event.notice_id);
        assert_eq!(plan.referral_id.to_string(), event.referral_id);
        assert_eq!(plan.to_area_code, "E09000012");
        assert_eq!(
            plan.recipient.unwrap().organisation,
            "London Borough of Hackney"
        );
    }

    #[test]
    fn a_notice_without_a_contact_is_kept_unresolved() {
        for (area, recorded_as) in [
            ("E09000019", "E09000019"),
            ("e06000035", "E06000035"),
            (" not-an-area ", "not-an-area"),
            ("", ""),
        ] {
            let plan = plan(&notice(area, &[]), &directory()).unwrap();
            assert_eq!(plan.recipient, None, "{area}");
            assert_eq!(plan.to_area_code, recorded_as);
        }
    }

    #[test]
    fn nobody_on_the_do_not_inform_list_is_told() {
        let contact = Contact {
            role: "Statutory services".into(),
            organisation: "London Borough of Hackney".into(),
            address: Some("statutory@hackney.example.invalid".into()),
        };
        let list = |entries: &[&str]| entries.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            must_not_be_told(&contact, &list(&["Mr X", "  london BOROUGH  of hackney "])),
            Some("  london BOROUGH  of hackney ")
        );
        assert!(
            must_not_be_told(&contact, &list(&["STATUTORY@hackney.example.invalid"])).is_some()
        );
        assert_eq!(
            must_not_be_told(&contact, &list(&["Hackney", "Mr X", "", " "])),
            None
        );
        // An empty organisation is never matched by an empty entry.
        let nameless = Contact {
            role: "Statutory services".into(),
            organisation: String::new(),
            address: None,
        };
        assert_eq!(must_not_be_told(&nameless, &list(&["", " "])), None);

        // The refusal names the recipient, and only the recipient.
        let event = notice(
            "E09000012",
            &["Mr Perpetrator", "LONDON BOROUGH OF HACKNEY"],
        );
        let err = plan(&event, &directory()).unwrap_err();
        assert!(matches!(err, NoticeError::MustNotBeTold { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("London Borough of Hackney"), "{message}");
        assert!(message.contains("do-not-inform"), "{message}");
        assert!(!message.contains("Mr Perpetrator"), "{message}");
    }

    #[test]
    fn do_not_inform_is_read_from_every_pathway() {
        let names = vec!["P".to_string()];
        let with = |details| Referral {
            details: Some(details),
            ..Default::default()
        };
        for r in [
            with(referral::Details::DomesticAbuse(DomesticAbuseReferral {
                do_not_inform: names.clone(),
                ..Default::default()
            })),
            with(referral::Details::CommunityMarac(CommunityMaracReferral {
                do_not_inform: names.clone(),
                ..Default::default()
            })),
            with(referral::Details::Prevent(PreventReferral {
                do_not_inform: names.clone(),
                ..Default::default()
            })),
        ] {
            assert_eq!(do_not_inform(&r), names.as_slice());
        }
    }

    #[test]
    fn a_notice_whose_list_cannot_be_checked_is_refused() {
        let d = directory();
        let mut e = notice("E09000012", &[]);
        e.referral = None;
        assert!(
            plan(&e, &d)
                .unwrap_err()
                .to_string()
                .contains("do-not-inform")
        );
        let mut e = notice("E09000012", &[]);
        e.referral.as_mut().unwrap().details = None;
        assert!(plan(&e, &d).unwrap_err().to_string().contains("no details"));
        let mut e = notice("E09000012", &[]);
        e.notice_id = "x".into();
        assert!(plan(&e, &d).unwrap_err().to_string().contains("notice_id"));
        let mut e = notice("E09000012", &[]);
        e.referral_id = Uuid::now_v7().to_string();
        assert!(
            plan(&e, &d)
                .unwrap_err()
                .to_string()
                .contains("not the one")
        );
    }
}
