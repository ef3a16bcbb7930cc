-- The keyring: the database's active master key (its id, a verifier, never
-- the key) and the values sealed under the master keys on behalf of plugins
-- (one row per app, plugin and name; gone with the app).
CREATE TABLE keyring_state (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE sealed_values (
  app_id     TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  owner      TEXT NOT NULL,
  name       TEXT NOT NULL,
  key_id     TEXT NOT NULL,
  envelope   BLOB NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, owner, name)
);
CREATE INDEX sealed_values_by_key ON sealed_values(key_id);
