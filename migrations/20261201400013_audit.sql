-- The audit log (DOMAIN.md 4: every disclosure records who received what, when and why), one
-- SHA-256 hash chain for all four services; see services/platform/src/audit.rs.
CREATE SCHEMA audit;

-- One row per disclosure, decision or action. `seq` has no gaps: each writer takes the next
-- number from the head while holding its lock. `fields` names what was disclosed or changed,
-- never its values. `hash` covers prev_hash and every other column (canonical encoding in
-- audit.rs), so an altered, removed or reordered row breaks the chain.
CREATE TABLE audit.entries (
    seq          bigint      PRIMARY KEY CHECK (seq > 0),
    at           timestamptz NOT NULL,
    service      text        NOT NULL,
    actor        text        NOT NULL,
    action       text        NOT NULL,
    record_kind  text        NOT NULL,
    record_id    text        NOT NULL,
    fields       text[]      NOT NULL,
    lawful_basis text,
    prev_hash    bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash         bytea       NOT NULL CHECK (length(hash) = 32)
);
-- `refroute audit show <referral-id>`.
CREATE INDEX entries_by_record ON audit.entries (record_kind, record_id, seq);

-- The latest entry's number and hash, updated with every append in the same transaction: the
-- row every writer locks (SELECT ... FOR UPDATE), which makes concurrent writers one chain, and
-- what shows that entries after the last one stored were removed.
CREATE TABLE audit.head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq      bigint  NOT NULL,
    hash     bytea   NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit.head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Entries are appended, never changed: even the owner's ordinary statements are refused. (A
-- superuser can get round this, e.g. with session_replication_role; the chain is what then
-- shows it.)
CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON audit.entries
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON audit.entries
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Each service may append and nothing more: insert an entry, read and move the head. None can
-- read, change or remove entries (its own or another service's); the chain needs only the head.
-- Explicit grants (the service_roles migration's default privileges are per schema).
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['intake', 'triage', 'transfer', 'notification'] LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA audit TO %I', 'refroute_' || s);
    EXECUTE format('GRANT INSERT ON audit.entries TO %I', 'refroute_' || s);
    EXECUTE format('GRANT SELECT, UPDATE ON audit.head TO %I', 'refroute_' || s);
  END LOOP;
END $$;
