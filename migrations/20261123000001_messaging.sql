-- Each service owns one schema and touches no other. Every schema has its own outbox (events
-- waiting to be published, written in the same transaction as the state change) and inbox
-- (message ids already applied, so a redelivery has no second effect).
CREATE SCHEMA IF NOT EXISTS intake;
CREATE SCHEMA IF NOT EXISTS triage;
CREATE SCHEMA IF NOT EXISTS transfer;
CREATE SCHEMA IF NOT EXISTS notification;

DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['intake', 'triage', 'transfer', 'notification'] LOOP
    EXECUTE format($f$
      CREATE TABLE %I.outbox (
        id             bigserial   PRIMARY KEY,
        message_id     uuid        NOT NULL UNIQUE,
        routing_key    text        NOT NULL,
        message_type   text        NOT NULL,
        correlation_id text        NOT NULL,
        traceparent    text        NOT NULL,
        payload        bytea       NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now(),
        published_at   timestamptz
      )$f$, s);
    EXECUTE format('CREATE INDEX ON %I.outbox (id) WHERE published_at IS NULL', s);
    EXECUTE format($f$
      CREATE TABLE %I.inbox (
        consumer    text        NOT NULL,
        message_id  uuid        NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      )$f$, s);
  END LOOP;
END $$;
