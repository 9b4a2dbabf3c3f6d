-- Transfers now have two kinds: MARAC-to-MARAC (to the MARAC where the victim lives) and the
-- Prevent handover (to the Prevent team of the police force where the person lives). The kind
-- and the receiving force are kept in the clear, not only in the sealed case, so operators and
-- reports can tell a handover from a transfer and see which force it went to without opening
-- personal data. Every transfer recorded before this migration was MARAC-to-MARAC, hence the
-- default; the force is NULL for MARAC-to-MARAC transfers.
ALTER TABLE transfer.transfers
    ADD COLUMN kind text NOT NULL DEFAULT 'TRANSFER_KIND_MARAC_TO_MARAC',
    ADD COLUMN to_police_force_code text;
