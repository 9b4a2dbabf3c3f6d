//! `refroute.v1.CoordinatorService`: list, read and watch a panel's queue for one area, and
//! record the meeting that heard a case.

use crate::announce::{Announcement, Announcements};
use crate::error::{CoordinatorError, quote};
use crate::queue::{Cursor, Hearing, QueueStore};
use chrono::{NaiveDate, Utc};
use refroute_domain::{AreaCode, AreaError};
use refroute_platform::access::Caller;
use refroute_platform::access::Role;
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::grpc::Violation;
use refroute_platform::messaging::{Outbox, TraceContext};
use refroute_platform::wire::timestamp;
use refroute_proto::v1::coordinator_service_server::CoordinatorService;
use refroute_proto::v1::{
    Case, Delivery, DeliveryState, GetCaseRequest, ListDeliveriesRequest, ListDeliveriesResponse,
    ListQueueRequest, ListQueueResponse, Panel, RecordHearingRequest, WatchQueueRequest,
};
use std::pin::Pin;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

const DEFAULT_PAGE: i32 = 50;
const MAX_PAGE: i32 = 500;

pub struct CoordinatorApi {
    store: QueueStore,
    outbox: Outbox,
    announcements: Announcements,
    stop: CancellationToken,
}

impl CoordinatorApi {
    /// `outbox` is notification's own: `case.heard` leaves through it.
    pub fn new(
        store: QueueStore,
        outbox: Outbox,
        announcements: Announcements,
        stop: CancellationToken,
    ) -> Self {
        Self {
            store,
            outbox,
            announcements,
            stop,
        }
    }
}

/// A date written exactly `YYYY-MM-DD`. chrono's `%Y-%m-%d` also takes `2026-1-2` and
/// `+2026-01-02`; one date has one spelling here, as everywhere in refroute.
pub fn canonical_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) {
        return None;
    }
    if !digits(5..7) || !digits(8..10) {
        return None;
    }
    let number = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)
}

/// The referral id a request names, or the violation naming `field`.
pub fn referral_id(field: &str, raw: &str) -> Result<Uuid, Violation> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(Violation::new(field, "is required (a UUID)"));
    }
    id.parse::<Uuid>().map_err(|_| {
        Violation::new(
            field,
            format!("'{}' is not a referral id (a UUID)", quote(id)),
        )
    })
}

/// Checks a `RecordHearing` request, naming every bad field at once. `today` is injected so
/// "not in the future" is testable; "not before the case was routed" needs the case, so
/// [`QueueStore::record_hearing`] checks it.
pub fn validate_hearing(
    request: &RecordHearingRequest,
    today: NaiveDate,
) -> Result<(Uuid, NaiveDate), Vec<Violation>> {
    let mut violations = Vec::new();
    let referral_id = referral_id("referral_id", &request.referral_id)
        .map_err(|v| violations.push(v))
        .ok();
    let raw = request.meeting_date.trim();
    let meeting_date = if raw.is_empty() {
        violations.push(Violation::new("meeting_date", "is required (YYYY-MM-DD)"));
        None
    } else {
        match canonical_date(raw) {
            None => {
                violations.push(Violation::new(
                    "meeting_date",
                    format!("'{}' is not a date in the form YYYY-MM-DD", quote(raw)),
                ));
                None
            }
            Some(d) if d > today => {
                violations.push(Violation::new(
                    "meeting_date",
                    format!("{d} is in the future (today is {today})"),
                ));
                None
            }
            Some(d) => Some(d),
        }
    };
    match (referral_id, meeting_date) {
        (Some(id), Some(date)) if violations.is_empty() => Ok((id, date)),
        _ => Err(violations),
    }
}

/// The violation for a meeting before the case reached its panel: no panel could have heard it.
pub fn before_routed(date: NaiveDate, routed_on: NaiveDate) -> Violation {
    Violation::new(
        "meeting_date",
        format!("{date} is before the case was routed on {routed_on}"),
    )
}

/// The queue a request names: a known area, and a panel (MARAC when left unspecified).
fn queue_of(
    area_code: &str,
    panel: i32,
    violations: &mut Vec<Violation>,
) -> Option<(AreaCode, Panel)> {
    let area = match AreaCode::parse(area_code) {
        Ok(a) => Some(a),
        Err(AreaError::Malformed(_)) => {
            violations.push(Violation::new(
                "area_code",
                format!(
                    "'{}' is not a GSS code (expected a letter and 8 digits, e.g. E09000001)",
                    quote(area_code)
                ),
            ));
            None
        }
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

/// A delivery row as the API shows it.
fn delivery(row: crate::deliveries::Listed) -> Delivery {
    let state = DeliveryState::from_str_name(&format!("DELIVERY_STATE_{}", row.state))
        .unwrap_or(DeliveryState::Unspecified);
    Delivery {
        id: row.id.to_string(),
        referral_id: row.referral_id.map(|r| r.to_string()).unwrap_or_default(),
        kind: row.kind,
        recipient_organisation: row.recipient_organisation,
        recipient_id: row.recipient_id,
        recipient_role: row.recipient_role,
        channel: row.channel,
        address: row.recipient_address.unwrap_or_default(),
        personal_data: row.personal_data,
        state: state as i32,
        attempts: row.attempts.max(0) as u32,
        last_error: row.last_error,
        create_time: Some(timestamp(row.created_at)),
        sent_time: row.sent_at.map(timestamp),
        next_attempt_time: row.next_attempt_at.map(timestamp),
        area_code: row.to_area_code,
    }
}

type CaseStream = Pin<Box<dyn Stream<Item = Result<Case, Status>> + Send>>;

impl CoordinatorApi {
    /// Records that `actor` is shown each of `cases`, before they are shown: when the audit log
    /// cannot record it, the call fails and nothing is disclosed.
    async fn disclose(&self, actor: &str, cases: &[Case]) -> Result<(), CoordinatorError> {
        let entries: Vec<Entry> = cases
            .iter()
            .map(|c| Entry::of_case(crate::SCHEMA, actor, action::CASE_DISCLOSED, c))
            .collect();
        audit::disclose(&self.store.pool, &entries)
            .await
            .map_err(CoordinatorError::store)
    }

    async fn list(
        &self,
        caller: &Caller,
        r: ListQueueRequest,
    ) -> Result<ListQueueResponse, Status> {
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
            return Err(CoordinatorError::Invalid(violations).into());
        };
        caller.require_queue(&area, panel)?;
        let limit = if r.page_size == 0 {
            DEFAULT_PAGE
        } else {
            r.page_size
        };
        let (cases, next) = self
            .store
            .list(area.as_str(), panel, after, limit as i64)
            .await
            .map_err(CoordinatorError::store)?;
        self.disclose(audit::actor(caller), &cases).await?;
        Ok(ListQueueResponse {
            cases,
            next_page_token: next.map(|c| c.encode()).unwrap_or_default(),
        })
    }

    /// A case, to a coordinator of its queue.
    async fn get(&self, caller: &Caller, raw_id: &str) -> Result<Case, Status> {
        let id =
            referral_id("referral_id", raw_id).map_err(|v| CoordinatorError::Invalid(vec![v]))?;
        let case = self.case_for(caller, id).await?;
        self.disclose(audit::actor(caller), std::slice::from_ref(&case))
            .await?;
        Ok(case)
    }

    /// The case `id`, if it is in a queue `caller` coordinates.
    async fn case_for(&self, caller: &Caller, id: Uuid) -> Result<Case, Status> {
        let case = self
            .store
            .get(id)
            .await
            .map_err(CoordinatorError::store)?
            .ok_or(CoordinatorError::NotFound(id))?;
        let area = AreaCode::parse(&case.area_code)
            .map_err(|_| CoordinatorError::Unreadable(anyhow::anyhow!("case {id} has no area")))?;
        caller.require_case(&area, case.panel(), &case.referral_id)?;
        Ok(case)
    }

    /// A referral's deliveries: an operator's for any referral, a coordinator's for a case in
    /// its queue. They name organisations and addresses, never the person; the listing is
    /// audited all the same.
    async fn deliveries(
        &self,
        caller: &Caller,
        r: ListDeliveriesRequest,
    ) -> Result<ListDeliveriesResponse, Status> {
        let id = referral_id("referral_id", &r.referral_id)
            .map_err(|v| CoordinatorError::Invalid(vec![v]))?;
        if !caller.organisation().has(Role::Operator) {
            self.case_for(caller, id).await?;
        }
        let rows = crate::deliveries::of_referral(&self.store.pool, id)
            .await
            .map_err(CoordinatorError::store)?;
        let listed = Entry::new(
            crate::SCHEMA,
            audit::actor(caller),
            crate::deliveries::action::LISTED,
            audit::REFERRAL,
            &id.to_string(),
        );
        audit::disclose(&self.store.pool, &[listed])
            .await
            .map_err(CoordinatorError::store)?;
        Ok(ListDeliveriesResponse {
            deliveries: rows.into_iter().map(delivery).collect(),
        })
    }

    async fn hear(&self, caller: &Caller, request: RecordHearingRequest) -> Result<Case, Status> {
        let (id, date) = validate_hearing(&request, Utc::now().date_naive())
            .map_err(CoordinatorError::Invalid)?;
        // Only a coordinator of the case's queue records anything on it.
        self.case_for(caller, id).await?;
        Ok(self.record(audit::actor(caller), id, date).await?)
    }

    async fn record(
        &self,
        actor: &str,
        id: Uuid,
        date: NaiveDate,
    ) -> Result<Case, CoordinatorError> {
        let trace = TraceContext::start();
        let span =
            tracing::info_span!("record_hearing", referral_id = %id, trace_id = %trace.trace_id);
        let hearing = self
            .store
            .record_hearing(&self.outbox, actor, id, date, &trace)
            .instrument(span)
            .await
            .map_err(CoordinatorError::store)?;
        match hearing {
            Hearing::Recorded(case) => {
                self.outbox.notify_committed();
                Ok(case)
            }
            Hearing::Unchanged(case) => {
                self.disclose(actor, std::slice::from_ref(&case)).await?;
                Ok(case)
            }
            Hearing::NotFound => Err(CoordinatorError::NotFound(id)),
            Hearing::InReview(case) => Err(CoordinatorError::InReview {
                id,
                area: case.area_code,
            }),
            Hearing::BeforeRouted { routed_on } => {
                Err(CoordinatorError::Invalid(vec![before_routed(
                    date, routed_on,
                )]))
            }
            Hearing::LaterRecorded { heard_on } => Err(CoordinatorError::LaterHearingRecorded {
                id,
                heard_on,
                requested: date,
            }),
        }
    }

    fn watch(&self, caller: &Caller, r: WatchQueueRequest) -> Result<CaseStream, Status> {
        let mut violations = Vec::new();
        let Some((area, panel)) = queue_of(&r.area_code, r.panel, &mut violations) else {
            return Err(CoordinatorError::Invalid(violations).into());
        };
        caller.require_queue(&area, panel)?;
        // Subscribe before answering, so every case queued after the call is seen or the
        // watcher is told it may not have been.
        let mut announced = self.announcements.subscribe().map_err(|why| {
            Status::from(CoordinatorError::AnnouncementsMissed { why: why.into() })
        })?;
        let (tx, rx) = mpsc::channel(64);
        let stop = self.stop.clone();
        let pool = self.store.pool.clone();
        let actor = audit::actor(caller).to_string();
        tokio::spawn(async move {
            let end = loop {
                let next = tokio::select! {
                    _ = stop.cancelled() => break CoordinatorError::ShuttingDown,
                    _ = tx.closed() => return,
                    next = announced.recv() => next,
                };
                match next {
                    Ok(Announcement::Case(case))
                        if case.area_code == area.as_str() && case.panel == panel as i32 =>
                    {
                        // Recorded before it is sent; a case the log cannot record ends the
                        // stream (as STORE_UNAVAILABLE) instead of going out unrecorded.
                        let sent =
                            Entry::of_case(crate::SCHEMA, &actor, action::CASE_WATCHED, &case);
                        if let Err(e) = audit::disclose(&pool, &[sent]).await {
                            break CoordinatorError::store(e);
                        }
                        if tx.send(Ok(*case)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Announcement::Case(_)) => {}
                    Ok(Announcement::Gap(why)) => {
                        break CoordinatorError::AnnouncementsMissed { why: why.into() };
                    }
                    // Falling behind loses announcements just as a dropped connection does, and
                    // the coordinator does the same about it.
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        break CoordinatorError::AnnouncementsMissed {
                            why: format!("this watcher fell {missed} announcements behind"),
                        };
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        break CoordinatorError::ShuttingDown;
                    }
                }
            };
            let _ = tx.send(Err(end.into())).await;
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }
}

#[tonic::async_trait]
impl CoordinatorService for CoordinatorApi {
    async fn list_queue(
        &self,
        request: Request<ListQueueRequest>,
    ) -> Result<Response<ListQueueResponse>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            self.list(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_case(&self, request: Request<GetCaseRequest>) -> Result<Response<Case>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            self.get(&caller, &request.into_inner().referral_id).await?,
        ))
    }

    async fn record_hearing(
        &self,
        request: Request<RecordHearingRequest>,
    ) -> Result<Response<Case>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            self.hear(&caller, request.into_inner()).await?,
        ))
    }

    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            self.deliveries(&caller, request.into_inner()).await?,
        ))
    }

    type WatchQueueStream = CaseStream;

    async fn watch_queue(
        &self,
        request: Request<WatchQueueRequest>,
    ) -> Result<Response<Self::WatchQueueStream>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(self.watch(&caller, request.into_inner())?))
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

    #[test]
    fn a_meeting_date_has_one_spelling() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(canonical_date("2026-01-02"), day(2026, 1, 2));
        assert_eq!(canonical_date("0999-12-31"), day(999, 12, 31));
        // chrono's %Y-%m-%d takes every one of these.
        for odd in [
            "2026-1-2",
            "2026-01-2",
            "+2026-01-02",
            "-5000-01-01",
            "+12026-01-02",
            "20260102",
            "2026/01/02",
            "2026-01-02T00:00",
            " 2026-01-02",
            "2026-13-01",
            "2026-02-30",
            "２０２６-01-02",
            "",
        ] {
            assert_eq!(canonical_date(odd), None, "{odd:?}");
        }
        let id = Uuid::now_v7().to_string();
        for odd in ["2026-1-2", "+2026-01-02", "2026-11-2"] {
            let v = validate_hearing(&request(&id, odd), today()).unwrap_err();
            assert_eq!(fields(v.clone()), ["meeting_date"], "{odd}");
            assert!(v[0].description.contains("YYYY-MM-DD"), "{odd}");
        }
        // Surrounding space is not part of the date, as it is not part of the id.
        assert!(validate_hearing(&request(&id, " 2026-11-02 "), today()).is_ok());
    }

    #[test]
    fn errors_quote_at_most_a_little_of_the_input() {
        let huge = "x".repeat(60_000);
        let v = validate_hearing(&request(&huge, &huge), today()).unwrap_err();
        assert_eq!(fields(v.clone()), ["referral_id", "meeting_date"]);
        for violation in &v {
            assert!(
                violation.description.len() < 120,
                "{}",
                violation.description
            );
            assert!(
                violation
                    .description
                    .contains(&format!("'{}…'", "x".repeat(40)))
            );
        }
        let v = referral_id("referral_id", "a\0b").unwrap_err();
        assert_eq!(v.description, "'a\\0b' is not a referral id (a UUID)");
        let mut violations = Vec::new();
        assert!(queue_of(&huge, 0, &mut violations).is_none());
        assert!(violations[0].description.len() < 120);
    }

    #[test]
    fn a_meeting_before_the_routing_names_both_dates() {
        let v = before_routed(
            NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        );
        assert_eq!(v.field, "meeting_date");
        assert_eq!(
            v.description,
            "2000-01-01 is before the case was routed on 2026-11-30"
        );
    }
}
