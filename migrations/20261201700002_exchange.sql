-- Transfers between deployments. A transfer is now tracked to an answer on both sides: the
-- sender's row (OUTBOUND) from REQUESTED through OFFERED and RECEIVED (the receiver's receipt)
-- to ACCEPTED, DECLINED, UNDELIVERABLE or, for a destination without a deployment,
-- ACKNOWLEDGED; the receiver's row (INBOUND, whose referral_id is the transfer id) from
-- RECEIVED to the answer its coordinator (or its rules) gave, which is sent back until the
-- sender has it. Ids, areas, states and reasons are in the clear (they name no person); the
-- case stays sealed in sealed_case.
ALTER TABLE transfer.transfers
    ADD COLUMN direction       text        NOT NULL DEFAULT 'OUTBOUND',
    -- 'peer <organisation id>' or 'contact', once decided; NULL while REQUESTED.
    ADD COLUMN route           text,
    -- OUTBOUND: the peer offered to; INBOUND: the peer that offered it.
    ADD COLUMN peer_id         text,
    ADD COLUMN receipt_id      uuid,
    ADD COLUMN reason          text,
    ADD COLUMN deliver_by      timestamptz,
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN last_error      text,
    -- A destination without a deployment: SHA-256 of the single-use acknowledgement code.
    ADD COLUMN ack_code_hash   bytea,
    -- INBOUND: the answer, who gave it, and when the sender acknowledged having it.
    ADD COLUMN answered_by     text,
    ADD COLUMN answer_sent_at  timestamptz,
    ADD CONSTRAINT transfers_direction CHECK (direction IN ('OUTBOUND', 'INBOUND'));

-- Rows from before this migration were asked for in a world of five-day windows.
UPDATE transfer.transfers SET deliver_by = created_at + interval '5 days' WHERE deliver_by IS NULL;

-- What the courier looks for: outbound transfers still to offer, inbound answers still to send.
CREATE INDEX transfers_due ON transfer.transfers (next_attempt_at)
    WHERE state IN ('REQUESTED', 'OFFERED') OR (direction = 'INBOUND' AND answer_sent_at IS NULL);

-- Every step of every transfer, oldest first: what the sending coordinator reads as history.
CREATE TABLE transfer.steps (
    seq          bigserial   PRIMARY KEY,
    transfer_id  uuid        NOT NULL REFERENCES transfer.transfers (id),
    at           timestamptz NOT NULL DEFAULT now(),
    state        text        NOT NULL,
    detail       text        NOT NULL
);
CREATE INDEX steps_of_transfer ON transfer.steps (transfer_id, seq);
