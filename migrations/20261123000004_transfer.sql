-- Outbound transfers to another area's panel. The minimised case is sealed under the data key.
CREATE TABLE transfer.transfers (
    id              uuid        PRIMARY KEY,
    referral_id     uuid        NOT NULL UNIQUE,
    from_area_code  text        NOT NULL,
    to_area_code    text        NOT NULL,
    panel           text        NOT NULL,
    state           text        NOT NULL,
    sealed_case     bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
