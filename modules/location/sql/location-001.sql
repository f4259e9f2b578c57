-- Strowger location store, schema version 1 (modules/location/sql/location-001.sql).
--
-- Strowger applies this itself at start when the database has no location schema yet. To apply it
-- by hand (e.g. when the daemon's database user may not create tables):
--   psql "$CONNINFO" -v ON_ERROR_STOP=1 -f modules/location/sql/location-001.sql
-- A later version comes as location-002.sql, applied after this one; never edit a released file.
BEGIN;

-- One row per binding (a registered contact). `id` is stable across re-registrations and nodes,
-- so every write is an upsert or a delete by id and nodes sharing the database never overwrite
-- each other's bindings.
CREATE TABLE location (
  id          text PRIMARY KEY,
  aor         text NOT NULL,
  contact     text NOT NULL,
  path        text NOT NULL DEFAULT '',
  call_id     text NOT NULL DEFAULT '',
  cseq        bigint NOT NULL DEFAULT 0 CHECK (cseq BETWEEN 0 AND 4294967295),
  q_milli     integer NOT NULL DEFAULT 1000 CHECK (q_milli BETWEEN 0 AND 1000),
  instance    text NOT NULL DEFAULT '',
  reg_id      bigint CHECK (reg_id BETWEEN 0 AND 4294967295),
  user_agent  text NOT NULL DEFAULT '',
  protocol    text NOT NULL DEFAULT 'UDP' CHECK (protocol IN ('UDP', 'TCP')),
  -- Where the REGISTER came from: "192.0.2.1:5060" or "[2001:db8::1]:5060".
  source      text NOT NULL DEFAULT '',
  -- The listener index and TCP connection id mean something on `node` only.
  listener    integer NOT NULL DEFAULT 0 CHECK (listener >= 0),
  connection  numeric(20, 0) NOT NULL DEFAULT 0,
  node        text NOT NULL DEFAULT '',
  expires_at  bigint NOT NULL,  -- unix time, seconds
  updated_at  bigint NOT NULL,  -- unix time, seconds
  natted      boolean NOT NULL DEFAULT false
);
CREATE INDEX location_aor ON location (aor);
CREATE INDEX location_expires_at ON location (expires_at);

-- Which schema version each Strowger component's tables are at.
CREATE TABLE IF NOT EXISTS strowger_schema (
  component  text PRIMARY KEY,
  version    integer NOT NULL
);
INSERT INTO strowger_schema (component, version) VALUES ('location', 1)
  ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version;

COMMIT;
