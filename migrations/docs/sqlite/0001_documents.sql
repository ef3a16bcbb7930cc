-- docs: one row per document. data is a JSON object as text; times are ms
-- since the epoch.
CREATE TABLE docs_documents (
  app_id     TEXT NOT NULL,
  collection TEXT NOT NULL,
  id         TEXT NOT NULL,
  data       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, collection, id)
);
-- The indexes declared on a collection's paths. Each is an expression index
-- (docs_ix_<suffix>, unique on request) with a companion on the path's JSON
-- type (docs_it_<suffix>), both limited to the one app's collection.
CREATE TABLE docs_indexes (
  app_id     TEXT NOT NULL,
  collection TEXT NOT NULL,
  path       TEXT NOT NULL,
  is_unique  INTEGER NOT NULL,
  index_name TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, collection, path)
);
