//! The organisation behind a call, put in the request by the access layer, and the checks a
//! handler makes once it knows which referral or queue the call touches.

use super::organisations::Organisation;
use super::refusal::{Reason, Refused};
use refroute_domain::AreaCode;
use refroute_proto::v1::Panel;
use std::sync::Arc;
use tonic::Status;

#[derive(Clone, Debug)]
pub struct Caller {
    organisation: Arc<Organisation>,
    service: &'static str,
    method: Arc<str>,
}

impl Caller {
    pub(super) fn new(
        organisation: Arc<Organisation>,
        service: &'static str,
        method: &str,
    ) -> Self {
        Self {
            organisation,
            service,
            method: method.into(),
        }
    }

    /// The caller of `request`. Every server runs the access layer, so a request without one
    /// was not admitted by it: refused rather than served anonymously.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| {
                tracing::error!("a request reached a handler without passing the access layer");
                Status::unauthenticated("caller unknown")
            })
    }

    /// The organisation's id: what stored records and the audit log name.
    pub fn id(&self) -> &str {
        &self.organisation.id
    }

    /// The display name: what a referral's `referring_organisation` says.
    pub fn name(&self) -> &str {
        &self.organisation.name
    }

    pub fn organisation(&self) -> &Organisation {
        &self.organisation
    }

    fn refused<'a>(&'a self, resource: &'a str) -> Refused<'a> {
        Refused {
            service: self.service,
            method: &self.method,
            caller: &self.organisation.id,
            resource,
        }
    }

    /// The organisation a new referral is from: the caller's own. A body that leaves the field
    /// empty is filled in; one that names anyone else (by id or name) is refused.
    pub fn referring_organisation(&self, given: &str) -> Result<String, Status> {
        let given = given.trim();
        if given.is_empty() || given == self.organisation.name || given == self.organisation.id {
            return Ok(self.organisation.name.clone());
        }
        Err(self.refused("").status(
            Reason::OrganisationMismatch,
            format!(
                "referring_organisation must be the calling organisation, {} (or left empty)",
                self.organisation.name
            ),
        ))
    }

    /// A referral's referrer may read and amend it; to anyone else it is refused, naming only
    /// the id they asked for. (A referral id that exists nowhere is NOT_FOUND: ids are random
    /// UUIDs, so that answer tells a prober nothing it could use.)
    pub fn require_referrer_of(&self, owner: &str, referral_id: &str) -> Result<(), Status> {
        if owner == self.organisation.id {
            return Ok(());
        }
        Err(self.refused(referral_id).status(
            Reason::ReferralNotVisible,
            format!(
                "referral {referral_id} was not made by {}",
                self.organisation.name
            ),
        ))
    }

    /// Whether the caller coordinates this queue (for filtering what a listing holds).
    pub fn coordinates(&self, area: &AreaCode, panel: Panel) -> bool {
        self.organisation.coordinates(area, panel)
    }

    /// A queue the caller coordinates, or the refusal naming it.
    pub fn require_queue(&self, area: &AreaCode, panel: Panel) -> Result<(), Status> {
        if self.coordinates(area, panel) {
            return Ok(());
        }
        let queue = format!("{area}/{}", panel.as_str_name());
        Err(self.refused(&queue).status(
            Reason::QueueNotCoordinated,
            format!(
                "{} does not coordinate the {} queue of {area}",
                self.organisation.name,
                panel.as_str_name()
            ),
        ))
    }

    /// A case the caller may see: one in a queue it coordinates.
    pub fn require_case(
        &self,
        area: &AreaCode,
        panel: Panel,
        referral_id: &str,
    ) -> Result<(), Status> {
        if self.coordinates(area, panel) {
            return Ok(());
        }
        Err(self.refused(referral_id).status(
            Reason::QueueNotCoordinated,
            format!(
                "case {referral_id} is in a queue {} does not coordinate",
                self.organisation.name
            ),
        ))
    }

    /// A peer offering a transfer from `area`: only a peer that serves it may.
    pub fn require_serves(&self, area: &AreaCode, transfer_id: &str) -> Result<(), Status> {
        if self.organisation.serves(area) {
            return Ok(());
        }
        Err(self.refused(transfer_id).status(
            Reason::AreaNotServed,
            format!(
                "{} is not the peer deployment of {area}: it may offer only transfers from the areas it serves",
                self.organisation.name
            ),
        ))
    }

    /// A transfer to `area`, read or answered by a peer: only the peer serving `area` may.
    pub fn require_addressee(&self, area: &AreaCode, transfer_id: &str) -> Result<(), Status> {
        if self.organisation.serves(area) {
            return Ok(());
        }
        Err(self.refused(transfer_id).status(
            Reason::TransferNotAddressed,
            format!(
                "transfer {transfer_id} is not addressed to {}",
                self.organisation.name
            ),
        ))
    }

    /// A refusal by this deployment of an offer to an area it does not receive for.
    pub fn refuse_destination(&self, area: &str, transfer_id: &str) -> Status {
        self.refused(transfer_id).status(
            Reason::AreaNotServed,
            format!("this deployment does not receive transfers to {area}"),
        )
    }
}
