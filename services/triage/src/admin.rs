//! `refroute.v1.TriageAdminService`: why a referral went where it did, and the rule set in force.

use crate::rulebook::{Loaded, ReloadError, RuleBook, log_reload};
use prost::Message;
use refroute_domain::{AreaCode, RuleSet};
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::grpc::{Violation, invalid_argument, status_with_reason};
use refroute_platform::wire::timestamp;
use refroute_proto::v1::triage_admin_service_server::TriageAdminService;
use refroute_proto::v1::{
    Decision, ExplainDecisionRequest, Explanation, GetRuleSetRequest, ReloadRuleSetRequest,
    RuleSetInfo,
};
use sqlx::PgPool;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

/// Every way a `TriageAdminService` call can fail. Only the store's trouble is `UNAVAILABLE`:
/// the one answer that invites trying again.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<Violation>),
    #[error(
        "triage has no decision on referral {0} (not received yet, or still waiting for triage)"
    )]
    DecisionNotFound(Uuid),
    #[error("the stored decision on referral {0} cannot be decoded")]
    Undecodable(Uuid),
    #[error(transparent)]
    Reload(#[from] ReloadError),
    #[error("decision store unavailable")]
    Store(#[from] sqlx::Error),
}

impl From<AdminError> for Status {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(violations) => invalid_argument(&violations),
            AdminError::DecisionNotFound(_) => {
                status_with_reason(Code::NotFound, "DECISION_NOT_FOUND", e.to_string())
            }
            AdminError::Undecodable(_) => {
                tracing::error!(error = %e, "explaining a decision");
                status_with_reason(Code::Internal, "DECISION_UNDECODABLE", e.to_string())
            }
            AdminError::Reload(ReloadError::Store(ref source)) | AdminError::Store(ref source) => {
                // The cause stays in the log: it may name tables or hosts.
                tracing::error!(error = %source, "decision store unavailable");
                status_with_reason(
                    Code::Unavailable,
                    "STORE_UNAVAILABLE",
                    "decision store unavailable; try again",
                )
            }
            AdminError::Reload(
                ref reload @ (ReloadError::Invalid { .. } | ReloadError::VersionReused { .. }),
            ) => status_with_reason(
                Code::FailedPrecondition,
                "RULES_INVALID",
                reload.to_string(),
            ),
            AdminError::Reload(ref reload @ ReloadError::Read(_)) => status_with_reason(
                Code::FailedPrecondition,
                "RULES_UNREADABLE",
                reload.to_string(),
            ),
        }
    }
}

/// At most this many characters of a caller's input are quoted back in an error.
const QUOTED_CHARS: usize = 40;

/// The referral id a request names, or why not; the input is quoted short and printable, never
/// echoed whole.
pub fn referral_id(raw: &str) -> Result<Uuid, AdminError> {
    let id = raw.trim();
    let why = if id.is_empty() {
        "is required (a UUID)".to_string()
    } else if let Ok(uuid) = id.parse::<Uuid>() {
        return Ok(uuid);
    } else {
        let mut quoted: String = id
            .chars()
            .take(QUOTED_CHARS)
            .flat_map(char::escape_debug)
            .collect();
        if id.chars().nth(QUOTED_CHARS).is_some() {
            quoted.push('…');
        }
        format!("'{quoted}' is not a referral id (a UUID)")
    };
    Err(AdminError::Invalid(vec![Violation::new(
        "referral_id",
        why,
    )]))
}

pub struct AdminApi {
    pool: PgPool,
    book: RuleBook,
}

impl AdminApi {
    pub fn new(pool: PgPool, book: RuleBook) -> Self {
        Self { pool, book }
    }

    async fn explain(
        &self,
        actor: &str,
        request: ExplainDecisionRequest,
    ) -> Result<Explanation, AdminError> {
        let id = referral_id(&request.referral_id)?;
        let row: Option<(Option<Vec<u8>>, Option<String>)> = sqlx::query_as(
            "SELECT decision, rule_set_sha256 FROM triage.decisions WHERE referral_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((Some(bytes), sha)) = row else {
            return Err(AdminError::DecisionNotFound(id));
        };
        let decision =
            Decision::decode(bytes.as_slice()).map_err(|_| AdminError::Undecodable(id))?;
        let sha = sha.unwrap_or_default();
        let body: Option<(String,)> =
            sqlx::query_as("SELECT body FROM triage.rule_sets WHERE sha256 = $1 LIMIT 1")
                .bind(&sha)
                .fetch_optional(&self.pool)
                .await?;
        // The rules of the area as they were in that version, not as they are now.
        let rules_in_force = body
            .and_then(|(text,)| RuleSet::parse(&text, self.book.directory()).ok())
            .zip(AreaCode::parse(&decision.rules_area_code).ok())
            .map(|(set, area)| set.rules_for(&area).to_toml())
            .unwrap_or_default();
        let explanation = Explanation {
            referral_id: id.to_string(),
            decision: Some(decision),
            rule_set_sha256: sha,
            rules_in_force,
        };
        // Recorded before it is answered; no record, no answer.
        let entry = Entry::new(
            crate::SCHEMA,
            actor,
            action::DECISION_EXPLAINED,
            audit::REFERRAL,
            &explanation.referral_id,
        )
        .fields(audit::fields_of(&explanation));
        audit::disclose(&self.pool, &[entry]).await?;
        Ok(explanation)
    }

    async fn reload(&self, actor: &str) -> Result<RuleSetInfo, AdminError> {
        let result = self.book.reload(actor).await;
        log_reload(&result, "ReloadRuleSet");
        Ok(info(&*result?))
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

#[tonic::async_trait]
impl TriageAdminService for AdminApi {
    async fn explain_decision(
        &self,
        request: Request<ExplainDecisionRequest>,
    ) -> Result<Response<Explanation>, Status> {
        let actor = audit::actor_of(&request);
        Ok(Response::new(
            self.explain(&actor, request.into_inner()).await?,
        ))
    }

    async fn get_rule_set(
        &self,
        _request: Request<GetRuleSetRequest>,
    ) -> Result<Response<RuleSetInfo>, Status> {
        Ok(Response::new(info(&self.book.current())))
    }

    async fn reload_rule_set(
        &self,
        request: Request<ReloadRuleSetRequest>,
    ) -> Result<Response<RuleSetInfo>, Status> {
        let actor = audit::actor_of(&request);
        Ok(Response::new(self.reload(&actor).await?))
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

    fn violation(e: AdminError) -> Violation {
        match e {
            AdminError::Invalid(mut v) => v.remove(0),
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn a_referral_id_is_a_uuid_and_a_bad_one_is_quoted_short() {
        let id = Uuid::now_v7();
        assert_eq!(referral_id(&format!(" {id} ")).unwrap(), id);
        assert_eq!(
            violation(referral_id("").unwrap_err()).description,
            "is required (a UUID)"
        );
        let v = violation(referral_id("case-7").unwrap_err());
        assert_eq!(
            (v.field.as_str(), v.description.as_str()),
            ("referral_id", "'case-7' is not a referral id (a UUID)")
        );
        let v = violation(referral_id(&"x".repeat(60_000)).unwrap_err());
        assert_eq!(
            v.description,
            format!("'{}…' is not a referral id (a UUID)", "x".repeat(40))
        );
        let v = violation(referral_id("a\0b").unwrap_err());
        assert_eq!(v.description, "'a\\0b' is not a referral id (a UUID)");
    }

    #[test]
    fn only_the_store_is_unavailable() {
        let id = Uuid::now_v7();
        let cases = [
            (
                AdminError::DecisionNotFound(id),
                Code::NotFound,
                "DECISION_NOT_FOUND",
            ),
            (
                AdminError::Undecodable(id),
                Code::Internal,
                "DECISION_UNDECODABLE",
            ),
            (
                AdminError::Reload(ReloadError::Read(anyhow::anyhow!("no such file"))),
                Code::FailedPrecondition,
                "RULES_UNREADABLE",
            ),
            (
                AdminError::Reload(ReloadError::VersionReused {
                    origin: "rules.toml".into(),
                    name: "r".into(),
                    version: 2,
                }),
                Code::FailedPrecondition,
                "RULES_INVALID",
            ),
            (
                AdminError::Store(sqlx::Error::PoolTimedOut),
                Code::Unavailable,
                "STORE_UNAVAILABLE",
            ),
            (
                AdminError::Reload(ReloadError::Store(sqlx::Error::PoolTimedOut)),
                Code::Unavailable,
                "STORE_UNAVAILABLE",
            ),
        ];
        for (error, code, reason) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code, "{status:?}");
            assert!(carries(&status, reason), "{status:?} without {reason}");
        }
        let status = Status::from(referral_id("nope").unwrap_err());
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(carries(&status, "referral_id"));
    }
}
