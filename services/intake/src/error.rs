//! Every way an `IntakeService` call can fail, and the one place each becomes a gRPC status.
//! Only trouble that may pass by itself is UNAVAILABLE (the code that tells a client to retry
//! with the same request_id); a request that can never succeed is never answered that way.

use refroute_platform::grpc::{invalid_argument, status_with_reason};
use refroute_platform::messaging::consumer::{Retry, classify};
use refroute_wire::Violation;
use tonic::{Code, Status};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<Violation>),
    #[error("no referral {0}")]
    NotFound(Uuid),
    /// The caller's request_id names another referral: never say which.
    #[error("request_id was already used for a different referral")]
    RequestIdReused,
    #[error("referral {id} is {status}, not waiting for its residence")]
    NotInReview { id: Uuid, status: &'static str },
    #[error("stored referral {0} cannot be opened (wrong data key or corrupt record)")]
    Sealed(Uuid),
    /// A stored referral the parse refuses: it was stored by an older version or by hand.
    #[error("stored referral {0} no longer parses")]
    Unparseable(Uuid),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<crate::store::StoreError> for IntakeError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Database(e) => IntakeError::Store(e),
            crate::store::StoreError::Sealed(id) => IntakeError::Sealed(id),
        }
    }
}

impl From<IntakeError> for Status {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(violations) => invalid_argument(&violations),
            IntakeError::NotFound(id) => status_with_reason(
                Code::NotFound,
                "REFERRAL_NOT_FOUND",
                format!("no referral {id}"),
            ),
            IntakeError::RequestIdReused => status_with_reason(
                Code::AlreadyExists,
                "REQUEST_ID_REUSED",
                "request_id was already used for a different referral; use a new request_id \
                 for a new referral",
            ),
            IntakeError::NotInReview { id, status } => status_with_reason(
                Code::FailedPrecondition,
                "NOT_IN_REVIEW",
                format!(
                    "referral {id} is {status}, not waiting for its residence: only a \
                     referral in REFERRAL_STATUS_NEEDS_REVIEW, or a Community MARAC case whose \
                     invitation waits for the residence, takes one"
                ),
            ),
            IntakeError::Sealed(id) | IntakeError::Unparseable(id) => {
                tracing::error!(alarm = "stored_referral_unreadable", referral_id = %id, "stored referral cannot be used");
                status_with_reason(
                    Code::Internal,
                    "STORED_REFERRAL_UNREADABLE",
                    "the stored referral cannot be read; operators have been alerted",
                )
            }
            IntakeError::Store(e) => match classify(&e) {
                (Retry::Transient, why) => {
                    tracing::error!(error = %why, "referral store unavailable");
                    status_with_reason(
                        Code::Unavailable,
                        "STORE_UNAVAILABLE",
                        "referral store unavailable; retry with the same request_id",
                    )
                }
                (Retry::Permanent, why) => {
                    tracing::error!(alarm = "store_refused", error = %why, "the referral store refused a write");
                    status_with_reason(
                        Code::Internal,
                        "STORE_REFUSED",
                        "the referral store refused this request; retrying will not help, and \
                         operators have been alerted",
                    )
                }
            },
        }
    }
}
