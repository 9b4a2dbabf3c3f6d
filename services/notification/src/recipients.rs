//! Who is told: each audience of a notification resolved to recipients, one per channel. Two
//! sources, both configuration: the organisations file (an organisation's `[[organisation.channel]]`
//! entries, for referrers, coordinators and operators) and the area directory's contacts (an
//! area's coordinator roles and its statutory services, a police force's Prevent team, by their
//! `address`). A deployment
//! changes either with its own files (`access.organisations_file`, `directory.file`).
//!
//! Pure: no I/O. The do-not-inform check is not made here but in [`crate::do_not_inform`], at
//! planning and again before every send.

use refroute_domain::directory::Contact;
use refroute_domain::{AreaCode, Directory};
use refroute_platform::access::organisations::{ChannelAddress, Organisation};
use refroute_platform::access::{Organisations, Role};
use refroute_proto::v1::{Panel, TransferKind};

/// One organisation (or directory contact) reached by one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The organisations file's id, or `directory:<area>:<role>` for a directory contact.
    pub id: String,
    pub organisation: String,
    /// Why it is told: `referrer`, `operator`, `MARAC coordinator`, `Statutory services (…)`.
    pub role: String,
    /// The person or desk behind the channel, when named.
    pub contact: Option<String>,
    pub address: ChannelAddress,
    /// The channel is approved for personal data: only then does a message name the person.
    pub personal_data: bool,
}

/// The directory role of a panel's coordinator; the review queue has none (the receiving
/// partnership's coordinators are in the organisations file).
pub fn coordinator_role(panel: Panel) -> Option<&'static str> {
    match panel {
        Panel::Marac => Some("MARAC coordinator"),
        Panel::CommunityMarac => Some("Community MARAC coordinator"),
        Panel::Channel => Some("Channel panel chair"),
        Panel::Review | Panel::Unspecified => None,
    }
}

/// Whether `role` starts with `prefix`, ignoring case and leading space.
fn role_is(role: &str, prefix: &str) -> bool {
    role.trim_start()
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn of_organisation(org: &Organisation, role: &str) -> Vec<Recipient> {
    org.channels
        .iter()
        .map(|c| Recipient {
            id: org.id.clone(),
            organisation: org.name.clone(),
            role: role.to_string(),
            contact: c.contact.clone(),
            address: c.address.clone(),
            personal_data: c.personal_data,
        })
        .collect()
}

/// A directory contact of `place` (an area's or a police force's code), when it has an address.
fn of_contact(place: &str, contact: &Contact) -> Option<Recipient> {
    let address = contact.address.as_deref()?.trim();
    if address.is_empty() {
        return None;
    }
    Some(Recipient {
        id: format!("directory:{place}:{}", contact.role),
        organisation: contact.organisation.clone(),
        role: contact.role.clone(),
        contact: None,
        address: ChannelAddress::Email(address.to_string()),
        personal_data: contact.personal_data,
    })
}

/// The same address reached twice (an organisation also listed as a directory contact) is told
/// once, by the first.
fn once_each(recipients: Vec<Recipient>) -> Vec<Recipient> {
    let mut seen = std::collections::BTreeSet::new();
    recipients
        .into_iter()
        .filter(|r| seen.insert(r.address.as_str().trim().to_lowercase()))
        .collect()
}

/// The coordinators of `panel` in `area`: every organisation that coordinates that queue, and
/// the area's directory contact for the panel's coordinator role.
pub fn coordinators(
    organisations: &Organisations,
    directory: &Directory,
    area: &AreaCode,
    panel: Panel,
) -> Vec<Recipient> {
    let role = coordinator_role(panel).unwrap_or("review coordinator");
    let mut out: Vec<Recipient> = organisations
        .all()
        .iter()
        .filter(|o| o.coordinates(area, panel))
        .flat_map(|o| of_organisation(o, role))
        .collect();
    if let (Some(role), Some(entry)) = (coordinator_role(panel), directory.area(area)) {
        out.extend(
            entry
                .contacts
                .iter()
                .filter(|c| role_is(&c.role, role))
                .filter_map(|c| of_contact(area.as_str(), c)),
        );
    }
    once_each(out)
}

/// The organisation that made a referral, by the id its certificate maps to.
pub fn referrer(organisations: &Organisations, referrer_id: &str) -> Vec<Recipient> {
    organisations
        .by_id(referrer_id)
        .map(|o| of_organisation(o, "referrer"))
        .unwrap_or_default()
}

/// Every operator, for alerts.
pub fn operators(organisations: &Organisations) -> Vec<Recipient> {
    once_each(
        organisations
            .all()
            .iter()
            .filter(|o| o.has(Role::Operator))
            .flat_map(|o| of_organisation(o, "operator"))
            .collect(),
    )
}

/// The directory role a residence notice is addressed to starts with this.
pub const STATUTORY_SERVICES: &str = "Statutory services";

/// The statutory-services contact of `area` (the first whose role starts with "Statutory
/// services", in any case), whether or not it has an address. `None` when the area or such a
/// contact is missing.
pub fn statutory_services<'a>(directory: &'a Directory, area: &AreaCode) -> Option<&'a Contact> {
    directory
        .area(area)?
        .contacts
        .iter()
        .find(|c| role_is(&c.role, STATUTORY_SERVICES))
}

/// [`statutory_services`] as a recipient, when it has an address to send to.
pub fn statutory_recipient(directory: &Directory, area: &AreaCode) -> Option<Recipient> {
    of_contact(area.as_str(), statutory_services(directory, area)?)
}

/// The directory role of a Prevent handover's destination: a police force's Prevent team.
pub const PREVENT_TEAM: &str = "Prevent team";

/// Where a transfer to a destination without a deployment goes in the directory: the place's
/// code (a police force's, or an area's) and its contacts in the destination's role (a Prevent
/// handover's force's "Prevent team"; a MARAC-to-MARAC transfer's area's "MARAC coordinator"),
/// whether or not they have an address. A Prevent handover that names no force goes to the
/// force of the area.
pub fn destination_contacts<'a>(
    directory: &'a Directory,
    kind: TransferKind,
    area: Option<&AreaCode>,
    police_force: &str,
) -> (String, Vec<&'a Contact>) {
    let (place, contacts, role): (String, &[Contact], &str) = match kind {
        TransferKind::PreventHandover => {
            let force = match police_force.trim() {
                "" => area.and_then(|a| directory.force_of(a)),
                code => directory.police_force(code),
            };
            match force {
                Some(f) => (f.code.clone(), &f.contacts, PREVENT_TEAM),
                None => (police_force.trim().to_string(), &[], PREVENT_TEAM),
            }
        }
        TransferKind::MaracToMarac | TransferKind::Unspecified => {
            let role = coordinator_role(Panel::Marac).expect("the MARAC has a coordinator");
            match area.and_then(|a| directory.area(a)) {
                Some(entry) => (entry.code.to_string(), &entry.contacts, role),
                None => (area.map(|a| a.to_string()).unwrap_or_default(), &[], role),
            }
        }
    };
    let contacts = contacts.iter().filter(|c| role_is(&c.role, role)).collect();
    (place, contacts)
}

/// The recipients of a transfer to a destination without a deployment: its
/// [`destination_contacts`] with an address approved for personal data, and only those. The
/// message is the case itself, so a contact that may not receive personal data is not told at
/// all (not told less): with none, nobody is, and the delivery is recorded owed to nobody.
pub fn transfer_recipients(
    directory: &Directory,
    kind: TransferKind,
    area: Option<&AreaCode>,
    police_force: &str,
) -> Vec<Recipient> {
    let (place, contacts) = destination_contacts(directory, kind, area, police_force);
    once_each(
        contacts
            .into_iter()
            .filter_map(|c| of_contact(&place, c))
            .filter(|r| r.personal_data)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIRECTORY: &str = r#"
[[police_force]]
code = "E23000001"
name = "Metropolitan Police Service"

[[police_force]]
code = "E23000032"
name = "Kent Police"
[[police_force.contacts]]
role = "Prevent team"
organisation = "Kent Police"
address = "prevent-general@kent.example"
[[police_force.contacts]]
role = "prevent TEAM (referrals)"
organisation = "Kent Police"
address = "prevent@kent.pnn.police.uk"
personal_data = true
[[police_force.contacts]]
role = "MARAC coordinator"
organisation = "Kent Police"
address = "marac@kent.pnn.police.uk"
personal_data = true

[[area]]
code = "E06000035"
name = "Medway"
police_force = "E23000032"
panels = ["MARAC"]
[[area.contacts]]
role = "MARAC coordinator"
organisation = "Medway MARAC"
address = "marac@medway.example"
[[area.contacts]]
role = "Channel panel chair"
organisation = "Medway Council"
address = "channel@medway.cjsm.example"
personal_data = true

[[area]]
code = "E09000012"
name = "Hackney"
police_force = "E23000001"
panels = ["MARAC"]
[[area.contacts]]
role = "MARAC coordinator"
organisation = "Hackney MARAC"
address = "marac@hackney.example"
personal_data = true
[[area.contacts]]
role = "Statutory services (adult social care and mental health)"
organisation = "London Borough of Hackney"
address = "statutory@hackney.example"

[[area]]
code = "E09000019"
name = "Islington"
police_force = "E23000001"
panels = ["MARAC"]
[[area.contacts]]
role = "Statutory services"
organisation = "Islington Council"
"#;

    const FP1: &str = "aa00000000000000000000000000000000000000000000000000000000000001";
    const FP2: &str = "aa00000000000000000000000000000000000000000000000000000000000002";
    const FP3: &str = "aa00000000000000000000000000000000000000000000000000000000000003";

    fn organisations() -> Organisations {
        Organisations::parse(&format!(
            r#"
[[organisation]]
id = "colp"
name = "City of London Police"
kind = "police_force"
certificates = ["{FP1}"]
roles = ["referrer"]
[[organisation.channel]]
webhook = "https://colp.example/hook"
[[organisation.channel]]
email = "ppu@colp.pnn.police.uk"
personal_data = true

[[organisation]]
id = "hackney-marac"
name = "Hackney MARAC"
kind = "partnership"
certificates = ["{FP2}"]
[[organisation.coordinates]]
area = "E09000012"
panels = ["MARAC"]
[[organisation.channel]]
email = "MARAC@hackney.example"

[[organisation]]
id = "ops"
name = "refroute operations"
kind = "partnership"
certificates = ["{FP3}"]
roles = ["operator"]
[[organisation.channel]]
email = "oncall@ops.example"
"#
        ))
        .unwrap()
    }

    fn area(code: &str) -> AreaCode {
        AreaCode::parse(code).unwrap()
    }

    #[test]
    fn a_referrer_is_told_by_each_of_its_channels() {
        let r = referrer(&organisations(), "colp");
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0].address,
            ChannelAddress::Webhook("https://colp.example/hook".into())
        );
        assert!(!r[0].personal_data);
        assert!(r[1].personal_data);
        assert!(r.iter().all(|r| r.role == "referrer" && r.id == "colp"));
        assert!(referrer(&organisations(), "unknown").is_empty());
    }

    #[test]
    fn coordinators_come_from_both_files_each_address_once() {
        let d = Directory::from_toml(DIRECTORY).unwrap();
        let c = coordinators(&organisations(), &d, &area("E09000012"), Panel::Marac);
        // The organisation's address and the directory contact's are the same, spelled in
        // another case: told once, as the organisation.
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].id, "hackney-marac");
        assert_eq!(c[0].role, "MARAC coordinator");
        // Another panel, another area: nobody.
        assert!(coordinators(&organisations(), &d, &area("E09000012"), Panel::Channel).is_empty());
        assert!(coordinators(&organisations(), &d, &area("E09000019"), Panel::Marac).is_empty());
        // A directory contact alone is a recipient, with its personal-data approval.
        let none = Organisations::default();
        let c = coordinators(&none, &d, &area("E09000012"), Panel::Marac);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].id, "directory:E09000012:MARAC coordinator");
        assert!(c[0].personal_data);
    }

    #[test]
    fn statutory_services_need_an_address_to_be_told() {
        let d = Directory::from_toml(DIRECTORY).unwrap();
        let r = statutory_recipient(&d, &area("E09000012")).unwrap();
        assert_eq!(r.organisation, "London Borough of Hackney");
        assert_eq!(
            r.address,
            ChannelAddress::Email("statutory@hackney.example".into())
        );
        assert!(!r.personal_data);
        assert!(statutory_services(&d, &area("E09000019")).is_some());
        assert!(statutory_recipient(&d, &area("E09000019")).is_none());
        assert!(statutory_services(&d, &area("E06000035")).is_none());
    }

    #[test]
    fn a_prevent_handover_goes_to_the_forces_prevent_team_by_a_personal_data_channel_only() {
        let d = Directory::from_toml(DIRECTORY).unwrap();
        let medway = area("E06000035");
        let r = transfer_recipients(
            &d,
            TransferKind::PreventHandover,
            Some(&medway),
            "E23000032",
        );
        // The general address is not approved for personal data, and the MARAC coordinator is
        // not the Prevent team: only the referrals desk.
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            r[0].address,
            ChannelAddress::Email("prevent@kent.pnn.police.uk".into())
        );
        assert_eq!(r[0].id, "directory:E23000032:prevent TEAM (referrals)");
        assert!(r[0].personal_data);
        // No force named: the force of the area where the person lives.
        assert_eq!(
            transfer_recipients(&d, TransferKind::PreventHandover, Some(&medway), " "),
            r
        );
        // Both Prevent contacts count as the destination's, whatever their channel.
        let (place, contacts) =
            destination_contacts(&d, TransferKind::PreventHandover, None, "E23000032");
        assert_eq!((place.as_str(), contacts.len()), ("E23000032", 2));
        // A force the directory does not have: nobody.
        assert!(
            transfer_recipients(&d, TransferKind::PreventHandover, None, "E23000099").is_empty()
        );
    }

    #[test]
    fn a_marac_transfer_goes_to_the_areas_marac_coordinator_only_if_approved_for_personal_data() {
        let d = Directory::from_toml(DIRECTORY).unwrap();
        let medway = area("E06000035");
        // Medway's MARAC coordinator has an address, but not one approved for personal data;
        // its Channel panel chair has one, but is not the MARAC's.
        assert!(transfer_recipients(&d, TransferKind::MaracToMarac, Some(&medway), "").is_empty());
        let (place, contacts) =
            destination_contacts(&d, TransferKind::MaracToMarac, Some(&medway), "");
        assert_eq!(place, "E06000035");
        assert_eq!(contacts.len(), 1);
        assert_eq!(contacts[0].organisation, "Medway MARAC");
        // Hackney's is approved.
        let r = transfer_recipients(&d, TransferKind::MaracToMarac, Some(&area("E09000012")), "");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].organisation, "Hackney MARAC");
        assert_eq!(r[0].id, "directory:E09000012:MARAC coordinator");
        // An area the directory does not have: nobody.
        assert!(
            transfer_recipients(&d, TransferKind::MaracToMarac, Some(&area("E09000033")), "")
                .is_empty()
        );
    }

    #[test]
    fn operators_are_told_of_alerts() {
        let o = operators(&organisations());
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].organisation, "refroute operations");
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
            let code = area(&format!("E090000{code:02}"));
            assert!(statutory_services(&d, &code).is_some(), "{code}");
        }
    }
}
