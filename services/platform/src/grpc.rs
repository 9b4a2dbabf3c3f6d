//! gRPC serving shared by every service: mutual TLS and the access layer in front of every
//! method, health (whose status follows the broker connection), reflection v1 and v1alpha,
//! request deadlines, size limits set per service, graceful shutdown, and the rich error details
//! (`BadRequest`, `ErrorInfo`) callers can act on.

use crate::access::AccessLayer;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;
use tonic::{Code, Status};
use tonic_health::server::HealthReporter;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `domain` of every `ErrorInfo` refroute returns.
pub const ERROR_DOMAIN: &str = "refroute.london";

pub struct GrpcServer {
    routes: RoutesBuilder,
    health: HealthReporter,
    /// What reflection advertises: only the services this server actually serves.
    served: Vec<&'static str>,
}

impl GrpcServer {
    /// A server that already serves health (and, once serving, reflection). Health starts
    /// NOT_SERVING; the supervisor flips it once the broker connection is up.
    pub fn new() -> Self {
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        Self {
            routes,
            health,
            served: vec!["grpc.health.v1.Health"],
        }
    }

    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower_service::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.served.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// The refroute APIs this server serves (their health follows the broker connection).
    pub fn api_names(&self) -> Vec<String> {
        self.served
            .iter()
            .filter(|n| n.starts_with("refroute."))
            .map(|n| n.to_string())
            .collect()
    }

    fn add_reflection(&mut self) {
        self.served.extend([
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]);
        let builder = || {
            self.served.iter().fold(
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(refroute_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
                |b, name| b.with_service_name(*name),
            )
        };
        let v1 = builder()
            .build_v1()
            .expect("refroute descriptors are valid");
        let v1alpha = builder()
            .build_v1alpha()
            .expect("refroute descriptors are valid");
        self.routes.add_service(v1).add_service(v1alpha);
    }

    /// Serves mutual-TLS connections until `stop`, admitting each call through `access`, then
    /// stops accepting and lets in-flight calls finish.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        tls: TlsAcceptor,
        access: AccessLayer,
        stop: CancellationToken,
    ) -> Result<(), tonic::transport::Error> {
        self.add_reflection();
        let incoming = crate::tls::incoming(listener, tls, access.service(), stop.clone());
        tonic::transport::Server::builder()
            .timeout(Duration::from_secs(30))
            .concurrency_limit_per_connection(256)
            .layer(access)
            .add_routes(self.routes.routes())
            .serve_with_incoming_shutdown(ReceiverStream::new(incoming), stop.cancelled_owned())
            .await
    }
}

impl Default for GrpcServer {
    fn default() -> Self {
        Self::new()
    }
}

/// One invalid field: its path in the request and what is wrong. Defined where requests are
/// parsed; converted to a `FieldViolation` here.
pub use refroute_wire::Violation;

/// How many field paths the status message itself names; `BadRequest` lists the rest.
const FIELDS_IN_MESSAGE: usize = 10;

/// INVALID_ARGUMENT naming every bad field at once (the list is capped where it is made).
pub fn invalid_argument(violations: &[Violation]) -> Status {
    let fields: Vec<&str> = violations
        .iter()
        .take(FIELDS_IN_MESSAGE)
        .map(|v| v.field.as_str())
        .collect();
    let more = violations.len().saturating_sub(FIELDS_IN_MESSAGE);
    let message = format!(
        "{} invalid field(s): {}{}",
        violations.len(),
        fields.join(", "),
        if more > 0 {
            format!(" and {more} more (see the BadRequest details)")
        } else {
            String::new()
        }
    );
    let details = ErrorDetails::with_bad_request(
        violations
            .iter()
            .map(|v| FieldViolation::new(v.field.clone(), v.description.clone()))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// A status with an `ErrorInfo` whose `reason` a client can switch on.
pub fn status_with_reason(code: Code, reason: &str, message: impl Into<String>) -> Status {
    let details =
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new());
    Status::with_error_details(code, message, details)
}

/// Database trouble: UNAVAILABLE, the one code that invites a retry. Details stay in the log.
pub fn unavailable(context: &str, error: impl std::fmt::Display) -> Status {
    tracing::error!(error = %error, "{context}");
    status_with_reason(
        Code::Unavailable,
        "STORE_UNAVAILABLE",
        format!("{context}; retry with the same request_id"),
    )
}
