-- Notifications are sent (email over SMTP, signed webhooks) and tracked: each row of
-- notification.deliveries is one notification to one recipient by one channel.
-- - recipient_id: the organisations file's id, or 'directory:<area>:<role>' for a directory
--   contact; channel 'email' or 'webhook' ('' when there is nobody to send to) and
--   recipient_address its address or URL; personal_data: the channel is approved for personal
--   data, so the (sealed) message names the person.
-- - state: PENDING (due at next_attempt_at), SENT (sent_at), FAILED (a transient failure;
--   due again at next_attempt_at), GIVEN_UP (permanently refused, or failing too long),
--   REFUSED (the recipient must not be told), NO_RECIPIENT (owed, nobody to send it to), and
--   a held Community MARAC invitation's AWAITING_RESIDENCE and RELEASED.
-- - attempts and last_error (never message content) say how sending went. A sender claims a
--   due row by moving next_attempt_at past the attempt's timeout, so a sender that dies
--   mid-send leaves it due again soon, never lost.
ALTER TABLE notification.deliveries
    ADD COLUMN recipient_id     text        NOT NULL DEFAULT '',
    ADD COLUMN channel          text        NOT NULL DEFAULT '',
    ADD COLUMN personal_data    boolean     NOT NULL DEFAULT false,
    ADD COLUMN attempts         integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_error       text        NOT NULL DEFAULT '',
    ADD COLUMN next_attempt_at  timestamptz,
    ADD COLUMN sent_at          timestamptz,
    ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();

-- Residence notices recorded before anything was sent hold the triage event, not a rendered
-- message: they cannot be sent now and are shown as given up, for someone to send by hand.
UPDATE notification.deliveries SET state = 'NO_RECIPIENT'
    WHERE state = 'PENDING_DELIVERY' AND recipient_role = 'UNRESOLVED';
UPDATE notification.deliveries
    SET state = 'GIVEN_UP',
        last_error = 'recorded before refroute sent notifications: send it by hand'
    WHERE state = 'PENDING_DELIVERY';

CREATE INDEX deliveries_due ON notification.deliveries (next_attempt_at)
    WHERE state IN ('PENDING', 'FAILED');
