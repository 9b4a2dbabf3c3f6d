-- Coordinator queues: one row per case routed to a panel in an area. The case (with personal
-- data) is sealed; queue, panel and decision metadata stay in clear for listing.
CREATE TABLE notification.queue_cases (
    referral_id  uuid        PRIMARY KEY,
    area_code    text        NOT NULL,
    panel        text        NOT NULL,
    criterion    text        NOT NULL,
    sealed_case  bytea       NOT NULL,
    routed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON notification.queue_cases (area_code, panel, routed_at, referral_id);
