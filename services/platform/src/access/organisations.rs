//! The organisations file: who may call, known by the SHA-256 of their client certificate.
//!
//! A deployment's certificate authority says a certificate is genuine; this file says whose it
//! is and what that organisation may do. Pinning the certificate itself (not a name inside it)
//! means a certificate the CA issued for some other purpose names no organisation here.
//!
//! ```toml
//! [[organisation]]
//! id = "city-of-london-police"          # what the audit log and refusals name
//! name = "City of London Police"        # what referrals carry as referring_organisation
//! kind = "police_force"                 # police_force | partner_agency | council_service | partnership | peer_deployment
//! certificates = ["9f86d0…"]            # SHA-256 of each client certificate (DER), hex
//! roles = ["referrer"]                  # referrer | operator | peer
//!
//! [[organisation.coordinates]]          # coordinator of these panels in this area
//! area = "E09000001"
//! panels = ["MARAC", "REVIEW"]          # MARAC | COMMUNITY_MARAC | CHANNEL | REVIEW
//!
//! [[organisation.channel]]              # where it is told what concerns it (any number)
//! email = "marac@city.example"          # or webhook = "https://…" (key: delivery.webhook_secrets.<id>)
//! personal_data = true                  # approved for personal data (e.g. CJSM, PNN); default false
//! contact = "Duty MARAC coordinator"    # optional: the person or desk behind it
//!
//! [[organisation]]                      # another refroute deployment
//! id = "hackney-refroute"
//! name = "Hackney refroute"
//! kind = "peer_deployment"
//! certificates = ["…"]                  # the client certificate it presents to us
//! roles = ["peer"]
//! serves = ["E09000012"]                # the areas whose transfers it receives and answers
//! exchange = "https://refroute.hackney.example:50053"   # its ExchangeService
//! ```

use refroute_domain::AreaCode;
use refroute_proto::v1::Panel;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// SHA-256 of a certificate's DER encoding.
pub type Fingerprint = [u8; 32];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    PoliceForce,
    PartnerAgency,
    CouncilService,
    Partnership,
    PeerDeployment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Creates referrals; reads and supplies residence for its own organisation's only.
    Referrer,
    /// Rule set, dead letters, audit; no personal details unless also a coordinator.
    Operator,
    /// Another refroute deployment.
    Peer,
}

/// One organisation, as the file describes it, checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub roles: BTreeSet<Role>,
    /// The queues it coordinates: (area, panel).
    pub coordinates: BTreeSet<(AreaCode, Panel)>,
    /// Where it is told of what concerns it; none: it is told nothing.
    pub channels: Vec<Channel>,
    /// A peer deployment: the areas whose transfers it receives (and may read and answer).
    pub serves: BTreeSet<AreaCode>,
    /// A peer deployment: its `ExchangeService` (an `https://` URL).
    pub exchange: Option<String>,
}

/// One way of telling an organisation something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub address: ChannelAddress,
    /// Approved for personal data (a secure address such as CJSM or PNN, or an endpoint the
    /// deployment trusts with it): only then may a message name the person.
    pub personal_data: bool,
    /// The person or desk behind it, when the file names one.
    pub contact: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelAddress {
    Email(String),
    /// An `https://` URL.
    Webhook(String),
}

impl ChannelAddress {
    /// `email` or `webhook`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelAddress::Email(_) => "email",
            ChannelAddress::Webhook(_) => "webhook",
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ChannelAddress::Email(a) | ChannelAddress::Webhook(a) => a,
        }
    }
}

impl Organisation {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn coordinates(&self, area: &AreaCode, panel: Panel) -> bool {
        self.coordinates.contains(&(area.clone(), panel))
    }

    pub fn is_coordinator(&self) -> bool {
        !self.coordinates.is_empty()
    }

    /// A peer deployment that receives transfers to `area`.
    pub fn serves(&self, area: &AreaCode) -> bool {
        self.has(Role::Peer) && self.serves.contains(area)
    }
}

/// Every organisation, by certificate fingerprint.
#[derive(Debug, Default)]
pub struct Organisations {
    by_fingerprint: HashMap<Fingerprint, Arc<Organisation>>,
    /// Every organisation, in the file's order.
    all: Vec<Arc<Organisation>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrganisationsError {
    #[error("cannot read the organisations file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("organisations file {path}: {reason}")]
    Invalid { path: String, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    organisation: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    name: String,
    kind: Kind,
    certificates: Vec<String>,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    coordinates: Vec<Coordinates>,
    #[serde(default)]
    channel: Vec<ChannelEntry>,
    #[serde(default)]
    serves: Vec<String>,
    exchange: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelEntry {
    email: Option<String>,
    webhook: Option<String>,
    #[serde(default)]
    personal_data: bool,
    contact: Option<String>,
}

impl ChannelEntry {
    fn check(self) -> Result<Channel, String> {
        let address = match (self.email, self.webhook) {
            (Some(email), None) => {
                let email = email.trim().to_string();
                let well_formed = email
                    .split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control());
                if !well_formed {
                    return Err(format!("channel email '{email}' is not an email address"));
                }
                ChannelAddress::Email(email)
            }
            (None, Some(url)) => {
                let url = url.trim().to_string();
                if !is_https(&url) {
                    return Err(format!(
                        "channel webhook '{url}' must be an https:// URL (webhooks carry referrals' outcomes, never in clear)"
                    ));
                }
                ChannelAddress::Webhook(url)
            }
            _ => return Err("a channel names exactly one of email or webhook".into()),
        };
        let contact = self
            .contact
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        Ok(Channel {
            address,
            personal_data: self.personal_data,
            contact,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Coordinates {
    area: String,
    panels: Vec<String>,
}

impl Organisations {
    pub fn load(path: &Path) -> Result<Self, OrganisationsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| OrganisationsError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|reason| OrganisationsError::Invalid {
            path: shown,
            reason,
        })
    }

    /// Parses and checks the whole file; the first problem is named with the organisation's id.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_fingerprint = HashMap::new();
        let mut all = Vec::new();
        let mut ids = BTreeSet::new();
        for entry in file.organisation {
            let id = entry.id.clone();
            let in_entry = |reason: String| format!("organisation '{id}': {reason}");
            if !ids.insert(id.clone()) {
                return Err(in_entry("listed twice".into()));
            }
            let fingerprints = entry
                .certificates
                .iter()
                .map(|f| {
                    parse_fingerprint(f).ok_or_else(|| {
                        in_entry(format!(
                            "certificate '{f}' is not a SHA-256 fingerprint (64 hex digits)"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let organisation = Arc::new(entry.check().map_err(in_entry)?);
            all.push(organisation.clone());
            for fingerprint in fingerprints {
                if by_fingerprint
                    .insert(fingerprint, organisation.clone())
                    .is_some()
                {
                    return Err(in_entry(
                        "a certificate is listed for another organisation too".into(),
                    ));
                }
            }
        }
        Ok(Self {
            by_fingerprint,
            all,
        })
    }

    pub fn by_fingerprint(&self, fingerprint: &Fingerprint) -> Option<Arc<Organisation>> {
        self.by_fingerprint.get(fingerprint).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.by_fingerprint.is_empty()
    }

    /// Every organisation, in the file's order.
    pub fn all(&self) -> &[Arc<Organisation>] {
        &self.all
    }

    pub fn by_id(&self, id: &str) -> Option<&Arc<Organisation>> {
        self.all.iter().find(|o| o.id == id)
    }

    /// The peer deployment that receives transfers to `area`, if one serves it.
    pub fn peer_serving(&self, area: &AreaCode) -> Option<&Arc<Organisation>> {
        self.all.iter().find(|o| o.serves(area))
    }
}

impl Entry {
    fn check(self) -> Result<Organisation, String> {
        if self.id.trim().is_empty() || self.id.chars().any(|c| c.is_control()) {
            return Err("id must be non-empty printable text".into());
        }
        if self.name.trim().is_empty() {
            return Err("name must not be empty".into());
        }
        if self.certificates.is_empty() {
            return Err("lists no certificate, so nothing could ever act as it".into());
        }
        let mut coordinates = BTreeSet::new();
        for c in self.coordinates {
            let area = AreaCode::parse(&c.area).map_err(|e| e.to_string())?;
            if c.panels.is_empty() {
                return Err(format!("coordinates in {area} name no panel"));
            }
            for name in &c.panels {
                let panel = Panel::from_str_name(&format!("PANEL_{name}"))
                    .filter(|p| *p != Panel::Unspecified)
                    .ok_or_else(|| {
                        format!(
                            "'{name}' is not a panel (MARAC, COMMUNITY_MARAC, CHANNEL or REVIEW)"
                        )
                    })?;
                coordinates.insert((area.clone(), panel));
            }
        }
        let channels = self
            .channel
            .into_iter()
            .map(ChannelEntry::check)
            .collect::<Result<_, _>>()?;
        let serves = self
            .serves
            .iter()
            .map(|a| AreaCode::parse(a).map_err(|e| e.to_string()))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let exchange = self.exchange.map(|u| u.trim().to_string());
        let peer = self.roles.contains(&Role::Peer);
        match (&exchange, peer) {
            (Some(url), true) if !is_https(url) => {
                return Err(format!("exchange '{url}' must be an https:// URL"));
            }
            (None, true) => {
                return Err(
                    "a peer names its exchange (its ExchangeService's https:// URL)".into(),
                );
            }
            (Some(_), false) => return Err("only a peer has an exchange".into()),
            _ => {}
        }
        if peer && serves.is_empty() {
            return Err("a peer serves at least one area (serves = [\"E09…\"])".into());
        }
        if !peer && !serves.is_empty() {
            return Err("only a peer serves areas".into());
        }
        Ok(Organisation {
            id: self.id,
            name: self.name,
            kind: self.kind,
            roles: self.roles.into_iter().collect(),
            coordinates,
            channels,
            serves,
            exchange,
        })
    }
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        && url.len() > 8
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn parse_fingerprint(hex: &str) -> Option<Fingerprint> {
    let hex = hex.trim().replace(':', "");
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The fingerprint as the organisations file writes it: 64 lower-case hex digits.
pub fn fingerprint_hex(fingerprint: &Fingerprint) -> String {
    fingerprint.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a certificate's DER bytes.
pub fn fingerprint_of(der: &[u8]) -> Fingerprint {
    use sha2::Digest;
    sha2::Sha256::digest(der).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aa00000000000000000000000000000000000000000000000000000000000001";
    const B: &str = "bb00000000000000000000000000000000000000000000000000000000000002";

    fn file(body: &str) -> String {
        format!(
            "[[organisation]]\nid = \"city-police\"\nname = \"City of London Police\"\nkind = \"police_force\"\n{body}"
        )
    }

    #[test]
    fn an_organisation_has_its_roles_and_queues() {
        let text = file(&format!(
            "certificates = [\"{A}\", \"{}\"]\nroles = [\"referrer\"]\n[[organisation.coordinates]]\narea = \"e09000001\"\npanels = [\"MARAC\", \"REVIEW\"]\n",
            B.to_uppercase()
        ));
        let orgs = Organisations::parse(&text).unwrap();
        let a = orgs.by_fingerprint(&parse_fingerprint(A).unwrap()).unwrap();
        let b = orgs.by_fingerprint(&parse_fingerprint(B).unwrap()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.has(Role::Referrer) && !a.has(Role::Operator));
        let city = AreaCode::city_of_london();
        assert!(a.coordinates(&city, Panel::Marac));
        assert!(a.coordinates(&city, Panel::Review));
        assert!(!a.coordinates(&city, Panel::Channel));
        assert!(!a.coordinates(&AreaCode::parse("E09000012").unwrap(), Panel::Marac));
    }

    #[test]
    fn an_organisation_is_told_by_its_channels() {
        let text = file(&format!(
            "certificates = [\"{A}\"]\n\
             [[organisation.channel]]\nemail = \" referrals@colp.pnn.police.uk \"\npersonal_data = true\ncontact = \"Public protection desk\"\n\
             [[organisation.channel]]\nwebhook = \"https://colp.example/refroute\"\n"
        ));
        let orgs = Organisations::parse(&text).unwrap();
        let org = orgs.by_id("city-police").unwrap();
        assert_eq!(orgs.all().len(), 1);
        assert_eq!(
            org.channels,
            vec![
                Channel {
                    address: ChannelAddress::Email("referrals@colp.pnn.police.uk".into()),
                    personal_data: true,
                    contact: Some("Public protection desk".into()),
                },
                Channel {
                    address: ChannelAddress::Webhook("https://colp.example/refroute".into()),
                    personal_data: false,
                    contact: None,
                },
            ]
        );
        assert!(orgs.by_id("nobody").is_none());
        for (channel, says) in [
            ("email = \"not-an-address\"\n", "not an email address"),
            ("email = \"a b@x.example\"\n", "not an email address"),
            (
                "webhook = \"http://x.example/hook\"\n",
                "must be an https:// URL",
            ),
            (
                "email = \"a@x.example\"\nwebhook = \"https://x.example\"\n",
                "exactly one",
            ),
            ("personal_data = true\n", "exactly one"),
            ("sms = \"0700\"\n", "unknown field"),
        ] {
            let text = file(&format!(
                "certificates = [\"{A}\"]\n[[organisation.channel]]\n{channel}"
            ));
            let err = Organisations::parse(&text).unwrap_err();
            assert!(err.contains(says), "{channel}: {err}");
            // A key the file does not know is refused by the parser, at its line; the rest
            // name the organisation.
            assert!(
                says == "unknown field" || err.contains("city-police"),
                "{err}"
            );
        }
    }

    #[test]
    fn mistakes_are_refused_naming_the_organisation() {
        for (body, says) in [
            ("certificates = []\n", "lists no certificate"),
            ("certificates = [\"abc\"]\n", "not a SHA-256 fingerprint"),
            (
                &format!("certificates = [\"{A}\"]\nroles = [\"admin\"]\n"),
                "unknown variant",
            ),
            (
                &format!(
                    "certificates = [\"{A}\"]\n[[organisation.coordinates]]\narea = \"E09000001\"\npanels = [\"CHANEL\"]\n"
                ),
                "'CHANEL' is not a panel",
            ),
            (
                &format!(
                    "certificates = [\"{A}\"]\n[[organisation.coordinates]]\narea = \"E0900\"\npanels = [\"MARAC\"]\n"
                ),
                "not a GSS code",
            ),
            (
                &format!("certificates = [\"{A}\"]\nsurname = \"x\"\n"),
                "unknown field",
            ),
        ] {
            let err = Organisations::parse(&file(body)).unwrap_err();
            assert!(err.contains(says), "{body}: {err}");
        }
        let twice = format!(
            "{}\n{}",
            file(&format!("certificates = [\"{A}\"]\n")),
            file(&format!("certificates = [\"{B}\"]\n"))
        );
        assert!(
            Organisations::parse(&twice)
                .unwrap_err()
                .contains("listed twice")
        );
        let shared = format!(
            "{}\n{}",
            file(&format!("certificates = [\"{A}\"]\n")),
            file(&format!("certificates = [\"{A}\"]\n")).replace("city-police", "met")
        );
        assert!(
            Organisations::parse(&shared)
                .unwrap_err()
                .contains("another organisation too")
        );
    }

    #[test]
    fn a_peer_names_the_areas_it_serves_and_its_exchange() {
        let text = file(&format!(
            "certificates = [\"{A}\"]\nroles = [\"peer\"]\nserves = [\"E09000012\"]\nexchange = \"https://hackney.example:50053\"\n"
        ));
        let orgs = Organisations::parse(&text).unwrap();
        let hackney = AreaCode::parse("E09000012").unwrap();
        let peer = orgs.peer_serving(&hackney).unwrap();
        assert_eq!(
            peer.exchange.as_deref(),
            Some("https://hackney.example:50053")
        );
        assert!(peer.serves(&hackney));
        assert!(!peer.serves(&AreaCode::city_of_london()));
        assert!(orgs.peer_serving(&AreaCode::city_of_london()).is_none());
        for (body, says) in [
            (
                "roles = [\"peer\"]\nserves = [\"E09000012\"]\n",
                "names its exchange",
            ),
            (
                "roles = [\"peer\"]\nserves = [\"E09000012\"]\nexchange = \"http://x.example\"\n",
                "must be an https:// URL",
            ),
            (
                "roles = [\"peer\"]\nexchange = \"https://x.example\"\n",
                "at least one area",
            ),
            ("serves = [\"E09000012\"]\n", "only a peer serves"),
            (
                "exchange = \"https://x.example\"\n",
                "only a peer has an exchange",
            ),
        ] {
            let err = Organisations::parse(&file(&format!("certificates = [\"{A}\"]\n{body}")))
                .unwrap_err();
            assert!(err.contains(says), "{body}: {err}");
        }
    }

    #[test]
    fn fingerprints_round_trip() {
        let f = fingerprint_of(b"certificate");
        assert_eq!(parse_fingerprint(&fingerprint_hex(&f)), Some(f));
        assert_eq!(fingerprint_hex(&f).len(), 64);
    }
}
