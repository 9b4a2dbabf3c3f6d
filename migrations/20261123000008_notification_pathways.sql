-- Issue 3 in notification: queues for all three pathways and the review queue (no schema change:
-- panel is text), the meeting that heard a case, and the residence notices of Community MARAC
-- cases.

-- The meeting that heard a case, recorded by a coordinator (RecordHearing) and announced as
-- case.heard, from which triage counts repeat windows anchored on the last meeting. A column
-- beside the sealed case rather than inside it: a date is not personal data, and changing it
-- must not mean re-sealing the case. NULL until the case is heard.
ALTER TABLE notification.queue_cases ADD COLUMN heard_on date;

-- Deliveries to people outside refroute, each a record of who is owed what and why. For now the
-- residence notices of Community MARAC cases (the case stays with the local panel; the statutory
-- services of the area where the person lives are notified and invited, DOMAIN.md 2.2).
-- - id is the notice id triage assigned, so a notice repeated under another message id is
--   recorded once.
-- - The recipient comes from the area directory when the notice arrived and is in clear: it is
--   an organisation, not a person, and an operator must see who a pending delivery is for.
--   recipient_role 'UNRESOLVED' (organisation '') when the directory has no statutory-services
--   contact for the area: the notice is kept and alarmed, never dropped.
-- - What will be sent (the minimised referral and decision) is sealed with the notice id as
--   associated data, so the database alone reveals nothing and a payload cannot be swapped
--   between rows.
-- - state is PENDING_DELIVERY until a delivery channel (later work) sends it; no CHECK on kind
--   or state, so that channel adds its states without a migration of this table's meaning.
CREATE TABLE notification.deliveries (
    id                      uuid        PRIMARY KEY,
    referral_id             uuid        NOT NULL,
    kind                    text        NOT NULL,
    to_area_code            text        NOT NULL,
    recipient_role          text        NOT NULL,
    recipient_organisation  text        NOT NULL,
    recipient_address       text,
    state                   text        NOT NULL,
    sealed_payload          bytea       NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now()
);
-- "Who was told of this referral?" is asked by referral.
CREATE INDEX ON notification.deliveries (referral_id);

-- 20261123000006's default privileges cover tables created later only when they are created by
-- the role that ran it; a deployment that migrates as another role would leave the service
-- without rights. Grant explicitly (a repeat grant is harmless).
GRANT SELECT, INSERT, UPDATE ON notification.deliveries TO refroute_notification;
-- Deliveries are a record of every disclosure (DOMAIN.md 4): the service may add them and move
-- their state, never remove them.
REVOKE DELETE ON notification.deliveries FROM refroute_notification;
