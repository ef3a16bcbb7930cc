-- Triggers: an app's script run when an event of a kind (declared by a
-- plugin) matches the trigger's filter.
CREATE TABLE triggers (
  id         TEXT PRIMARY KEY,
  app_id     TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  kind       TEXT NOT NULL,
  script_id  TEXT NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
  filter     TEXT NOT NULL,          -- JSON, as the kind validated it
  retry      TEXT,                   -- JSON overrides of the retry defaults, or NULL
  enabled    INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
-- Emission looks up an app's enabled triggers of one kind.
CREATE INDEX triggers_by_app_kind ON triggers(app_id, kind);
CREATE INDEX triggers_by_script ON triggers(script_id);
