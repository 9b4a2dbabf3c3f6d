//! The fixtures the notification tests send to, proved with clients that are not refroute's:
//! Python's smtplib against the SMTP sink and urllib against the webhook receiver, each
//! trusting only the test PKI's CA.

use refroute_e2e::mail::MailSink;
use refroute_e2e::webhook::WebhookReceiver;
use std::path::Path;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(5);

/// Sends one message to the sink on `port`: first a MAIL without STARTTLS (which must be
/// refused), then the message over STARTTLS trusting `ca`. Prints the code the plain MAIL got.
const SEND_MAIL: &str = r#"
import smtplib, ssl, sys
from email.message import EmailMessage
port, ca, notification_id, subject, body = sys.argv[1:6]
with smtplib.SMTP("127.0.0.1", int(port), timeout=10) as smtp:
    smtp.ehlo()
    assert smtp.has_extn("starttls"), "STARTTLS not offered"
    plain_code, _ = smtp.mail("notifications@refroute.example")
    smtp.starttls(context=ssl.create_default_context(cafile=ca))
    smtp.ehlo()
    message = EmailMessage()
    message["From"] = "refroute <notifications@refroute.example>"
    message["To"] = "marac@city.example, chair@city.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<{notification_id}@refroute.example>"
    message["X-Refroute-Notification-Id"] = notification_id
    message.set_content(body)
    smtp.send_message(message)
print(plain_code)
"#;

/// POSTs each (path, body) of argv[3] (JSON) to the receiver at argv[1] trusting argv[2], then
/// one GET; prints the statuses answered as JSON.
const POST_WEBHOOKS: &str = r#"
import json, ssl, sys, urllib.error, urllib.request
base, ca, posts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
context = ssl.create_default_context(cafile=ca)
def call(request):
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
statuses = []
for i, (path, body) in enumerate(posts):
    request = urllib.request.Request(base + path, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json",
        "X-Refroute-Delivery": f"delivery-{i}",
    })
    statuses.append(call(request))
statuses.append(call(urllib.request.Request(base + "/health", method="GET")))
print(json.dumps(statuses))
"#;

async fn python(script: &str, args: &[&str]) -> String {
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("running python3");
    assert!(
        out.status.success(),
        "python3 failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

async fn send_mail(sink: &MailSink, ca: &Path, notification_id: &str, subject: &str, body: &str) {
    let port = sink.port().to_string();
    let ca = ca.display().to_string();
    let plain = python(SEND_MAIL, &[&port, &ca, notification_id, subject, body]).await;
    assert_eq!(plain, "530", "MAIL before STARTTLS must be refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_sent_over_starttls_is_recorded_with_its_notification_id_and_kept_across_a_restart() {
    let pki = refroute_e2e::pki();
    let mut sink = MailSink::start(&pki.server_cert(), &pki.server_key())
        .await
        .expect("starting the SMTP sink");

    send_mail(
        &sink,
        &pki.ca(),
        "n-1",
        "Référence 1 – MARAC notice",
        "A referral for the MARAC — ré 1.\nSecond line.\n",
    )
    .await;
    let mails = sink.wait_for(1, WITHIN).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let first = &mails[0];
    assert!(first.tls, "the message was sent under STARTTLS");
    assert_eq!(first.notification_id.as_deref(), Some("n-1"));
    assert_eq!(first.message_id.as_deref(), Some("<n-1@refroute.example>"));
    assert_eq!(first.mail_from, "notifications@refroute.example");
    assert_eq!(first.rcpt_tos, ["marac@city.example", "chair@city.example"]);
    assert_eq!(first.subject, "Référence 1 – MARAC notice");
    assert_eq!(
        first.body,
        "A referral for the MARAC — ré 1.\nSecond line.\n"
    );
    assert_eq!(
        first
            .headers
            .get("X-Refroute-Notification-Id")
            .map(String::as_str),
        Some("n-1")
    );
    assert!(!first.received_at.is_empty());

    sink.stop().await.expect("stopping the sink");
    let refused = std::net::TcpStream::connect(("127.0.0.1", sink.port()))
        .expect_err("a stopped sink accepts no connection");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    sink.restart().await.expect("restarting the sink");
    send_mail(&sink, &pki.ca(), "n-2", "Second notice", "Two.\n").await;
    let mails = sink.wait_for(2, WITHIN).await;
    let ids: Vec<_> = mails.iter().map(|m| m.notification_id.as_deref()).collect();
    assert_eq!(ids, [Some("n-1"), Some("n-2")], "{mails:#?}");
    assert!(mails.iter().all(|m| m.tls));
    assert_eq!(mails[1].subject, "Second notice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_receiver_answers_each_path_with_its_scripted_statuses_and_records_every_request()
 {
    let pki = refroute_e2e::pki();
    let receiver = WebhookReceiver::start(&pki.server_cert(), &pki.server_key())
        .await
        .expect("starting the webhook receiver");
    receiver.respond("/hooks/city", &[500, 200]);

    let posts = serde_json::json!([
        ["/hooks/city", r#"{"attempt":1}"#],
        ["/hooks/city", r#"{"attempt":2}"#],
        ["/hooks/city", r#"{"attempt":3}"#],
        ["/hooks/other", r#"{"attempt":1}"#],
    ])
    .to_string();
    let base = receiver.url("");
    let statuses = python(
        POST_WEBHOOKS,
        &[&base, &pki.ca().display().to_string(), &posts],
    )
    .await;
    // The script's statuses in turn, the last repeating; 200 for unscripted paths.
    assert_eq!(statuses, "[500, 200, 200, 200, 200]");

    let requests = receiver.wait_for(5, WITHIN).await;
    let seen: Vec<_> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/hooks/city", 500),
            ("POST", "/hooks/city", 200),
            ("POST", "/hooks/city", 200),
            ("POST", "/hooks/other", 200),
            ("GET", "/health", 200),
        ]
    );
    let first = &requests[0];
    assert_eq!(first.body, br#"{"attempt":1}"#);
    assert_eq!(
        first.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(
        first.headers.get("x-refroute-delivery").map(String::as_str),
        Some("delivery-0")
    );
    assert_eq!(
        first.headers.get("host").map(String::as_str),
        Some(format!("localhost:{}", receiver.port()).as_str())
    );
    assert_eq!(requests[2].body, br#"{"attempt":3}"#);
}
