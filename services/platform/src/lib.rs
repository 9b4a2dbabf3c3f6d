//! What every refroute service shares and none should write twice: layered configuration,
//! telemetry, the database pool and migrations, encryption of personal data, the reliable
//! messaging plumbing (outbox, inbox, consumer, connection supervisor), and gRPC serving behind
//! mutual TLS and one access layer.

pub mod access;
pub mod audit;
pub mod crypto;
pub mod db;
pub mod grpc;
pub mod keys;
pub mod messaging;
pub mod metrics;
pub mod readiness;
pub mod reference;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod wire;

pub use settings::{Secret, Settings};
