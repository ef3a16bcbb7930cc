-- kv: one row per live (or expired, not yet swept) key. Values are JSON
-- text; times are ms since the epoch; expires_at 0 means never. Names and
-- keys sort bytewise ("C"), as on SQLite, so listings page the same way on
-- both databases.
CREATE TABLE kv_entries (
  app_id     TEXT NOT NULL,
  collection TEXT COLLATE "C" NOT NULL,
  key        TEXT COLLATE "C" NOT NULL,
  value      TEXT NOT NULL,
  version    BIGINT NOT NULL,
  expires_at BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, collection, key)
);
CREATE INDEX kv_entries_expiring ON kv_entries(expires_at) WHERE expires_at > 0;
