-- A referral waiting for review (its residence unresolved) is decided again once the referrer
-- supplies the residence. The decision it replaces is kept here, whole, so "why did this go
-- there?" has an answer for every step, not only the last.
CREATE TABLE triage.superseded_decisions (LIKE triage.decisions);
ALTER TABLE triage.superseded_decisions ADD COLUMN superseded_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX ON triage.superseded_decisions (referral_id);
REVOKE DELETE ON triage.superseded_decisions FROM refroute_triage;
