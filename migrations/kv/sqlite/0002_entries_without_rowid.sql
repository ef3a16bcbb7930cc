-- kv: the entries kept in their primary key's B-tree alone (WITHOUT ROWID).
-- A rowid table keeps each row twice over: the table by rowid and an index
-- on (app_id, collection, key) pointing into it, so a get walks two trees
-- and a set writes both. Keyed by what every query looks up, one tree does.
CREATE TABLE kv_entries_by_key (
  app_id     TEXT NOT NULL,
  collection TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  version    BIGINT NOT NULL,
  expires_at BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, collection, key)
) WITHOUT ROWID;
INSERT INTO kv_entries_by_key (app_id, collection, key, value, version, expires_at, updated_at)
  SELECT app_id, collection, key, value, version, expires_at, updated_at FROM kv_entries;
DROP TABLE kv_entries;
ALTER TABLE kv_entries_by_key RENAME TO kv_entries;
CREATE INDEX kv_entries_expiring ON kv_entries(expires_at) WHERE expires_at > 0;
