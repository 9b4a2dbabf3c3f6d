//! Every refusal by identity is made here: one status shape (UNAUTHENTICATED or
//! PERMISSION_DENIED with an `ErrorInfo` reason), one log line naming the caller, the method and
//! the resource id (never personal data), and one counter.

use crate::grpc::status_with_reason;
use crate::metrics;
use tonic::{Code, Status};

/// What a refused caller can switch on (the `ErrorInfo` reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The connection carries no client certificate.
    ClientCertificateRequired,
    /// A certificate the CA issued, but no organisation in the organisations file has it.
    CertificateNotKnown,
    /// The method is in no line of the access matrix.
    MethodNotAllowed,
    /// The caller's organisation lacks the role the method needs.
    RoleRequired,
    /// A referral another organisation made.
    ReferralNotVisible,
    /// A queue, or a case in a queue, the caller does not coordinate.
    QueueNotCoordinated,
    /// `referring_organisation` names an organisation other than the caller.
    OrganisationMismatch,
    /// A peer offering a transfer from an area it does not serve (a certificate for the wrong
    /// borough), or to an area this deployment does not receive for.
    AreaNotServed,
    /// A peer reading or answering a transfer addressed to another deployment.
    TransferNotAddressed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ClientCertificateRequired => "CLIENT_CERTIFICATE_REQUIRED",
            Reason::CertificateNotKnown => "CERTIFICATE_NOT_KNOWN",
            Reason::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Reason::RoleRequired => "ROLE_REQUIRED",
            Reason::ReferralNotVisible => "REFERRAL_NOT_VISIBLE",
            Reason::QueueNotCoordinated => "QUEUE_NOT_COORDINATED",
            Reason::OrganisationMismatch => "REFERRING_ORGANISATION_MISMATCH",
            Reason::AreaNotServed => "AREA_NOT_SERVED",
            Reason::TransferNotAddressed => "TRANSFER_NOT_ADDRESSED_TO_CALLER",
        }
    }

    /// Not knowing who calls is UNAUTHENTICATED; knowing and saying no is PERMISSION_DENIED.
    pub fn code(self) -> Code {
        match self {
            Reason::ClientCertificateRequired | Reason::CertificateNotKnown => {
                Code::Unauthenticated
            }
            _ => Code::PermissionDenied,
        }
    }
}

/// Where a refusal happened and to whom.
pub struct Refused<'a> {
    pub service: &'static str,
    pub method: &'a str,
    /// The organisation's id, or for an unknown certificate its fingerprint.
    pub caller: &'a str,
    /// The referral, case or queue asked for; empty when the method alone was refused.
    pub resource: &'a str,
}

impl Refused<'_> {
    pub fn status(&self, reason: Reason, message: impl Into<String>) -> Status {
        count_refusal(self.service, self.method, reason.as_str());
        tracing::warn!(
            service = self.service,
            caller = self.caller,
            method = self.method,
            resource = self.resource,
            reason = reason.as_str(),
            "refused"
        );
        status_with_reason(reason.code(), reason.as_str(), message)
    }
}

/// `refroute_access_refused_total{service, method, reason}`.
pub fn count_refusal(service: &'static str, method: &str, reason: &str) {
    metrics::increment(
        "refroute_access_refused_total",
        &[("service", service), ("method", method), ("reason", reason)],
    );
}
