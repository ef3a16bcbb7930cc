-- files: one row per stored file (files_objects), one per version of a
-- file's bytes (files_blobs: written, live, dropped by a replace or delete,
-- or doomed by the sweep), the bytes themselves when [files] backend is
-- database (files_chunks), and each app's usage for its quota. Times are ms
-- since the epoch.
CREATE TABLE files_blobs (
  blob_id    TEXT PRIMARY KEY,
  app_id     TEXT NOT NULL,
  state      TEXT NOT NULL,  -- writing, live, dropped, doomed
  size       BIGINT NOT NULL DEFAULT 0,  -- set once written
  created_at BIGINT NOT NULL,
  dropped_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX files_blobs_state ON files_blobs(state, created_at);
CREATE INDEX files_blobs_app ON files_blobs(app_id);

CREATE TABLE files_objects (
  app_id       TEXT NOT NULL,
  collection   TEXT NOT NULL,
  name         TEXT NOT NULL,
  blob_id      TEXT NOT NULL,
  size         BIGINT NOT NULL,
  content_type TEXT NOT NULL,
  sha256       TEXT NOT NULL,
  metadata     TEXT NOT NULL,
  version      BIGINT NOT NULL,
  corrupted    BIGINT NOT NULL DEFAULT 0,  -- when a read found the bytes changed (ms)
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  PRIMARY KEY (app_id, collection, name)
);
CREATE INDEX files_objects_blob ON files_objects(blob_id);

CREATE TABLE files_chunks (
  blob_id TEXT NOT NULL,
  seq     BIGINT NOT NULL,
  data    BLOB NOT NULL,
  PRIMARY KEY (blob_id, seq)
);

CREATE TABLE files_usage (
  app_id TEXT PRIMARY KEY,
  bytes  BIGINT NOT NULL,
  files  BIGINT NOT NULL
);

-- Apps whose files were deleted with them: an upload still running for one
-- must not store a file afterwards.
CREATE TABLE files_deleted_apps (
  app_id     TEXT PRIMARY KEY,
  deleted_at BIGINT NOT NULL
);
