//! `refroute.v1.CoordinatorService`: list, read and watch a panel's queue for one area.

use crate::queue::{Cursor, QueueStore};
use refroute_domain::AreaCode;
use refroute_platform::grpc::{Violation, invalid_argument, status_with_reason, unavailable};
use refroute_proto::v1::coordinator_service_server::CoordinatorService;
use refroute_proto::v1::{
    Case, GetCaseRequest, ListQueueRequest, ListQueueResponse, Panel, WatchQueueRequest,
};
use std::pin::Pin;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

const DEFAULT_PAGE: i32 = 50;
const MAX_PAGE: i32 = 500;

pub struct CoordinatorApi {
    store: QueueStore,
    routed: broadcast::Sender<Case>,
    stop: CancellationToken,
}

impl CoordinatorApi {
    pub fn new(
        store: QueueStore,
        routed: broadcast::Sender<Case>,
        stop: CancellationToken,
    ) -> Self {
        Self {
            store,
            routed,
            stop,
        }
    }
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
