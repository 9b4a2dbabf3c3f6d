//! Who may call what: every RPC, called as every kind of caller, against the real services over
//! mutual TLS. The matrix below is the README's "Who may call what" table; each refusal must
//! also be counted in `refroute_access_refused_total` (this binary holds this one test, so the
//! process's counters are its own) and logged naming caller and method (`access_scope.rs`).

use refroute_cli::client::ClientIdentity;
use refroute_cli::demo::await_outcome;
use refroute_cli::dev_pki::{Ca, UNLISTED};
use refroute_e2e::{CITY, PreventSample, Sample, TempDir, TestSystem, pki, spawn_system};
use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::exchange_service_client::ExchangeServiceClient;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use refroute_proto::v1::transfer_service_client::TransferServiceClient;
use refroute_proto::v1::triage_admin_service_client::TriageAdminServiceClient;
use refroute_proto::v1::{
    AcknowledgeTransferRequest, AnswerTransferRequest, DecideTransferRequest,
    ExplainDecisionRequest, GetCaseRequest, GetReferralRequest, GetRuleSetRequest,
    GetTransferRequest, GetTransferStatusRequest, ListDeliveriesRequest, ListQueueRequest,
    ListTransfersRequest, OfferTransferRequest, Panel, RecordHearingRequest, Referral,
    ReferralStatus, ReloadRuleSetRequest, Residence, SupplyResidenceRequest, Transfer,
    TransferAnswer, TransferDirection, TransferKind, TransferState, WatchQueueRequest, residence,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

const HACKNEY: &str = "E09000012";

/// What a call by one caller must come to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Allowed,
    /// PERMISSION_DENIED with this `ErrorInfo` reason.
    Denied(&'static str),
    /// UNAUTHENTICATED with this reason.
    Unauthenticated(&'static str),
    /// Past every check of identity, the call fails for another reason, with this code (not
    /// counted as a refusal).
    Past(Code),
    /// The TLS handshake itself is refused: the connection never exists.
    Handshake,
}
use Want::*;

const OK: Want = Allowed;
const ROLE: Want = Denied("ROLE_REQUIRED");
const QUEUE: Want = Denied("QUEUE_NOT_COORDINATED");
const THEIRS: Want = Denied("REFERRAL_NOT_VISIBLE");
/// The receiving queue's coordinator, deciding a transfer that was sent from here.
const SENT_HERE: Want = Past(Code::FailedPrecondition);
/// Allowed to acknowledge, with a code the transfer was not sent with.
const WRONG_CODE: Want = Past(Code::InvalidArgument);
const UNKNOWN: Want = Unauthenticated("CERTIFICATE_NOT_KNOWN");
const NO_CERT: Want = Unauthenticated("CLIENT_CERTIFICATE_REQUIRED");
const OTHER_CA: Want = Handshake;

/// The columns: who calls.
const CALLERS: [&str; 9] = [
    "city-of-london-police", // referrer of organisation A
    "metropolitan-police",   // referrer of organisation B
    "city-marac",            // City MARAC coordinator
    "city-channel",          // City Channel coordinator
    "hackney-marac",         // Hackney MARAC coordinator
    "refroute-operations",   // operator
    UNLISTED,                // a certificate from the CA that no organisation lists
    "no-certificate",
    "other-ca",
];

/// The rows: every RPC (with the resource it is called on), and what each caller gets.
const MATRIX: &[(Call, [Want; 9])] = &[
    (
        Call::CreateReferral,
        [OK, OK, ROLE, ROLE, ROLE, ROLE, UNKNOWN, NO_CERT, OTHER_CA],
    ),
    (
        Call::GetReferral,
        [
            OK, THEIRS, ROLE, ROLE, ROLE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::SupplyResidence,
        [
            OK, THEIRS, ROLE, ROLE, ROLE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::ListCityMarac,
        [
            ROLE, ROLE, OK, QUEUE, QUEUE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::ListCityChannel,
        [
            ROLE, ROLE, QUEUE, OK, QUEUE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::ListHackneyMarac,
        [
            ROLE, ROLE, QUEUE, QUEUE, OK, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::WatchCityMarac,
        [
            ROLE, ROLE, OK, QUEUE, QUEUE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::GetMaracCase,
        [
            ROLE, ROLE, OK, QUEUE, QUEUE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::GetChannelCase,
        [
            ROLE, ROLE, QUEUE, OK, QUEUE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::RecordHearing,
        [
            ROLE, ROLE, OK, QUEUE, QUEUE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::ListMaracDeliveries,
        [ROLE, ROLE, OK, QUEUE, QUEUE, OK, UNKNOWN, NO_CERT, OTHER_CA],
    ),
    (
        Call::ExplainDecision,
        [ROLE, ROLE, ROLE, ROLE, ROLE, OK, UNKNOWN, NO_CERT, OTHER_CA],
    ),
    (
        Call::GetRuleSet,
        [ROLE, ROLE, ROLE, ROLE, ROLE, OK, UNKNOWN, NO_CERT, OTHER_CA],
    ),
    (
        Call::ReloadRuleSet,
        [ROLE, ROLE, ROLE, ROLE, ROLE, OK, UNKNOWN, NO_CERT, OTHER_CA],
    ),
    (
        Call::OfferTransfer,
        [
            ROLE, ROLE, ROLE, ROLE, ROLE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::AnswerTransfer,
        [
            ROLE, ROLE, ROLE, ROLE, ROLE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::GetTransferStatus,
        [
            ROLE, ROLE, ROLE, ROLE, ROLE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::ListTransfers,
        [ROLE, ROLE, OK, OK, OK, OK, UNKNOWN, NO_CERT, OTHER_CA],
    ),
    (
        Call::GetOutboundTransfer,
        [ROLE, ROLE, OK, QUEUE, QUEUE, OK, UNKNOWN, NO_CERT, OTHER_CA],
    ),
    (
        Call::DecideOutboundTransfer,
        [
            ROLE, ROLE, QUEUE, QUEUE, SENT_HERE, ROLE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::AcknowledgeOutboundTransfer,
        [
            ROLE, ROLE, WRONG_CODE, QUEUE, QUEUE, WRONG_CODE, UNKNOWN, NO_CERT, OTHER_CA,
        ],
    ),
    (
        Call::Health,
        [OK, OK, OK, OK, OK, OK, UNKNOWN, NO_CERT, OTHER_CA],
    ),
];

#[derive(Clone, Copy, Debug)]
enum Call {
    CreateReferral,
    GetReferral,
    SupplyResidence,
    ListCityMarac,
    ListCityChannel,
    ListHackneyMarac,
    WatchCityMarac,
    GetMaracCase,
    GetChannelCase,
    RecordHearing,
    ListMaracDeliveries,
    ExplainDecision,
    GetRuleSet,
    ReloadRuleSet,
    OfferTransfer,
    AnswerTransfer,
    GetTransferStatus,
    ListTransfers,
    GetOutboundTransfer,
    DecideOutboundTransfer,
    AcknowledgeOutboundTransfer,
    Health,
}

impl Call {
    fn service(self) -> &'static str {
        match self {
            Call::CreateReferral | Call::GetReferral | Call::SupplyResidence | Call::Health => {
                "intake"
            }
            Call::ExplainDecision | Call::GetRuleSet | Call::ReloadRuleSet => "triage",
            Call::OfferTransfer
            | Call::AnswerTransfer
            | Call::GetTransferStatus
            | Call::ListTransfers
            | Call::GetOutboundTransfer
            | Call::DecideOutboundTransfer
            | Call::AcknowledgeOutboundTransfer => "transfer",
            _ => "notification",
        }
    }

    /// The method label refusals are counted under.
    fn method(self) -> &'static str {
        match self {
            Call::CreateReferral => "/refroute.v1.IntakeService/CreateReferral",
            Call::GetReferral => "/refroute.v1.IntakeService/GetReferral",
            Call::SupplyResidence => "/refroute.v1.IntakeService/SupplyResidence",
            Call::ListCityMarac | Call::ListCityChannel | Call::ListHackneyMarac => {
                "/refroute.v1.CoordinatorService/ListQueue"
            }
            Call::WatchCityMarac => "/refroute.v1.CoordinatorService/WatchQueue",
            Call::GetMaracCase | Call::GetChannelCase => "/refroute.v1.CoordinatorService/GetCase",
            Call::RecordHearing => "/refroute.v1.CoordinatorService/RecordHearing",
            Call::ListMaracDeliveries => "/refroute.v1.CoordinatorService/ListDeliveries",
            Call::ExplainDecision => "/refroute.v1.TriageAdminService/ExplainDecision",
            Call::GetRuleSet => "/refroute.v1.TriageAdminService/GetRuleSet",
            Call::ReloadRuleSet => "/refroute.v1.TriageAdminService/ReloadRuleSet",
            Call::OfferTransfer => "/refroute.v1.ExchangeService/OfferTransfer",
            Call::AnswerTransfer => "/refroute.v1.ExchangeService/AnswerTransfer",
            Call::GetTransferStatus => "/refroute.v1.ExchangeService/GetTransferStatus",
            Call::ListTransfers => "/refroute.v1.TransferService/ListTransfers",
            Call::GetOutboundTransfer => "/refroute.v1.TransferService/GetTransfer",
            Call::DecideOutboundTransfer => "/refroute.v1.TransferService/DecideTransfer",
            Call::AcknowledgeOutboundTransfer => "/refroute.v1.TransferService/AcknowledgeTransfer",
            Call::Health => "/grpc.health.v1.Health/Check",
        }
    }
}

/// The records the calls are made on, all referred by organisation A.
struct Records {
    marac: Referral,
    channel: Referral,
    review: Referral,
    /// A City MARAC case whose victim lives in Hackney, transferred out: no peer serves Hackney
    /// here, so it was sent to Hackney's directory contact and waits, OFFERED, for the code.
    outbound: Transfer,
}

fn identity_of(caller: &str, other_ca: &TempDir) -> ClientIdentity {
    let pki = pki();
    match caller {
        "no-certificate" => ClientIdentity::without_certificate(&pki.ca()).unwrap(),
        "other-ca" => ClientIdentity::from_files(
            &pki.ca(),
            &other_ca.path().join("client.pem"),
            &other_ca.path().join("client.key"),
        )
        .unwrap(),
        organisation => ClientIdentity::of(pki, organisation).unwrap(),
    }
}

async fn channel(system: &TestSystem, identity: &ClientIdentity, service: &str) -> Option<Channel> {
    identity
        .connect(&system.addr(service).to_string())
        .await
        .ok()
}

/// Makes the call; `Err(None)` when there was no connection to make it on.
async fn call(
    call: Call,
    channel: Option<Channel>,
    records: &Records,
    n: usize,
) -> Result<(), Option<tonic::Status>> {
    let channel = channel.ok_or(None)?;
    let queue = |area: &str, panel: Panel| ListQueueRequest {
        area_code: area.into(),
        panel: panel as i32,
        ..Default::default()
    };
    let result = match call {
        Call::CreateReferral => {
            let mut request = Sample::new("Ada Access").yes(3).request();
            request.request_id = format!("access-matrix-{n}");
            // Left empty, it is the caller's own.
            request.referral.as_mut().unwrap().referring_organisation = String::new();
            IntakeServiceClient::new(channel)
                .create_referral(request)
                .await
                .map(drop)
        }
        Call::GetReferral => IntakeServiceClient::new(channel)
            .get_referral(GetReferralRequest {
                id: records.marac.id.clone(),
            })
            .await
            .map(drop),
        Call::SupplyResidence => IntakeServiceClient::new(channel)
            .supply_residence(SupplyResidenceRequest {
                referral_id: records.review.id.clone(),
                residence: Some(Residence {
                    kind: Some(residence::Kind::LocalAuthorityCode(CITY.into())),
                }),
            })
            .await
            .map(drop),
        Call::ListCityMarac => CoordinatorServiceClient::new(channel)
            .list_queue(queue(CITY, Panel::Marac))
            .await
            .map(drop),
        Call::ListCityChannel => CoordinatorServiceClient::new(channel)
            .list_queue(queue(CITY, Panel::Channel))
            .await
            .map(drop),
        Call::ListHackneyMarac => CoordinatorServiceClient::new(channel)
            .list_queue(queue(HACKNEY, Panel::Marac))
            .await
            .map(drop),
        Call::WatchCityMarac => CoordinatorServiceClient::new(channel)
            .watch_queue(WatchQueueRequest {
                area_code: CITY.into(),
                panel: Panel::Marac as i32,
            })
            .await
            .map(drop),
        Call::GetMaracCase => CoordinatorServiceClient::new(channel)
            .get_case(GetCaseRequest {
                referral_id: records.marac.id.clone(),
            })
            .await
            .map(drop),
        Call::GetChannelCase => CoordinatorServiceClient::new(channel)
            .get_case(GetCaseRequest {
                referral_id: records.channel.id.clone(),
            })
            .await
            .map(drop),
        Call::RecordHearing => CoordinatorServiceClient::new(channel)
            .record_hearing(RecordHearingRequest {
                referral_id: records.marac.id.clone(),
                meeting_date: chrono::Utc::now().date_naive().to_string(),
            })
            .await
            .map(drop),
        Call::ListMaracDeliveries => CoordinatorServiceClient::new(channel)
            .list_deliveries(ListDeliveriesRequest {
                referral_id: records.marac.id.clone(),
            })
            .await
            .map(drop),
        Call::ExplainDecision => TriageAdminServiceClient::new(channel)
            .explain_decision(ExplainDecisionRequest {
                referral_id: records.marac.id.clone(),
            })
            .await
            .map(drop),
        Call::GetRuleSet => TriageAdminServiceClient::new(channel)
            .get_rule_set(GetRuleSetRequest {})
            .await
            .map(drop),
        Call::ReloadRuleSet => TriageAdminServiceClient::new(channel)
            .reload_rule_set(ReloadRuleSetRequest {})
            .await
            .map(drop),
        Call::OfferTransfer => ExchangeServiceClient::new(channel)
            .offer_transfer(OfferTransferRequest {
                transfer_id: records.outbound.transfer_id.clone(),
                kind: TransferKind::MaracToMarac as i32,
                from_area_code: HACKNEY.into(),
                to_area_code: CITY.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Call::AnswerTransfer => ExchangeServiceClient::new(channel)
            .answer_transfer(AnswerTransferRequest {
                transfer_id: records.outbound.transfer_id.clone(),
                answer: TransferAnswer::Accepted as i32,
                reason: String::new(),
                answered_by: "Hackney MARAC coordinator".into(),
            })
            .await
            .map(drop),
        Call::GetTransferStatus => ExchangeServiceClient::new(channel)
            .get_transfer_status(GetTransferStatusRequest {
                transfer_id: records.outbound.transfer_id.clone(),
            })
            .await
            .map(drop),
        Call::ListTransfers => TransferServiceClient::new(channel)
            .list_transfers(ListTransfersRequest::default())
            .await
            .map(drop),
        Call::GetOutboundTransfer => TransferServiceClient::new(channel)
            .get_transfer(GetTransferRequest {
                transfer_id: records.outbound.transfer_id.clone(),
            })
            .await
            .map(drop),
        Call::DecideOutboundTransfer => TransferServiceClient::new(channel)
            .decide_transfer(DecideTransferRequest {
                transfer_id: records.outbound.transfer_id.clone(),
                answer: TransferAnswer::Accepted as i32,
                reason: String::new(),
            })
            .await
            .map(drop),
        Call::AcknowledgeOutboundTransfer => TransferServiceClient::new(channel)
            .acknowledge_transfer(AcknowledgeTransferRequest {
                transfer_id: records.outbound.transfer_id.clone(),
                // No code is sent with a 0 in it.
                acknowledgement_code: "0000-0000-0000".into(),
                acknowledged_by: "Hackney MARAC".into(),
            })
            .await
            .map(drop),
        Call::Health => HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .map(drop),
    };
    result.map_err(Some)
}

fn reason(status: &tonic::Status) -> String {
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

/// Every `refroute_access_refused_total` series a service exposes, by (method, reason).
async fn refusals(system: &TestSystem, service: &str) -> BTreeMap<(String, String), u64> {
    let text = system.scrape(service).await.unwrap();
    let mut counted = BTreeMap::new();
    let wanted = format!("service=\"{service}\"");
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("refroute_access_refused_total{") else {
            continue;
        };
        if !rest.contains(&wanted) {
            continue;
        }
        let (labels, value) = rest.split_once("} ").unwrap();
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap()
        };
        counted.insert(
            (label("method"), label("reason")),
            value.trim().parse().unwrap(),
        );
    }
    counted
}

async fn records(system: &TestSystem) -> Records {
    let a = system
        .channel_as("intake", "city-of-london-police")
        .await
        .unwrap();
    let mut intake = IntakeServiceClient::new(a);
    let mut decide = async |request| {
        let created = intake.create_referral(request).await.unwrap().into_inner();
        await_outcome(&mut intake, &created.id, Duration::from_secs(60))
            .await
            .unwrap()
    };
    let marac = decide(Sample::new("Mara Matrix").yes(16).request()).await;
    assert_eq!(marac.status(), ReferralStatus::Routed);
    let channel = decide(PreventSample::new("Chan Matrix").request()).await;
    assert_eq!(channel.status(), ReferralStatus::Routed);
    let review = decide(
        Sample::new("Rev Matrix")
            .yes(16)
            .lives_at_postcode("EC2M")
            .request(),
    )
    .await;
    assert_eq!(review.status(), ReferralStatus::NeedsReview);
    let transferred = decide(
        Sample::new("Tom Matrix")
            .yes(16)
            .lives_in(HACKNEY)
            .request(),
    )
    .await;
    assert_eq!(transferred.status(), ReferralStatus::TransferRequested);
    // Notification holds both cases before anyone asks for them.
    for id in [&marac.id, &channel.id] {
        system
            .assert_count(
                &format!(
                    "SELECT count(*) FROM notification.queue_cases WHERE referral_id = '{id}'"
                ),
                1,
                Duration::from_secs(30),
            )
            .await;
    }
    let outbound = offered_transfer_of(system, &transferred.id).await;
    Records {
        marac,
        channel,
        review,
        outbound,
    }
}

/// Every transfer `caller` lists.
async fn listed_transfers(system: &TestSystem, caller: &str) -> Vec<Transfer> {
    let channel = system.channel_as("transfer", caller).await.unwrap();
    TransferServiceClient::new(channel)
        .list_transfers(ListTransfersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .transfers
}

/// The transfer of `referral_id`, once the courier has sent it to the destination's contact.
async fn offered_transfer_of(system: &TestSystem, referral_id: &str) -> Transfer {
    let start = Instant::now();
    loop {
        let listed = listed_transfers(system, "refroute-operations").await;
        if let Some(t) = listed.into_iter().find(|t| t.referral_id == referral_id)
            && t.state() == TransferState::Offered
        {
            assert_eq!(t.direction(), TransferDirection::Outbound, "{t:?}");
            assert_eq!(t.route, "contact", "no peer serves Hackney here: {t:?}");
            assert_eq!((&*t.from_area_code, &*t.to_area_code), (CITY, HACKNEY));
            return t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "transfer of {referral_id} not offered to Hackney's contact"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_as_every_caller_is_allowed_or_refused_as_the_matrix_says() {
    let system = spawn_system().await;
    let records = records(&system).await;

    // A certificate from a CA this deployment does not trust.
    let other_ca = TempDir::new();
    let foreign = Ca::new("another partnership's CA").unwrap();
    let cert = foreign.issue_client("City of London Police").unwrap();
    std::fs::write(other_ca.path().join("client.pem"), &cert.cert_pem).unwrap();
    std::fs::write(other_ca.path().join("client.key"), &cert.key_pem).unwrap();

    let mut expected: BTreeMap<(&str, String, String), u64> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut n = 0;
    for (row, wants) in MATRIX {
        for (caller, want) in CALLERS.iter().zip(wants) {
            n += 1;
            let identity = identity_of(caller, &other_ca);
            let channel = channel(&system, &identity, row.service()).await;
            let got = call(*row, channel, &records, n).await;
            let ok = match (want, &got) {
                (Allowed, Ok(())) => true,
                (Denied(r), Err(Some(s))) => s.code() == Code::PermissionDenied && reason(s) == *r,
                (Unauthenticated(r), Err(Some(s))) => {
                    s.code() == Code::Unauthenticated && reason(s) == *r
                }
                (Past(code), Err(Some(s))) => s.code() == *code,
                // rustls refuses the certificate: no connection, or (under TLS 1.3, where the
                // client's side of the handshake ends first) the first request fails with the
                // server's "unknown CA" alert. Either way refroute never answers.
                (Handshake, Err(None)) => true,
                (Handshake, Err(Some(s))) => {
                    matches!(
                        s.code(),
                        Code::Unavailable | Code::Unknown | Code::Cancelled
                    ) && reason(s).is_empty()
                        && s.metadata().is_empty()
                }
                _ => false,
            };
            if !ok {
                failures.push(format!("{row:?} as {caller}: wanted {want:?}, got {got:?}"));
            }
            let counted = match want {
                Denied(r) | Unauthenticated(r) => Some((row.method().to_string(), r.to_string())),
                Handshake => Some(("tls_handshake".into(), "CERTIFICATE_NOT_TRUSTED".into())),
                Allowed | Past(_) => None,
            };
            if let Some((method, reason)) = counted {
                *expected.entry((row.service(), method, reason)).or_default() += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A listing holds only the transfers of queues the caller coordinates on this side (an
    // outbound transfer: the sender's); the operator's, every one.
    for (caller, sees) in [
        ("city-marac", true),
        ("city-channel", false),
        ("hackney-marac", false),
        ("refroute-operations", true),
    ] {
        let listed = listed_transfers(&system, caller).await;
        let found = listed
            .iter()
            .any(|t| t.transfer_id == records.outbound.transfer_id);
        assert_eq!(found, sees, "{caller} lists {listed:?}");
    }
    // Nothing the matrix did moved the transfer.
    let after = listed_transfers(&system, "refroute-operations").await;
    let after = after
        .iter()
        .find(|t| t.transfer_id == records.outbound.transfer_id)
        .unwrap();
    assert_eq!(after.state(), TransferState::Offered, "{after:?}");

    // Every refusal was counted, under its service, method and reason; nothing else was.
    for service in ["intake", "triage", "notification", "transfer"] {
        let want: BTreeMap<(String, String), u64> = expected
            .iter()
            .filter(|((s, _, _), _)| *s == service)
            .map(|((_, m, r), n)| ((m.clone(), r.clone()), *n))
            .collect();
        // A refused handshake is counted per attempt, and a client may try more than once per
        // call; it may also be counted a moment after the client gave up.
        let handshake = (
            "tls_handshake".to_string(),
            "CERTIFICATE_NOT_TRUSTED".to_string(),
        );
        let split = |mut counts: BTreeMap<(String, String), u64>| {
            let handshakes = counts.remove(&handshake).unwrap_or(0);
            (counts, handshakes)
        };
        let (want, want_handshakes) = split(want);
        let (mut got, mut got_handshakes) = split(refusals(&system, service).await);
        for _ in 0..50 {
            if got == want && got_handshakes >= want_handshakes {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            (got, got_handshakes) = split(refusals(&system, service).await);
        }
        assert_eq!(got, want, "{service}'s refusal counts");
        assert!(
            got_handshakes >= want_handshakes,
            "{service}: {got_handshakes} refused handshakes counted, {want_handshakes} made"
        );
    }
    system.shutdown().await;
}
