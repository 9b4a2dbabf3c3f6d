-- Police-reported domestic-abuse incident dates of every domestic-abuse referral, by keyed hash
-- of the victim (as triage.marac_referrals), whatever the outcome: several referrals each below
-- threshold can add up to potential escalation, and only matching across referrals shows it.
CREATE TABLE triage.police_incidents (
    victim_key     bytea NOT NULL,
    incident_date  date  NOT NULL,
    referral_id    uuid  NOT NULL,
    PRIMARY KEY (victim_key, incident_date, referral_id)
);

-- A record like the decisions it explains.
REVOKE DELETE ON triage.police_incidents FROM refroute_triage;
