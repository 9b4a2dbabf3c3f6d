//! The tower layer in front of every gRPC server: it finds the organisation behind the client
//! certificate, checks the method against [`super::policy`], and either refuses the call or
//! hands it on with the [`Caller`] in its extensions.

use super::caller::Caller;
use super::organisations::{Organisations, fingerprint_hex, fingerprint_of};
use super::policy::rule_for;
use super::refusal::{Reason, Refused};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::Status;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

#[derive(Clone)]
pub struct AccessLayer {
    service: &'static str,
    organisations: Arc<Organisations>,
}

impl AccessLayer {
    pub fn new(service: &'static str, organisations: Arc<Organisations>) -> Self {
        Self {
            service,
            organisations,
        }
    }

    /// The service this layer guards (for logs and metrics).
    pub fn service(&self) -> &'static str {
        self.service
    }

    fn refused<'a>(&self, method: &'a str, caller: &'a str) -> Refused<'a> {
        Refused {
            service: self.service,
            method,
            caller,
            resource: "",
        }
    }

    /// The caller of a request, or the refusal.
    fn admit<B>(&self, request: &http::Request<B>) -> Result<Caller, Status> {
        let method = request.uri().path();
        let leaf = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(|info| info.peer_certs())
            .and_then(|certs| certs.first().map(|c| fingerprint_of(c.as_ref())));
        let Some(fingerprint) = leaf else {
            return Err(self.refused(method, "").status(
                Reason::ClientCertificateRequired,
                "a client certificate issued by this deployment's CA is required",
            ));
        };
        let Some(organisation) = self.organisations.by_fingerprint(&fingerprint) else {
            let shown = fingerprint_hex(&fingerprint);
            return Err(self.refused(method, &format!("certificate:{shown}")).status(
                Reason::CertificateNotKnown,
                format!(
                    "the client certificate (SHA-256 {shown}) belongs to no organisation in the \
                     organisations file"
                ),
            ));
        };
        let Some(rule) = rule_for(method) else {
            return Err(self.refused(method, &organisation.id).status(
                Reason::MethodNotAllowed,
                format!("{method} is not open to any caller"),
            ));
        };
        if !rule.allow.admits(&organisation) {
            return Err(self.refused(method, &organisation.id).status(
                Reason::RoleRequired,
                format!(
                    "{method} requires {}; {} does not have it",
                    rule.allow.describe(),
                    organisation.name
                ),
            ));
        }
        Ok(Caller::new(organisation, self.service, method))
    }
}

impl<S> tower_layer::Layer<S> for AccessLayer {
    type Service = AccessService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessService {
            gate: self.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct AccessService<S> {
    gate: AccessLayer,
    inner: S,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for AccessService<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        match self.gate.admit(&request) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                Box::pin(self.inner.call(request))
            }
            Err(status) => Box::pin(std::future::ready(Ok(status.into_http()))),
        }
    }
}
