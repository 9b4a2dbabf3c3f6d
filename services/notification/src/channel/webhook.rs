//! The webhook channel: the notification's JSON POSTed to an organisation's `https://` URL,
//! signed with that organisation's key (see [`super::signature`]). A 2xx answer is the receipt.
//!
//! Only HTTPS: the body is about a referral, and the signature proves who sent it, not that
//! nobody else read it. The endpoint's certificate is checked against the webpki roots and the
//! optional `delivery.webhook.ca_file`. Redirects are not followed (a 3xx is permanent): the
//! organisation registered this URL, and a redirect could carry the body somewhere it did not.
//!
//! One request per connection, HTTP/1.1: notifications are few and an endpoint is often a small
//! service behind a proxy, so there is no pool to go stale, and every connection is the same.

use super::{Outgoing, SendError, signature};
use anyhow::Context;
use bytes::Bytes;
use http::uri::Scheme;
use http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use refroute_platform::settings::WebhookSettings;
use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

/// At most this much of a response body is read: it is discarded, and an endpoint's error page
/// must not hold a sender.
const RESPONSE_BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub(super) struct WebhookChannel {
    tls: TlsConnector,
    timeout: Duration,
}

impl WebhookChannel {
    pub(super) fn from_settings(settings: &WebhookSettings) -> anyhow::Result<Self> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if !settings.ca_file.trim().is_empty() {
            for cert in refroute_platform::tls::certificates(Path::new(settings.ca_file.trim()))
                .context("delivery.webhook.ca_file")?
            {
                roots
                    .add(cert)
                    .context("delivery.webhook.ca_file holds a certificate rustls cannot use")?;
            }
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(refroute_platform::tls::provider())
                .with_safe_default_protocol_versions()
                .context("TLS protocol versions")?
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            tls: TlsConnector::from(Arc::new(config)),
            timeout: Duration::from_secs(settings.timeout_secs),
        })
    }

    pub(super) async fn send(
        &self,
        url: &str,
        secret: &[u8],
        message: &Outgoing<'_>,
    ) -> Result<(), SendError> {
        let target = Target::parse(url)?;
        let timestamp = chrono::Utc::now().timestamp();
        let request = Request::post(target.path_and_query.as_str())
            .header(http::header::HOST, target.authority.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "refroute")
            .header(signature::ID_HEADER, message.id.to_string())
            .header(signature::KIND_HEADER, header_value(message.kind)?)
            .header(signature::TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                signature::SIGNATURE_HEADER,
                signature::sign(secret, timestamp, message.json),
            )
            .body(Full::new(Bytes::copy_from_slice(message.json)))
            .map_err(|_| SendError::Permanent("the webhook request could not be built".into()))?;

        let deadline = Instant::now() + self.timeout;
        let host = target.host.clone();
        let response = timeout_at(deadline, self.exchange(target, request))
            .await
            .map_err(|_| {
                SendError::Transient(format!(
                    "webhook to {host} timed out after {}s",
                    self.timeout.as_secs()
                ))
            })??;
        // The status is the answer; the body is read only so the endpoint is not cut off
        // mid-write, within what is left of the time, and a failure reading it changes nothing.
        let code = response.status;
        let _ = timeout_at(deadline, drain(response)).await;
        status(code, &host)
    }

    async fn exchange(
        &self,
        target: Target,
        request: Request<Full<Bytes>>,
    ) -> Result<Response, SendError> {
        let host = &target.host;
        let tcp = TcpStream::connect((host.as_str(), target.port))
            .await
            .map_err(|e| {
                SendError::Transient(format!(
                    "cannot connect to webhook host {host}:{}: {e}",
                    target.port
                ))
            })?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .tls
            .connect(target.server_name.clone(), tcp)
            .await
            .map_err(|e| {
                SendError::Transient(format!("TLS with webhook host {host} failed: {e}"))
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| SendError::Transient(format!("HTTP with webhook host {host}: {e}")))?;
        // The connection is driven by its own task, ended when this exchange ends however it
        // ends (a timeout included), so no socket outlives the send.
        let _connection = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let response = sender.send_request(request).await.map_err(|e| {
            SendError::Transient(format!(
                "HTTP with webhook host {host}: {}",
                hyper_reason(&e)
            ))
        })?;
        let status = response.status();
        Ok(Response {
            status,
            body: response.into_body(),
            _connection,
        })
    }
}

struct Response {
    status: StatusCode,
    body: hyper::body::Incoming,
    /// Kept while the body is read.
    _connection: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn drain(response: Response) {
    let mut body = response.body;
    let mut read = 0;
    while read < RESPONSE_BODY_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            _ => break,
        }
    }
}

/// hyper's error and, when there is one, its cause (an I/O error: reset, closed).
fn hyper_reason(e: &hyper::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

fn header_value(text: &str) -> Result<HeaderValue, SendError> {
    HeaderValue::from_str(text)
        .map_err(|_| SendError::Permanent("the notification kind is not a header value".into()))
}

/// Where a webhook goes. Errors about the URL never quote it: its path and query often hold the
/// endpoint's own secret token.
struct Target {
    /// For connecting and for error text (IPv6 without brackets).
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    /// The `host` header: as the URL wrote it.
    authority: String,
    path_and_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, SendError> {
        let permanent = |why: &str| SendError::Permanent(format!("webhook URL {why}"));
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|_| permanent("does not parse"))?;
        if uri.scheme() != Some(&Scheme::HTTPS) {
            return Err(permanent("is not https://"));
        }
        let authority = uri.authority().ok_or_else(|| permanent("has no host"))?;
        if authority.as_str().contains('@') {
            return Err(permanent(
                "carries user info (credentials do not belong in it)",
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(permanent("has no host"));
        }
        let server_name = ServerName::try_from(host.clone())
            .map_err(|_| permanent("host is not a DNS name or IP address"))?;
        let path_and_query = match uri.path_and_query().map(|p| p.as_str()) {
            None | Some("") => "/".to_owned(),
            Some(p) => p.to_owned(),
        };
        Ok(Self {
            port: authority.port_u16().unwrap_or(443),
            authority: authority.as_str().to_owned(),
            host,
            server_name,
            path_and_query,
        })
    }
}

/// What an endpoint's answer means: 2xx is the receipt; a timeout, "too early", "too many" or a
/// server error may pass; anything else (a redirect, a refusal) will not, as configured.
fn status(status: StatusCode, host: &str) -> Result<(), SendError> {
    if status.is_success() {
        return Ok(());
    }
    let code = status.as_u16();
    match code {
        408 | 425 | 429 | 500..=599 => Err(SendError::Transient(format!(
            "HTTP {code} from webhook host {host}"
        ))),
        300..=399 => Err(SendError::Permanent(format!(
            "HTTP {code} from webhook host {host} (redirects are not followed)"
        ))),
        _ => Err(SendError::Permanent(format!(
            "HTTP {code} from webhook host {host}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(code: u16) -> Result<(), SendError> {
        status(StatusCode::from_u16(code).unwrap(), "hooks.example.org")
    }

    #[test]
    fn a_2xx_is_the_receipt_and_only_some_failures_are_worth_retrying() {
        for code in [200, 201, 202, 204] {
            assert_eq!(of(code), Ok(()), "{code}");
        }
        for code in [408, 425, 429, 500, 502, 503, 504, 599] {
            assert!(matches!(of(code), Err(SendError::Transient(_))), "{code}");
        }
        for code in [101, 301, 302, 307, 400, 401, 403, 404, 410, 413, 422] {
            assert!(matches!(of(code), Err(SendError::Permanent(_))), "{code}");
        }
        assert_eq!(
            of(503),
            Err(SendError::Transient(
                "HTTP 503 from webhook host hooks.example.org".into()
            ))
        );
    }

    #[test]
    fn only_https_urls_are_accepted_and_errors_never_quote_them() {
        for url in [
            "http://hooks.example.org/t0ken",
            "ftp://hooks.example.org/t0ken",
            "hooks.example.org/t0ken",
            "https://user:t0ken@hooks.example.org/",
            "not a url t0ken",
            "",
        ] {
            let Err(err) = Target::parse(url) else {
                panic!("{url} accepted");
            };
            assert!(matches!(err, SendError::Permanent(_)), "{url}");
            assert!(!err.to_string().contains("t0ken"), "{err}");
        }
        let t = Target::parse("HTTPS://hooks.example.org:8443/in?k=t0ken").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("hooks.example.org", 8443));
        assert_eq!(t.path_and_query, "/in?k=t0ken");
        let t = Target::parse("https://[::1]/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("::1", 443, "[::1]")
        );
        assert_eq!(
            Target::parse("https://hooks.example.org")
                .unwrap()
                .path_and_query,
            "/"
        );
    }
}
