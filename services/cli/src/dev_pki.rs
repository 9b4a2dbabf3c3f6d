//! A development PKI: a CA, one server certificate for every service on this machine, a client
//! certificate for each demonstration organisation, and the organisations file that maps those
//! certificates to organisations and roles. `deploy/run.sh` and the end-to-end tests use it;
//! a deployment brings its own CA, and nothing trusts this one unless configured to.

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// An organisation to make a certificate for, and what the organisations file says of it.
#[derive(Clone, Debug)]
pub struct DevOrganisation {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub roles: Vec<&'static str>,
    /// (area, panels) it coordinates.
    pub coordinates: Vec<(String, Vec<&'static str>)>,
    /// Where it is told of what concerns it: (`email` or `webhook`, address, approved for
    /// personal data).
    pub channels: Vec<(&'static str, String, bool)>,
    /// A peer deployment: the areas it serves and its ExchangeService URL.
    pub peer: Option<(Vec<String>, String)>,
}

impl DevOrganisation {
    pub fn new(id: &str, name: &str, kind: &'static str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            kind,
            roles: Vec::new(),
            coordinates: Vec::new(),
            channels: Vec::new(),
            peer: None,
        }
    }

    /// Another refroute deployment, serving `areas`, whose ExchangeService is at `exchange`.
    pub fn peer(mut self, areas: &[&str], exchange: &str) -> Self {
        self.kind = "peer_deployment";
        self.roles.push("peer");
        self.peer = Some((
            areas.iter().map(|a| a.to_string()).collect(),
            exchange.into(),
        ));
        self
    }

    /// Told by email at `address`; `personal_data`: the address is approved for it.
    pub fn email(mut self, address: &str, personal_data: bool) -> Self {
        self.channels.push(("email", address.into(), personal_data));
        self
    }

    /// Told by webhook at `url` (its key in delivery.webhook_secrets.<id>).
    pub fn webhook(mut self, url: &str, personal_data: bool) -> Self {
        self.channels.push(("webhook", url.into(), personal_data));
        self
    }

    pub fn role(mut self, role: &'static str) -> Self {
        self.roles.push(role);
        self
    }

    pub fn coordinates(mut self, area: &str, panels: &[&'static str]) -> Self {
        self.coordinates.push((area.into(), panels.to_vec()));
        self
    }

    fn describe(&self) -> String {
        let mut what: Vec<String> = self.roles.iter().map(|r| r.to_string()).collect();
        for (area, panels) in &self.coordinates {
            what.push(format!("coordinator of {} in {area}", panels.join(", ")));
        }
        if what.is_empty() {
            what.push("no role".into());
        }
        what.join("; ")
    }
}

/// The name of a client certificate the CA issued that no organisation lists.
pub const UNLISTED: &str = "unlisted";

pub const CITY: &str = "E09000001";
pub const HACKNEY: &str = "E09000012";

/// The organisations of the quick start and the demo: two police forces that refer, the City's
/// panels, Hackney's MARAC across the boundary, and an operator.
pub fn demo_organisations() -> Vec<DevOrganisation> {
    // Told by email at addresses the quick start's mail sink (deploy/smtp-sink.py) accepts;
    // the police's and the MARAC's are approved for personal data, as PNN and CJSM addresses are.
    vec![
        DevOrganisation::new(
            "city-of-london-police",
            "City of London Police",
            "police_force",
        )
        .role("referrer")
        .email("public-protection@city.police.example", true),
        DevOrganisation::new(
            "metropolitan-police",
            "Metropolitan Police Service",
            "police_force",
        )
        .role("referrer")
        .email("referrals@met.police.example", true),
        DevOrganisation::new("city-marac", "City of London MARAC", "partnership")
            .coordinates(CITY, &["MARAC", "REVIEW"])
            .email("marac@cityoflondon.cjsm.example", true),
        DevOrganisation::new(
            "city-community-marac",
            "City of London Community MARAC",
            "partnership",
        )
        .coordinates(CITY, &["COMMUNITY_MARAC"])
        .email("community-marac@cityoflondon.example", false),
        DevOrganisation::new(
            "city-channel",
            "City of London Channel panel",
            "council_service",
        )
        .coordinates(CITY, &["CHANNEL"])
        .email("channel@cityoflondon.example", false),
        DevOrganisation::new("hackney-marac", "Hackney MARAC", "partnership")
            .coordinates(HACKNEY, &["MARAC"])
            .email("marac@hackney.cjsm.example", true),
        DevOrganisation::new("refroute-operations", "refroute operations", "partnership")
            .role("operator")
            .email("on-call@refroute.example", false),
    ]
}

/// A certificate authority that can issue server and client certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its private key, PEM-encoded.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    /// SHA-256 of the certificate, as the organisations file writes it.
    pub fingerprint: String,
}

impl Ca {
    pub fn new(name: &str) -> anyhow::Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(Self { issuer })
    }

    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost` and 127.0.0.1.
    pub fn issue_server(&self) -> anyhow::Result<Issued> {
        self.issue(
            "refroute services",
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate whose subject names `who` (for people reading it; the organisations
    /// file goes by its fingerprint).
    pub fn issue_client(&self, who: &str) -> anyhow::Result<Issued> {
        self.issue(who, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(
        &self,
        common_name: &str,
        names: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
    ) -> anyhow::Result<Issued> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            fingerprint: refroute_platform::access::organisations::fingerprint_hex(
                &refroute_platform::access::organisations::fingerprint_of(cert.der()),
            ),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Where the files of a development PKI are.
#[derive(Clone, Debug)]
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    pub fn cert(&self, organisation: &str) -> PathBuf {
        self.dir.join(format!("{organisation}.pem"))
    }
    pub fn key(&self, organisation: &str) -> PathBuf {
        self.dir.join(format!("{organisation}.key"))
    }
    pub fn organisations(&self) -> PathBuf {
        self.dir.join("organisations.toml")
    }

    /// The fingerprint of the certificate this PKI made for `organisation`, as the
    /// organisations file writes it.
    pub fn fingerprint(&self, organisation: &str) -> anyhow::Result<String> {
        let path = self.cert(organisation);
        let pem = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(&pem)
            .map(|c: rustls_pki_types::CertificateDer| c.to_vec())
            .with_context(|| format!("{} holds no certificate", path.display()))?;
        Ok(refroute_platform::access::organisations::fingerprint_hex(
            &refroute_platform::access::organisations::fingerprint_of(&der),
        ))
    }

    /// An organisations file for `organisations`, each with the certificate this PKI made for
    /// an organisation of the same id: the same callers, told by other channels (a test's
    /// own mail server, say).
    pub fn organisations_file(&self, organisations: &[DevOrganisation]) -> anyhow::Result<String> {
        let mut file = String::new();
        for org in organisations {
            file.push_str(&organisation_entry(org, &self.fingerprint(&org.id)?));
        }
        Ok(file)
    }
}

/// Writes a fresh CA, server certificate and one client certificate per organisation into
/// `dir`, with the organisations file and a README naming every file.
pub fn generate(dir: &Path, organisations: &[DevOrganisation]) -> anyhow::Result<Pki> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let pki = Pki { dir: dir.into() };
    let ca = Ca::new("refroute development CA (not for real data)")?;
    write(&pki.ca(), &ca.cert_pem())?;
    let server = ca.issue_server()?;
    write(&pki.server_cert(), &server.cert_pem)?;
    write_secret(&pki.server_key(), &server.key_pem)?;
    let mut file = String::from(HEADER);
    for org in organisations {
        let issued = ca.issue_client(&org.name)?;
        write(&pki.cert(&org.id), &issued.cert_pem)?;
        write_secret(&pki.key(&org.id), &issued.key_pem)?;
        file.push_str(&organisation_entry(org, &issued.fingerprint));
    }
    write(&pki.organisations(), &file)?;
    // Genuine (the CA signed it) but nobody's: every server refuses it as unknown.
    let unlisted = ca.issue_client("unlisted")?;
    write(&pki.cert(UNLISTED), &unlisted.cert_pem)?;
    write_secret(&pki.key(UNLISTED), &unlisted.key_pem)?;
    write(&dir.join("README.md"), &readme(organisations))?;
    Ok(pki)
}

/// Like [`generate`], but keeps a PKI already there, so certificates handed to grpcurl or a
/// second terminal stay valid across runs. One with any file missing is made afresh.
pub fn ensure(dir: &Path, organisations: &[DevOrganisation]) -> anyhow::Result<Pki> {
    let pki = Pki { dir: dir.into() };
    let mut needed = vec![
        pki.ca(),
        pki.server_cert(),
        pki.server_key(),
        pki.organisations(),
        pki.cert(UNLISTED),
    ];
    for org in organisations {
        needed.push(pki.cert(&org.id));
        needed.push(pki.key(&org.id));
    }
    if needed.iter().all(|p| p.exists()) {
        // The certificates stay; what the file says of each organisation is today's.
        let file = pki.organisations_file(organisations)?;
        write(&pki.organisations(), &format!("{HEADER}{file}"))?;
        return Ok(pki);
    }
    generate(dir, organisations)
}

const HEADER: &str = "# Development organisations (written by refroute dev-pki; regenerated with the certificates).\n";

/// The organisations file's entry for `org`, whose certificate has `fingerprint` (which may be
/// another PKI's: a peer deployment's certificate comes from its own CA).
pub fn organisation_entry(org: &DevOrganisation, fingerprint: &str) -> String {
    let quoted = |items: &[&str]| {
        items
            .iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut entry = format!(
        "\n[[organisation]]\nid = \"{}\"\nname = \"{}\"\nkind = \"{}\"\ncertificates = [\"{fingerprint}\"]\nroles = [{}]\n",
        org.id,
        org.name,
        org.kind,
        quoted(&org.roles)
    );
    if let Some((areas, exchange)) = &org.peer {
        let areas: Vec<&str> = areas.iter().map(String::as_str).collect();
        // Keys of the organisation itself: before any [[organisation.…]] table.
        let _ = write!(
            entry,
            "serves = [{}]\nexchange = \"{exchange}\"\n",
            quoted(&areas)
        );
    }
    for (area, panels) in &org.coordinates {
        let _ = write!(
            entry,
            "[[organisation.coordinates]]\narea = \"{area}\"\npanels = [{}]\n",
            quoted(panels)
        );
    }
    for (kind, address, personal_data) in &org.channels {
        let _ = write!(
            entry,
            "[[organisation.channel]]\n{kind} = \"{address}\"\npersonal_data = {personal_data}\n"
        );
    }
    entry
}

fn readme(organisations: &[DevOrganisation]) -> String {
    let mut text = String::from(
        "# Development PKI\n\n\
         Made by `deploy/run.sh` (`refroute dev-pki`). **For development only**: the CA key is not \
         kept, and nothing outside this folder trusts it. A deployment brings its own CA and \
         organisations file (`tls.*`, `access.organisations_file`).\n\n\
         | File | What it is |\n|---|---|\n\
         | `ca.pem` | The development CA: servers trust client certificates it signed, clients trust servers it signed (`tls.ca_file`). |\n\
         | `server.pem`, `server.key` | Every service's server certificate, for `localhost` and `127.0.0.1` (`tls.cert_file`, `tls.key_file`). |\n\
         | `organisations.toml` | Which certificate is which organisation, and its roles (`access.organisations_file`). |\n\
         | `unlisted.pem`, `unlisted.key` | Signed by the CA but listed for no organisation: every server refuses it (UNAUTHENTICATED, CERTIFICATE_NOT_KNOWN). |\n",
    );
    for org in organisations {
        let _ = writeln!(
            text,
            "| `{id}.pem`, `{id}.key` | {name} ({kind}): {what} |",
            id = org.id,
            name = org.name,
            kind = org.kind,
            what = org.describe()
        );
    }
    text.push_str(
        "\nExample: `grpcurl -cacert ca.pem -cert city-marac.pem -key city-marac.key \
         -d '{\"areaCode\":\"E09000001\"}' 127.0.0.1:50054 refroute.v1.CoordinatorService/ListQueue`\n",
    );
    text
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A private key: readable by its owner alone.
fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_platform::access::{Organisations, Role};

    #[test]
    fn the_organisations_file_it_writes_is_the_one_services_read() {
        let dir = std::env::temp_dir().join(format!("refroute-pki-{}", uuid::Uuid::new_v4()));
        let pki = generate(&dir, &demo_organisations()).unwrap();
        let orgs = Organisations::load(&pki.organisations()).unwrap();
        let pem = std::fs::read(pki.cert("city-marac")).unwrap();
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(&pem)
            .map(|c: rustls_pki_types::CertificateDer| c.to_vec())
            .unwrap();
        let marac = orgs
            .by_fingerprint(&refroute_platform::access::organisations::fingerprint_of(
                &der,
            ))
            .unwrap();
        assert_eq!(marac.name, "City of London MARAC");
        assert!(marac.is_coordinator() && !marac.has(Role::Referrer));
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.contains("`hackney-marac.pem`, `hackney-marac.key` | Hackney MARAC"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
