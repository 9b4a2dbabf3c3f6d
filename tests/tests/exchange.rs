//! Transfers between deployments: two complete refroute deployments on loopback, the City of
//! London's and Hackney's, each with its own database, virtual host, ports and CA (made here),
//! listing each other as peers. Cases cross over mutual TLS with receipts, are answered, survive
//! the receiver being away, and are refused to the wrong caller; a destination with no
//! deployment is reached by email (a real SMTP server) and closed by its acknowledgement.

use refroute_cli::client::ClientIdentity;
use refroute_cli::dev_pki::{self, CITY, DevOrganisation, HACKNEY, Pki};
use refroute_e2e::mail::{Mail, MailSink};
use refroute_e2e::{HARNESS, PreventSample, Sample, TempDir, TestSystem, spawn_deployment};
use refroute_platform::Settings;
use refroute_proto::v1::exchange_service_client::ExchangeServiceClient;
use refroute_proto::v1::transfer_service_client::TransferServiceClient;
use refroute_proto::v1::{
    AcknowledgeTransferRequest, Case, DecideTransferRequest, GetTransferRequest,
    GetTransferStatusRequest, ListTransfersRequest, OfferTransferRequest, Panel, ReferralStatus,
    Transfer, TransferAnswer, TransferKind, TransferState,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tonic::Code;

const ISLINGTON: &str = "E09000019";
const MEDWAY: &str = "E06000035";
const CITY_MARAC_MAIL: &str = "marac@city.cjsm.example";
const KENT_PREVENT_MAIL: &str = "prevent@kent.pnn.example";
const WAIT: Duration = Duration::from_secs(90);

/// A deployment's own PKI: the harness (which calls as referrer, operator and coordinator of
/// both areas), the deployment's identity towards its peers, and for the City a genuine peer
/// certificate of another borough's deployment (Islington's), to be refused at Hackney.
fn deployment_pki(dir: PathBuf, me: &str) -> Pki {
    let harness = DevOrganisation::new(HARNESS, "City of London Police", "partnership")
        .role("referrer")
        .role("operator")
        .coordinates(CITY, &["MARAC", "CHANNEL", "REVIEW"])
        .coordinates(HACKNEY, &["MARAC", "CHANNEL", "REVIEW"]);
    let orgs = vec![
        harness,
        DevOrganisation::new(me, me, "peer_deployment"),
        DevOrganisation::new(
            "islington-refroute",
            "Islington refroute",
            "peer_deployment",
        ),
        DevOrganisation::new("city-marac", "City of London MARAC", "partnership")
            .coordinates(CITY, &["MARAC"]),
    ];
    dev_pki::generate(&dir, &orgs).expect("making a deployment's PKI")
}

/// Both deployments' ports and PKIs, and the files they share.
struct World {
    files: TempDir,
    city_pki: Pki,
    hackney_pki: Pki,
    city_port: u16,
    hackney_port: u16,
    /// Both CAs: each deployment trusts its own callers and its peer's.
    trust: PathBuf,
    mail: MailSink,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kent Police's Prevent team has an address approved for personal data (a PNN address).
const DIRECTORY: &str = r#"
[[police_force]]
code = "E23000032"
name = "Kent Police"
[[police_force.contacts]]
role = "Prevent team"
organisation = "Kent Police"
address = "prevent@kent.pnn.example"
personal_data = true
"#;

impl World {
    async fn new() -> World {
        let files = TempDir::new();
        let city_pki = deployment_pki(files.path().join("city-pki"), "city-refroute");
        let hackney_pki = deployment_pki(files.path().join("hackney-pki"), "hackney-refroute");
        let bundle = format!(
            "{}{}",
            std::fs::read_to_string(city_pki.ca()).unwrap(),
            std::fs::read_to_string(hackney_pki.ca()).unwrap()
        );
        let trust = files.write("trust.pem", &bundle);
        let mail = MailSink::start(&city_pki.server_cert(), &city_pki.server_key())
            .await
            .expect("starting the SMTP sink");
        World {
            files,
            city_pki,
            hackney_pki,
            city_port: free_port(),
            hackney_port: free_port(),
            trust,
            mail,
        }
    }

    fn peer(id: &str, area: &str, port: u16) -> DevOrganisation {
        DevOrganisation::new(id, id, "peer_deployment")
            .peer(&[area], &format!("https://127.0.0.1:{port}"))
    }

    /// The City's organisations: its harness and MARAC coordinator, and Hackney's deployment as
    /// the peer serving Hackney (at `hackney_port`).
    fn city_organisations(&self, hackney_port: u16) -> String {
        let own = self
            .city_pki
            .organisations_file(&[
                DevOrganisation::new(HARNESS, "City of London Police", "partnership")
                    .role("referrer")
                    .role("operator")
                    .coordinates(CITY, &["MARAC", "CHANNEL", "REVIEW"]),
                DevOrganisation::new("city-marac", "City of London MARAC", "partnership")
                    .coordinates(CITY, &["MARAC"])
                    .email(CITY_MARAC_MAIL, true),
            ])
            .unwrap();
        let hackney = Self::peer("hackney-refroute", HACKNEY, hackney_port);
        own + &dev_pki::organisation_entry(
            &hackney,
            &self.hackney_pki.fingerprint("hackney-refroute").unwrap(),
        )
    }

    /// Hackney's: its harness, the City's deployment as the peer serving the City, and
    /// Islington's deployment (a certificate the City's CA issued) as the peer serving Islington.
    fn hackney_organisations(&self) -> String {
        let own = self
            .hackney_pki
            .organisations_file(&[
                DevOrganisation::new(HARNESS, "Hackney harness", "partnership")
                    .role("referrer")
                    .role("operator")
                    .coordinates(HACKNEY, &["MARAC", "CHANNEL", "REVIEW"]),
            ])
            .unwrap();
        let city = Self::peer("city-refroute", CITY, self.city_port);
        let islington = Self::peer("islington-refroute", ISLINGTON, 1);
        own + &dev_pki::organisation_entry(
            &city,
            &self.city_pki.fingerprint("city-refroute").unwrap(),
        ) + &dev_pki::organisation_entry(
            &islington,
            &self.city_pki.fingerprint("islington-refroute").unwrap(),
        )
    }

    /// What both deployments set alike: the peers' certificates, quick retries, the mail sink.
    fn configure(&self, s: &mut Settings, pki: &Pki, me: &str, area: &str, port: u16, orgs: &str) {
        s.partnership.receiving_area_code = area.into();
        s.transfer.grpc_addr = format!("127.0.0.1:{port}");
        s.tls.ca_file = self.trust.display().to_string();
        s.access.organisations_file = self
            .files
            .write(&format!("{me}-organisations.toml"), orgs)
            .display()
            .to_string();
        s.directory.file = self
            .files
            .write("directory.toml", DIRECTORY)
            .display()
            .to_string();
        s.exchange.cert_file = pki.cert(me).display().to_string();
        s.exchange.key_file = pki.key(me).display().to_string();
        s.exchange.ca_file = self.trust.display().to_string();
        s.exchange.poll_ms = 50;
        s.exchange.retry_initial_ms = 100;
        s.exchange.retry_max_ms = 1000;
        s.exchange.timeout_secs = 5;
        s.delivery.email.host = "localhost".into();
        s.delivery.email.port = self.mail.port();
        s.delivery.email.tls = "starttls".into();
        s.delivery.email.ca_file = self.city_pki.ca().display().to_string();
        s.delivery.poll_ms = 50;
        s.delivery.retry_initial_ms = 200;
        s.delivery.retry_max_ms = 1000;
    }

    /// The City's deployment; `customise` runs last (a shorter delivery window, say).
    async fn city(&self, hackney_port: u16, customise: impl FnOnce(&mut Settings)) -> TestSystem {
        let orgs = self.city_organisations(hackney_port);
        spawn_deployment(self.city_pki.clone(), |s| {
            self.configure(
                s,
                &self.city_pki,
                "city-refroute",
                CITY,
                self.city_port,
                &orgs,
            );
            // The City declares that police incident dates and risk indicators stay home.
            s.exchange
                .fields
                .domestic_abuse
                .retain(|f| f != "police_reported_incident_dates" && f != "risk_indicators");
            customise(s);
        })
        .await
    }

    async fn hackney(&self) -> TestSystem {
        let orgs = self.hackney_organisations();
        spawn_deployment(self.hackney_pki.clone(), |s| {
            self.configure(
                s,
                &self.hackney_pki,
                "hackney-refroute",
                HACKNEY,
                self.hackney_port,
                &orgs,
            )
        })
        .await
    }
}

async fn transfers(system: &TestSystem) -> TransferServiceClient<tonic::transport::Channel> {
    TransferServiceClient::new(system.channel("transfer").await.unwrap())
}

async fn transfer(system: &TestSystem, id: &str) -> Transfer {
    transfers(system)
        .await
        .get_transfer(GetTransferRequest {
            transfer_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Waits until the transfer is in `state` at `system`, and returns it.
async fn transfer_in(system: &TestSystem, id: &str, state: TransferState) -> Transfer {
    let start = Instant::now();
    loop {
        let t = transfer(system, id).await;
        if t.state() == state {
            return t;
        }
        assert!(
            start.elapsed() < WAIT,
            "transfer {id} is {:?}, not {state:?}: {t:#?}",
            t.state()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The City's transfer of `referral_id`, once triage has asked for it.
async fn transfer_of(system: &TestSystem, referral_id: &str) -> Transfer {
    let start = Instant::now();
    loop {
        let listed = transfers(system)
            .await
            .list_transfers(ListTransfersRequest::default())
            .await
            .unwrap()
            .into_inner()
            .transfers;
        if let Some(t) = listed.into_iter().find(|t| t.referral_id == referral_id) {
            return t;
        }
        assert!(start.elapsed() < WAIT, "no transfer of {referral_id}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Hackney's MARAC queue, by transfer id: how many cases each transfer made.
async fn hackney_cases(hackney: &TestSystem) -> BTreeMap<String, Vec<Case>> {
    let mut by_transfer: BTreeMap<String, Vec<Case>> = BTreeMap::new();
    for case in hackney.queue_of(HACKNEY, Panel::Marac).await {
        by_transfer
            .entry(case.transfer_id.clone())
            .or_default()
            .push(case);
    }
    by_transfer
}

async fn wait_for_cases(hackney: &TestSystem, ids: &[String]) -> BTreeMap<String, Vec<Case>> {
    let start = Instant::now();
    loop {
        let cases = hackney_cases(hackney).await;
        if ids.iter().all(|id| cases.contains_key(id)) {
            return cases;
        }
        let missing = ids.iter().filter(|id| !cases.contains_key(*id)).count();
        assert!(
            start.elapsed() < WAIT,
            "{missing} transfers not in Hackney's queue"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn states(t: &Transfer) -> Vec<TransferState> {
    t.history.iter().map(|s| s.state()).collect()
}

/// A City referral of a victim who lives in Hackney, high risk under both areas' rules.
fn lives_in_hackney(name: &str) -> Sample {
    Sample::new(name)
        .yes(16)
        .police_incidents(2)
        .suicide_or_self_harm()
        .lives_in(HACKNEY)
}

async fn stop_all(system: &mut TestSystem) {
    for name in refroute_e2e::SERVICES {
        system.stop(name).await.unwrap();
    }
}

async fn start_all(system: &mut TestSystem) {
    for name in refroute_e2e::SERVICES {
        system.start(name).await.unwrap();
    }
}

/// How many times each transfer took `state`, as `system` recorded its steps.
async fn steps_in(system: &TestSystem, state: &str) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT transfer_id::text, count(*) FROM transfer.steps WHERE state = $1 GROUP BY 1",
    )
    .bind(state)
    .fetch_all(&system.pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_case_crosses_to_hackney_is_answered_and_survives_hackney_being_away() {
    let world = World::new().await;
    let mut hackney = world.hackney().await;
    let city = world.city(world.hackney_port, |_| {}).await;

    // Accepted: the case arrives in Hackney's MARAC queue marked as from the City, carrying
    // only what the City declares.
    let sent = city.decide(lives_in_hackney("Ann Crossing")).await;
    assert_eq!(sent.status(), ReferralStatus::TransferRequested);
    let t = transfer_of(&city, &sent.id).await;
    let cases = wait_for_cases(&hackney, std::slice::from_ref(&t.transfer_id)).await;
    let case = &cases[&t.transfer_id][0];
    assert_eq!(case.received_area_code, CITY, "transferred from the City");
    assert_eq!(case.referral_id, t.transfer_id);
    let da = case.domestic_abuse.as_ref().expect("the case's details");
    assert_eq!(da.victim.as_ref().unwrap().full_name, "Ann Crossing");
    assert_eq!(da.dash_answers.len(), 24);
    assert!(
        da.police_reported_incident_dates.is_empty() && da.risk_indicators.is_empty(),
        "fields the City does not declare stay in the City: {da:?}"
    );
    assert_eq!(
        case.referrer_reference, "",
        "the referrer's reference stays in the City"
    );
    let reason = &case.decision.as_ref().unwrap().reason;
    assert!(reason.contains("City of London"), "{reason}");
    let received = transfer_in(&city, &t.transfer_id, TransferState::Received).await;
    assert!(!received.receipt_id.is_empty());
    transfers(&hackney)
        .await
        .decide_transfer(DecideTransferRequest {
            transfer_id: t.transfer_id.clone(),
            answer: TransferAnswer::Accepted as i32,
            reason: String::new(),
        })
        .await
        .unwrap();
    let accepted = transfer_in(&city, &t.transfer_id, TransferState::Accepted).await;
    assert_eq!(
        states(&accepted),
        [
            TransferState::Requested,
            TransferState::Offered,
            TransferState::Received,
            TransferState::Accepted
        ]
    );
    assert!(
        accepted.history[3].detail.contains("accepted by"),
        "{accepted:?}"
    );

    // Declined: back in the City's MARAC queue with Hackney's reason.
    let back = city.decide(lives_in_hackney("Bea Returned")).await;
    let t = transfer_of(&city, &back.id).await;
    wait_for_cases(&hackney, std::slice::from_ref(&t.transfer_id)).await;
    let why = "The family moved on again before the meeting; Hackney holds no address for them.";
    transfers(&hackney)
        .await
        .decide_transfer(DecideTransferRequest {
            transfer_id: t.transfer_id.clone(),
            answer: TransferAnswer::Declined as i32,
            reason: why.into(),
        })
        .await
        .unwrap();
    let declined = transfer_in(&city, &t.transfer_id, TransferState::Declined).await;
    assert_eq!(declined.reason, why);
    let start = Instant::now();
    let returned = loop {
        let queue = city.queue_of(CITY, Panel::Marac).await;
        if let Some(c) = queue.into_iter().find(|c| c.referral_id == back.id) {
            break c;
        }
        assert!(
            start.elapsed() < WAIT,
            "the declined case is not back in the City's queue"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reason = &returned.decision.as_ref().unwrap().reason;
    assert!(reason.contains(why), "{reason}");

    // Hackney away while 30 transfers are pending: each arrives exactly once when it is back.
    stop_all(&mut hackney).await;
    let requests: Vec<_> = (0..30)
        .map(|i| lives_in_hackney(&format!("Cara Pending {i}")).request())
        .collect();
    let pending = city.decide_all(requests).await;
    let mut ids = Vec::new();
    for r in &pending {
        ids.push(transfer_of(&city, &r.id).await.transfer_id);
    }
    let start = Instant::now();
    loop {
        let mut tried = 0;
        for id in &ids {
            let t = transfer(&city, id).await;
            assert_eq!(t.state(), TransferState::Offered, "{t:?}");
            tried += usize::from(t.attempts >= 2 && !t.last_error.is_empty());
        }
        if tried == ids.len() {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "only {tried} transfers were retried while Hackney was away"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    start_all(&mut hackney).await;
    let cases = wait_for_cases(&hackney, &ids).await;
    for id in &ids {
        assert_eq!(
            cases[id].len(),
            1,
            "transfer {id} made {} cases",
            cases[id].len()
        );
        let t = transfer_in(&city, id, TransferState::Received).await;
        assert!(!t.receipt_id.is_empty());
    }
    // Every transfer took each step once on each side, however many offers it took.
    let city_receipts = steps_in(&city, "RECEIVED").await;
    let hackney_receipts = steps_in(&hackney, "RECEIVED").await;
    for id in &ids {
        assert_eq!(
            city_receipts.get(id),
            Some(&1),
            "the City's receipts of {id}"
        );
        assert_eq!(
            hackney_receipts.get(id),
            Some(&1),
            "Hackney's offers of {id}"
        );
    }
    city.assert_nothing_twice(Duration::from_secs(10)).await;
    hackney.assert_nothing_twice(Duration::from_secs(10)).await;

    city.shutdown().await;
    hackney.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_peer_a_transfer_is_addressed_to_may_offer_read_or_answer_it() {
    let world = World::new().await;
    let hackney = world.hackney().await;
    let city = world.city(world.hackney_port, |_| {}).await;
    let hackney_exchange = hackney.addr("transfer").to_string();
    let as_peer = |pki: &Pki, org: &str| {
        ClientIdentity::from_files(&world.trust, &pki.cert(org), &pki.key(org)).unwrap()
    };

    // A transfer from the City to Hackney, and one to Islington (no deployment: its contact).
    let to_hackney = transfer_of(
        &city,
        &city.decide(lives_in_hackney("Dee Addressed")).await.id,
    )
    .await;
    let to_islington = transfer_of(
        &city,
        &city
            .decide(lives_in_hackney("Eve Elsewhere").lives_in(ISLINGTON))
            .await
            .id,
    )
    .await;
    transfer_in(&city, &to_hackney.transfer_id, TransferState::Received).await;

    // Islington's deployment (a genuine certificate, listed at Hackney as Islington's) offering
    // a case from the City: the wrong borough.
    let mut islington = ExchangeServiceClient::new(
        as_peer(&world.city_pki, "islington-refroute")
            .connect(&hackney_exchange)
            .await
            .unwrap(),
    );
    let offer = OfferTransferRequest {
        transfer_id: uuid::Uuid::now_v7().to_string(),
        kind: TransferKind::MaracToMarac as i32,
        from_area_code: CITY.into(),
        to_area_code: HACKNEY.into(),
        ..Default::default()
    };
    let refused = islington.offer_transfer(offer.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(
        refused
            .message()
            .contains("not the peer deployment of E09000001"),
        "{refused:?}"
    );
    // The harness is no peer at all; a caller without a certificate is nobody.
    let harness = ExchangeServiceClient::new(hackney.channel("transfer").await.unwrap())
        .offer_transfer(offer.clone())
        .await
        .unwrap_err();
    assert_eq!(harness.code(), Code::PermissionDenied, "{harness:?}");
    let nobody = async {
        let channel = ClientIdentity::without_certificate(&world.trust)?
            .connect(&hackney_exchange)
            .await?;
        Ok::<_, anyhow::Error>(
            ExchangeServiceClient::new(channel)
                .offer_transfer(offer)
                .await?,
        )
    }
    .await;
    assert!(nobody.is_err(), "a caller without a certificate was served");
    // Each refusal is logged and counted by the reason it was refused for.
    let metrics = hackney.scrape("transfer").await.unwrap();
    for reason in ["AREA_NOT_SERVED", "ROLE_REQUIRED"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("refroute_access_refused_total") && l.contains(reason)),
            "{reason} not counted:\n{metrics}"
        );
    }

    // Hackney reads the transfer addressed to it, not the one addressed to Islington.
    let mut hackney_at_city = ExchangeServiceClient::new(
        as_peer(&world.hackney_pki, "hackney-refroute")
            .connect(&city.addr("transfer").to_string())
            .await
            .unwrap(),
    );
    let status = hackney_at_city
        .get_transfer_status(GetTransferStatusRequest {
            transfer_id: to_hackney.transfer_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.state(), TransferState::Received);
    let other = hackney_at_city
        .get_transfer_status(GetTransferStatusRequest {
            transfer_id: to_islington.transfer_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied, "{other:?}");
    assert!(other.message().contains("not addressed to"), "{other:?}");
    let answer = hackney_at_city
        .answer_transfer(refroute_proto::v1::AnswerTransferRequest {
            transfer_id: to_islington.transfer_id.clone(),
            answer: TransferAnswer::Accepted as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(answer.code(), Code::PermissionDenied, "{answer:?}");
    assert_eq!(
        transfer(&city, &to_islington.transfer_id).await.state(),
        TransferState::Offered,
        "the refused answer changed nothing"
    );

    city.shutdown().await;
    hackney.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transfer_with_no_receipt_raises_the_non_delivery_alert_at_the_end_of_its_window() {
    let world = World::new().await;
    // Hackney's deployment is listed, but nothing answers at its address.
    let nowhere = free_port();
    let city = world
        .city(nowhere, |s| s.exchange.deliver_within_secs = 4)
        .await;
    let sent = city.decide(lives_in_hackney("Fay Unreached")).await;
    let t = transfer_of(&city, &sent.id).await;
    let offered = transfer_in(&city, &t.transfer_id, TransferState::Offered).await;
    let asked = offered.create_time.unwrap().seconds;
    let window = offered.deliver_by.unwrap().seconds - asked;
    assert!((3..=5).contains(&window), "a window of {window} s, not 4");
    let lost = transfer_in(&city, &t.transfer_id, TransferState::Undeliverable).await;
    assert!(lost.reason.contains("no receipt"), "{lost:?}");
    assert!(
        chrono::Utc::now().timestamp() >= asked + 4,
        "undeliverable before its window closed"
    );
    // The sending coordinator is told, and the case is back in its queue.
    let start = Instant::now();
    let alert: Mail = loop {
        let mail = world.mail.messages();
        if let Some(m) = mail.into_iter().find(|m| {
            m.rcpt_tos.iter().any(|r| r == CITY_MARAC_MAIL) && m.body.contains(&t.transfer_id)
        }) {
            break m;
        }
        assert!(
            start.elapsed() < WAIT,
            "no non-delivery alert to the City's MARAC"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(alert.tls, "sent under STARTTLS");
    let queue = city.queue_of(CITY, Panel::Marac).await;
    assert!(
        queue.iter().any(|c| c.referral_id == sent.id),
        "not back in the City's queue"
    );
    city.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_prevent_handover_to_a_force_without_a_deployment_is_closed_by_its_acknowledgement() {
    let world = World::new().await;
    let city = world.city(world.hackney_port, |_| {}).await;
    let sent = city
        .decide(PreventSample::new("Gil Handover").lives_in(MEDWAY))
        .await;
    assert_eq!(sent.status(), ReferralStatus::TransferRequested);
    let t = transfer_of(&city, &sent.id).await;
    assert_eq!(t.kind(), TransferKind::PreventHandover);
    assert_eq!(t.to_police_force_code, "E23000032");
    let offered = transfer_in(&city, &t.transfer_id, TransferState::Offered).await;
    assert_eq!(offered.route, "contact");

    // Kent Police's Prevent team has the case, by its PNN address, with a single-use code.
    let start = Instant::now();
    let mail = loop {
        if let Some(m) = world.mail.messages().into_iter().find(|m| {
            m.rcpt_tos.iter().any(|r| r == KENT_PREVENT_MAIL) && m.body.contains(&t.transfer_id)
        }) {
            break m;
        }
        assert!(
            start.elapsed() < WAIT,
            "Kent Police's Prevent team was not sent the case"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(mail.tls);
    assert!(
        mail.body.contains("Gil Handover"),
        "the case itself, to a personal-data channel"
    );
    let code = mail
        .body
        .split_whitespace()
        .find(|w| {
            let w = w.trim_end_matches('.');
            w.len() == 14 && w.matches('-').count() == 2
        })
        .map(|w| w.trim_end_matches('.').to_string())
        .unwrap_or_else(|| panic!("no acknowledgement code in:\n{}", mail.body));

    let acknowledge = |code: String| {
        let id = t.transfer_id.clone();
        let city = &city;
        async move {
            transfers(city)
                .await
                .acknowledge_transfer(AcknowledgeTransferRequest {
                    transfer_id: id,
                    acknowledgement_code: code,
                    acknowledged_by: "DS Patel, Kent Police Prevent".into(),
                })
                .await
        }
    };
    let wrong = acknowledge("AAAA-BBBB-CCCC".into()).await.unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument, "{wrong:?}");
    let closed = acknowledge(code.to_lowercase()).await.unwrap().into_inner();
    assert_eq!(closed.state(), TransferState::Acknowledged);
    assert!(
        closed.history.last().unwrap().detail.contains("DS Patel"),
        "{closed:?}"
    );
    let again = acknowledge(code).await.unwrap_err();
    assert_eq!(
        again.code(),
        Code::FailedPrecondition,
        "the code is used up: {again:?}"
    );
    city.shutdown().await;
}
