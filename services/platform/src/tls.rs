//! Mutual TLS for every gRPC server: the server proves itself with its certificate, and every
//! client must present one the deployment's CA issued. The handshake is done here rather than
//! inside tonic so that a refused certificate is logged and counted like every other refusal.
//!
//! A client with no certificate completes the handshake and is refused by the access layer
//! (UNAUTHENTICATED, with a reason it can read); a certificate from another CA is refused in the
//! handshake itself, since rustls will not let the connection exist.

use crate::settings::TlsSettings;
use anyhow::Context;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// A peer that has not finished its handshake by then is dropped: it holds a task and a socket.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// The ring provider, named explicitly: the process never depends on a default being installed.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn required<'a>(key: &str, value: &'a str) -> anyhow::Result<&'a Path> {
    if value.trim().is_empty() {
        anyhow::bail!(
            "{key} is not set: every gRPC server requires mutual TLS (set REFROUTE__{}; \
             deploy/run.sh makes a development CA and certificates in .refroute/dev-pki/)",
            key.to_ascii_uppercase().replace('.', "__")
        );
    }
    Ok(Path::new(value))
}

pub fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading certificates from {}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

pub fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("reading a PEM private key from {}", path.display()))
}

/// The CA whose certificates are trusted: the deployment's own, never a built-in one.
pub fn roots(settings: &TlsSettings) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(required("tls.ca_file", &settings.ca_file)?)? {
        roots
            .add(cert)
            .context("tls.ca_file holds a certificate rustls cannot use as a root")?;
    }
    Ok(roots)
}

/// The server side: this service's certificate, and client certificates checked against the CA.
pub fn acceptor(settings: &TlsSettings) -> anyhow::Result<TlsAcceptor> {
    let chain = certificates(required("tls.cert_file", &settings.cert_file)?)?;
    let key = private_key(required("tls.key_file", &settings.key_file)?)?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(settings)?), provider())
            .allow_unauthenticated()
            .build()
            .context("building the client-certificate verifier from tls.ca_file")?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("tls.cert_file and tls.key_file do not make a usable server certificate")?;
    // gRPC is HTTP/2; clients such as grpcurl insist on negotiating it.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until `stop`, handshaking each in its own task, and yields those that
/// complete. A failed handshake is logged and counted, naming the peer's address only.
pub fn incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    service: &'static str,
    stop: CancellationToken,
) -> mpsc::Receiver<std::io::Result<TlsStream<TcpStream>>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off rather than spin.
                        tracing::warn!(error = %e, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => {
                        let reason = handshake_reason(&e);
                        crate::access::count_refusal(service, "tls_handshake", reason);
                        tracing::warn!(
                            service,
                            peer = %peer,
                            reason,
                            error = %e,
                            "refused: TLS handshake failed"
                        );
                    }
                    Err(_) => {
                        tracing::warn!(service, peer = %peer, "TLS handshake timed out");
                    }
                }
            });
        }
    });
    rx
}

/// Why a handshake failed, as a refusal reason: an untrusted client certificate is the one an
/// operator needs to tell apart (a partner using the wrong CA).
fn handshake_reason(e: &std::io::Error) -> &'static str {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(_)) => "CERTIFICATE_NOT_TRUSTED",
        _ => "TLS_HANDSHAKE_FAILED",
    }
}
