//! Every way a `CoordinatorService` call can fail, and the one place each becomes a gRPC status.
//! A client can switch on the code and the `ErrorInfo` reason: only `UNAVAILABLE` (the store,
//! a shutdown, or missed announcements) invites trying again.

use chrono::NaiveDate;
use refroute_platform::grpc::{Violation, invalid_argument, status_with_reason};
use tonic::{Code, Status};
use uuid::Uuid;

/// At most this many characters of a caller's input are quoted back in an error: enough to
/// recognise a typo, never a 60 KB echo.
const QUOTED_CHARS: usize = 40;

/// `input` as it may appear in an error message: its first [`QUOTED_CHARS`] characters, with
/// control characters escaped so the message stays one printable line.
pub fn quote(input: &str) -> String {
    let mut quoted: String = input
        .chars()
        .take(QUOTED_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if input.chars().nth(QUOTED_CHARS).is_some() {
        quoted.push('…');
    }
    quoted
}

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<Violation>),
    #[error("no case {0} in any queue")]
    NotFound(Uuid),
    #[error(
        "case {id} is in the review queue of {area}: it has not been routed to a panel, so no panel can have heard it"
    )]
    InReview { id: Uuid, area: String },
    #[error(
        "case {id} is already recorded as heard on {heard_on}, after {requested}; the case keeps its latest meeting"
    )]
    LaterHearingRecorded {
        id: Uuid,
        heard_on: NaiveDate,
        requested: NaiveDate,
    },
    /// The live stream cannot vouch that it carried every case: the listener lost its
    /// connection, a case could not be read, or this watcher fell behind.
    #[error("announcements may have been missed ({why}); list the queue and watch again")]
    AnnouncementsMissed { why: String },
    #[error("server shutting down; list the queue and watch again")]
    ShuttingDown,
    #[error("queue store unavailable")]
    Store(#[source] anyhow::Error),
    /// A stored case that cannot be opened or decoded: no retry will help, an operator must.
    #[error("a stored case cannot be read")]
    Unreadable(#[source] anyhow::Error),
}

impl CoordinatorError {
    /// The store's failure: the database's is worth retrying, a case that cannot be read is not.
    pub fn store(e: impl Into<anyhow::Error>) -> Self {
        let e = e.into();
        if e.downcast_ref::<sqlx::Error>().is_some() {
            Self::Store(e)
        } else {
            Self::Unreadable(e)
        }
    }
}

impl From<CoordinatorError> for Status {
    fn from(e: CoordinatorError) -> Self {
        match e {
            CoordinatorError::Invalid(violations) => invalid_argument(&violations),
            CoordinatorError::NotFound(_) => {
                status_with_reason(Code::NotFound, "CASE_NOT_FOUND", e.to_string())
            }
            CoordinatorError::InReview { .. } => {
                status_with_reason(Code::FailedPrecondition, "CASE_IN_REVIEW", e.to_string())
            }
            CoordinatorError::LaterHearingRecorded { .. } => status_with_reason(
                Code::FailedPrecondition,
                "LATER_HEARING_RECORDED",
                e.to_string(),
            ),
            CoordinatorError::AnnouncementsMissed { .. } => {
                status_with_reason(Code::Unavailable, "ANNOUNCEMENTS_MISSED", e.to_string())
            }
            CoordinatorError::ShuttingDown => {
                status_with_reason(Code::Unavailable, "SHUTTING_DOWN", e.to_string())
            }
            CoordinatorError::Store(ref source) => {
                // The cause stays in the log: it may name tables, hosts or sealed-record ids.
                tracing::error!(error = format!("{source:#}"), "queue store unavailable");
                status_with_reason(
                    Code::Unavailable,
                    "STORE_UNAVAILABLE",
                    "queue store unavailable; try again",
                )
            }
            CoordinatorError::Unreadable(ref source) => {
                tracing::error!(
                    error = format!("{source:#}"),
                    alarm = "case_unreadable",
                    "a stored case cannot be read"
                );
                status_with_reason(Code::Internal, "CASE_UNREADABLE", e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the status's details carry `text`. The details are protobuf, where a string is
    /// its raw bytes, so this finds an `ErrorInfo` reason without a decoder for `google.rpc`.
    fn carries(status: &Status, text: &str) -> bool {
        status
            .details()
            .windows(text.len())
            .any(|w| w == text.as_bytes())
    }

    #[test]
    fn quotes_are_short_and_printable() {
        assert_eq!(quote("case-7"), "case-7");
        let long = "x".repeat(60_000);
        let q = quote(&long);
        assert_eq!(q, format!("{}…", "x".repeat(40)));
        assert_eq!(quote("a\0b\nc"), "a\\0b\\nc");
        assert_eq!(
            quote(&"é".repeat(40)),
            "é".repeat(40),
            "counted in characters"
        );
    }

    #[test]
    fn each_error_has_its_code_and_reason() {
        let id = Uuid::now_v7();
        let date = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let cases = [
            (
                CoordinatorError::NotFound(id),
                Code::NotFound,
                "CASE_NOT_FOUND",
            ),
            (
                CoordinatorError::InReview {
                    id,
                    area: "E09000001".into(),
                },
                Code::FailedPrecondition,
                "CASE_IN_REVIEW",
            ),
            (
                CoordinatorError::LaterHearingRecorded {
                    id,
                    heard_on: date(10),
                    requested: date(7),
                },
                Code::FailedPrecondition,
                "LATER_HEARING_RECORDED",
            ),
            (
                CoordinatorError::AnnouncementsMissed {
                    why: "listener reconnecting".into(),
                },
                Code::Unavailable,
                "ANNOUNCEMENTS_MISSED",
            ),
            (
                CoordinatorError::store(sqlx::Error::PoolTimedOut),
                Code::Unavailable,
                "STORE_UNAVAILABLE",
            ),
            (
                CoordinatorError::store(anyhow::anyhow!("connection refused: aead::Error")),
                Code::Internal,
                "CASE_UNREADABLE",
            ),
        ];
        for (error, code, reason) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code, "{status:?}");
            assert!(carries(&status, reason), "{status:?} without {reason}");
            assert!(!status.message().contains("connection refused"));
        }
        let status = Status::from(CoordinatorError::Invalid(vec![Violation::new(
            "meeting_date",
            "is required",
        )]));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(carries(&status, "meeting_date"));
        let status = Status::from(CoordinatorError::AnnouncementsMissed { why: "x".into() });
        assert!(
            status
                .message()
                .contains("announcements may have been missed"),
            "{}",
            status.message()
        );
        assert!(status.message().contains("list the queue and watch again"));
    }
}
