-- A case transferred here from another deployment (MARAC-to-MARAC, Prevent handover) carries the
-- transfer it came by; its referral id is the transfer id. Kept in a column beside the sealed
-- case, as heard_on is (20261123000008): an id is not personal data, and when the receiving
-- coordinator declines the transfer the case must leave the queue by that id (a case not
-- transferred, or returned to its sender, has none). NULL for every case queued before.
ALTER TABLE notification.queue_cases ADD COLUMN transfer_id uuid;
-- No grant here: the table's rights are unchanged, and migrations/privileges.sql restates them
-- after every run (queue_cases is a working queue, not a record, so the service keeps DELETE).
