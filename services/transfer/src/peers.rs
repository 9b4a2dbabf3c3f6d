//! Calling a peer deployment's `ExchangeService` as this deployment: mutual TLS with the
//! certificate the peer's organisations file lists for us, trusting the CA that signed the
//! peer's server certificate. One short-lived connection per call keeps a peer that went away
//! from holding anything here.

use anyhow::Context;
use refroute_platform::Settings;
use refroute_proto::v1::exchange_service_client::ExchangeServiceClient;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Status};

#[derive(Clone)]
pub struct Peers {
    tls: Option<ClientTlsConfig>,
    timeout: Duration,
}

/// How a failed call is treated: tried again later, or never again.
#[derive(Debug, PartialEq, Eq)]
pub enum CallError {
    /// The peer is down, slow, restarting or overloaded.
    Transient(String),
    /// The peer understood and refused (who we are, what we sent): no retry will change it.
    Refused(String),
}

impl CallError {
    pub fn of(status: &Status) -> CallError {
        let why = format!("{:?}: {}", status.code(), status.message());
        match status.code() {
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Cancelled
            | Code::Unknown
            | Code::Internal => CallError::Transient(why),
            _ => CallError::Refused(why),
        }
    }

    pub fn describe(&self) -> &str {
        match self {
            CallError::Transient(w) | CallError::Refused(w) => w,
        }
    }
}

fn read(key: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {key} {path}"))
}

impl Peers {
    /// From `exchange.*` (falling back to `tls.ca_file` for the CA). Without a client
    /// certificate there is no way to reach a peer: `needed` (some peer is listed) makes that
    /// a refusal to start, naming the setting.
    pub fn from_settings(settings: &Settings, needed: bool) -> anyhow::Result<Self> {
        let x = &settings.exchange;
        let timeout = Duration::from_secs(x.timeout_secs);
        if x.cert_file.is_empty() || x.key_file.is_empty() {
            if needed {
                anyhow::bail!(
                    "the organisations file lists a peer deployment, but exchange.cert_file and exchange.key_file (the client certificate this deployment presents to its peers) are not set"
                );
            }
            return Ok(Self { tls: None, timeout });
        }
        let (ca_key, ca) = if x.ca_file.is_empty() {
            ("tls.ca_file", &settings.tls.ca_file)
        } else {
            ("exchange.ca_file", &x.ca_file)
        };
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(ca_key, ca)?))
            .identity(Identity::from_pem(
                read("exchange.cert_file", &x.cert_file)?,
                read("exchange.key_file", &x.key_file)?,
            ));
        Ok(Self {
            tls: Some(tls),
            timeout,
        })
    }

    /// A client for the peer at `url` (its `exchange`), connected now.
    pub async fn client(&self, url: &str) -> Result<ExchangeServiceClient<Channel>, CallError> {
        let tls = self.tls.clone().ok_or_else(|| {
            CallError::Transient("exchange.cert_file is not set: no way to reach a peer".into())
        })?;
        let endpoint = Channel::from_shared(url.to_string())
            .map_err(|e| CallError::Refused(format!("exchange URL {url}: {e}")))?
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .tls_config(tls)
            .map_err(|e| CallError::Refused(format!("TLS for {url}: {e}")))?;
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| CallError::Transient(format!("cannot reach {url}: {e}")))?;
        Ok(ExchangeServiceClient::new(channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_may_pass_is_retried() {
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
        ] {
            assert!(matches!(
                CallError::of(&Status::new(code, "x")),
                CallError::Transient(_)
            ));
        }
        for code in [
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::InvalidArgument,
            Code::FailedPrecondition,
            Code::NotFound,
            Code::Unimplemented,
        ] {
            assert!(
                matches!(
                    CallError::of(&Status::new(code, "x")),
                    CallError::Refused(_)
                ),
                "{code:?}"
            );
        }
    }
}
