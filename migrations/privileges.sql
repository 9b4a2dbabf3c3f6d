-- Who may do what, restated in full by `refroute migrate` after every migration run (it is not
-- a migration: sqlx skips a file without a version). Each service logs in as its own role,
-- refroute_<service>, with rights on its own schema's tables and sequences only.
--
-- Migration 20261123000006 granted through ALTER DEFAULT PRIVILEGES, which covers only objects
-- later created by the role that ran it: a table added by another role (a migrator that is not
-- the superuser) was left without grants. Granting on every table here, after the migrations,
-- makes the rights the same whichever role ran which migration. Every statement is idempotent.
--
-- Roles are cluster-wide (created or altered only when they need it, so that migrating many
-- databases at once does not race on pg_authid); grants are per database. Passwords are the
-- deployment's: ALTER ROLE refroute_intake PASSWORD '...' (see the README).
DO $$
DECLARE
  s text;
  other text;
  r text;
  services text[] := ARRAY['intake', 'triage', 'transfer', 'notification'];
BEGIN
  FOREACH s IN ARRAY services LOOP
    r := 'refroute_' || s;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I LOGIN', r);
    ELSIF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('ALTER ROLE %I LOGIN', r);
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, r);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', s, r);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, r);
    -- Nothing in another service's schema, whatever was granted before.
    FOREACH other IN ARRAY services LOOP
      IF other <> s THEN
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', other, r);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', other, r);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %I', other, r);
      END IF;
    END LOOP;
  END LOOP;
END $$;

-- Records, not scratch space: the services may add to them and move them forward, never remove
-- them. Received referrals; decisions, the decisions they superseded, the victims' MARAC
-- history, police incidents and the rule sets decisions were made under; the deliveries
-- (disclosures) and the order of decisions notification applied.
REVOKE DELETE ON intake.referrals FROM refroute_intake;
REVOKE DELETE ON triage.decisions, triage.superseded_decisions, triage.marac_referrals,
  triage.police_incidents, triage.rule_sets FROM refroute_triage;
REVOKE DELETE ON notification.deliveries, notification.decision_order FROM refroute_notification;
REVOKE DELETE ON transfer.transfers, transfer.steps FROM refroute_transfer;

-- The audit log (migration 20261201400013): every service may append and nothing more, insert
-- an entry and read and move the head; none may read, change or remove entries.
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['intake', 'triage', 'transfer', 'notification'] LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA audit TO %I', 'refroute_' || s);
    EXECUTE format('REVOKE ALL ON audit.entries, audit.head FROM %I', 'refroute_' || s);
    EXECUTE format('GRANT INSERT ON audit.entries TO %I', 'refroute_' || s);
    EXECUTE format('GRANT SELECT, UPDATE ON audit.head TO %I', 'refroute_' || s);
  END LOOP;
END $$;
