//! Consumes `referral.received`: parse, resolve, decide, record, announce, all inside the
//! consumer's transaction.

use crate::rulebook::RuleBook;
use crate::store;
use chrono::{DateTime, NaiveDate, Utc};
use refroute_domain::{Decision, Directory, Outcome, community, marac, prevent};
use refroute_geography::PostcodeTable;
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::crypto::IdentityHasher;
use refroute_platform::messaging::{HandleError, Handler, Incoming, Outbox};
use refroute_proto::v1::{
    self, ReferralBelowThreshold, ReferralDeclined, ReferralNeedsReview, ReferralReceived,
    ReferralRouted, ResidenceNoticeRequested, TransferRequested,
};
use refroute_wire::referral::{Context, Details};
use refroute_wire::{PathwayCase, case, decision, residence, violation};
use sqlx::PgConnection;
use std::sync::Arc;
use uuid::Uuid;

pub struct TriageHandler {
    pub rules: RuleBook,
    pub directory: Arc<Directory>,
    pub postcodes: Arc<PostcodeTable>,
    pub hasher: IdentityHasher,
    pub outbox: Outbox,
}

/// The day intake received the referral: its dates were checked against it, and ages are
/// taken on it.
fn referred_on(referral: &v1::Referral) -> Result<NaiveDate, HandleError> {
    referral
        .create_time
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.date_naive())
        .ok_or_else(|| HandleError::permanent("referral.received without a create_time"))
}

impl Handler for TriageHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: ReferralReceived = message.decode()?;
        let referral = event
            .referral
            .ok_or_else(|| HandleError::permanent("referral.received without a referral"))?;
        let referral_id: Uuid = referral
            .id
            .parse()
            .map_err(|_| HandleError::permanent("referral id is not a UUID"))?;
        let referred_on = referred_on(&referral)?;
        let cx = Context {
            directory: &self.directory,
            today: referred_on,
        };
        // The parse intake accepted the referral with: only a referral published by something
        // other than intake can fail it, and then it never will succeed. Field names only: the
        // values are personal data.
        let parsed = refroute_wire::referral::parse(&referral, &cx).map_err(|v| {
            HandleError::permanent(format!(
                "referral does not parse: invalid {}",
                violation::fields(&v)
            ))
        })?;
        let residence = residence::resolve(
            parsed.resident().residence.as_ref(),
            &self.postcodes,
            &self.directory,
        );
        let prepared = case::prepare(&parsed, residence);
        // One rule set for the whole decision, even if a reload lands meanwhile.
        let loaded = self.rules.current();

        let (decision, victim_key) = match prepared {
            PathwayCase::DomesticAbuse(mut case) => {
                let Details::DomesticAbuse(da) = &parsed.details else {
                    unreachable!("a domestic-abuse case comes from a domestic-abuse referral")
                };
                let born = da.victim.date_of_birth.ok_or_else(|| {
                    HandleError::permanent("domestic-abuse victim without a date of birth")
                })?;
                let key = self.hasher.person_key(da.victim.name.matching(), born);
                store::lock_victim(tx, &key).await?;
                let history = store::marac_history(tx, &key, referral_id).await?;
                case.earlier_incident_dates =
                    store::earlier_incidents(tx, &key, referral_id).await?;
                let d = marac::decide(&case, &history, &loaded.rules, &self.directory);
                store::record_incidents(tx, &key, referral_id, &case.police_incident_dates).await?;
                (d, Some(key))
            }
            PathwayCase::CommunityMarac(c) => {
                (community::decide(&c, &loaded.rules, &self.directory), None)
            }
            PathwayCase::Prevent(c) => (prevent::decide(&c, &loaded.rules, &self.directory), None),
        };
        let wire = decision::to_wire(&decision, Utc::now());
        if !store::record_decision(tx, referral_id, &decision, &wire, &loaded.sha256).await? {
            // The same referral announced twice under different message ids: decided already.
            tracing::warn!("referral already triaged; ignoring the repeat announcement");
            return Ok(());
        }
        let went_to_marac = matches!(
            decision.outcome,
            Outcome::Routed | Outcome::TransferRequested
        );
        if let (Some(key), true) = (&victim_key, went_to_marac) {
            store::record_marac_referral(tx, referral_id, key, referred_on).await?;
        }
        let decided = Entry::new(
            crate::SCHEMA,
            crate::SCHEMA,
            action::DECISION_MADE,
            audit::REFERRAL,
            &referral.id,
        )
        .fields(audit::fields_of(&wire))
        .lawful_basis(audit::lawful_basis(referral.details.as_ref()));
        self.announce(tx, &referral, &decision, wire, &message.trace)
            .await?;
        // Last: the audit head stays locked until the consumer commits.
        audit::append(tx, &decided).await?;
        observe(&decision);
        Ok(())
    }
}

/// The decision in the metrics and the log (no personal data: ids, codes and rule names only).
fn observe(decision: &Decision) {
    let pathway = decision::pathway(decision.pathway).as_str_name();
    let outcome = decision::outcome(decision.outcome).as_str_name();
    let criterion = decision
        .criterion
        .map(|c| decision::criterion(c).as_str_name())
        .unwrap_or("NONE");
    refroute_platform::metrics::increment(
        "refroute_decisions_total",
        &[
            ("pathway", pathway),
            ("outcome", outcome),
            ("criterion", criterion),
        ],
    );
    tracing::info!(
        pathway,
        outcome,
        criterion,
        destination = %decision.destination,
        rule_set = %decision.rule_set,
        rule_set_version = decision.rule_set_version,
        "referral triaged"
    );
}

impl TriageHandler {
    /// The outcome event, and for a Community MARAC case whose person lives elsewhere, one
    /// notice per area of residence: all in the decision's transaction.
    async fn announce(
        &self,
        tx: &mut PgConnection,
        referral: &v1::Referral,
        d: &Decision,
        wire: v1::Decision,
        trace: &refroute_platform::messaging::TraceContext,
    ) -> Result<(), sqlx::Error> {
        let id = &referral.id;
        match d.outcome {
            Outcome::Routed => {
                for area in &d.notify_areas {
                    let notice = ResidenceNoticeRequested {
                        notice_id: Uuid::now_v7().to_string(),
                        referral_id: id.clone(),
                        panel_area_code: d.destination.to_string(),
                        residence_area_code: area.to_string(),
                        decision: Some(wire.clone()),
                        referral: Some(minimise(referral.clone())),
                    };
                    self.outbox.enqueue(tx, &notice, id, trace).await?;
                }
                let event = ReferralRouted {
                    referral: Some(referral.clone()),
                    decision: Some(wire),
                    transfer_id: String::new(),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::BelowThreshold => {
                let event = ReferralBelowThreshold {
                    referral_id: id.clone(),
                    decision: Some(wire),
                    referral: Some(referral.clone()),
                    transfer_id: String::new(),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::Declined => {
                let event = ReferralDeclined {
                    referral_id: id.clone(),
                    decision: Some(wire),
                    referral: Some(referral.clone()),
                    transfer_id: String::new(),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::NeedsReview => {
                let event = ReferralNeedsReview {
                    referral: Some(referral.clone()),
                    decision: Some(wire),
                    transfer_id: String::new(),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::TransferRequested => {
                let event = TransferRequested {
                    transfer_id: Uuid::now_v7().to_string(),
                    referral_id: id.clone(),
                    from_area_code: d.rules_area.to_string(),
                    to_area_code: d.destination.to_string(),
                    kind: wire.transfer_kind,
                    to_police_force_code: wire.destination_police_force_code.clone(),
                    decision: Some(wire),
                    referral: Some(minimise(referral.clone())),
                    referrer_id: referral.referrer_id.clone(),
                    referrer_reference: referral.referrer_reference.clone(),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
        }
    }
}

/// What a receiving panel, police force or statutory service needs of the case and nothing
/// more: who referred it, their own reference and the processing state stay behind.
/// `do_not_inform` travels, so the receiver never tells them either.
fn minimise(mut referral: v1::Referral) -> v1::Referral {
    referral.referrer_reference.clear();
    referral.referrer_id.clear();
    referral.status = v1::ReferralStatus::Unspecified as i32;
    referral.decision = None;
    referral.update_time = None;
    referral
}
