//! Binding a service's gRPC listener from configuration.

use anyhow::Context;
use tokio::net::TcpListener;

/// Binds `addr` (`host:port`; port 0 picks a free one, which tests use).
pub async fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}
