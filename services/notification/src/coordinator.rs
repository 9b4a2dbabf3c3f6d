//! `refroute.v1.CoordinatorService`: list, read and watch a panel's queue for one area, and
//! record the meeting that heard a case.

use crate::queue::{Cursor, Hearing, QueueStore};
use chrono::{NaiveDate, Utc};
use refroute_domain::AreaCode;
use refroute_platform::grpc::{Violation, invalid_argument, status_with_reason, unavailable};
use refroute_platform::messaging::{Outbox, TraceContext};
use refroute_proto::v1::coordinator_service_server::CoordinatorService;
use refroute_proto::v1::{
    Case, GetCaseRequest, ListQueueRequest, ListQueueResponse, Panel, RecordHearingRequest,
    WatchQueueRequest,
};
use std::pin::Pin;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

const DEFAULT_PAGE: i32 = 50;
const MAX_PAGE: i32 = 500;

pub struct CoordinatorApi {
    store: QueueStore,
    outbox: Outbox,
    routed: broadcast::Sender<Case>,
    stop: CancellationToken,
}

impl CoordinatorApi {
    /// `outbox` is notification's own: `case.heard` leaves through it.
    pub fn new(
        store: QueueStore,
        outbox: Outbox,
        routed: broadcast::Sender<Case>,
        stop: CancellationToken,
    ) -> Self {
        Self {
            store,
            outbox,
            routed,
            stop,
        }
    }
}

/// Checks a `RecordHearing` request, naming every bad field at once. `today` is injected so
/// "not in the future" is testable.
pub fn validate_hearing(
    request: &RecordHearingRequest,
    today: NaiveDate,
) -> Result<(Uuid, NaiveDate), Vec<Violation>> {
    let mut violations = Vec::new();
    let id = request.referral_id.trim();
    let referral_id = match id.parse::<Uuid>() {
        Ok(u) => Some(u),
        Err(_) if id.is_empty() => {
            violations.push(Violation::new("referral_id", "is required (a UUID)"));
            None
        }
        Err(_) => {
            violations.push(Violation::new(
                "referral_id",
                format!("'{}' is not a referral id (a UUID)", truncate(id)),
            ));
            None
        }
    };
    let raw = request.meeting_date.trim();
    let meeting_date = if raw.is_empty() {
        violations.push(Violation::new("meeting_date", "is required (YYYY-MM-DD)"));
        None
    } else {
        match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Err(_) => {
                violations.push(Violation::new(
                    "meeting_date",
                    format!("'{}' is not a date in the form YYYY-MM-DD", truncate(raw)),
                ));
                None
            }
            Ok(d) if d > today => {
                violations.push(Violation::new(
                    "meeting_date",
                    format!("{d} is in the future (today is {today})"),
                ));
                None
            }
            Ok(d) => Some(d),
        }
    };
    match (referral_id, meeting_date) {
        (Some(id), Some(date)) if violations.is_empty() => Ok((id, date)),
        _ => Err(violations),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The queue a request names: a known area, and a panel (MARAC when left unspecified).
fn queue_of(
    area_code: &str,
    panel: i32,
    violations: &mut Vec<Violation>,
) -> Option<(AreaCode, Panel)> {
    let area = match AreaCode::parse(area_code) {
        Ok(a) => Some(a),
        Err(e) => {
            violations.push(Violation::new("area_code", e.to_string()));
            None
        }
    };
    let panel = match Panel::try_from(panel) {
        Ok(Panel::Unspecified) => Some(Panel::Marac),
        Ok(p) => Some(p),
        Err(_) => {
            violations.push(Violation::new("panel", format!("{panel} is not a panel")));
            None
        }
    };
    area.zip(panel)
}

type CaseStream = Pin<Box<dyn Stream<Item = Result<Case, Status>> + Send>>;

#[tonic::async_trait]
impl CoordinatorService for CoordinatorApi {
    async fn list_queue(
        &self,
        request: Request<ListQueueRequest>,
    ) -> Result<Response<ListQueueResponse>, Status> {
        let r = request.into_inner();
        let mut violations = Vec::new();
        let queue = queue_of(&r.area_code, r.panel, &mut violations);
        if !(0..=MAX_PAGE).contains(&r.page_size) {
            violations.push(Violation::new(
                "page_size",
                format!("must be between 0 and {MAX_PAGE}"),
            ));
        }
        let after = if r.page_token.is_empty() {
            None
        } else {
            let cursor = Cursor::decode(&r.page_token);
            if cursor.is_none() {
                violations.push(Violation::new(
                    "page_token",
                    "is not a token this service issued",
                ));
            }
            cursor
        };
        let Some((area, panel)) = queue.filter(|_| violations.is_empty()) else {
            return Err(invalid_argument(&violations));
        };
        let limit = if r.page_size == 0 {
            DEFAULT_PAGE
        } else {
            r.page_size
        };
        let (cases, next) = self
            .store
            .list(area.as_str(), panel, after, limit as i64)
            .await
            .map_err(|e| unavailable("queue store unavailable", e))?;
        Ok(Response::new(ListQueueResponse {
            cases,
            next_page_token: next.map(|c| c.encode()).unwrap_or_default(),
        }))
    }

    async fn get_case(&self, request: Request<GetCaseRequest>) -> Result<Response<Case>, Status> {
        let id = request.into_inner().referral_id;
        let Ok(uuid) = id.trim().parse::<Uuid>() else {
            return Err(invalid_argument(&[Violation::new(
                "referral_id",
                format!("'{id}' is not a referral id (a UUID)"),
            )]));
        };
        match self
            .store
            .get(uuid)
            .await
            .map_err(|e| unavailable("queue store unavailable", e))?
        {
            Some(case) => Ok(Response::new(case)),
            None => Err(status_with_reason(
                Code::NotFound,
                "CASE_NOT_FOUND",
                format!("no case {id} in any queue"),
            )),
        }
    }

    async fn record_hearing(
        &self,
        request: Request<RecordHearingRequest>,
    ) -> Result<Response<Case>, Status> {
        let request = request.into_inner();
        let (referral_id, date) = validate_hearing(&request, Utc::now().date_naive())
            .map_err(|v| invalid_argument(&v))?;
        let trace = TraceContext::start();
        let span = tracing::info_span!("record_hearing", referral_id = %referral_id, trace_id = %trace.trace_id);
        let hearing = self
            .store
            .record_hearing(&self.outbox, referral_id, date, &trace)
            .instrument(span)
            .await
            .map_err(|e| unavailable("queue store unavailable", e))?;
        match hearing {
            Hearing::Recorded(case) => {
                self.outbox.notify_committed();
                Ok(Response::new(case))
            }
            Hearing::Unchanged(case) => Ok(Response::new(case)),
            Hearing::NotFound => Err(status_with_reason(
                Code::NotFound,
                "CASE_NOT_FOUND",
                format!("no case {referral_id} in any queue"),
            )),
            Hearing::InReview(case) => Err(status_with_reason(
                Code::FailedPrecondition,
                "CASE_IN_REVIEW",
                format!(
                    "case {referral_id} is in the review queue of {}: it has not been routed to a panel, so no panel can have heard it",
                    case.area_code
                ),
            )),
        }
    }

    type WatchQueueStream = CaseStream;

    async fn watch_queue(
        &self,
        request: Request<WatchQueueRequest>,
    ) -> Result<Response<Self::WatchQueueStream>, Status> {
        let r = request.into_inner();
        let mut violations = Vec::new();
        let Some((area, panel)) = queue_of(&r.area_code, r.panel, &mut violations) else {
            return Err(invalid_argument(&violations));
        };
        // Subscribe before answering, so every case routed after the call is seen.
        let mut routed = self.routed.subscribe();
        let (tx, rx) = mpsc::channel(64);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    _ = stop.cancelled() => {
                        let _ = tx.send(Err(Status::unavailable("server shutting down; watch again"))).await;
                        return;
                    }
                    _ = tx.closed() => return,
                    next = routed.recv() => next,
                };
                match next {
                    Ok(case) if case.area_code == area.as_str() && case.panel == panel as i32 => {
                        if tx.send(Ok(case)).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        let _ = tx
                            .send(Err(Status::aborted(format!(
                                "watcher fell {missed} cases behind; list the queue and watch again"
                            ))))
                            .await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn request(referral_id: &str, meeting_date: &str) -> RecordHearingRequest {
        RecordHearingRequest {
            referral_id: referral_id.into(),
            meeting_date: meeting_date.into(),
        }
    }

    fn fields(v: Vec<Violation>) -> Vec<String> {
        v.into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_hearing_needs_a_referral_id_and_a_past_or_present_date() {
        let id = Uuid::now_v7();
        assert_eq!(
            validate_hearing(&request(&id.to_string(), "2026-11-23"), today()),
            Ok((id, today()))
        );
        assert_eq!(
            validate_hearing(&request(&format!(" {id} "), "2026-10-01"), today())
                .unwrap()
                .1,
            NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
        );
        // Every bad field is named in one answer.
        let v = validate_hearing(&request("", ""), today()).unwrap_err();
        assert_eq!(fields(v), ["referral_id", "meeting_date"]);
        let v = validate_hearing(&request("case-7", "23/11/2026"), today()).unwrap_err();
        assert!(v[0].description.contains("'case-7' is not a referral id"));
        assert!(v[1].description.contains("YYYY-MM-DD"));
        let v = validate_hearing(&request(&id.to_string(), "2026-11-24"), today()).unwrap_err();
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].description,
            "2026-11-24 is in the future (today is 2026-11-23)"
        );
        let v = validate_hearing(&request(&id.to_string(), "2026-02-30"), today()).unwrap_err();
        assert_eq!(fields(v), ["meeting_date"]);
    }
}
