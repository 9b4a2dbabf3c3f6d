//! Consumes `transfer.received`: a case another deployment transferred here, decided under this
//! deployment's rules (docs/DOMAIN.md 2.4) on the same path as a referral received here
//! (`handler.rs`): reassessed under this area's own threshold, or the sender's assessment
//! accepted where this area's rules say `reassess_transfers = false`; one that resolves to yet
//! another area waits in review. Its outcome event carries the transfer id.

use crate::handler::{self, Case, Transfer, TriageHandler};
use chrono::{DateTime, NaiveDate};
use refroute_domain::{
    AreaCode, Criterion, LocalCriterion, Panel, Received, SenderAssessment, TransferKind,
};
use refroute_platform::messaging::{HandleError, Handler, Incoming};
use refroute_proto::v1::{self, TransferReceived};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct TransferReceivedHandler {
    /// What deciding a referral received here takes; a transfer is decided on the same path.
    pub triage: TriageHandler,
}

impl Handler for TransferReceivedHandler {
    async fn handle(&self, tx: &mut PgConnection, message: &Incoming) -> Result<(), HandleError> {
        let event: TransferReceived = message.decode()?;
        let referral = event
            .referral
            .as_ref()
            .ok_or_else(|| HandleError::permanent("transfer.received without a referral"))?;
        let id = case_id(&event.transfer_id, &referral.id)?;
        let received = received(&event)?;
        let case = Case {
            referral,
            id,
            referred_on: offered_on(referral, event.sender_decision.as_ref())?,
            transfer: Some(Transfer {
                id: event.transfer_id.clone(),
                received,
            }),
        };
        self.triage.triage(tx, case, &message.trace).await
    }
}

/// The case's id here: the transfer id, which the offered referral carries as its own.
pub fn case_id(transfer_id: &str, referral_id: &str) -> Result<Uuid, HandleError> {
    let id: Uuid = transfer_id.parse().map_err(|_| {
        HandleError::permanent(format!(
            "transfer id '{}' is not a UUID",
            transfer_id.escape_debug()
        ))
    })?;
    if referral_id != transfer_id {
        return Err(HandleError::permanent(format!(
            "transfer {id}: the offered referral's id '{}' is not the transfer id",
            referral_id.escape_debug()
        )));
    }
    Ok(id)
}

/// The day the referral was made, its dates checked and ages taken on: as the sender's intake
/// recorded it, or, if the offer left it out, the day the sender decided (the referral was made
/// no later).
pub fn offered_on(
    referral: &v1::Referral,
    sender: Option<&v1::Decision>,
) -> Result<NaiveDate, HandleError> {
    handler::referred_on(referral)
        .or_else(|| {
            sender
                .and_then(|d| d.decide_time.as_ref())
                .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
                .map(|t| t.date_naive())
        })
        .ok_or_else(|| {
            HandleError::permanent("transfer.received without a create_time or decide_time")
        })
}

/// How the case came: from which area to which, by which kind of transfer, and what the sender
/// found.
pub fn received(event: &TransferReceived) -> Result<Received, HandleError> {
    let area = |code: &str, what: &str| {
        AreaCode::parse(code).map_err(|e| HandleError::permanent(format!("{what}: {e}")))
    };
    let sender = event
        .sender_decision
        .as_ref()
        .ok_or_else(|| HandleError::permanent("transfer.received without the sender's decision"))?;
    Ok(Received {
        from_area: area(&event.from_area_code, "from_area_code")?,
        to_area: area(&event.to_area_code, "to_area_code")?,
        kind: kind(event)?,
        sender: sender_assessment(sender),
    })
}

/// The transfer's kind; an offer that does not say is known by its pathway (a Prevent case is
/// only ever handed over).
fn kind(event: &TransferReceived) -> Result<TransferKind, HandleError> {
    let prevent = matches!(
        event.referral.as_ref().and_then(|r| r.details.as_ref()),
        Some(v1::referral::Details::Prevent(_))
    );
    match v1::TransferKind::try_from(event.kind) {
        Ok(v1::TransferKind::MaracToMarac) => Ok(TransferKind::MaracToMarac),
        Ok(v1::TransferKind::PreventHandover) => Ok(TransferKind::PreventHandover),
        Ok(v1::TransferKind::Unspecified) if prevent => Ok(TransferKind::PreventHandover),
        Ok(v1::TransferKind::Unspecified) => Ok(TransferKind::MaracToMarac),
        Err(_) => Err(HandleError::permanent(format!(
            "transfer kind {} is not a TransferKind",
            event.kind
        ))),
    }
}

/// The sender's decision in the domain's terms. A criterion this deployment does not know (a
/// local criterion it has no id for) is left out: the sender's reason still says it.
pub fn sender_assessment(d: &v1::Decision) -> SenderAssessment {
    let criterion = |c: i32| criterion(c, &d.local_criterion);
    SenderAssessment {
        panel: panel(d.panel),
        criterion: criterion(d.criterion),
        criteria_met: d
            .criteria_met
            .iter()
            .filter_map(|c| criterion(*c))
            .collect(),
        dash_yes_count: d.dash_yes_count,
        reason: d.reason.clone(),
    }
}

/// The hearing panel a wire decision names (the review queue is none).
fn panel(p: i32) -> Option<Panel> {
    match v1::Panel::try_from(p).ok()? {
        v1::Panel::Marac => Some(Panel::Marac),
        v1::Panel::CommunityMarac => Some(Panel::CommunityMarac),
        v1::Panel::Channel => Some(Panel::Channel),
        v1::Panel::Review | v1::Panel::Unspecified => None,
    }
}

/// The inverse of `refroute_wire::decision::criterion`; `local` is the decision's
/// `local_criterion` id, which a `CRITERION_LOCAL` needs.
fn criterion(c: i32, local: &str) -> Option<Criterion> {
    use v1::Criterion as W;
    Some(match W::try_from(c).ok()? {
        W::Unspecified => return None,
        W::VisibleHighRisk => Criterion::VisibleHighRisk,
        W::ProfessionalJudgement => Criterion::ProfessionalJudgement,
        W::PotentialEscalation => Criterion::PotentialEscalation,
        W::Repeat => Criterion::Repeat,
        W::Local => Criterion::Local(LocalCriterion::parse(local)?),
        W::AsbWithVulnerability => Criterion::AsbWithVulnerability,
        W::AsbHighRisk => Criterion::AsbHighRisk,
        W::SuicideRiskAlone => Criterion::SuicideRiskAlone,
        W::RadicalisationConcern => Criterion::RadicalisationConcern,
        W::ResidenceUnresolved => Criterion::ResidenceUnresolved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_domain::{Decision, Outcome, Pathway, Residence};
    use refroute_wire::decision::to_wire;

    fn area(code: &str) -> AreaCode {
        AreaCode::parse(code).unwrap()
    }

    /// A decision the City made: MARAC-to-MARAC transfer to Hackney.
    fn sender_decision() -> Decision {
        Decision {
            pathway: Pathway::DomesticAbuse,
            outcome: Outcome::TransferRequested,
            panel: Panel::Marac,
            destination: area("E09000012"),
            criterion: Some(Criterion::Local(LocalCriterion::SuicideOrSelfHarm)),
            criteria_met: vec![
                Criterion::Local(LocalCriterion::SuicideOrSelfHarm),
                Criterion::ProfessionalJudgement,
            ],
            reason: "the City's reason".into(),
            rules_area: area("E09000001"),
            rule_set: "r".into(),
            rule_set_version: 3,
            transfer_kind: Some(TransferKind::MaracToMarac),
            police_force: None,
            notify_areas: vec![],
            residence: Residence::NoFixedAbode,
            action_required: None,
            dash_yes_count: 9,
            subject_age: None,
            risk_score: None,
        }
    }

    fn event(kind: v1::TransferKind) -> TransferReceived {
        let id = Uuid::now_v7().to_string();
        TransferReceived {
            transfer_id: id.clone(),
            kind: kind as i32,
            from_area_code: "E09000001".into(),
            to_area_code: "e09000012".into(),
            to_police_force_code: String::new(),
            sender_decision: Some(to_wire(
                &sender_decision(),
                DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            )),
            referral: Some(v1::Referral {
                id,
                received_area_code: "E09000001".into(),
                ..Default::default()
            }),
            from_peer_id: "city-refroute".into(),
        }
    }

    #[test]
    fn the_senders_decision_round_trips_into_the_domain() {
        let s = sender_assessment(
            event(v1::TransferKind::MaracToMarac)
                .sender_decision
                .as_ref()
                .unwrap(),
        );
        let d = sender_decision();
        assert_eq!(
            s,
            SenderAssessment {
                panel: Some(Panel::Marac),
                criterion: d.criterion,
                criteria_met: d.criteria_met.clone(),
                dash_yes_count: 9,
                reason: "the City's reason".into(),
            }
        );
        // An unknown local criterion and the review queue name nothing here.
        let mut wire = to_wire(&d, chrono::Utc::now());
        wire.local_criterion = "pregnancy".into();
        wire.panel = v1::Panel::Review as i32;
        let s = sender_assessment(&wire);
        assert_eq!(
            (s.panel, s.criterion, s.criteria_met),
            (None, None, vec![Criterion::ProfessionalJudgement])
        );
    }

    #[test]
    fn a_received_case_is_decided_under_the_area_it_was_offered_to() {
        let r = received(&event(v1::TransferKind::MaracToMarac)).unwrap();
        assert_eq!(
            (r.from_area, r.to_area, r.kind),
            (
                area("E09000001"),
                area("E09000012"),
                TransferKind::MaracToMarac
            )
        );
        let mut e = event(v1::TransferKind::Unspecified);
        assert_eq!(received(&e).unwrap().kind, TransferKind::MaracToMarac);
        e.referral.as_mut().unwrap().details =
            Some(v1::referral::Details::Prevent(Default::default()));
        assert_eq!(received(&e).unwrap().kind, TransferKind::PreventHandover);
        e.kind = 99;
        assert!(matches!(received(&e), Err(HandleError::Permanent(_))));
        let mut e = event(v1::TransferKind::MaracToMarac);
        e.to_area_code = "Hackney".into();
        assert!(matches!(received(&e), Err(HandleError::Permanent(_))));
        e.to_area_code = "E09000012".into();
        e.sender_decision = None;
        assert!(matches!(received(&e), Err(HandleError::Permanent(_))));
    }

    #[test]
    fn the_case_is_known_by_its_transfer_id_which_its_referral_carries() {
        let e = event(v1::TransferKind::MaracToMarac);
        let id = &e.transfer_id;
        assert_eq!(case_id(id, id).unwrap().to_string(), *id);
        let other = Uuid::now_v7().to_string();
        assert!(matches!(
            case_id(id, &other),
            Err(HandleError::Permanent(_))
        ));
        assert!(matches!(
            case_id("t-1", "t-1"),
            Err(HandleError::Permanent(_))
        ));
    }

    #[test]
    fn ages_are_taken_on_the_referral_date_or_failing_that_the_senders_decision() {
        let mut e = event(v1::TransferKind::MaracToMarac);
        let referral = e.referral.as_mut().unwrap();
        let decided = e.sender_decision.as_ref();
        assert_eq!(
            offered_on(referral, decided).unwrap(),
            DateTime::from_timestamp(1_790_000_000, 0)
                .unwrap()
                .date_naive()
        );
        referral.create_time = Some(refroute_wire::decision::timestamp(
            DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
        ));
        assert_eq!(
            offered_on(referral, decided).unwrap(),
            DateTime::from_timestamp(1_780_000_000, 0)
                .unwrap()
                .date_naive()
        );
        referral.create_time = None;
        assert!(offered_on(referral, None).is_err());
    }
}
