-- Issue 3: three pathways, residence by postcode, versioned rule sets.

-- Every decision keeps its whole wire form (no personal data: reasons never quote free text) so
-- `refroute explain` shows exactly what the referrer and the coordinator saw, and the hash of
-- the rule file it was made under.
ALTER TABLE triage.decisions
    ADD COLUMN panel            text,
    ADD COLUMN rule_set_sha256  text,
    ADD COLUMN decision         bytea;

-- The meeting that heard a MARAC case, for repeat windows anchored on the last meeting.
ALTER TABLE triage.marac_referrals ADD COLUMN heard_on date;

-- Every rule file triage has run under. A name and version identify one content for ever:
-- loading different content under a version already used is refused, so a decision's version
-- always means the same rules.
CREATE TABLE triage.rule_sets (
    name            text        NOT NULL,
    version         integer     NOT NULL,
    sha256          text        NOT NULL,
    body            text        NOT NULL,
    origin          text        NOT NULL,
    first_loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

-- Postcodes imported from a full ONSPD or NSPL (`refroute postcodes import`), over the shipped
-- London and home-counties table. `status`: 0 live, 1 terminated, 2 not recorded.
CREATE TABLE triage.postcodes (
    postcode  text     PRIMARY KEY,
    laua      text     NOT NULL,
    status    smallint NOT NULL
);

CREATE TABLE triage.postcode_imports (
    id           bigserial   PRIMARY KEY,
    source       text        NOT NULL,
    rows_kept    bigint      NOT NULL,
    summary      text        NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now()
);

-- Rule sets are a record like decisions: never removed by the service.
REVOKE DELETE ON triage.rule_sets FROM refroute_triage;
