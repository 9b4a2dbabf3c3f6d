-- Least privilege inside the database: each service runs as its own role (the services
-- `SET ROLE refroute_<service>` on every connection) with rights on its own schema only, so a
-- bug or a compromised service cannot read another service's tables. Roles are cluster-wide,
-- hence the existence checks; grants are per database.
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['intake', 'triage', 'transfer', 'notification'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'refroute_' || s) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', 'refroute_' || s);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, 'refroute_' || s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', s, 'refroute_' || s);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, 'refroute_' || s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', s, 'refroute_' || s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I', s, 'refroute_' || s);
  END LOOP;
END $$;

-- Decisions and received referrals are records, not scratch space: the services may add to
-- them and update status, never remove them.
REVOKE DELETE ON intake.referrals FROM refroute_intake;
REVOKE DELETE ON triage.decisions, triage.marac_referrals FROM refroute_triage;
