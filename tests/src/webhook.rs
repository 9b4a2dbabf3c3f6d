//! [`WebhookReceiver`]: a real HTTPS server on loopback for the tests that send webhooks. It
//! records every request and answers each with the status the test scripted for its path.
//! HTTP/1.1 only, served by axum behind a rustls accept loop.

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// One request the receiver answered.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Every header by its lower-case name; a repeated header's values joined by ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub status: u16,
}

#[derive(Default)]
struct Shared {
    /// Per path: the scripted statuses and how many requests have taken one.
    scripts: Mutex<HashMap<String, (Vec<u16>, usize)>>,
    received: Mutex<Vec<Received>>,
}

/// A real HTTPS receiver on 127.0.0.1 with the given certificate, recording every request.
/// It stops accepting, and closes its idle connections, when dropped.
pub struct WebhookReceiver {
    port: u16,
    shared: Arc<Shared>,
    stop: CancellationToken,
    accept: JoinHandle<()>,
}

impl WebhookReceiver {
    /// Starts the receiver on a free port of 127.0.0.1, serving `cert` (a PEM certificate
    /// chain) with `key` (its PEM private key).
    pub async fn start(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let chain = refroute_platform::tls::certificates(cert)?;
        let key = refroute_platform::tls::private_key(key)?;
        let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(
            refroute_platform::tls::provider(),
        )
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the webhook receiver's certificate and key do not go together")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the webhook receiver to 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let (tx, rx) = mpsc::channel(64);
        let accept = tokio::spawn(accept_loop(listener, acceptor, tx, stop.clone()));

        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let serve = axum::serve(TlsListener { rx, addr }, app)
            .with_graceful_shutdown(stop.clone().cancelled_owned());
        tokio::spawn(async move {
            let _ = serve.await;
        });
        Ok(Self {
            port: addr.port(),
            shared,
            stop,
            accept,
        })
    }

    /// `https://localhost:PORT{path}`
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Scripted answers for `path`: each request takes the next status; the last one repeats.
    /// Replaces any earlier script for the path, starting again from its first status.
    /// Unscripted paths are answered 200.
    pub fn respond(&self, path: &str, statuses: &[u16]) {
        assert!(
            !statuses.is_empty(),
            "respond({path:?}) needs at least one status"
        );
        for &s in statuses {
            assert!(
                (200..=599).contains(&s),
                "respond({path:?}): {s} is not a final HTTP status"
            );
        }
        self.shared
            .scripts
            .lock()
            .expect("scripts")
            .insert(path.to_string(), (statuses.to_vec(), 0));
    }

    /// Every request answered so far, in the order answered.
    pub fn requests(&self) -> Vec<Received> {
        self.shared.received.lock().expect("received").clone()
    }

    /// Polls until at least `n` requests are answered or `within` has passed; returns what it
    /// has then.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let requests = self.requests();
            if requests.len() >= n || started.elapsed() >= within {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.stop.cancel();
        self.accept.abort();
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_string();
    let status = match shared.scripts.lock().expect("scripts").get_mut(&path) {
        Some((statuses, taken)) => {
            let status = statuses[(*taken).min(statuses.len() - 1)];
            *taken += 1;
            status
        }
        None => 200,
    };
    let mut recorded = BTreeMap::<String, String>::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        recorded
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    shared.received.lock().expect("received").push(Received {
        method: method.to_string(),
        path,
        headers: recorded,
        body: body.to_vec(),
        status,
    });
    StatusCode::from_u16(status).expect("respond checked the status")
}

/// Accepts TCP connections until `stop`, handshaking each in its own task (a slow client holds
/// up no other), and hands on those that complete.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    stop: CancellationToken,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            // A failed handshake (a client that distrusts the certificate) is the client's to
            // report; the receiver records requests only.
            if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(tcp)).await {
                let _ = tx.send((tls, peer)).await;
            }
        });
    }
}

/// The connections that completed their handshake, as axum's listener.
struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(connection) => connection,
            // The accept loop has stopped: so has the receiver, and nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
