use anyhow::Context;
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use refroute_cli::client::ClientIdentity;
use refroute_cli::dev_pki::{self, Pki};
use refroute_cli::{audit, bench, broker_users, dead_letters, demo, migrate, render};
use refroute_platform::Settings;
use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use refroute_proto::v1::transfer_service_client::TransferServiceClient;
use refroute_proto::v1::triage_admin_service_client::TriageAdminServiceClient;
use refroute_proto::v1::{
    AcknowledgeTransferRequest, CreateReferralRequest, DecideTransferRequest,
    ExplainDecisionRequest, GetCaseRequest, GetReferralRequest, GetRuleSetRequest,
    GetTransferRequest, ListDeliveriesRequest, ListTransfersRequest, Panel, ReloadRuleSetRequest,
    RuleSetInfo, TransferAnswer, TransferDirection, WatchQueueRequest,
};
use std::time::Duration;
use tonic_types::StatusExt;

/// refroute operator CLI. Reads the same configuration as the services
/// (REFROUTE_CONFIG, then REFROUTE__SECTION__KEY environment variables). Calls to the services
/// use mutual TLS: the CA in tls.ca_file and the certificate in client.cert_file/key_file, or
/// --as an organisation of the development PKI.
#[derive(Parser)]
#[command(name = "refroute", version)]
struct Cli {
    /// Intake gRPC address, host:port (default: intake.grpc_addr from configuration).
    #[arg(long, global = true)]
    intake: Option<String>,
    /// Notification (CoordinatorService) gRPC address.
    #[arg(long, global = true)]
    coordinator: Option<String>,
    /// Triage (TriageAdminService) gRPC address.
    #[arg(long, global = true)]
    triage: Option<String>,
    /// Transfer (TransferService) gRPC address.
    #[arg(long, global = true)]
    transfer: Option<String>,
    /// Call as this organisation of the development PKI: its certificate and key in
    /// .refroute/dev-pki/ (e.g. city-marac, city-of-london-police, refroute-operations).
    #[arg(long = "as", global = true, value_name = "ORGANISATION")]
    as_organisation: Option<String>,
    /// The development PKI folder (--as, dev-pki, demo).
    #[arg(long, global = true, default_value = ".refroute/dev-pki")]
    pki: std::path::PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing and apply every migration.
    Migrate,
    /// Post a referral from a JSON file (protobuf JSON of CreateReferralRequest).
    Submit {
        file: std::path::PathBuf,
        /// Wait for triage and print the outcome.
        #[arg(long)]
        wait: bool,
    },
    /// Show a referral's status and decision.
    Get { id: String },
    /// List (or watch) one of an area's queues.
    Queue {
        /// GSS code of the area, e.g. E09000001.
        area: String,
        /// Which queue: marac, community-marac, channel or review.
        #[arg(long, default_value = "marac", value_parser = parse_panel)]
        panel: Panel,
        /// Keep streaming cases as they are routed.
        #[arg(long)]
        watch: bool,
    },
    /// Why a referral went where it did: rule, reason, residence and the rules in force.
    Explain { referral_id: String },
    /// The rule set in force, or reload it from its file (like SIGHUP).
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Load a full ONSPD or NSPL CSV into the postcode table (restart triage afterwards).
    Postcodes {
        #[command(subcommand)]
        action: PostcodesAction,
    },
    /// Measure postcode lookups per second and the memory of the loaded table.
    BenchPostcodes {
        #[arg(long, default_value_t = 2_000_000)]
        lookups: usize,
    },
    /// Show one case in a coordinator queue, with its personal details.
    Case { referral_id: String },
    /// Who has been told of a referral, by which channel, and how each delivery stands.
    Deliveries { referral_id: String },
    /// Transfers to and from other areas: where each is, its history, and the answers.
    Transfers {
        #[command(subcommand)]
        action: TransfersAction,
    },
    /// Post one referral per outcome and print where each went and why (as the development
    /// PKI's City of London Police, reading the City's queues as their coordinators).
    Demo,
    /// Make the development PKI (CA, certificates, organisations file) unless it is there.
    DevPki {
        /// Make it afresh even if it is there.
        #[arg(long)]
        fresh: bool,
    },
    /// Measure end-to-end throughput and latency against the running services.
    Bench {
        /// How many referrals to post.
        #[arg(long, default_value_t = 500)]
        referrals: usize,
        /// Concurrent posting clients.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// The receiving area (the victims live there, so every case is queued there).
        #[arg(long, default_value = "E09000001")]
        area: String,
    },
    /// Report each service's gRPC health; exit non-zero unless all are SERVING.
    Health {
        /// Keep asking for up to this many seconds before giving up.
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
    /// Print the shell lines (rabbitmqctl, then exports) that give each service its own broker
    /// user, allowed its own queues only: `eval "$(refroute broker-users)"`.
    BrokerUsers {
        /// Each user is named this followed by the service's name.
        #[arg(long, default_value = "refroute-")]
        prefix: String,
    },
    /// Declare every exchange, queue and binding as the user of amqp.uri, once before services
    /// with their own broker users first start (they may declare only their own queues).
    DeclareTopology,
    /// Inspect or replay a queue's dead letters.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetterAction,
    },
    /// Check the audit log's hash chain, or list who saw or changed a referral.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Data keys: re-seal every record under the current one.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Recompute the chain; name the first broken entry and exit non-zero if one is.
    Verify {
        /// An entry's `<seq>:<sha256>` recorded earlier (a head this command printed): the
        /// chain must still pass through it. Repeatable.
        #[arg(long = "anchor", value_parser = parse_anchor)]
        anchors: Vec<refroute_platform::audit::Anchor>,
    },
    /// Who saw or changed a referral, what of it, when, and under which lawful basis.
    Show { referral_id: String },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Re-seal every sealed record under security.data_key_id, in batches, while the services
    /// run (configured with the old and the new key). Safe to run again.
    Rotate {
        /// Records re-sealed per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

#[derive(Subcommand)]
enum TransfersAction {
    /// The newest transfers from or to the queues you coordinate (operators: all).
    List {
        /// Only those from or to this area (GSS code).
        #[arg(long)]
        area: Option<String>,
        /// Only "outbound" (sent from here) or "inbound" (received here).
        #[arg(long)]
        direction: Option<String>,
    },
    /// One transfer and every step it took.
    Show { transfer_id: String },
    /// Accept or decline a transfer received here (the answer goes back to the sender).
    Decide {
        transfer_id: String,
        #[arg(long, conflicts_with = "decline")]
        accept: bool,
        /// Decline, giving the reason the sender is told.
        #[arg(long, value_name = "REASON")]
        decline: Option<String>,
    },
    /// Record that a destination without a deployment acknowledged a transfer, with the code
    /// its message carried.
    Acknowledge {
        transfer_id: String,
        #[arg(long)]
        code: String,
        /// Who acknowledged it, e.g. "DS Patel, Kent Police Prevent".
        #[arg(long)]
        by: String,
    },
}

#[derive(Subcommand)]
enum RulesAction {
    /// Name, version, hash and source of the rule set in force.
    Show,
    /// Re-read the rule file; a bad file is refused with its line and the rules in force stay.
    Reload,
}

#[derive(Subcommand)]
enum PostcodesAction {
    /// Import an ONSPD or NSPL CSV (the CSV inside ONS's zip; BT rows are skipped by licence).
    Import { file: std::path::PathBuf },
}

fn parse_panel(s: &str) -> Result<Panel, String> {
    match s {
        "marac" => Ok(Panel::Marac),
        "community-marac" => Ok(Panel::CommunityMarac),
        "channel" => Ok(Panel::Channel),
        "review" => Ok(Panel::Review),
        other => Err(format!(
            "'{other}' is not a queue: marac, community-marac, channel or review"
        )),
    }
}

fn parse_anchor(s: &str) -> Result<refroute_platform::audit::Anchor, String> {
    refroute_platform::audit::Anchor::parse(s)
        .ok_or_else(|| format!("'{s}' is not <seq>:<64 hex digits of SHA-256>"))
}

fn rule_set_line(r: &RuleSetInfo) -> String {
    format!(
        "{} v{} (sha256 {}) from {}; areas with their own settings: {}",
        r.name,
        r.version,
        r.sha256,
        r.source,
        r.areas.join(", ")
    )
}

#[derive(Subcommand)]
enum DeadLetterAction {
    /// List dead letters without removing them.
    List {
        queue: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put dead letters back on their queue.
    Replay {
        queue: String,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

fn endpoint(flag: Option<String>, addr: &str) -> String {
    flag.unwrap_or_else(|| addr.to_string())
}

/// Who the CLI calls as: `--as` an organisation of the development PKI, else the configured
/// client certificate.
fn identity(
    cli_as: Option<&str>,
    pki: &Pki,
    settings: &Settings,
) -> anyhow::Result<ClientIdentity> {
    if let Some(organisation) = cli_as {
        return ClientIdentity::of(pki, organisation).with_context(|| {
            format!(
                "--as {organisation}: no such organisation in {}",
                pki.dir.display()
            )
        });
    }
    let (cert, key) = (&settings.client.cert_file, &settings.client.key_file);
    if cert.is_empty() || key.is_empty() || settings.tls.ca_file.is_empty() {
        anyhow::bail!(
            "no client certificate: pass --as <organisation> (development PKI) or set \
             REFROUTE__TLS__CA_FILE, REFROUTE__CLIENT__CERT_FILE and REFROUTE__CLIENT__KEY_FILE"
        );
    }
    ClientIdentity::from_files(
        std::path::Path::new(&settings.tls.ca_file),
        std::path::Path::new(cert),
        std::path::Path::new(key),
    )
}

/// A gRPC error with every field violation spelled out.
fn explain(status: tonic::Status) -> anyhow::Error {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            text.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    anyhow::anyhow!(text)
}

/// The health status the service at `url` reports for `service` ("" for the service as a
/// whole, a queue's name for that queue's consumer), or why it could not be asked.
async fn health(me: &ClientIdentity, addr: &str, service: &str) -> String {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let Ok(ch) = me.connect(addr).await else {
        return "UNREACHABLE".into();
    };
    match HealthClient::new(ch)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
    {
        Ok(r) => r.into_inner().status().as_str_name().to_string(),
        Err(e) => format!("ERROR {:?}", e.code()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load().context("loading configuration")?;
    let intake_url = endpoint(cli.intake, &settings.intake.grpc_addr);
    let coordinator_url = endpoint(cli.coordinator, &settings.notification.grpc_addr);
    let triage_url = endpoint(cli.triage, &settings.triage.grpc_addr);
    let transfer_url = endpoint(cli.transfer, &settings.transfer.grpc_addr);
    let pki = Pki {
        dir: cli.pki.clone(),
    };
    let as_organisation = cli.as_organisation.clone();
    // Resolved when a command first calls a service, so `migrate` and `dev-pki` need none.
    let me = || identity(as_organisation.as_deref(), &pki, &settings);
    match cli.command {
        Command::Migrate => {
            migrate::run(&settings.database).await?;
            println!("database migrated");
        }
        Command::Submit { file, wait } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let mut request: CreateReferralRequest = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a CreateReferralRequest", file.display()))?;
            if request.request_id.is_empty() {
                request.request_id = uuid::Uuid::now_v7().to_string();
                eprintln!(
                    "no requestId in the file; using {} (reuse it to retry safely)",
                    request.request_id
                );
            }
            let mut intake = IntakeServiceClient::new(me()?.connect(&intake_url).await?);
            let created = intake
                .create_referral(request)
                .await
                .map_err(explain)?
                .into_inner();
            let shown = if wait {
                demo::await_outcome(&mut intake, &created.id, Duration::from_secs(30)).await?
            } else {
                created
            };
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        Command::Get { id } => {
            let mut intake = IntakeServiceClient::new(me()?.connect(&intake_url).await?);
            let r = intake
                .get_referral(GetReferralRequest { id })
                .await
                .map_err(explain)?
                .into_inner();
            println!("{}", render::referral(&r));
        }
        Command::Queue { area, panel, watch } => {
            let mut coordinator =
                CoordinatorServiceClient::new(me()?.connect(&coordinator_url).await?);
            if watch {
                let mut stream = coordinator
                    .watch_queue(WatchQueueRequest {
                        area_code: area.clone(),
                        panel: panel as i32,
                    })
                    .await
                    .map_err(explain)?
                    .into_inner();
                eprintln!(
                    "watching the {} queue of {area}; Ctrl-C to stop",
                    panel.as_str_name()
                );
                while let Some(case) = stream.next().await {
                    println!("{}", render::case(&case.map_err(explain)?));
                }
            } else {
                let cases = refroute_cli::whole_queue_of(&mut coordinator, &area, panel)
                    .await
                    .map_err(explain)?;
                for case in &cases {
                    println!("{}", render::case(case));
                }
            }
        }
        Command::Explain { referral_id } => {
            let mut triage = TriageAdminServiceClient::new(me()?.connect(&triage_url).await?);
            let e = triage
                .explain_decision(ExplainDecisionRequest { referral_id })
                .await
                .map_err(explain)?
                .into_inner();
            print!("{}", refroute_cli::explain::render(&e));
        }
        Command::Rules { action } => {
            let mut triage = TriageAdminServiceClient::new(me()?.connect(&triage_url).await?);
            let info = match action {
                RulesAction::Show => triage.get_rule_set(GetRuleSetRequest {}).await,
                RulesAction::Reload => triage.reload_rule_set(ReloadRuleSetRequest {}).await,
            }
            .map_err(explain)?
            .into_inner();
            println!("{}", rule_set_line(&info));
        }
        Command::Postcodes {
            action: PostcodesAction::Import { file },
        } => {
            let summary = refroute_cli::postcodes::import(&settings.database, &file).await?;
            println!("{summary}");
        }
        Command::BenchPostcodes { lookups } => {
            let report = refroute_geography::bench::run_shipped(lookups)?;
            println!("{report}");
        }
        Command::Case { referral_id } => {
            let mut coordinator =
                CoordinatorServiceClient::new(me()?.connect(&coordinator_url).await?);
            let case = coordinator
                .get_case(GetCaseRequest { referral_id })
                .await
                .map_err(explain)?
                .into_inner();
            println!("{}", serde_json::to_string_pretty(&case)?);
        }
        Command::Deliveries { referral_id } => {
            let mut coordinator =
                CoordinatorServiceClient::new(me()?.connect(&coordinator_url).await?);
            let deliveries = coordinator
                .list_deliveries(ListDeliveriesRequest { referral_id })
                .await
                .map_err(explain)?
                .into_inner()
                .deliveries;
            if deliveries.is_empty() {
                println!("no deliveries: nobody has been told of this referral");
            }
            for d in &deliveries {
                println!("{}  {}", d.id, render::delivery(d));
            }
        }
        Command::Transfers { action } => {
            let mut transfers = TransferServiceClient::new(me()?.connect(&transfer_url).await?);
            match action {
                TransfersAction::List { area, direction } => {
                    let direction = match direction.as_deref() {
                        None => TransferDirection::Unspecified,
                        Some("outbound") => TransferDirection::Outbound,
                        Some("inbound") => TransferDirection::Inbound,
                        Some(other) => {
                            anyhow::bail!("--direction {other:?}: say outbound or inbound")
                        }
                    };
                    let listed = transfers
                        .list_transfers(ListTransfersRequest {
                            area_code: area.unwrap_or_default(),
                            direction: direction as i32,
                        })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .transfers;
                    if listed.is_empty() {
                        println!("no transfers");
                    }
                    for t in &listed {
                        println!("{}", render::transfer(t));
                    }
                }
                TransfersAction::Show { transfer_id } => {
                    let t = transfers
                        .get_transfer(GetTransferRequest { transfer_id })
                        .await
                        .map_err(explain)?
                        .into_inner();
                    println!("{}", render::transfer_history(&t));
                }
                TransfersAction::Decide {
                    transfer_id,
                    accept,
                    decline,
                } => {
                    let (answer, reason) = match (accept, decline) {
                        (true, None) => (TransferAnswer::Accepted, String::new()),
                        (false, Some(reason)) => (TransferAnswer::Declined, reason),
                        _ => anyhow::bail!("say --accept, or --decline \"<reason>\""),
                    };
                    let t = transfers
                        .decide_transfer(DecideTransferRequest {
                            transfer_id,
                            answer: answer as i32,
                            reason,
                        })
                        .await
                        .map_err(explain)?
                        .into_inner();
                    println!("{}", render::transfer_history(&t));
                }
                TransfersAction::Acknowledge {
                    transfer_id,
                    code,
                    by,
                } => {
                    let t = transfers
                        .acknowledge_transfer(AcknowledgeTransferRequest {
                            transfer_id,
                            acknowledgement_code: code,
                            acknowledged_by: by,
                        })
                        .await
                        .map_err(explain)?
                        .into_inner();
                    println!("{}", render::transfer_history(&t));
                }
            }
        }
        Command::Demo => {
            let police = ClientIdentity::of(&pki, "city-of-london-police")?;
            let mut intake = IntakeServiceClient::new(police.connect(&intake_url).await?);
            let mut queues = Vec::new();
            for (panel, coordinator) in demo::CITY_COORDINATORS {
                let channel = ClientIdentity::of(&pki, coordinator)?
                    .connect(&coordinator_url)
                    .await?;
                queues.push((*panel, CoordinatorServiceClient::new(channel)));
            }
            let results = demo::run(&mut intake, queues, &mut std::io::stdout()).await?;
            let operator = ClientIdentity::of(&pki, "refroute-operations")?;
            demo::told(
                &mut CoordinatorServiceClient::new(operator.connect(&coordinator_url).await?),
                &results,
                Duration::from_secs(15),
                &mut std::io::stdout(),
            )
            .await?;
            demo::transfers(
                &mut TransferServiceClient::new(operator.connect(&transfer_url).await?),
                &results,
                &mut std::io::stdout(),
            )
            .await?;
        }
        Command::DevPki { fresh } => {
            let organisations = dev_pki::demo_organisations();
            let made = if fresh {
                dev_pki::generate(&pki.dir, &organisations)?
            } else {
                dev_pki::ensure(&pki.dir, &organisations)?
            };
            println!(
                "development PKI in {} (see its README.md)",
                made.dir.display()
            );
        }
        Command::Bench {
            referrals,
            concurrency,
            area,
        } => {
            // As the demo's police force and the City's MARAC coordinator, unless --as says.
            let (referrer, reader) = match &as_organisation {
                Some(_) => (me()?, me()?),
                None => (
                    ClientIdentity::of(&pki, "city-of-london-police")?,
                    ClientIdentity::of(&pki, "city-marac")?,
                ),
            };
            let intake = IntakeServiceClient::new(referrer.connect(&intake_url).await?);
            let coordinator =
                CoordinatorServiceClient::new(reader.connect(&coordinator_url).await?);
            let mut report = bench::run(intake, coordinator, &area, referrals, concurrency).await?;
            report.print(&mut std::io::stdout())?;
        }
        Command::Health { wait } => {
            let services = [
                ("intake", &settings.intake.grpc_addr),
                ("triage", &settings.triage.grpc_addr),
                ("transfer", &settings.transfer.grpc_addr),
                ("notification", &settings.notification.grpc_addr),
            ];
            let me = me()?;
            let deadline = std::time::Instant::now() + Duration::from_secs(wait);
            loop {
                let mut report = Vec::new();
                for (name, addr) in services {
                    report.push((name.to_string(), health(&me, addr, "").await));
                    // Each of its consumers: NOT_SERVING while one is stuck on a message.
                    for queue in refroute_platform::messaging::topology::QUEUES {
                        if queue.name.split('.').next() == Some(name) {
                            report.push((
                                format!("  {}", queue.name),
                                health(&me, addr, queue.name).await,
                            ));
                        }
                    }
                }
                let all_up = report.iter().all(|(_, s)| s == "SERVING");
                if all_up || std::time::Instant::now() >= deadline {
                    for (name, status) in &report {
                        println!("{name:<38} {status}");
                    }
                    if !all_up {
                        anyhow::bail!("not every service is serving");
                    }
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Command::Keys {
            action: KeysAction::Rotate { batch },
        } => {
            let sealer = refroute_platform::keys::load(&settings)?.sealer;
            let pool = refroute_platform::db::connect(&settings.database)
                .await
                .context("connecting to the database")?;
            let report = refroute_cli::keys::rotate(&pool, &sealer, batch).await?;
            println!("re-sealed under data key {}:", sealer.current());
            for r in &report {
                println!("  {:<40} {}", r.column, r.records);
            }
        }
        Command::DeclareTopology => {
            refroute_platform::messaging::topology::declare_everything(&settings.amqp).await?;
            println!("broker topology declared");
        }
        Command::BrokerUsers { prefix } => {
            print!("{}", broker_users::render(&settings.amqp, &prefix)?);
        }
        Command::DeadLetters { action } => match action {
            DeadLetterAction::List { queue, limit } => {
                let found = dead_letters::list(settings.amqp.uri.expose(), &queue, limit).await?;
                println!("{} dead letter(s) on {queue}.dlq", found.len());
                for d in found {
                    println!(
                        "  {} type={} key={} reason={} bytes={}",
                        d.message_id, d.message_type, d.routing_key, d.reason, d.bytes
                    );
                }
            }
            DeadLetterAction::Replay { queue, limit } => {
                let pool = refroute_platform::db::connect(&settings.database)
                    .await
                    .context("connecting to the database (each replay is audited)")?;
                let n =
                    dead_letters::replay(settings.amqp.uri.expose(), &pool, &queue, limit).await?;
                println!("replayed {n} message(s) onto {queue}");
            }
        },
        Command::Audit { action } => {
            let pool = refroute_platform::db::connect(&settings.database)
                .await
                .context("connecting to the database")?;
            let mut conn = pool.acquire().await?;
            match action {
                AuditAction::Verify { anchors } => {
                    let verdict = audit::verify(&mut conn, anchors).await?;
                    println!("{}", audit::verdict_line(&verdict));
                    if verdict.is_err() {
                        std::process::exit(1);
                    }
                }
                AuditAction::Show { referral_id } => {
                    let entries = audit::show(&mut conn, &referral_id).await?;
                    if entries.is_empty() {
                        anyhow::bail!("no audit entries for referral {}", referral_id.trim());
                    }
                    print!("{}", audit::table(&entries));
                }
            }
        }
    }
    Ok(())
}
