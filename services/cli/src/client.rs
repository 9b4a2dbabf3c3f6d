//! Calling refroute's gRPC servers as an organisation: mutual TLS with the deployment's CA and
//! one organisation's client certificate. The CLI, the demo, the benchmark and the end-to-end
//! tests all connect through here.

use anyhow::Context;
use std::path::Path;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The CA that signed the servers, and the certificate and key to present.
#[derive(Clone)]
pub struct ClientIdentity {
    ca: Certificate,
    /// None only for [`ClientIdentity::without_certificate`].
    identity: Option<Identity>,
}

fn read(what: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

impl ClientIdentity {
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            ca: Certificate::from_pem(read("the CA certificate", ca)?),
            identity: Some(Identity::from_pem(
                read("the client certificate", cert)?,
                read("the client key", key)?,
            )),
        })
    }

    /// A client that checks the server but presents no certificate (the servers refuse it:
    /// this exists to show that they do).
    pub fn without_certificate(ca: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            ca: Certificate::from_pem(read("the CA certificate", ca)?),
            identity: None,
        })
    }

    /// The identity of `organisation` in a development PKI.
    pub fn of(pki: &crate::dev_pki::Pki, organisation: &str) -> anyhow::Result<Self> {
        Self::from_files(&pki.ca(), &pki.cert(organisation), &pki.key(organisation))
    }

    /// An endpoint at `addr` (`host:port`) that will connect as this identity.
    pub fn endpoint(&self, addr: &str) -> anyhow::Result<Endpoint> {
        let mut tls = ClientTlsConfig::new().ca_certificate(self.ca.clone());
        if let Some(identity) = &self.identity {
            tls = tls.identity(identity.clone());
        }
        Ok(Channel::from_shared(format!("https://{addr}"))?
            .connect_timeout(Duration::from_secs(5))
            .tls_config(tls)?)
    }

    /// A connected channel to `addr`.
    pub async fn connect(&self, addr: &str) -> anyhow::Result<Channel> {
        self.endpoint(addr)?
            .connect()
            .await
            .with_context(|| format!("cannot reach {addr}; is the service running?"))
    }
}
