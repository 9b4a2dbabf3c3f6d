//! [`MailSink`]: a real SMTP server on loopback for the tests that send email, the same
//! `deploy/smtp-sink.py` the quick start runs. It records every message as a JSON line in a
//! file of its own and relays none; [`MailSink::messages`] reads them back as [`Mail`].

use crate::TempDir;
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long the script may take to say it is listening (python3 starting on a busy machine).
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How long it may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the script prints once listening.
const READY_LINE: &str = "smtp-sink ready on ";

/// One message the sink accepted: a line of its out file (see `deploy/smtp-sink.py`).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Mail {
    /// When the sink accepted it (ISO 8601, UTC).
    pub received_at: String,
    /// The envelope sender (MAIL FROM).
    pub mail_from: String,
    /// The envelope recipients (RCPT TO), in order.
    pub rcpt_tos: Vec<String>,
    /// Whether the session was under TLS (STARTTLS) when the message was sent.
    pub tls: bool,
    /// The `X-Refroute-Notification-Id` header.
    pub notification_id: Option<String>,
    /// The `Message-ID` header.
    pub message_id: Option<String>,
    /// The subject, decoded (RFC 2047); "" when there is none.
    pub subject: String,
    /// Every header by its name as sent, decoded; a repeated header's values joined by ", ".
    pub headers: BTreeMap<String, String>,
    /// The text/plain body, decoded, its lines ending in "\n"; "" when there is none.
    pub body: String,
}

/// A real SMTP server on loopback (`deploy/smtp-sink.py`), offering and requiring STARTTLS
/// with `cert`/`key` (PEM paths). The script is killed when this is dropped, and its out file
/// (in a temporary directory) removed.
pub struct MailSink {
    child: Option<Child>,
    port: u16,
    cert: PathBuf,
    key: PathBuf,
    /// Holds the out file and the script's stdout and stderr; dropped after `child`.
    dir: TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/smtp-sink.py")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl MailSink {
    /// Starts the sink on a free port of 127.0.0.1 and waits until it is listening.
    pub async fn start(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let mut sink = Self {
            child: None,
            port: 0,
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            dir: TempDir::new(),
        };
        // The free port may be taken by someone else before the script binds it: try another.
        let mut attempt = 0;
        loop {
            sink.port = free_port()?;
            match sink.spawn().await {
                Err(e) if attempt < 3 && format!("{e:#}").contains("cannot listen") => {
                    attempt += 1;
                }
                done => return done.map(|()| sink),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The file the sink appends a JSON line to for each message.
    fn out_file(&self) -> PathBuf {
        self.dir.path().join("messages.jsonl")
    }

    fn stderr_file(&self) -> PathBuf {
        self.dir.path().join("smtp-sink.stderr")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_file()).unwrap_or_default()
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let script = script();
        if !script.is_file() {
            bail!("{} is missing", script.display());
        }
        let stdout_path = self.dir.path().join("smtp-sink.stdout");
        let stdout = std::fs::File::create(&stdout_path)?;
        // Appended across restarts, so an error names what happened before too.
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_file())?;
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--out")
            .arg(self.out_file())
            .arg("--cert")
            .arg(&self.cert)
            .arg("--key")
            .arg(&self.key)
            .arg("--require-starttls")
            .stdin(Stdio::null())
            // Files, not pipes: a pipe nobody reads would stop the server once full.
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .context("starting python3 deploy/smtp-sink.py (is python3 on PATH?)")?;
        let started = Instant::now();
        loop {
            let out = std::fs::read_to_string(&stdout_path).unwrap_or_default();
            if out.contains(READY_LINE) {
                self.child = Some(child);
                return Ok(());
            }
            if let Some(status) = child.try_wait()? {
                let stderr = self.stderr();
                let hint = if stderr.contains("No module named 'aiosmtpd'") {
                    " (deploy/ensure-services.sh installs aiosmtpd)"
                } else {
                    ""
                };
                bail!(
                    "deploy/smtp-sink.py on port {} exited ({status}) before it was ready{hint}; \
                     its stderr:\n{stderr}",
                    self.port
                );
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = child.kill().await;
                bail!(
                    "deploy/smtp-sink.py on port {} was not ready within {READY_TIMEOUT:?}; \
                     its stderr:\n{}",
                    self.port,
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the sink (SIGTERM, then waits for it to exit); afterwards connections to its port
    /// are refused. Messages recorded so far stay readable.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            // Fails only when it has exited already, which the wait below sees.
            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .stderr(Stdio::null())
                .status()
                .await
                .context("running kill")?;
        }
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(status) => {
                status.context("waiting for deploy/smtp-sink.py to exit")?;
            }
            Err(_) => {
                child.kill().await.context("killing deploy/smtp-sink.py")?;
                bail!(
                    "deploy/smtp-sink.py did not exit within {STOP_TIMEOUT:?} of SIGTERM (killed); \
                     its stderr:\n{}",
                    self.stderr()
                );
            }
        }
        Ok(())
    }

    /// Starts the sink again (stopping it first if it runs) on the same port, appending to the
    /// same out file.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.spawn().await
    }

    /// Every message recorded so far, in the order accepted.
    pub fn messages(&self) -> Vec<Mail> {
        let text = std::fs::read_to_string(self.out_file()).unwrap_or_default();
        // Only whole lines: the last one may be being written.
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        whole
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("smtp-sink wrote a line that is not a Mail ({e}): {l}")
                })
            })
            .collect()
    }

    /// Polls until at least `n` messages are recorded or `within` has passed; returns what it
    /// has then.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Mail> {
        let started = Instant::now();
        loop {
            let messages = self.messages();
            if messages.len() >= n || started.elapsed() >= within {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
