-- Delivery of trigger events: how deep in a trigger chain a queued run is,
-- when it was first tried, the runs that failed for good, and when each cron
-- trigger fires next.

ALTER TABLE outbox ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN first_attempt_at BIGINT;

-- A run that failed every attempt its retry policy allowed, with what it
-- needs to run again (replay) and what went wrong.
CREATE TABLE dead_letters (
  id                TEXT PRIMARY KEY,
  app_id            TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  execution_id      TEXT NOT NULL,     -- the queued run's id (its last attempt's record)
  source            TEXT NOT NULL,     -- "route", "cron", or a plugin's trigger kind
  op                TEXT NOT NULL,
  trigger_id        TEXT,
  route_id          TEXT,
  script_id         TEXT NOT NULL,
  payload           TEXT NOT NULL,     -- JSON: the event (or request) as queued
  depth             INTEGER NOT NULL,
  attempts          INTEGER NOT NULL,
  first_attempt_at  BIGINT NOT NULL,
  last_attempt_at   BIGINT NOT NULL,
  last_error        TEXT NOT NULL,
  created_at        BIGINT NOT NULL,
  resolved_at       BIGINT,            -- NULL while unresolved
  resolution        TEXT,              -- "replayed" or "resolved"
  resolution_reason TEXT,
  resolved_by       TEXT,
  handler           TEXT               -- NULL, or how the dead_letter handlers did: "ok", "handler_failed"
);
CREATE INDEX dead_letters_by_app ON dead_letters(app_id, created_at);
CREATE INDEX dead_letters_unresolved ON dead_letters(app_id) WHERE resolved_at IS NULL;
CREATE INDEX dead_letters_by_age ON dead_letters(created_at);

-- The cron scheduler's state per trigger: computed from the trigger as it
-- was at `trigger_updated_at` (an edit or re-enable starts afresh).
CREATE TABLE cron_schedules (
  trigger_id         TEXT PRIMARY KEY REFERENCES triggers(id) ON DELETE CASCADE,
  trigger_updated_at BIGINT NOT NULL,
  next_fire_at       BIGINT NOT NULL,
  last_fired_at      BIGINT
);
