-- Referrals as received. Personal data lives only in `sealed_referral` (encrypted per record
-- under security.data_key, bound to the referral id). `request_hash` is a keyed hash of the
-- request body, to tell a retry from a different request reusing a request_id.
CREATE TABLE intake.referrals (
    id                     uuid        PRIMARY KEY,
    request_id             text        NOT NULL UNIQUE,
    request_hash           bytea       NOT NULL,
    referring_organisation text        NOT NULL,
    received_area_code     text        NOT NULL,
    status                 text        NOT NULL,
    decision               bytea,
    sealed_referral        bytea       NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
