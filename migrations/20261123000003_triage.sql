-- Every routing decision, with the rule that fired and why. No personal data.
CREATE TABLE triage.decisions (
    referral_id       uuid        PRIMARY KEY,
    pathway           text        NOT NULL,
    outcome           text        NOT NULL,
    destination_area  text        NOT NULL,
    criterion         text,
    criteria_met      text[]      NOT NULL,
    reason            text        NOT NULL,
    rule_set          text        NOT NULL,
    rule_set_version  integer     NOT NULL,
    rules_area        text        NOT NULL,
    dash_yes_count    integer     NOT NULL,
    decided_at        timestamptz NOT NULL DEFAULT now()
);

-- Referrals that went to a MARAC, by keyed hash of the victim (HMAC of normalised name and date
-- of birth), for repeat detection without storing searchable names.
CREATE TABLE triage.marac_referrals (
    referral_id  uuid  PRIMARY KEY,
    victim_key   bytea NOT NULL,
    referred_on  date  NOT NULL
);
CREATE INDEX ON triage.marac_referrals (victim_key, referred_on);
