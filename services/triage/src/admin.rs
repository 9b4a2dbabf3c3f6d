//! `refroute.v1.TriageAdminService`: why a referral went where it did, and the rule set in force.

use crate::rulebook::{Loaded, ReloadError, RuleBook, log_reload};
use prost::Message;
use refroute_domain::{AreaCode, RuleSet};
use refroute_platform::grpc::{Violation, invalid_argument, status_with_reason, unavailable};
use refroute_platform::wire::timestamp;
use refroute_proto::v1::triage_admin_service_server::TriageAdminService;
use refroute_proto::v1::{
    Decision, ExplainDecisionRequest, Explanation, GetRuleSetRequest, ReloadRuleSetRequest,
    RuleSetInfo,
};
use sqlx::PgPool;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

pub struct AdminApi {
    pool: PgPool,
    book: RuleBook,
}

impl AdminApi {
    pub fn new(pool: PgPool, book: RuleBook) -> Self {
        Self { pool, book }
    }
}

fn info(l: &Loaded) -> RuleSetInfo {
    RuleSetInfo {
        name: l.rules.name().to_string(),
        version: l.rules.version(),
        sha256: l.sha256.clone(),
        source: l.origin.clone(),
        load_time: Some(timestamp(l.loaded_at)),
        areas: l.rules.configured_areas().map(|a| a.to_string()).collect(),
    }
}

fn db_down(e: sqlx::Error) -> Status {
    unavailable("decision store unavailable", e)
}

#[tonic::async_trait]
impl TriageAdminService for AdminApi {
    async fn explain_decision(
        &self,
        request: Request<ExplainDecisionRequest>,
    ) -> Result<Response<Explanation>, Status> {
        let id = request.into_inner().referral_id;
        let Ok(uuid) = id.trim().parse::<Uuid>() else {
            return Err(invalid_argument(&[Violation::new(
                "referral_id",
                format!("'{id}' is not a referral id (a UUID)"),
            )]));
        };
        let row: Option<(Option<Vec<u8>>, Option<String>)> = sqlx::query_as(
            "SELECT decision, rule_set_sha256 FROM triage.decisions WHERE referral_id = $1",
        )
        .bind(uuid)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_down)?;
        let Some((Some(bytes), sha)) = row else {
            return Err(status_with_reason(
                Code::NotFound,
                "DECISION_NOT_FOUND",
                format!(
                    "triage has no decision on referral {id} (not received yet, or still waiting for triage)"
                ),
            ));
        };
        let decision = Decision::decode(bytes.as_slice())
            .map_err(|_| Status::internal("stored decision cannot be decoded"))?;
        let sha = sha.unwrap_or_default();
        let body: Option<(String,)> =
            sqlx::query_as("SELECT body FROM triage.rule_sets WHERE sha256 = $1 LIMIT 1")
                .bind(&sha)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_down)?;
        // The rules of the area as they were in that version, not as they are now.
        let rules_in_force = body
            .and_then(|(text,)| RuleSet::parse(&text, self.book.directory()).ok())
            .zip(AreaCode::parse(&decision.rules_area_code).ok())
            .map(|(set, area)| set.rules_for(&area).to_toml())
            .unwrap_or_default();
        Ok(Response::new(Explanation {
            referral_id: uuid.to_string(),
            decision: Some(decision),
            rule_set_sha256: sha,
            rules_in_force,
        }))
    }

    async fn get_rule_set(
        &self,
        _request: Request<GetRuleSetRequest>,
    ) -> Result<Response<RuleSetInfo>, Status> {
        Ok(Response::new(info(&self.book.current())))
    }

    async fn reload_rule_set(
        &self,
        _request: Request<ReloadRuleSetRequest>,
    ) -> Result<Response<RuleSetInfo>, Status> {
        let result = self.book.reload().await;
        log_reload(&result, "ReloadRuleSet");
        match result {
            Ok(loaded) => Ok(Response::new(info(&loaded))),
            Err(ReloadError::Store(e)) => Err(db_down(e)),
            Err(e @ (ReloadError::Invalid { .. } | ReloadError::VersionReused { .. })) => Err(
                status_with_reason(Code::FailedPrecondition, "RULES_INVALID", e.to_string()),
            ),
            Err(e @ ReloadError::Read(_)) => Err(status_with_reason(
                Code::FailedPrecondition,
                "RULES_UNREADABLE",
                e.to_string(),
            )),
        }
    }
}
