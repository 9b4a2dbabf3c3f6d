//! Consumes `referral.received`: parse, resolve, decide, record, announce, all inside the
//! consumer's transaction. The same path decides a case transferred in (`received.rs`).

use crate::rulebook::RuleBook;
use crate::store;
use chrono::{DateTime, NaiveDate, Utc};
use refroute_domain::{
    Decision, Directory, Outcome, Received, RuleSet, community, marac, prevent, transfer,
};
use refroute_geography::PostcodeTable;
use refroute_platform::audit::{self, Entry, action};
use refroute_platform::crypto::IdentityHasher;
use refroute_platform::messaging::{HandleError, Handler, Incoming, Outbox, TraceContext};
use refroute_proto::v1::{
    self, ReferralBelowThreshold, ReferralDeclined, ReferralNeedsReview, ReferralReceived,
    ReferralRouted, ResidenceNoticeRequested, TransferRequested,
};
use refroute_wire::referral::{Context, Details, Referral as Parsed};
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
pub(crate) fn referred_on(referral: &v1::Referral) -> Option<NaiveDate> {
    referral
        .create_time
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.date_naive())
}

/// A case to decide, record and announce, from either consumer.
pub(crate) struct Case<'a> {
    /// The referral as announced (a transfer's as offered: its received area is the sender's).
    pub referral: &'a v1::Referral,
    pub id: Uuid,
    pub referred_on: NaiveDate,
    /// Set when the case came from another deployment: how, and whose rules apply.
    pub transfer: Option<Transfer>,
}

/// A case offered by another deployment: the transfer it came by, and how it came.
pub(crate) struct Transfer {
    pub id: String,
    pub received: Received,
}

impl Handler for TriageHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: ReferralReceived = message.decode()?;
        let referral = event
            .referral
            .ok_or_else(|| HandleError::permanent("referral.received without a referral"))?;
        let id: Uuid = referral
            .id
            .parse()
            .map_err(|_| HandleError::permanent("referral id is not a UUID"))?;
        let referred_on = referred_on(&referral)
            .ok_or_else(|| HandleError::permanent("referral.received without a create_time"))?;
        let case = Case {
            referral: &referral,
            id,
            referred_on,
            transfer: None,
        };
        self.triage(tx, case, &message.trace).await
    }
}

impl TriageHandler {
    /// Parse, resolve, decide, record, announce, all in the consumer's transaction `tx`.
    pub(crate) async fn triage(
        &self,
        tx: &mut PgConnection,
        case: Case<'_>,
        trace: &TraceContext,
    ) -> Result<(), HandleError> {
        let Case {
            referral,
            id,
            referred_on,
            transfer,
        } = case;
        let mut parsed = self.parse(referral, referred_on)?;
        if let Some(t) = &transfer {
            // This deployment's area decides a case offered to it, not the sender's.
            parsed.received_area = t.received.to_area.clone();
        }
        let residence = residence::resolve(
            parsed.resident().residence.as_ref(),
            &self.postcodes,
            &self.directory,
        );
        let prepared = case::prepare(&parsed, residence);
        // One rule set for the whole decision, even if a reload lands meanwhile.
        let loaded = self.rules.current();
        let (own, victim_key) = self
            .assess(tx, &parsed, prepared, id, &loaded.rules)
            .await?;
        let decision = match &transfer {
            Some(t) => transfer::decide(own, &t.received, &loaded.rules, &self.directory),
            None => own,
        };
        let wire = decision::to_wire(&decision, Utc::now());
        let replace = match transfer {
            Some(_) => store::Replace::Never,
            None => store::Replace::WaitingForResidence,
        };
        if !store::record_decision(tx, id, &decision, &wire, &loaded.sha256, replace).await? {
            // The same case announced twice under different message ids: decided already.
            tracing::warn!("referral already triaged; ignoring the repeat announcement");
            return Ok(());
        }
        let went_to_marac = matches!(
            decision.outcome,
            Outcome::Routed | Outcome::TransferRequested
        );
        if let (Some(key), true) = (&victim_key, went_to_marac) {
            store::record_marac_referral(tx, id, key, referred_on).await?;
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
        let transfer_id = transfer.as_ref().map(|t| t.id.as_str()).unwrap_or_default();
        self.announce(tx, referral, &decision, wire, transfer_id, trace)
            .await?;
        // Last: the audit head stays locked until the consumer commits.
        audit::append(tx, &decided).await?;
        observe(&decision, transfer_id);
        Ok(())
    }

    /// The parse intake (or, for a transfer, the receiving edge) accepted the referral with:
    /// only a referral published by something else can fail it, and then it never will succeed.
    /// Field names only: the values are personal data.
    fn parse(&self, referral: &v1::Referral, today: NaiveDate) -> Result<Parsed, HandleError> {
        let cx = Context {
            directory: &self.directory,
            today,
        };
        refroute_wire::referral::parse(referral, &cx).map_err(|v| {
            HandleError::permanent(format!(
                "referral does not parse: invalid {}",
                violation::fields(&v)
            ))
        })
    }

    /// The pathway's decision under the rules of the case's received area and, for domestic
    /// abuse, the victim's key: their earlier referrals here (by keyed hash) count for repeat
    /// and escalation, and this one's incidents are kept for their later ones.
    async fn assess(
        &self,
        tx: &mut PgConnection,
        parsed: &Parsed,
        prepared: PathwayCase,
        id: Uuid,
        rules: &RuleSet,
    ) -> Result<(Decision, Option<Vec<u8>>), HandleError> {
        Ok(match prepared {
            PathwayCase::DomesticAbuse(mut case) => {
                let Details::DomesticAbuse(da) = &parsed.details else {
                    unreachable!("a domestic-abuse case comes from a domestic-abuse referral")
                };
                let born = da.victim.date_of_birth.ok_or_else(|| {
                    HandleError::permanent("domestic-abuse victim without a date of birth")
                })?;
                let key = self.hasher.person_key(da.victim.name.matching(), born);
                store::lock_victim(tx, &key).await?;
                let history = store::marac_history(tx, &key, id).await?;
                case.earlier_incident_dates = store::earlier_incidents(tx, &key, id).await?;
                let d = marac::decide(&case, &history, rules, &self.directory);
                store::record_incidents(tx, &key, id, &case.police_incident_dates).await?;
                (d, Some(key))
            }
            PathwayCase::CommunityMarac(c) => (community::decide(&c, rules, &self.directory), None),
            PathwayCase::Prevent(c) => (prevent::decide(&c, rules, &self.directory), None),
        })
    }
}

/// The decision in the metrics and the log (no personal data: ids, codes and rule names only).
fn observe(decision: &Decision, transfer_id: &str) {
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
        transfer_id,
        "referral triaged"
    );
}

impl TriageHandler {
    /// The outcome event, and for a Community MARAC case whose person lives elsewhere, one
    /// notice per area of residence: all in the decision's transaction. `transfer_id` is empty
    /// unless the case came from another deployment.
    async fn announce(
        &self,
        tx: &mut PgConnection,
        referral: &v1::Referral,
        d: &Decision,
        wire: v1::Decision,
        transfer_id: &str,
        trace: &TraceContext,
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
                    transfer_id: transfer_id.to_string(),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::BelowThreshold => {
                let event = ReferralBelowThreshold {
                    referral_id: id.clone(),
                    decision: Some(wire),
                    referral: Some(referral.clone()),
                    transfer_id: transfer_id.to_string(),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::Declined => {
                let event = ReferralDeclined {
                    referral_id: id.clone(),
                    decision: Some(wire),
                    referral: Some(referral.clone()),
                    transfer_id: transfer_id.to_string(),
                };
                self.outbox.enqueue(tx, &event, id, trace).await.map(drop)
            }
            Outcome::NeedsReview => {
                let event = ReferralNeedsReview {
                    referral: Some(referral.clone()),
                    decision: Some(wire),
                    transfer_id: transfer_id.to_string(),
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
