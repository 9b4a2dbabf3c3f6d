-- A referral belongs to the organisation whose client certificate created it (its id in the
-- organisations file). That organisation alone may read it or supply its residence, and its
-- request ids are its own namespace: another organisation reusing one learns nothing.
-- Referrals stored before callers were known have no owner ('') and no one can read them
-- through the API.
ALTER TABLE intake.referrals ADD COLUMN referrer_id text NOT NULL DEFAULT '';
ALTER TABLE intake.referrals DROP CONSTRAINT IF EXISTS referrals_request_id_key;
CREATE UNIQUE INDEX referrals_referrer_request ON intake.referrals (referrer_id, request_id);
