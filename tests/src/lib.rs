//! `spawn_system()`: the four real services in this process, each test with its own PostgreSQL
//! database and RabbitMQ virtual host, so tests run in parallel without seeing each other.

use anyhow::{Context, bail};
use futures_util::StreamExt;
use refroute_cli::client::ClientIdentity;
use refroute_cli::dev_pki::{self, DevOrganisation, Pki};
use refroute_cli::migrate;
use refroute_platform::{Secret, Settings, db, telemetry};
use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use refroute_proto::v1::triage_admin_service_client::TriageAdminServiceClient;
use refroute_proto::v1::{
    Case, CreateReferralRequest, GetReferralRequest, Panel, Referral, ReferralStatus,
};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

pub mod mail;
pub mod webhook;

pub use refroute_cli::sample::{CommunitySample, Lives, PreventSample, Sample, ToRequest};

/// The area a test system receives referrals in unless a test says otherwise.
pub const CITY: &str = "E09000001";

/// The shipped rule set (`config/rules.toml`): "london-and-home-counties" version 1.
pub const SHIPPED_RULES: &str = include_str!("../../config/rules.toml");

/// How long a referral may take from CreateReferral to a decision intake knows. Generous:
/// several systems share two cores when the suite runs in parallel.
pub const DECISION_DEADLINE: Duration = Duration::from_secs(60);

pub const SERVICES: [&str; 4] = ["intake", "triage", "transfer", "notification"];

/// The organisation the harness calls as unless a test says otherwise: it refers (as "City of
/// London Police", the samples' referring organisation), operates, and coordinates every
/// panel of every current local authority, so tests about routing need not juggle
/// identities. Tests about who may do what call as the demo organisations instead.
pub const HARNESS: &str = "e2e-harness";

/// One development PKI for the whole test process: the demo organisations plus [`HARNESS`].
pub fn pki() -> &'static Pki {
    static PKI: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        let mut harness = DevOrganisation::new(HARNESS, "City of London Police", "partnership")
            .role("referrer")
            .role("operator");
        // Every current UK local authority, in the directory or not (a case may be queued in
        // any area a referral can name).
        for area in refroute_geography::local_authorities::all() {
            harness = harness.coordinates(area, &["MARAC", "COMMUNITY_MARAC", "CHANNEL", "REVIEW"]);
        }
        // Told nothing unless a test says otherwise (tests/tests/notifications.rs writes its
        // own organisations file with channels to its own mail server and receiver).
        let mut organisations = dev_pki::demo_organisations();
        for o in &mut organisations {
            o.channels.clear();
        }
        organisations.push(harness);
        let dir = std::env::temp_dir().join(format!(
            "refroute-test-pki-{}",
            uuid::Uuid::new_v4().simple()
        ));
        dev_pki::generate(&dir, &organisations).expect("making the test PKI")
    })
}

/// The identity of `organisation` in the test PKI.
pub fn identity(organisation: &str) -> ClientIdentity {
    ClientIdentity::of(pki(), organisation).expect("an organisation of the test PKI")
}

/// A channel to `addr` as `organisation`.
pub async fn channel_as(organisation: &str, addr: SocketAddr) -> anyhow::Result<Channel> {
    identity(organisation).connect(&addr.to_string()).await
}

struct Running {
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    addr: SocketAddr,
    metrics: SocketAddr,
}

fn grpc_settings<'a>(
    settings: &'a mut Settings,
    name: &str,
) -> &'a mut refroute_platform::settings::GrpcSettings {
    match name {
        "intake" => &mut settings.intake,
        "triage" => &mut settings.triage,
        "transfer" => &mut settings.transfer,
        _ => &mut settings.notification,
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

pub struct TestSystem {
    pub settings: Settings,
    /// The PKI whose certificates this system's callers present ([`pki`] unless the test made
    /// its own, as two deployments each with their own CA do).
    pub pki: Pki,
    pub db_name: String,
    pub vhost: String,
    /// A pool on the test's database, for counting rows.
    pub pool: PgPool,
    pub intake: IntakeServiceClient<Channel>,
    pub coordinator: CoordinatorServiceClient<Channel>,
    /// Triage's `TriageAdminService` (explain, rule set, reload).
    pub triage_admin: TriageAdminServiceClient<Channel>,
    running: HashMap<&'static str, Running>,
    /// The broker users made for this system alone ([`spawn_system_with_own_broker_users`]).
    broker_users: Vec<String>,
}

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("refroute-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("creating a temporary directory");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `name` in the directory (replacing it) and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        // Write then rename, so a reader never sees half a file.
        let partial = self.0.join(format!(".{name}.partial"));
        std::fs::write(&partial, text).expect("writing a temporary file");
        std::fs::rename(&partial, &path).expect("renaming a temporary file");
        path
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The shipped rule file with `edit` applied to the text of one area's table (`[areas.<code>]`
/// up to the next table), and `version` set. Panics if the area has no table.
pub fn rules_with(area: &str, version: u32, edit: impl FnOnce(&str) -> String) -> String {
    let header = format!("[areas.{area}]");
    let start = SHIPPED_RULES
        .find(&header)
        .unwrap_or_else(|| panic!("config/rules.toml has no {header}"));
    let end = SHIPPED_RULES[start + header.len()..]
        .find("\n[")
        .map_or(SHIPPED_RULES.len(), |i| start + header.len() + i + 1);
    let mut text = String::new();
    text.push_str(&SHIPPED_RULES[..start]);
    text.push_str(&edit(&SHIPPED_RULES[start..end]));
    text.push_str(&SHIPPED_RULES[end..]);
    with_version(&text, version)
}

/// `text` with its top-level `version = N` replaced.
pub fn with_version(text: &str, version: u32) -> String {
    let mut done = false;
    text.lines()
        .map(|l| {
            if !done && l.starts_with("version = ") {
                done = true;
                format!("version = {version}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The 1-based line of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}"))
        + 1
}

/// A real service binary started by [`TestSystem::spawn_binary_with`].
pub struct Binary {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    /// Where its stdout and stderr go, when asked for.
    pub log: Option<PathBuf>,
}

impl Binary {
    pub fn pid(&self) -> String {
        self.child.id().expect("running").to_string()
    }

    /// What the binary has logged so far ("" when its output was not captured).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// Sends `signal` (e.g. "HUP", "TERM") with the `kill` command.
    pub async fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid()])
            .status()
            .await?;
        if !status.success() {
            bail!("kill -{signal} {} failed: {status}", self.pid());
        }
        Ok(())
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        channel_as(HARNESS, self.addr).await
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// rabbitmqctl, retried while the CLI cannot start Erlang distribution: each call takes one of
/// a small range of ports (35672-35682), so many test processes calling at once can run out.
async fn rabbitmqctl(args: &[&str]) -> anyhow::Result<String> {
    let mut attempt = 0;
    loop {
        match rabbitmqctl_once(args).await {
            Err(e) if attempt < 20 && format!("{e:#}").contains("Distribution failed") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250 * attempt)).await;
            }
            done => return done,
        }
    }
}

async fn rabbitmqctl_once(args: &[&str]) -> anyhow::Result<String> {
    // A call that times out must not keep holding its distribution port.
    let run = Command::new("rabbitmqctl")
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .with_context(|| format!("rabbitmqctl {} did not answer within 60 s", args.join(" ")))?
        .context(
            "running rabbitmqctl (is RabbitMQ installed? deploy/ensure-services.sh installs it)",
        )?;
    if !out.status.success() {
        bail!(
            "rabbitmqctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub async fn spawn_system() -> TestSystem {
    spawn_system_with(|_| {}).await
}

/// The services started while the broker refuses them (their user has no permissions on the
/// virtual host yet), as after a broker outage. [`TestSystem::open_broker`] lets them in.
pub async fn spawn_system_with_broker_closed() -> TestSystem {
    try_spawn_with(|_| {}, false, false, pki().clone())
        .await
        .expect("spawning the test system")
}

/// Like [`spawn_system_with`], with each service logged in to the broker as its own user
/// (`<vhost>-<service>`), allowed what `topology::permissions` allows it, and consumers checking
/// who published each message (`amqp.users`). Costs two rabbitmqctl calls a service.
pub async fn spawn_system_with_own_broker_users(
    customise: impl FnOnce(&mut Settings),
) -> TestSystem {
    try_spawn_with(customise, true, true, pki().clone())
        .await
        .expect("spawning the test system")
}

/// Like [`spawn_system`], after `customise` has adjusted the settings, e.g. `rules.file` (a rule
/// file written with [`TempDir`], [`rules_with`]) or `partnership.receiving_area_code`.
pub async fn spawn_system_with(customise: impl FnOnce(&mut Settings)) -> TestSystem {
    try_spawn_with(customise, true, false, pki().clone())
        .await
        .expect("spawning the test system")
}

/// A whole deployment with its own PKI (`pki` must hold [`HARNESS`]'s certificate, which the
/// harness calls as): its own database, virtual host, ports and certificates. `customise`
/// points it at its organisations file, its peers and its area.
pub async fn spawn_deployment(pki: Pki, customise: impl FnOnce(&mut Settings)) -> TestSystem {
    try_spawn_with(customise, true, false, pki)
        .await
        .expect("spawning the deployment")
}

async fn try_spawn_with(
    customise: impl FnOnce(&mut Settings),
    broker_open: bool,
    own_broker_users: bool,
    pki: Pki,
) -> anyhow::Result<TestSystem> {
    let mut settings = Settings::defaults()?;
    // The tests run with the public development keys.
    settings.deployment.development = true;
    settings.telemetry.format = "pretty".into();
    settings.telemetry.filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    telemetry::init(&settings.telemetry);

    let id = uuid::Uuid::new_v4().simple().to_string();
    let db_name = format!("refroute_test_{id}");
    settings.database = migrate::with_database(&settings.database, &db_name);
    // Four services and the test itself share one server with other tests running in parallel.
    settings.database.max_connections = 3;
    migrate::run(&settings.database).await?;

    let vhost = format!("refroute-test-{id}");
    rabbitmqctl(&["add_vhost", &vhost]).await?;
    if broker_open {
        rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]).await?;
    }
    // Another broker than the machine's, e.g. a second node while the first is unusable:
    // REFROUTE_TEST_AMQP_ADDR=127.0.0.1:5673 with RABBITMQ_NODENAME naming it for rabbitmqctl.
    let broker =
        std::env::var("REFROUTE_TEST_AMQP_ADDR").unwrap_or_else(|_| "127.0.0.1:5672".into());
    settings.amqp.uri = Secret::new(format!("amqp://guest:guest@{broker}/{vhost}"));
    settings.amqp.outbox_poll_ms = 100;
    settings.amqp.reconnect_initial_ms = 200;
    settings.amqp.reconnect_max_ms = 2000;
    let mut broker_users = Vec::new();
    if own_broker_users {
        // As an operator does once before the services first start (see `declare_everything`).
        if broker_open {
            refroute_platform::messaging::topology::declare_everything(&settings.amqp).await?;
        }
        for service in SERVICES {
            let user = format!("{vhost}-{service}");
            let password = uuid::Uuid::new_v4().simple().to_string();
            let p = refroute_platform::messaging::topology::permissions(
                service,
                &settings.amqp.exchange,
            );
            rabbitmqctl(&["add_user", &user, &password]).await?;
            broker_users.push(user.clone());
            rabbitmqctl(&[
                "set_permissions",
                "-p",
                &vhost,
                &user,
                &p.configure,
                &p.write,
                &p.read,
            ])
            .await?;
            let login = format!("amqp://{user}:{password}@{broker}/{vhost}");
            *settings.amqp.logins.get_mut(service).expect("a service") = Secret::new(login);
            *settings.amqp.users.get_mut(service).expect("a service") = user;
        }
    }
    for s in [
        &mut settings.intake,
        &mut settings.triage,
        &mut settings.transfer,
        &mut settings.notification,
    ] {
        s.grpc_addr = "127.0.0.1:0".into();
    }
    settings.tls.ca_file = pki.ca().display().to_string();
    settings.tls.cert_file = pki.server_cert().display().to_string();
    settings.tls.key_file = pki.server_key().display().to_string();
    settings.access.organisations_file = pki.organisations().display().to_string();
    customise(&mut settings);

    let pool = db::connect(&settings.database).await?;
    let mut system = TestSystem {
        settings,
        pki,
        db_name,
        vhost,
        pool,
        intake: IntakeServiceClient::new(Channel::from_static("http://127.0.0.1:1").connect_lazy()),
        coordinator: CoordinatorServiceClient::new(
            Channel::from_static("http://127.0.0.1:1").connect_lazy(),
        ),
        triage_admin: TriageAdminServiceClient::new(
            Channel::from_static("http://127.0.0.1:1").connect_lazy(),
        ),
        running: HashMap::new(),
        broker_users,
    };
    let ready = if broker_open {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    for name in SERVICES {
        system.launch(name).await?;
        system
            .wait_health(name, ready, Duration::from_secs(30))
            .await?;
    }
    system.intake = IntakeServiceClient::new(system.channel("intake").await?);
    system.coordinator = CoordinatorServiceClient::new(system.channel("notification").await?);
    system.triage_admin = TriageAdminServiceClient::new(system.channel("triage").await?);
    Ok(system)
}

impl TestSystem {
    /// Starts (or restarts) one service and waits until its health says SERVING.
    pub async fn start(&mut self, name: &'static str) -> anyhow::Result<()> {
        self.launch(name).await?;
        self.wait_health(name, ServingStatus::Serving, Duration::from_secs(30))
            .await?;
        // A restarted service listens on a new port: reconnect the test's client to it.
        let channel = self.channel(name).await?;
        match name {
            "intake" => self.intake = IntakeServiceClient::new(channel),
            "triage" => self.triage_admin = TriageAdminServiceClient::new(channel),
            "notification" => self.coordinator = CoordinatorServiceClient::new(channel),
            _ => {}
        }
        Ok(())
    }

    /// Runs `name` as its real binary (`target/<profile>/refroute-<name>`, built by
    /// `cargo build --bins`), configured like the in-process services, so a test can SIGKILL it.
    pub async fn spawn_binary(
        &self,
        name: &str,
    ) -> anyhow::Result<(tokio::process::Child, SocketAddr)> {
        let (child, addr, _) = self.run_binary(name, &[], false).await?;
        Ok((child, addr))
    }

    /// Like [`TestSystem::spawn_binary`], with extra environment variables (they win over the
    /// system's settings) and, when `capture_log`, its output in a file ([`Binary::log_text`])
    /// instead of the test's. The system's rule file and receiving area are passed on.
    pub async fn spawn_binary_with(
        &self,
        name: &str,
        env: &[(&str, &str)],
        capture_log: bool,
    ) -> anyhow::Result<Binary> {
        let (child, addr, log) = self.run_binary(name, env, capture_log).await?;
        Ok(Binary { child, addr, log })
    }

    async fn run_binary(
        &self,
        name: &str,
        env: &[(&str, &str)],
        capture_log: bool,
    ) -> anyhow::Result<(tokio::process::Child, SocketAddr, Option<PathBuf>)> {
        let exe = std::env::current_exe()?;
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .context("test binary has no target directory")?;
        let binary = profile_dir.join(format!("refroute-{name}"));
        if !binary.exists() {
            bail!(
                "{} is missing: run `cargo build --bins` first (deploy/test.sh does)",
                binary.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let s = &self.settings;
        let mut command = Command::new(binary);
        command
            .env("REFROUTE__DATABASE__URL", s.database.url.expose())
            .env(
                "REFROUTE__DATABASE__MAX_CONNECTIONS",
                s.database.max_connections.to_string(),
            )
            .env("REFROUTE__AMQP__URI", s.amqp.uri.expose())
            .env(
                "REFROUTE__AMQP__OUTBOX_POLL_MS",
                s.amqp.outbox_poll_ms.to_string(),
            )
            .env(
                "REFROUTE__AMQP__RECONNECT_INITIAL_MS",
                s.amqp.reconnect_initial_ms.to_string(),
            )
            .env(
                "REFROUTE__PARTNERSHIP__RECEIVING_AREA_CODE",
                &s.partnership.receiving_area_code,
            )
            .env("REFROUTE__TELEMETRY__FILTER", "warn")
            .env("REFROUTE__TLS__CA_FILE", &s.tls.ca_file)
            .env("REFROUTE__TLS__CERT_FILE", &s.tls.cert_file)
            .env("REFROUTE__TLS__KEY_FILE", &s.tls.key_file)
            .env(
                "REFROUTE__ACCESS__ORGANISATIONS_FILE",
                &s.access.organisations_file,
            )
            .env(
                "REFROUTE__DEPLOYMENT__DEVELOPMENT",
                s.deployment.development.to_string(),
            )
            .env(
                "REFROUTE__SECURITY__DATA_KEY_ID",
                s.security.data_key_id.to_string(),
            )
            .env(
                "REFROUTE__SECURITY__IDENTITY_KEY",
                s.security.identity_key.expose(),
            )
            .env(
                format!("REFROUTE__{}__GRPC_ADDR", name.to_uppercase()),
                addr.to_string(),
            )
            .env(
                format!("REFROUTE__{}__METRICS_ADDR", name.to_uppercase()),
                "127.0.0.1:0",
            )
            .env_remove("REFROUTE_CONFIG")
            .env_remove("REFROUTE__RULES__FILE")
            .kill_on_drop(true);
        if !s.rules.file.is_empty() {
            command.env("REFROUTE__RULES__FILE", &s.rules.file);
        }
        // The system's keyring; an id the defaults define and the system dropped is retired.
        for id in Settings::defaults()?.security.data_keys.keys() {
            command.env(format!("REFROUTE__SECURITY__DATA_KEYS__{id}"), "");
        }
        for (id, key) in &s.security.data_keys {
            command.env(format!("REFROUTE__SECURITY__DATA_KEYS__{id}"), key.expose());
        }
        if let (Some(login), Some(user)) = (s.amqp.logins.get(name), s.amqp.users.get(name))
            && !user.is_empty()
        {
            let upper = name.to_uppercase();
            command.env(format!("REFROUTE__AMQP__LOGINS__{upper}"), login.expose());
            for service in SERVICES {
                let user = &s.amqp.users.get(service).expect("a service");
                command.env(
                    format!("REFROUTE__AMQP__USERS__{}", service.to_uppercase()),
                    user,
                );
            }
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let log = if capture_log {
            let path = std::env::temp_dir().join(format!(
                "refroute-{name}-{}.log",
                uuid::Uuid::new_v4().simple()
            ));
            let file = std::fs::File::create(&path)?;
            command
                .stdout(Stdio::from(file.try_clone()?))
                .stderr(Stdio::from(file));
            Some(path)
        } else {
            None
        };
        let mut child = command.spawn()?;
        let start = Instant::now();
        loop {
            let serving = async {
                let channel = ClientIdentity::of(&self.pki, HARNESS)?
                    .connect(&addr.to_string())
                    .await?;
                let status = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await?
                    .into_inner()
                    .status();
                anyhow::Ok(status == ServingStatus::Serving)
            };
            if serving.await.unwrap_or(false) {
                return Ok((child, addr, log));
            }
            if let Some(exit) = child.try_wait()? {
                let logged = log
                    .as_ref()
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .unwrap_or_default();
                bail!("refroute-{name} exited with {exit} before it was SERVING\n{logged}");
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("refroute-{name} did not become SERVING within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Grants the services' broker user its permissions (see [`spawn_system_with_broker_closed`]).
    pub async fn open_broker(&self) -> anyhow::Result<()> {
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &self.vhost,
            "guest",
            ".*",
            ".*",
            ".*",
        ])
        .await?;
        Ok(())
    }

    /// Starts one service without waiting for it to be ready.
    async fn launch(&mut self, name: &'static str) -> anyhow::Result<()> {
        // A fixed port when the test chose one (a peer's exchange URL names it), else any.
        let listener =
            tokio::net::TcpListener::bind(&grpc_settings(&mut self.settings, name).grpc_addr)
                .await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let mut settings = self.settings.clone();
        let metrics = free_port()?;
        grpc_settings(&mut settings, name).metrics_addr = metrics.to_string();
        let pool = db::connect_as_service(&settings.database, name).await?;
        let token = stop.clone();
        let task = tokio::spawn(async move {
            match name {
                "intake" => refroute_intake::run(settings, pool, listener, token).await,
                "triage" => refroute_triage::run(settings, pool, listener, token).await,
                "transfer" => refroute_transfer::run(settings, pool, listener, token).await,
                "notification" => refroute_notification::run(settings, pool, listener, token).await,
                other => bail!("no service {other}"),
            }
        });
        self.running.insert(
            name,
            Running {
                stop,
                task,
                addr,
                metrics,
            },
        );
        Ok(())
    }

    /// Stops one service the way SIGTERM does and waits for it to finish.
    pub async fn stop(&mut self, name: &str) -> anyhow::Result<()> {
        let running = self.running.remove(name).context("service not running")?;
        running.stop.cancel();
        match tokio::time::timeout(Duration::from_secs(60), running.task).await {
            Ok(finished) => finished?,
            Err(_) => bail!("{name} did not stop within 60 s of its shutdown signal"),
        }
    }

    /// What Prometheus would scrape from `name`'s `/metrics`.
    pub async fn scrape(&self, name: &str) -> anyhow::Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.running[name].metrics).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: refroute\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        if !response.starts_with("HTTP/1.1 200") {
            bail!("metrics answered: {response}");
        }
        Ok(response)
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.running[name].addr
    }

    /// A channel to the named service as [`HARNESS`].
    pub async fn channel(&self, name: &str) -> anyhow::Result<Channel> {
        self.channel_as(name, HARNESS).await
    }

    /// A channel to the named service as `organisation` of the system's PKI.
    pub async fn channel_as(&self, name: &str, organisation: &str) -> anyhow::Result<Channel> {
        ClientIdentity::of(&self.pki, organisation)?
            .connect(&self.addr(name).to_string())
            .await
    }

    pub async fn health(&self, name: &str) -> anyhow::Result<ServingStatus> {
        let mut client = HealthClient::new(self.channel(name).await?);
        let r = client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await?;
        Ok(r.into_inner().status())
    }

    pub async fn wait_health(
        &self,
        name: &str,
        want: ServingStatus,
        within: Duration,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if let Ok(status) = self.health(name).await
                && status == want
            {
                return Ok(());
            }
            if start.elapsed() > within {
                bail!("{name} did not report {want:?} within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Force-closes the named service's broker connection, as a broker restart or network cut would.
    pub async fn close_broker_connection(&self, service: &str) -> anyhow::Result<()> {
        let connection_name = format!("\"refroute-{service}\"");
        let listing = rabbitmqctl(&[
            "list_connections",
            "pid",
            "vhost",
            "client_properties",
            "-q",
        ])
        .await?;
        let pids: Vec<&str> = listing
            .lines()
            .filter(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                cols.len() == 3 && cols[1] == self.vhost && cols[2].contains(&connection_name)
            })
            .map(|l| l.split('\t').next().unwrap_or_default())
            .collect();
        if pids.is_empty() {
            bail!(
                "no broker connection named refroute-{service} in {}",
                self.vhost
            );
        }
        for pid in pids {
            rabbitmqctl(&["close_connection", pid, "refroute fault test"]).await?;
        }
        Ok(())
    }

    pub fn amqp_uri(&self) -> String {
        self.settings.amqp.uri.expose().to_string()
    }

    /// Posts a referral as a police system would; panics on refusal.
    pub async fn submit(&self, sample: impl ToRequest) -> Referral {
        let request = sample.request();
        self.intake
            .clone()
            .create_referral(request)
            .await
            .unwrap_or_else(|e| panic!("CreateReferral refused: {e:?}"))
            .into_inner()
    }

    /// Posts a referral and waits for triage's decision.
    pub async fn decide(&self, sample: impl ToRequest) -> Referral {
        let created = self.submit(sample).await;
        self.outcome(&created.id).await
    }

    /// Posts every request at once (at most 16 in flight) and waits until each is decided;
    /// the answers come back in the order of `requests`.
    pub async fn decide_all(&self, requests: Vec<CreateReferralRequest>) -> Vec<Referral> {
        futures_util::stream::iter(requests)
            .map(|request| async move {
                let created = self.submit(request).await;
                self.outcome(&created.id).await
            })
            .buffered(16)
            .collect()
            .await
    }

    /// Waits until triage has decided `id` and intake knows it.
    pub async fn outcome(&self, id: &str) -> Referral {
        let mut intake = self.intake.clone();
        let start = Instant::now();
        loop {
            let r = intake
                .get_referral(GetReferralRequest { id: id.into() })
                .await
                .expect("GetReferral")
                .into_inner();
            if r.status != ReferralStatus::Received as i32 {
                return r;
            }
            assert!(
                start.elapsed() < DECISION_DEADLINE,
                "referral {id} not triaged within {DECISION_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Every case in an area's MARAC queue.
    pub async fn queue(&self, area: &str) -> Vec<Case> {
        self.queue_of(area, Panel::Marac).await
    }

    /// Every case in one panel's queue of an area (`Panel::Review`: the review queue), following
    /// page tokens to the end.
    pub async fn queue_of(&self, area: &str, panel: Panel) -> Vec<Case> {
        refroute_cli::whole_queue_of(&mut self.coordinator.clone(), area, panel)
            .await
            .unwrap_or_else(|e| panic!("ListQueue {area} {panel:?}: {e:?}"))
    }

    /// Polls `count` (a SQL query returning one bigint) until it equals `want` or time runs out;
    /// returns the last value seen.
    pub async fn count_until(&self, sql: &str, want: i64, within: Duration) -> i64 {
        let start = Instant::now();
        loop {
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&self.pool)
                .await
                .expect("count query");
            if n == want || start.elapsed() > within {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asserts that `sql` (one bigint) reaches `want` within `within`, naming the query if not.
    pub async fn assert_count(&self, sql: &str, want: i64, within: Duration) {
        let got = self.count_until(sql, want, within).await;
        assert_eq!(got, want, "{sql}");
    }

    /// Stops every service, then removes the test's database and virtual host.
    pub async fn shutdown(mut self) {
        // Hang up first, as clients would; the servers then drain and stop.
        self.intake =
            IntakeServiceClient::new(Channel::from_static("http://127.0.0.1:1").connect_lazy());
        self.coordinator = CoordinatorServiceClient::new(
            Channel::from_static("http://127.0.0.1:1").connect_lazy(),
        );
        self.triage_admin = TriageAdminServiceClient::new(
            Channel::from_static("http://127.0.0.1:1").connect_lazy(),
        );
        let names: Vec<&'static str> = self.running.keys().copied().collect();
        for name in names {
            self.stop(name).await.expect("clean service shutdown");
        }
        self.pool.close().await;
        let admin = migrate::with_database(&self.settings.database, "postgres");
        if let Ok(admin) = db::connect(&admin).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.db_name
            )))
            .execute(&admin)
            .await;
        }
        let _ = rabbitmqctl(&["delete_vhost", &self.vhost]).await;
        for user in &self.broker_users {
            let _ = rabbitmqctl(&["delete_user", user]).await;
        }
    }
}

/// The schemas whose outboxes [`TestSystem::repeated_events`] reads.
const OUTBOX_SCHEMAS: [&str; 4] = ["intake", "triage", "transfer", "notification"];

impl TestSystem {
    /// Events announced more than once: one line per (outbox, routing key, correlation id) that
    /// has more rows than it should. Each row has its own message id, so no key stops a
    /// redelivered message whose effect was applied twice from announcing it twice; this is
    /// where that shows. A referral decided again after `SupplyResidence` is announced again by
    /// intake and decided again by triage, once per decision triage superseded.
    /// (A transfer announces each of its steps: `transfer.state_changed` is once per step,
    /// which tests count in `transfer.steps`.)
    pub async fn repeated_events(&self) -> Vec<String> {
        let mut repeated = Vec::new();
        for schema in OUTBOX_SCHEMAS {
            let again = match schema {
                "intake" | "triage" => {
                    "(SELECT count(*) FROM triage.superseded_decisions s \
                      WHERE s.referral_id::text = o.correlation_id)"
                }
                _ => "0",
            };
            let rows: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT routing_key, correlation_id, count(*) FROM {schema}.outbox o \
                 WHERE routing_key <> 'transfer.state_changed.v1' \
                 GROUP BY routing_key, correlation_id HAVING count(*) > 1 + {again} ORDER BY 1, 2"
            )))
            .fetch_all(&self.pool)
            .await
            .expect("outbox query");
            repeated.extend(
                rows.into_iter()
                    .map(|(key, id, n)| format!("{schema}.outbox: {key} for {id} {n} times")),
            );
        }
        repeated
    }

    /// Referrals that are in two places at once where no key stops it: queued for a panel here
    /// and also transferred away (and not back: a declined or undeliverable transfer returns to
    /// the sender's queue), or told to one area's statutory services more than once.
    pub async fn misplaced(&self) -> Vec<String> {
        let both: Vec<(String, String)> = sqlx::query_as(
            "SELECT q.referral_id::text, q.panel FROM notification.queue_cases q \
             JOIN transfer.transfers t ON t.referral_id = q.referral_id \
             WHERE t.direction = 'OUTBOUND' AND t.state NOT IN ('DECLINED', 'UNDELIVERABLE') \
             ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .expect("queue and transfer query");
        let notices: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT referral_id::text, kind, to_area_code, count(*) FROM notification.deliveries \
             GROUP BY 1, 2, 3 HAVING count(*) > 1 ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .expect("deliveries query");
        both.into_iter()
            .map(|(id, panel)| format!("{id} is queued for {panel} and also transferred"))
            .chain(
                notices.into_iter().map(|(id, kind, area, n)| {
                    format!("{id} has {n} deliveries of {kind} to {area}")
                }),
            )
            .collect()
    }

    /// Asserts that no event was announced twice ([`TestSystem::repeated_events`]) and that no
    /// referral is in two places ([`TestSystem::misplaced`]), waiting up to `within` for
    /// consumers still catching up (a review entry gives way to a transfer a moment later).
    pub async fn assert_nothing_twice(&self, within: Duration) {
        let start = Instant::now();
        loop {
            let mut found = self.repeated_events().await;
            found.extend(self.misplaced().await);
            if found.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < within,
                "found twice:\n{}",
                found.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every queue's messages waiting to be delivered and delivered but not yet acknowledged
    /// (held by a consumer), as the broker counts them in this system's virtual host.
    pub async fn queue_depths(&self) -> anyhow::Result<BTreeMap<String, (u64, u64)>> {
        let listing = rabbitmqctl(&[
            "list_queues",
            "-p",
            &self.vhost,
            "name",
            "messages_ready",
            "messages_unacknowledged",
            "-q",
        ])
        .await?;
        let mut depths = BTreeMap::new();
        for line in listing.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            // The first line is a header, even with -q.
            if let [name, ready, unacked] = cols[..]
                && name != "name"
            {
                depths.insert(
                    name.to_string(),
                    (ready.trim().parse()?, unacked.trim().parse()?),
                );
            }
        }
        Ok(depths)
    }

    /// One queue's (ready, unacknowledged) messages; see [`TestSystem::queue_depths`].
    pub async fn queue_depth(&self, queue: &str) -> anyhow::Result<(u64, u64)> {
        self.queue_depths()
            .await?
            .remove(queue)
            .with_context(|| format!("no queue {queue} in {}", self.vhost))
    }
}
