//! Every way an `ExchangeService` or `TransferService` call can fail here, and the one place
//! each becomes a gRPC status. Refusals by identity are made by the access layer and the
//! caller's checks (`refroute_platform::access`); only `UNAVAILABLE` invites a retry.

use refroute_platform::grpc::{Violation, invalid_argument, status_with_reason, unavailable};
use tonic::{Code, Status};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<Violation>),
    #[error("no transfer {0} here")]
    NotFound(Uuid),
    /// The transfer is not in a state that allows this (answered already, not a contact
    /// transfer, not received here...).
    #[error("{0}")]
    WrongState(String),
    /// The same transfer id offered with different content, or by another peer.
    #[error("transfer {0} was already offered here with other content or by another peer")]
    Conflict(Uuid),
    #[error("transfer store unavailable")]
    Store(#[source] anyhow::Error),
}

impl TransferError {
    pub fn invalid(field: &str, why: impl Into<String>) -> Self {
        Self::Invalid(vec![Violation::new(field, why)])
    }

    /// The store's failure: the database's is worth retrying; a record that cannot be opened
    /// is not, but it is still the store's fault, not the caller's.
    pub fn store(e: impl Into<anyhow::Error>) -> Self {
        Self::Store(e.into())
    }
}

impl From<sqlx::Error> for TransferError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<TransferError> for Status {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::Invalid(violations) => invalid_argument(&violations),
            TransferError::NotFound(_) => {
                status_with_reason(Code::NotFound, "TRANSFER_NOT_FOUND", e.to_string())
            }
            TransferError::WrongState(_) => {
                status_with_reason(Code::FailedPrecondition, "TRANSFER_STATE", e.to_string())
            }
            TransferError::Conflict(_) => {
                status_with_reason(Code::AlreadyExists, "TRANSFER_CONFLICT", e.to_string())
            }
            TransferError::Store(source) => {
                unavailable("transfer store unavailable", format!("{source:#}"))
            }
        }
    }
}

/// A transfer id from a request.
pub fn transfer_id(field: &str, id: &str) -> Result<Uuid, TransferError> {
    id.trim()
        .parse()
        .map_err(|_| TransferError::invalid(field, format!("'{}' is not a UUID", quote(id))))
}

/// A reason a caller gives (sent to the other deployment and shown to coordinators): one or
/// more printable lines, at most 2000 characters.
pub fn reason(field: &str, text: &str, required: bool) -> Result<String, TransferError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(TransferError::invalid(field, "is required to decline"));
    }
    if text.chars().count() > 2000 {
        return Err(TransferError::invalid(
            field,
            "is longer than 2000 characters",
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(TransferError::invalid(field, "holds control characters"));
    }
    Ok(text.to_string())
}

fn quote(input: &str) -> String {
    input
        .chars()
        .take(40)
        .flat_map(char::escape_debug)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked_naming_their_field() {
        assert!(transfer_id("transfer_id", "0192f0e4-0000-7000-8000-000000000001").is_ok());
        let Err(TransferError::Invalid(v)) = transfer_id("transfer_id", "nope") else {
            panic!("accepted")
        };
        assert_eq!(v[0].field, "transfer_id");
        assert!(reason("reason", "", false).is_ok());
        assert!(matches!(
            reason("reason", "  ", true),
            Err(TransferError::Invalid(_))
        ));
        assert!(matches!(
            reason("reason", "a\u{7}b", false),
            Err(TransferError::Invalid(_))
        ));
        assert!(matches!(
            reason("reason", &"x".repeat(2001), false),
            Err(TransferError::Invalid(_))
        ));
        assert_eq!(
            reason("reason", " Not resident here\n(moved) ", true).unwrap(),
            "Not resident here\n(moved)"
        );
    }
}
