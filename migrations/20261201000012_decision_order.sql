-- The order of decisions, so that outcome events applied out of order (separate queues, a
-- relay republishing after a nack, a dead letter replayed) never let an older decision undo a
-- newer one. Every outcome event carries its decision's decide_time; a consumer applies an
-- outcome only if its decision is newer than the last one it applied for that referral.

-- Notification: which decision last shaped a referral's place in the queues. The review entry
-- is created by referral.needs_review and removed by the outcomes that resolve a review, on
-- separate queues; this row is what stops an older needs_review, arriving after its
-- resolution, from creating an entry nobody will ever clear. No row until the first outcome
-- after this migration: applied times of existing cases are not decision times, and using them
-- could make a newer decision look stale.
CREATE TABLE notification.decision_order (
    referral_id uuid        PRIMARY KEY,
    decided_at  timestamptz NOT NULL
);
-- As 20261123000008: explicit grants, whichever role runs the migrations. The service may move
-- the record forward, never remove it (a removed record would let a stale event apply).
GRANT SELECT, INSERT, UPDATE ON notification.decision_order TO refroute_notification;
REVOKE DELETE ON notification.decision_order FROM refroute_notification;

-- Intake: the decide_time of the outcome its status shows. SupplyResidence clears the
-- decision for triage to decide again but keeps this, so a replayed old outcome cannot put
-- the referral back. Existing decided referrals start from the time their outcome was stored:
-- a later decision always follows a SupplyResidence, which intake allows only after it has
-- stored the outcome, so it is decided later still.
ALTER TABLE intake.referrals ADD COLUMN decided_at timestamptz;
UPDATE intake.referrals SET decided_at = updated_at WHERE decision IS NOT NULL;
GRANT SELECT, INSERT, UPDATE ON intake.referrals TO refroute_intake;
REVOKE DELETE ON intake.referrals FROM refroute_intake;
