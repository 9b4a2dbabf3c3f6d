//! The access matrix: for every method any refroute server serves, who may call it, and what
//! the handler then narrows it to. A method not listed is refused, so a new RPC is closed until
//! someone writes its line here. The README's access table is this table.

use super::organisations::{Organisation, Role};

/// Who may call a method at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allow {
    /// Any organisation in the organisations file, whatever its roles (health, reflection:
    /// they disclose nothing about any case).
    AnyOrganisation,
    Role(Role),
    /// A coordinator of at least one queue.
    Coordinator,
    /// A coordinator of at least one queue, or an operator.
    CoordinatorOrOperator,
}

impl Allow {
    pub fn admits(self, organisation: &Organisation) -> bool {
        match self {
            Allow::AnyOrganisation => true,
            Allow::Role(role) => organisation.has(role),
            Allow::Coordinator => organisation.is_coordinator(),
            Allow::CoordinatorOrOperator => {
                organisation.is_coordinator() || organisation.has(Role::Operator)
            }
        }
    }

    /// How a refusal names what was needed.
    pub fn describe(self) -> &'static str {
        match self {
            Allow::AnyOrganisation => "an organisation in the organisations file",
            Allow::Role(Role::Referrer) => "the referrer role",
            Allow::Role(Role::Operator) => "the operator role",
            Allow::Role(Role::Peer) => "the peer role",
            Allow::Coordinator => "a coordinator of the queue",
            Allow::CoordinatorOrOperator => "a coordinator of the queue or the operator role",
        }
    }
}

/// One line of the matrix: the gRPC path, who may call it, and what the handler checks next.
pub struct Rule {
    pub method: &'static str,
    pub allow: Allow,
    pub then: &'static str,
}

const fn rule(method: &'static str, allow: Allow, then: &'static str) -> Rule {
    Rule {
        method,
        allow,
        then,
    }
}

const REFERRER: Allow = Allow::Role(Role::Referrer);
const OPERATOR: Allow = Allow::Role(Role::Operator);
const PEER: Allow = Allow::Role(Role::Peer);

pub const POLICY: &[Rule] = &[
    rule(
        "/refroute.v1.IntakeService/CreateReferral",
        REFERRER,
        "referring_organisation is the caller's; request_id is scoped to the caller",
    ),
    rule(
        "/refroute.v1.IntakeService/GetReferral",
        REFERRER,
        "only referrals the caller made",
    ),
    rule(
        "/refroute.v1.IntakeService/SupplyResidence",
        REFERRER,
        "only referrals the caller made",
    ),
    rule(
        "/refroute.v1.CoordinatorService/ListQueue",
        Allow::Coordinator,
        "only a queue (area, panel) the caller coordinates",
    ),
    rule(
        "/refroute.v1.CoordinatorService/WatchQueue",
        Allow::Coordinator,
        "only a queue (area, panel) the caller coordinates",
    ),
    rule(
        "/refroute.v1.CoordinatorService/GetCase",
        Allow::Coordinator,
        "only a case in a queue the caller coordinates",
    ),
    rule(
        "/refroute.v1.CoordinatorService/RecordHearing",
        Allow::Coordinator,
        "only a case in a queue the caller coordinates",
    ),
    rule(
        "/refroute.v1.CoordinatorService/ListDeliveries",
        Allow::CoordinatorOrOperator,
        "operators: any referral's; coordinators: a case in a queue they coordinate",
    ),
    rule(
        "/refroute.v1.TriageAdminService/ExplainDecision",
        OPERATOR,
        "any decision (reasons name no one; postcodes only to their sector)",
    ),
    rule("/refroute.v1.TriageAdminService/GetRuleSet", OPERATOR, ""),
    rule(
        "/refroute.v1.TriageAdminService/ReloadRuleSet",
        OPERATOR,
        "",
    ),
    rule(
        "/refroute.v1.ExchangeService/OfferTransfer",
        PEER,
        "only from an area the peer serves, to this deployment's area",
    ),
    rule(
        "/refroute.v1.ExchangeService/AnswerTransfer",
        PEER,
        "only a transfer offered to an area the peer serves",
    ),
    rule(
        "/refroute.v1.ExchangeService/GetTransferStatus",
        PEER,
        "only a transfer offered to an area the peer serves",
    ),
    rule(
        "/refroute.v1.TransferService/ListTransfers",
        Allow::CoordinatorOrOperator,
        "operators: every transfer; coordinators: those whose queue on this side they coordinate",
    ),
    rule(
        "/refroute.v1.TransferService/GetTransfer",
        Allow::CoordinatorOrOperator,
        "operators: any transfer; coordinators: one whose queue on this side they coordinate",
    ),
    rule(
        "/refroute.v1.TransferService/DecideTransfer",
        Allow::Coordinator,
        "only a transfer received into a queue the caller coordinates",
    ),
    rule(
        "/refroute.v1.TransferService/AcknowledgeTransfer",
        Allow::CoordinatorOrOperator,
        "operators: any; coordinators: one sent from a queue they coordinate",
    ),
    rule("/grpc.health.v1.Health/Check", Allow::AnyOrganisation, ""),
    rule("/grpc.health.v1.Health/Watch", Allow::AnyOrganisation, ""),
    rule(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Allow::AnyOrganisation,
        "",
    ),
    rule(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        Allow::AnyOrganisation,
        "",
    ),
];

/// The line for a gRPC path, if the method is open to anyone at all.
pub fn rule_for(method: &str) -> Option<&'static Rule> {
    POLICY.iter().find(|r| r.method == method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_refroute_method_has_exactly_one_line() {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(refroute_proto::FILE_DESCRIPTOR_SET)
            .expect("refroute's descriptors decode");
        let mut methods = BTreeSet::new();
        for file in set.file.iter().filter(|f| f.package() == "refroute.v1") {
            for service in &file.service {
                for method in &service.method {
                    methods.insert(format!("/refroute.v1.{}/{}", service.name(), method.name()));
                }
            }
        }
        assert!(methods.len() >= 10, "{methods:?}");
        for method in &methods {
            assert!(rule_for(method).is_some(), "{method} has no line in POLICY");
        }
        let listed: BTreeSet<&str> = POLICY.iter().map(|r| r.method).collect();
        assert_eq!(listed.len(), POLICY.len(), "a method is listed twice");
        for rule in POLICY.iter().filter(|r| r.method.starts_with("/refroute.")) {
            assert!(
                methods.contains(rule.method),
                "{} is not a refroute method",
                rule.method
            );
        }
        assert!(rule_for("/refroute.v1.IntakeService/DeleteEverything").is_none());
    }
}
