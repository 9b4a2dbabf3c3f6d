//! People and systems are told what they need to know, and only they: the real services send
//! email to a real SMTP server on loopback (STARTTLS with the test PKI's certificate) and signed
//! webhooks to a real HTTPS receiver, both started here. Every message is counted at the
//! receiving end by its notification id.

mod support;

use refroute_cli::dev_pki::{CITY, DevOrganisation, HACKNEY};
use refroute_e2e::mail::{Mail, MailSink};
use refroute_e2e::webhook::{Received, WebhookReceiver};
use refroute_e2e::{
    HARNESS, TempDir, TestSystem, pki, spawn_system_with, spawn_system_with_own_broker_users,
};
use refroute_notification::channel::signature;
use refroute_platform::Settings;
use refroute_platform::settings::Secret;
use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use refroute_proto::v1::{
    CreateReferralRequest, Delivery, DeliveryState, ListDeliveriesRequest, Panel, Referral,
    ReferralStatus, referral,
};
use std::collections::BTreeMap;
use std::time::Duration;
use tonic::transport::Channel;

const COLP_MAIL: &str = "public-protection@colp.pnn.example";
const MET_MAIL: &str = "referrals@met.example";
const CITY_MARAC_MAIL: &str = "marac@city.cjsm.example";
const CITY_CCM_MAIL: &str = "community-marac@city.example";
const CITY_CHANNEL_MAIL: &str = "channel@city.example";
const HACKNEY_MARAC_MAIL: &str = "marac@hackney.example";
const HACKNEY_SOCIAL_CARE: &str = "adult-social-care@hackney.example";
const OPERATOR_MAIL: &str = "on-call@ops.example";
const SECRET: &str = "colp-webhook-key-for-tests";
const MET_SECRET: &str = "met-webhook-key-for-tests";
const WAIT: Duration = Duration::from_secs(60);

/// The organisations of these tests, with the test PKI's certificates, told by `mail` and
/// `hooks`: the City's police refer (a webhook, and an email address approved for personal
/// data), the City's three panels coordinate, Hackney's MARAC and an operator are there to be
/// told nothing.
fn organisations(hooks: &WebhookReceiver, colp_hook: &str, met_hook: Option<&str>) -> String {
    let mut met = DevOrganisation::new(
        "metropolitan-police",
        "Metropolitan Police Service",
        "police_force",
    )
    .role("referrer")
    .email(MET_MAIL, false);
    if let Some(path) = met_hook {
        met = met.webhook(&hooks.url(path), false);
    }
    let orgs = vec![
        // The harness's own calls (health): told nothing.
        DevOrganisation::new(HARNESS, "refroute test harness", "partnership").role("operator"),
        DevOrganisation::new(
            "city-of-london-police",
            "City of London Police",
            "police_force",
        )
        .role("referrer")
        .webhook(&hooks.url(colp_hook), false)
        .email(COLP_MAIL, true),
        met,
        DevOrganisation::new("city-marac", "City of London MARAC", "partnership")
            .coordinates(CITY, &["MARAC", "REVIEW"])
            .email(CITY_MARAC_MAIL, true),
        DevOrganisation::new(
            "city-community-marac",
            "City of London Community MARAC",
            "partnership",
        )
        .coordinates(CITY, &["COMMUNITY_MARAC"])
        .email(CITY_CCM_MAIL, false),
        DevOrganisation::new(
            "city-channel",
            "City of London Channel panel",
            "council_service",
        )
        .coordinates(CITY, &["CHANNEL"])
        .email(CITY_CHANNEL_MAIL, false),
        DevOrganisation::new("hackney-marac", "Hackney MARAC", "partnership")
            .coordinates(HACKNEY, &["MARAC"])
            .email(HACKNEY_MARAC_MAIL, false),
        DevOrganisation::new("refroute-operations", "refroute operations", "partnership")
            .role("operator")
            .email(OPERATOR_MAIL, false),
    ];
    pki()
        .organisations_file(&orgs)
        .expect("the test PKI has every certificate")
}

/// Hackney's statutory services have an address (the shipped directory leaves it out).
const DIRECTORY: &str = r#"
[[area]]
code = "E09000012"
name = "Hackney"
police_force = "E23000001"
panels = ["MARAC", "COMMUNITY_MARAC", "CHANNEL"]
[[area.contacts]]
role = "Statutory services (adult social care and mental health)"
organisation = "London Borough of Hackney"
address = "adult-social-care@hackney.example"
"#;

/// The settings that point the services at `mail`, trust the test CA for it and the
/// webhooks, and retry quickly.
fn tell_by(s: &mut Settings, files: &TempDir, organisations: &str, mail: &MailSink) {
    s.access.organisations_file = files
        .write("organisations.toml", organisations)
        .display()
        .to_string();
    s.directory.file = files
        .write("directory.toml", DIRECTORY)
        .display()
        .to_string();
    let ca = pki().ca().display().to_string();
    s.delivery.email.host = "localhost".into();
    s.delivery.email.port = mail.port();
    s.delivery.email.tls = "starttls".into();
    s.delivery.email.ca_file = ca.clone();
    s.delivery.webhook.ca_file = ca;
    s.delivery.poll_ms = 50;
    s.delivery.retry_initial_ms = 200;
    s.delivery.retry_max_ms = 1000;
    s.delivery
        .webhook_secrets
        .insert("city-of-london-police".into(), Secret::new(SECRET));
    s.delivery
        .webhook_secrets
        .insert("metropolitan-police".into(), Secret::new(MET_SECRET));
}

async fn fixtures() -> (MailSink, WebhookReceiver) {
    let p = pki();
    let mail = MailSink::start(&p.server_cert(), &p.server_key())
        .await
        .expect("starting the SMTP sink");
    let hooks = WebhookReceiver::start(&p.server_cert(), &p.server_key())
        .await
        .expect("starting the webhook receiver");
    (mail, hooks)
}

async fn as_org(system: &TestSystem, service: &str, org: &str) -> Channel {
    system.channel_as(service, org).await.unwrap()
}

/// The referral a message is about: a mail says "Referral id: <id>", a webhook's body has it.
fn referral_of_mail(m: &Mail) -> String {
    m.body
        .lines()
        .find_map(|l| l.strip_prefix("Referral id: "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn body_of(r: &Received) -> serde_json::Value {
    serde_json::from_slice(&r.body).expect("a webhook body is JSON")
}

/// Everything told, as (referral id, kind, recipient address): mails and webhooks alike.
fn told(
    mail: &[Mail],
    hooks: &[Received],
    hook_url: &dyn Fn(&str) -> String,
) -> Vec<(String, String, String)> {
    let mut all: Vec<(String, String, String)> = mail
        .iter()
        .flat_map(|m| {
            let kind = m
                .headers
                .get("X-Refroute-Kind")
                .cloned()
                .unwrap_or_default();
            let referral = referral_of_mail(m);
            m.rcpt_tos
                .iter()
                .map(move |to| (referral.clone(), kind.clone(), to.to_lowercase()))
        })
        .collect();
    all.extend(
        hooks
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| {
                let b = body_of(r);
                (
                    b["referral_id"].as_str().unwrap_or_default().to_string(),
                    b["kind"].as_str().unwrap_or_default().to_string(),
                    hook_url(&r.path),
                )
            }),
    );
    all.sort();
    all
}

async fn deliveries(system: &TestSystem, referral_id: &str) -> Vec<Delivery> {
    let mut operator =
        CoordinatorServiceClient::new(as_org(system, "notification", "refroute-operations").await);
    operator
        .list_deliveries(ListDeliveriesRequest {
            referral_id: referral_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

fn person_of(r: &CreateReferralRequest) -> (String, String) {
    let p = match r.referral.as_ref().and_then(|r| r.details.as_ref()) {
        Some(referral::Details::DomesticAbuse(d)) => d.victim.clone(),
        Some(referral::Details::CommunityMarac(c)) => c.subject.clone(),
        Some(referral::Details::Prevent(p)) => p.subject.clone(),
        None => None,
    }
    .unwrap_or_default();
    (p.full_name, p.date_of_birth)
}

/// Who must be told of `decided`, and what, by the rules this deployment configures.
fn owed(decided: &Referral, hook: &str) -> Vec<(String, String, String)> {
    let d = decided.decision.clone().unwrap_or_default();
    let id = decided.id.clone();
    let to = |kind: &str, address: &str| (id.clone(), kind.to_string(), address.to_lowercase());
    let referrer = |kind: &str| vec![to(kind, COLP_MAIL), to(kind, hook)];
    let mut owed = match decided.status() {
        ReferralStatus::Routed => {
            let coordinator = match (d.destination_area_code.as_str(), d.panel()) {
                (CITY, Panel::Marac) => CITY_MARAC_MAIL,
                (CITY, Panel::CommunityMarac) => CITY_CCM_MAIL,
                (CITY, Panel::Channel) => CITY_CHANNEL_MAIL,
                other => panic!("a case routed outside the City: {other:?}"),
            };
            let urgent = matches!(
                decided.details.as_ref(),
                Some(referral::Details::DomesticAbuse(da)) if da.cannot_wait_for_next_meeting
            ) || (d.panel() == Panel::Marac && d.dash_yes_count >= 18);
            let kind = if urgent { "CASE_URGENT" } else { "CASE_ROUTED" };
            let mut owed = referrer("REFERRAL_ROUTED");
            owed.push(to(kind, coordinator));
            if d.notify_area_codes.iter().any(|a| a == HACKNEY) {
                owed.push(to("RESIDENCE_NOTICE", HACKNEY_SOCIAL_CARE));
            }
            owed
        }
        ReferralStatus::NeedsReview => {
            let mut owed = referrer("REFERRAL_NEEDS_REVIEW");
            owed.push(to("CASE_FOR_REVIEW", CITY_MARAC_MAIL));
            owed
        }
        ReferralStatus::BelowThreshold => referrer("REFERRAL_BELOW_THRESHOLD"),
        ReferralStatus::Declined => referrer("REFERRAL_DECLINED"),
        ReferralStatus::TransferRequested => referrer("REFERRAL_TRANSFERRED"),
        other => panic!("undecided: {other:?}"),
    };
    owed.sort();
    owed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pathway_and_outcome_tells_the_right_recipients_the_right_things_and_nothing_else() {
    let (mail, hooks) = fixtures().await;
    let files = TempDir::new();
    let organisations = organisations(&hooks, "/colp", None);
    let system = spawn_system_with(|s| tell_by(s, &files, &organisations, &mail)).await;
    let mut intake =
        IntakeServiceClient::new(as_org(&system, "intake", "city-of-london-police").await);

    // The quick start's demo: one referral per outcome on every pathway, and one the referrer
    // says cannot wait for the next meeting.
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let mut requests: Vec<CreateReferralRequest> = refroute_cli::demo::scenarios(tag)
        .into_iter()
        .map(|s| s.request)
        .collect();
    let mut urgent = requests[0].clone();
    urgent.request_id = format!("urgent-{tag}");
    if let Some(referral::Details::DomesticAbuse(d)) =
        urgent.referral.as_mut().and_then(|r| r.details.as_mut())
    {
        d.cannot_wait_for_next_meeting = true;
        d.victim.as_mut().unwrap().full_name = format!("Urgent Victim {tag}");
    }
    requests.push(urgent);
    let mut decided = Vec::new();
    for request in &requests {
        let created = intake
            .create_referral(request.clone())
            .await
            .unwrap()
            .into_inner();
        let outcome = refroute_cli::demo::await_outcome(&mut intake, &created.id, WAIT)
            .await
            .unwrap();
        decided.push((request.clone(), outcome));
    }

    let hook = hooks.url("/colp").to_lowercase();
    let mut want: Vec<(String, String, String)> =
        decided.iter().flat_map(|(_, r)| owed(r, &hook)).collect();
    want.sort();
    let mails = mail.wait_for(want.len() - decided.len(), WAIT).await;
    let received = hooks.wait_for(decided.len(), WAIT).await;
    // Anything more would have come by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let url = |path: &str| hooks.url(path).to_lowercase();
    let got = told(&mail.messages(), &hooks.requests(), &url);
    assert_eq!(got, want, "told, by (referral, kind, address)");
    assert!(mails.iter().all(|m| m.tls), "every mail went over STARTTLS");
    assert!(!mails.is_empty() && !received.is_empty());

    // Only a channel approved for personal data names the person, and only those.
    let approved = [COLP_MAIL, CITY_MARAC_MAIL];
    let mut named = 0;
    for (request, referral) in &decided {
        let (name, born) = person_of(request);
        assert!(!name.is_empty());
        for m in mail
            .messages()
            .iter()
            .filter(|m| referral_of_mail(m) == referral.id)
        {
            let to = m.rcpt_tos.join(",");
            let text = format!("{}\n{}", m.subject, m.body);
            if approved.contains(&to.as_str()) {
                named += text.contains(&name) as usize;
            } else {
                assert!(!text.contains(&name), "{to} was told the name: {text}");
                assert!(
                    born.is_empty() || !text.contains(&born),
                    "{to} was told the date of birth"
                );
            }
            // The guidance on what to supply quotes an example postcode; the person's is never sent.
            let text = text.replace("(e.g. EC2M 7PY)", "");
            assert!(
                !text.contains("EC2M 7PY") && !text.contains("E8 1EA"),
                "{to} was told a postcode: {text}"
            );
        }
        for r in hooks
            .requests()
            .iter()
            .filter(|r| body_of(r)["referral_id"] == referral.id.as_str())
        {
            let body = String::from_utf8_lossy(&r.body);
            assert!(
                !body.contains(&name),
                "the webhook was told the name: {body}"
            );
            assert!(body_of(r).get("person").is_none());
        }
    }
    assert!(
        named >= decided.len(),
        "the approved address is told the name: {named}"
    );

    // The urgent one says so.
    let urgent_mail = mail
        .messages()
        .into_iter()
        .find(|m| m.headers.get("X-Refroute-Kind").map(String::as_str) == Some("CASE_URGENT"))
        .expect("an urgent case");
    assert!(
        urgent_mail
            .body
            .contains("cannot wait for the next meeting"),
        "{}",
        urgent_mail.body
    );
    assert!(urgent_mail.subject.contains("URGENT"));
    // Below threshold is signposted; review says what to supply.
    let to_referrer = |kind: &str| {
        mail.messages()
            .into_iter()
            .filter(|m| m.headers.get("X-Refroute-Kind").map(String::as_str) == Some(kind))
            .map(|m| m.body)
            .collect::<Vec<_>>()
    };
    assert!(
        to_referrer("REFERRAL_BELOW_THRESHOLD")
            .iter()
            .any(|b| b.contains("Signpost") || b.contains("signpost"))
    );
    assert!(
        to_referrer("REFERRAL_NEEDS_REVIEW")
            .iter()
            .all(|b| b.contains("Please supply: "))
    );

    // Every webhook is signed over its timestamp and body, and the signature fails for any
    // other body or key.
    let now = chrono::Utc::now().timestamp();
    for r in hooks.requests() {
        let ts = &r.headers["refroute-timestamp"];
        let sig = &r.headers["refroute-signature"];
        assert_eq!(r.method, "POST");
        assert!(
            signature::verify(SECRET.as_bytes(), ts, &r.body, sig, now, 300),
            "{r:?}"
        );
        let mut tampered = r.body.clone();
        tampered.push(b' ');
        assert!(!signature::verify(
            SECRET.as_bytes(),
            ts,
            &tampered,
            sig,
            now,
            300
        ));
        assert!(!signature::verify(
            MET_SECRET.as_bytes(),
            ts,
            &r.body,
            sig,
            now,
            300
        ));
        assert_eq!(
            r.headers["refroute-notification-id"],
            body_of(&r)["notification_id"]
                .as_str()
                .unwrap_or(&r.headers["refroute-notification-id"])
        );
    }

    // Each delivery says sent, and is in the audit log as who was told what.
    let mut sent = 0;
    for (_, referral) in &decided {
        for d in deliveries(&system, &referral.id).await {
            if d.state() == DeliveryState::NoRecipient {
                continue;
            }
            assert_eq!(d.state(), DeliveryState::Sent, "{d:?}");
            assert!(d.sent_time.is_some() && d.attempts >= 1);
            sent += 1;
        }
    }
    assert_eq!(sent, want.len());
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit.entries WHERE action = 'notification.sent'")
            .fetch_one(&system.pool)
            .await
            .unwrap();
    assert_eq!(audited as usize, want.len());
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_notifications_due_while_the_mail_server_is_down_each_arrive_once_when_it_returns() {
    let (mut mail, hooks) = fixtures().await;
    let files = TempDir::new();
    let organisations = organisations(&hooks, "/colp", None);
    let system = spawn_system_with(|s| tell_by(s, &files, &organisations, &mail)).await;
    // The Met's referrals below threshold: one email each, to the Met.
    let mut intake =
        IntakeServiceClient::new(as_org(&system, "intake", "metropolitan-police").await);
    mail.stop().await.unwrap();
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let template = refroute_cli::demo::scenarios(tag)
        .into_iter()
        .find(|s| {
            s.expect_status == ReferralStatus::BelowThreshold
                && s.pathway == refroute_proto::v1::Pathway::DomesticAbuse
        })
        .unwrap()
        .request;
    for n in 0..50 {
        let mut r = template.clone();
        r.request_id = format!("down-{tag}-{n}");
        as_victim(&mut r, &format!("Victim {n} {tag}"));
        intake.create_referral(r).await.unwrap();
    }
    // All 50 are due and have failed at least once against the stopped server.
    let failing = "SELECT count(*) FROM notification.deliveries WHERE kind = 'REFERRAL_BELOW_THRESHOLD' AND state = 'FAILED'";
    system.assert_count(failing, 50, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(mail.messages().is_empty());
    mail.restart().await.unwrap();

    let arrived = mail.wait_for(50, WAIT).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let arrived_after = mail.messages();
    assert_eq!(arrived_after.len(), arrived.len(), "nothing more arrives");
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for m in &arrived_after {
        *by_id
            .entry(m.notification_id.clone().expect("a notification id"))
            .or_default() += 1;
        assert_eq!(m.rcpt_tos, [MET_MAIL]);
    }
    assert_eq!(by_id.len(), 50, "fifty notifications");
    assert!(
        by_id.values().all(|n| *n == 1),
        "each exactly once: {by_id:?}"
    );
    let sent = "SELECT count(*) FROM notification.deliveries WHERE kind = 'REFERRAL_BELOW_THRESHOLD' AND state = 'SENT'";
    system.assert_count(sent, 50, WAIT).await;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM notification.deliveries WHERE kind = 'REFERRAL_BELOW_THRESHOLD' AND attempts >= 2",
    )
    .fetch_all(&system.pool)
    .await
    .unwrap();
    assert_eq!(ids.len(), 50, "each was retried");
    assert!(
        ids.iter().all(|id| by_id.contains_key(id)),
        "the ids counted are the deliveries'"
    );
    system.shutdown().await;
}

/// `r` for another victim (so earlier referrals of the same victim count for nothing), from
/// whoever calls.
fn as_victim(r: &mut CreateReferralRequest, name: &str) {
    let referral = r.referral.as_mut().unwrap();
    referral.referring_organisation.clear();
    if let Some(referral::Details::DomesticAbuse(d)) = referral.details.as_mut() {
        d.victim.as_mut().unwrap().full_name = name.into();
    }
}

/// `refroute deliveries <referral-id>`, the real CLI, as the operator.
async fn cli_deliveries(system: &TestSystem, referral_id: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("refroute");
    let out = tokio::process::Command::new(bin)
        .args([
            "--pki",
            &pki().dir.display().to_string(),
            "--as",
            "refroute-operations",
        ])
        .args(["--coordinator", &system.addr("notification").to_string()])
        .args(["deliveries", referral_id])
        .env_remove("REFROUTE_CONFIG")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_answering_500_is_retried_until_it_succeeds_and_one_answering_400_is_given_up()
{
    let (mail, hooks) = fixtures().await;
    hooks.respond("/flaky", &[500, 503, 200]);
    hooks.respond("/refuses", &[400]);
    let files = TempDir::new();
    let organisations = organisations(&hooks, "/flaky", Some("/refuses"));
    let system = spawn_system_with(|s| tell_by(s, &files, &organisations, &mail)).await;
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let below = refroute_cli::demo::scenarios(tag)
        .into_iter()
        .find(|s| {
            s.expect_status == ReferralStatus::BelowThreshold
                && s.pathway == refroute_proto::v1::Pathway::DomesticAbuse
        })
        .unwrap()
        .request;
    let mut ids = Vec::new();
    for (org, request_id) in [
        ("city-of-london-police", "flaky"),
        ("metropolitan-police", "refuses"),
    ] {
        let mut intake = IntakeServiceClient::new(as_org(&system, "intake", org).await);
        let mut r = below.clone();
        r.request_id = format!("{request_id}-{tag}");
        as_victim(&mut r, &format!("Victim {request_id} {tag}"));
        ids.push(intake.create_referral(r).await.unwrap().into_inner().id);
    }
    let webhook = |state: &str| {
        format!(
            "SELECT count(*) FROM notification.deliveries WHERE channel = 'webhook' AND state = '{state}'"
        )
    };
    system.assert_count(&webhook("SENT"), 1, WAIT).await;
    system.assert_count(&webhook("GIVEN_UP"), 1, WAIT).await;

    // Three tries at the flaky endpoint, the last answered 200; one at the refusing one.
    let flaky: Vec<u16> = hooks
        .requests()
        .iter()
        .filter(|r| r.path == "/flaky")
        .map(|r| r.status)
        .collect();
    assert_eq!(flaky, [500, 503, 200]);
    let ids_seen: Vec<String> = hooks
        .requests()
        .iter()
        .filter(|r| r.path == "/flaky")
        .map(|r| r.headers["refroute-notification-id"].clone())
        .collect();
    assert!(
        ids_seen.windows(2).all(|w| w[0] == w[1]),
        "a retry is the same notification"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refused: Vec<u16> = hooks
        .requests()
        .iter()
        .filter(|r| r.path == "/refuses")
        .map(|r| r.status)
        .collect();
    assert_eq!(refused, [400], "a 400 is not tried again");

    let shown = cli_deliveries(&system, &ids[0]).await;
    assert!(
        shown.contains("REFERRAL_BELOW_THRESHOLD") && shown.contains("by webhook"),
        "{shown}"
    );
    assert!(shown.contains("SENT after 3 attempt(s)"), "{shown}");
    let shown = cli_deliveries(&system, &ids[1]).await;
    assert!(
        shown.contains("GIVEN_UP after 1 attempt(s)") && shown.contains("400"),
        "{shown}"
    );
    // The Met's email still went.
    assert!(
        shown.contains(&format!("by email to {MET_MAIL}: SENT")),
        "{shown}"
    );

    // Given up with an alarm: counted where Prometheus scrapes it.
    let metrics = system.scrape("notification").await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("refroute_notifications_total")
                && l.contains("state=\"GIVEN_UP\"")
                && l.contains("channel=\"webhook\"")),
        "{metrics}"
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_on_the_do_not_inform_list_however_spelled_is_told_nothing_and_everyone_else_is()
 {
    let (mail, hooks) = fixtures().await;
    let files = TempDir::new();
    let organisations = organisations(&hooks, "/colp", None);
    let system = spawn_system_with(|s| tell_by(s, &files, &organisations, &mail)).await;
    let mut intake =
        IntakeServiceClient::new(as_org(&system, "intake", "city-of-london-police").await);
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let mut r = refroute_cli::demo::scenarios(tag).remove(0).request;
    r.request_id = format!("dni-{tag}");
    if let Some(referral::Details::DomesticAbuse(d)) =
        r.referral.as_mut().and_then(|r| r.details.as_mut())
    {
        // The City's MARAC by name and the police's own address, in other case and spacing.
        d.do_not_inform = vec![
            "  city of LONDON   marac ".into(),
            "Public-Protection@COLP.pnn.example".into(),
        ];
    }
    let created = intake.create_referral(r).await.unwrap().into_inner();
    refroute_cli::demo::await_outcome(&mut intake, &created.id, WAIT)
        .await
        .unwrap();

    // Told: the police's webhook. Refused: the MARAC's mail and the police's mail.
    let received = hooks.wait_for(1, WAIT).await;
    system
        .assert_count(
            &format!("SELECT count(*) FROM notification.deliveries WHERE referral_id = '{}' AND state = 'REFUSED'", created.id),
            2,
            WAIT,
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        mail.messages().is_empty(),
        "nobody listed was mailed: {:?}",
        mail.messages()
    );
    assert_eq!(received.len(), 1);
    assert_eq!(body_of(&received[0])["kind"], "REFERRAL_ROUTED");

    let shown = deliveries(&system, &created.id).await;
    let states: Vec<(String, DeliveryState)> = shown
        .iter()
        .map(|d| (d.address.to_lowercase(), d.state()))
        .collect();
    assert!(
        states.contains(&(CITY_MARAC_MAIL.into(), DeliveryState::Refused)),
        "{states:?}"
    );
    assert!(
        states.contains(&(COLP_MAIL.into(), DeliveryState::Refused)),
        "{states:?}"
    );
    assert!(
        shown
            .iter()
            .filter(|d| d.state() == DeliveryState::Refused)
            .all(|d| d.last_error.contains("do-not-inform"))
    );
    // The refusal is in the audit log; the alarm is counted.
    let refusals: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit.entries WHERE action = 'notification.refused' AND record_id = $1",
    )
    .bind(&created.id)
    .fetch_one(&system.pool)
    .await
    .unwrap();
    assert_eq!(refusals, 2);
    let metrics = system.scrape("notification").await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("refroute_notifications_total")
                && l.contains("state=\"REFUSED\"")),
        "{metrics}"
    );
    system.shutdown().await;
}

/// Mails to the operator of `kind`.
fn operator_alerts(mail: &MailSink, kind: &str) -> Vec<Mail> {
    mail.messages()
        .into_iter()
        .filter(|m| m.rcpt_tos == [OPERATOR_MAIL])
        .filter(|m| m.headers.get("X-Refroute-Kind").map(String::as_str) == Some(kind))
        .collect()
}

async fn operator_alert(mail: &MailSink, kind: &str) -> Mail {
    let start = std::time::Instant::now();
    loop {
        if let Some(m) = operator_alerts(mail, kind).pop() {
            return m;
        }
        assert!(
            start.elapsed() < WAIT,
            "no {kind} reached the operator: {:?}",
            mail.messages()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_message_and_a_stuck_consumer_are_told_to_the_operators() {
    let (mail, hooks) = fixtures().await;
    let files = TempDir::new();
    let organisations = organisations(&hooks, "/colp", None);
    // Each service its own broker user, so a stuck consumer's alert is checked like any event;
    // a lock held too long fails triage's statements after 200 ms, and a second of that is stuck.
    let system = spawn_system_with_own_broker_users(|s| {
        tell_by(s, &files, &organisations, &mail);
        s.amqp.stuck_alarm_secs = 1;
        let url = format!("{}?options[lock_timeout]=200", s.database.url.expose());
        s.database.url = Secret::new(url);
    })
    .await;

    // Something that is not a referral, sent as one: triage dead-letters it.
    let referral_id = uuid::Uuid::now_v7().to_string();
    let message_id = support::publish(
        &system,
        &support::Published {
            routing_key: "referral.received.v1".into(),
            message_type: "refroute.v1.ReferralReceived".into(),
            correlation_id: referral_id.clone(),
            payload: b"not a protobuf referral".to_vec(),
        },
    )
    .await;
    let alert = operator_alert(&mail, "ALERT_DEAD_LETTERED").await;
    for want in [
        "triage.referral-received.dlq",
        &message_id.to_string(),
        &referral_id,
        "refroute dead-letters replay triage.referral-received",
    ] {
        assert!(alert.body.contains(want), "{want}: {}", alert.body);
    }
    // It is the operators' to see among the referral's deliveries, and sent.
    system
        .assert_count(
            &format!(
                "SELECT count(*) FROM notification.deliveries WHERE referral_id = '{referral_id}' \
                 AND kind = 'ALERT_DEAD_LETTERED' AND state = 'SENT'"
            ),
            1,
            WAIT,
        )
        .await;

    // Triage cannot write its decisions: its consumer is stuck on the next referral.
    let mut lock = system.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE triage.decisions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let mut intake =
        IntakeServiceClient::new(as_org(&system, "intake", "city-of-london-police").await);
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let mut r = refroute_cli::demo::scenarios(tag).remove(0).request;
    r.request_id = format!("stuck-{tag}");
    let waiting = intake.create_referral(r).await.unwrap().into_inner();
    let stuck = operator_alert(&mail, "ALERT_CONSUMER_STUCK").await;
    assert!(
        stuck
            .subject
            .contains("triage is stuck on a message in triage.referral-received"),
        "{}",
        stuck.subject
    );
    assert!(stuck.body.contains(&waiting.id), "{}", stuck.body);
    lock.rollback().await.unwrap();

    // Once it moves, the referral goes on as usual; each alert was sent once.
    refroute_cli::demo::await_outcome(&mut intake, &waiting.id, WAIT)
        .await
        .unwrap();
    hooks.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(operator_alerts(&mail, "ALERT_DEAD_LETTERED").len(), 1);
    assert_eq!(operator_alerts(&mail, "ALERT_CONSUMER_STUCK").len(), 1);
    // Alerts name no one.
    let (name, _) = person_of(&refroute_cli::demo::scenarios(tag).remove(0).request);
    assert!(!stuck.body.contains(&name) && !alert.body.contains(&name));
    system.shutdown().await;
}
