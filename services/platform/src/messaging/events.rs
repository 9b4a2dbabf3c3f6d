//! Which protobuf message travels under which routing key (`<aggregate>.<event>.v1`).

use refroute_proto::v1;

pub trait Event: prost::Message + Default + Send + Sync {
    const ROUTING_KEY: &'static str;
    /// The AMQP `type` property: the message's full protobuf name.
    const TYPE: &'static str;
}

macro_rules! event {
    ($ty:ty, $key:literal, $name:literal) => {
        impl Event for $ty {
            const ROUTING_KEY: &'static str = $key;
            const TYPE: &'static str = $name;
        }
    };
}

event!(
    v1::ReferralReceived,
    "referral.received.v1",
    "refroute.v1.ReferralReceived"
);
event!(
    v1::ReferralRouted,
    "referral.routed.v1",
    "refroute.v1.ReferralRouted"
);
event!(
    v1::ReferralBelowThreshold,
    "referral.below_threshold.v1",
    "refroute.v1.ReferralBelowThreshold"
);
event!(
    v1::TransferRequested,
    "transfer.requested.v1",
    "refroute.v1.TransferRequested"
);
event!(
    v1::ReferralDeclined,
    "referral.declined.v1",
    "refroute.v1.ReferralDeclined"
);
event!(
    v1::ReferralNeedsReview,
    "referral.needs_review.v1",
    "refroute.v1.ReferralNeedsReview"
);
event!(
    v1::ResidenceNoticeRequested,
    "residence.notice_requested.v1",
    "refroute.v1.ResidenceNoticeRequested"
);
event!(v1::CaseHeard, "case.heard.v1", "refroute.v1.CaseHeard");
event!(
    v1::ConsumerStuck,
    "consumer.stuck.v1",
    "refroute.v1.ConsumerStuck"
);
event!(
    v1::TransferReceived,
    "transfer.received.v1",
    "refroute.v1.TransferReceived"
);
event!(
    v1::TransferStateChanged,
    "transfer.state_changed.v1",
    "refroute.v1.TransferStateChanged"
);
event!(
    v1::TransferContactRequested,
    "transfer.contact_requested.v1",
    "refroute.v1.TransferContactRequested"
);
