//! What every refroute service shares and none should write twice: layered configuration,
//! telemetry, the database pool and migrations, encryption of personal data, the reliable
//! messaging plumbing (outbox, inbox, consumer, connection supervisor) and gRPC serving.

pub mod crypto;
pub mod db;
pub mod grpc;
pub mod messaging;
pub mod metrics;
pub mod readiness;
pub mod reference;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod wire;

pub use settings::{Secret, Settings};
