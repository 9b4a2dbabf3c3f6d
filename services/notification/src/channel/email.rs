//! The email channel: a plain-text message handed to the deployment's SMTP relay, over STARTTLS
//! or implicit TLS (rustls, the webpki roots and an optional extra CA), with AUTH when a user is
//! configured.
//!
//! Each message has a connection of its own, and the whole conversation (connect, TLS, AUTH,
//! MAIL, RCPT, DATA, QUIT) is bounded by `delivery.email.timeout_secs`: lettre bounds only the
//! TCP connect, so a relay that stops answering would otherwise hold a sender for as long as it
//! keeps the socket open. Cutting a pooled connection off mid-transaction would hand it, in that
//! state, to the next message; a connection of its own is simply closed. Notifications are few,
//! so a handshake each costs little.
//!
//! Every message carries its notification id twice: as `Message-ID: <{id}@refroute>`, which a
//! mail system keeps, and as `X-Refroute-Notification-Id`, which a receiving system can read
//! without parsing Message-ID; `X-Refroute-Kind` says what it announces. A retry of the same
//! notification carries the same ids, so a receiver can tell a repeat from a new one.
//!
//! A relay's reply text is never kept: relays quote the recipient back ("<jo@example.org>:
//! mailbox unavailable"). An error names the reply code, what the code means and the relay.

use super::{Outgoing, SendError};
use anyhow::Context;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::response::{Category, Code, Severity};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use refroute_platform::settings::EmailSettings;
use std::error::Error as StdError;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub(super) struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// For error text: the relay is the only party an error names.
    relay: Arc<str>,
    timeout: Duration,
}

impl EmailChannel {
    pub(super) fn from_settings(settings: &EmailSettings) -> anyhow::Result<Self> {
        // An IPv6 relay may be written as in a URL; lettre wants the bare address.
        let host = settings
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let tls = match settings.tls.as_str() {
            "starttls" => Tls::Required(tls_parameters(host, &settings.ca_file)?),
            "tls" => Tls::Wrapper(tls_parameters(host, &settings.ca_file)?),
            "none" if is_loopback(host) => Tls::None,
            // Referrals in plain text across a network, and a password with them: a typo, not a
            // choice anyone means.
            "none" => anyhow::bail!(
                "delivery.email.tls = \"none\" is for a development sink on loopback only, and \
                 delivery.email.host = {host:?} is not loopback; use \"starttls\" or \"tls\""
            ),
            other => anyhow::bail!(
                "delivery.email.tls = {other:?} is not one of \"starttls\", \"tls\", \"none\""
            ),
        };
        let from: Mailbox = settings.from.parse().with_context(|| {
            format!(
                "delivery.email.from = {:?} is not an email address (e.g. \"refroute <refroute@example.org>\")",
                settings.from
            )
        })?;
        let timeout = Duration::from_secs(settings.timeout_secs);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(timeout));
        if !settings.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.username.clone(),
                settings.password.expose().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            relay: Arc::from(host),
            timeout,
        })
    }

    pub(super) async fn send(&self, to: &str, message: &Outgoing<'_>) -> Result<(), SendError> {
        let email = self.message(to, message)?;
        match tokio::time::timeout(self.timeout, self.transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e, &self.relay)),
            // A relay that stalls after taking the message (before answering QUIT) lands here
            // too, and the retry sends it again: the receiver de-duplicates by the ids.
            Err(_) => Err(SendError::Transient(format!(
                "SMTP relay {} did not finish within {}s (delivery.email.timeout_secs)",
                self.relay,
                self.timeout.as_secs()
            ))),
        }
    }

    fn message(&self, to: &str, message: &Outgoing<'_>) -> Result<Message, SendError> {
        let to: Mailbox = to.trim().parse().map_err(|_| {
            SendError::Permanent("the recipient is not a valid email address".into())
        })?;
        let id = message.id.to_string();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(one_line(message.subject))
            .message_id(Some(format!("<{id}@refroute>")))
            .header(NotificationId(id))
            .header(Kind(one_line(message.kind)))
            .header(ContentType::TEXT_PLAIN)
            .body(message.text.to_owned())
            .map_err(|_| SendError::Permanent("the email could not be built".into()))
    }
}

/// TLS towards the relay: the webpki roots, and the CA in `ca_file` when one is named.
fn tls_parameters(host: &str, ca_file: &str) -> anyhow::Result<TlsParameters> {
    let mut builder =
        TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::WebpkiRoots);
    if !ca_file.trim().is_empty() {
        let certs = refroute_platform::tls::certificates(Path::new(ca_file.trim()))
            .context("delivery.email.ca_file")?;
        for cert in certs {
            let cert = Certificate::from_der(cert.to_vec())
                .context("delivery.email.ca_file holds a certificate rustls cannot use")?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build_rustls()
        .context("building TLS for the SMTP relay (delivery.email)")
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A header value on one line: a line break in a subject must not start a header of its own.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[derive(Clone)]
struct NotificationId(String);

impl Header for NotificationId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Refroute-Notification-Id")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn StdError + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[derive(Clone)]
struct Kind(String);

impl Header for Kind {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Refroute-Kind")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn StdError + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// What a failed send means. Only the reply code of a relay's refusal is kept (its text may
/// quote the recipient); lettre's own errors are kept where they are fixed text or come from
/// the network or TLS, which know nothing of the message.
fn classify(e: &lettre::transport::smtp::Error, relay: &str) -> SendError {
    if let Some(code) = e.status() {
        return reply(code, relay);
    }
    if e.is_timeout() {
        return SendError::Transient(format!("timed out connecting to SMTP relay {relay}"));
    }
    // lettre reports a failed handshake as a connection error wrapping the TLS one.
    if let Some(tls) = tls_cause(e) {
        return SendError::Transient(format!("TLS with SMTP relay {relay} failed: {tls}"));
    }
    let cause = root_cause(e);
    if e.is_tls() {
        return SendError::Transient(format!("TLS with SMTP relay {relay} failed: {cause}"));
    }
    if e.is_client() {
        // lettre's client errors are fixed sentences about the relay's abilities. This one
        // is about the address, and no retry changes it.
        if cause.contains("SMTPUTF8") {
            return SendError::Permanent(
                "the recipient address is not ASCII and the SMTP relay does not offer SMTPUTF8"
                    .into(),
            );
        }
        return SendError::Transient(format!("SMTP relay {relay}: {cause}"));
    }
    if e.is_response() {
        return SendError::Transient(format!("unreadable reply from SMTP relay {relay}"));
    }
    // Connection and network errors: the cause is the operating system's or the resolver's.
    SendError::Transient(format!("cannot talk to SMTP relay {relay}: {cause}"))
}

/// The rustls error somewhere in `e`'s causes (an I/O error carries it as its payload).
fn tls_cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

/// The innermost cause: lettre's wrappers add only their own kind, already said.
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// A relay's negative reply: 4xx may pass, 5xx will not.
fn reply(code: Code, relay: &str) -> SendError {
    let text = format!("SMTP {code} from relay {relay}: {}", meaning(code));
    match code.severity {
        Severity::PermanentNegativeCompletion => SendError::Permanent(text),
        _ => SendError::Transient(text),
    }
}

/// What a reply code means (RFC 5321 4.2, RFC 3207, RFC 4954, RFC 7504), for on-call.
fn meaning(code: Code) -> &'static str {
    match code.to_string().as_str() {
        "421" => "service not available, closing the connection",
        "450" => "mailbox unavailable (busy or temporarily blocked)",
        "451" => "local error in processing",
        "452" => "insufficient storage",
        "454" => "TLS or authentication temporarily unavailable",
        "455" => "cannot accommodate the parameters now",
        "500" => "command not recognised",
        "501" => "syntax error in parameters",
        "502" => "command not implemented",
        "503" => "bad sequence of commands",
        "504" => "parameter not implemented",
        "521" => "relay does not accept mail",
        "523" => "message too big for the recipient",
        "530" => "authentication required (set delivery.email.username)",
        "534" => "authentication mechanism too weak",
        "535" => "authentication credentials refused (delivery.email.username, password)",
        "538" => "encryption required for the authentication mechanism",
        "550" => "mailbox unavailable or refused",
        "551" => "user not local",
        "552" => "exceeded storage allocation",
        "553" => "mailbox name not allowed",
        "554" => "transaction failed",
        "555" => "MAIL or RCPT parameters not recognised",
        "556" => "domain does not accept mail",
        _ => match code.category {
            Category::Syntax => "syntax",
            Category::Information => "information",
            Category::Connections => "connection",
            Category::MailSystem => "mail system",
            Category::Unspecified3 | Category::Unspecified4 => "refused",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::transport::smtp::response::Detail;

    fn code(s: Severity, c: Category, d: Detail) -> Code {
        Code::new(s, c, d)
    }

    #[test]
    fn a_5xx_reply_is_permanent_and_a_4xx_transient_naming_the_code_only() {
        let refused = reply(
            code(
                Severity::PermanentNegativeCompletion,
                Category::MailSystem,
                Detail::Zero,
            ),
            "smtp.example.org",
        );
        assert_eq!(
            refused,
            SendError::Permanent(
                "SMTP 550 from relay smtp.example.org: mailbox unavailable or refused".into()
            )
        );
        let busy = reply(
            code(
                Severity::TransientNegativeCompletion,
                Category::MailSystem,
                Detail::One,
            ),
            "smtp.example.org",
        );
        assert!(
            matches!(&busy, SendError::Transient(t) if t.starts_with("SMTP 451 ")),
            "{busy}"
        );
        let odd = reply(
            code(
                Severity::PermanentNegativeCompletion,
                Category::Connections,
                Detail::Nine,
            ),
            "r",
        );
        assert_eq!(
            odd,
            SendError::Permanent("SMTP 529 from relay r: connection".into())
        );
    }

    fn settings(host: &str, tls: &str) -> EmailSettings {
        let mut s = refroute_platform::Settings::defaults()
            .unwrap()
            .delivery
            .email;
        s.host = host.into();
        s.tls = tls.into();
        s
    }

    #[test]
    fn plain_smtp_is_refused_off_loopback_and_a_bad_setting_names_its_key() {
        let err = |s: &EmailSettings| {
            EmailChannel::from_settings(s)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default()
        };
        assert!(err(&settings("smtp.example.org", "none")).contains("delivery.email.tls"));
        assert!(err(&settings("smtp.example.org", "ssl")).contains("delivery.email.tls"));
        for host in ["localhost", "127.0.0.1", "::1", "[::1]"] {
            assert_eq!(err(&settings(host, "none")), "", "{host}");
        }
        assert_eq!(err(&settings("smtp.example.org", "starttls")), "");
        let mut s = settings("smtp.example.org", "tls");
        s.ca_file = "/nonexistent/ca.pem".into();
        assert!(err(&s).contains("delivery.email.ca_file"), "{}", err(&s));
        let mut s = settings("smtp.example.org", "tls");
        s.from = "not an address".into();
        assert!(err(&s).contains("delivery.email.from"), "{}", err(&s));
    }

    #[tokio::test]
    async fn a_malformed_address_is_permanent_and_not_quoted() {
        let channel = EmailChannel::from_settings(&settings("127.0.0.1", "none")).unwrap();
        let message = Outgoing {
            id: uuid::Uuid::nil(),
            kind: "CASE_ROUTED",
            subject: "s",
            text: "t",
            json: b"{}",
        };
        let err = channel.send("jo at example", &message).await.unwrap_err();
        assert!(matches!(err, SendError::Permanent(_)), "{err}");
        assert!(!err.to_string().contains("jo"), "{err}");
    }

    #[test]
    fn a_subject_stays_on_one_line() {
        assert_eq!(one_line("a\r\nBcc: x@y"), "a  Bcc: x@y");
    }
}
