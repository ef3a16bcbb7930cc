-- Identity (users, sessions, API keys) and the admin resources (apps, their
-- hostnames and members, scripts, routes) plus execution logs.
-- Times are Unix milliseconds; ids are UUIDv7 text (they sort by creation).

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  is_owner      INTEGER NOT NULL DEFAULT 0,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
  token_hash     TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at     BIGINT NOT NULL,
  last_seen_at   BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL,
  remote_address TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  lookup       TEXT NOT NULL UNIQUE,
  secret_hash  TEXT NOT NULL,
  scopes       TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT,
  revoked_at   BIGINT,
  last_used_at BIGINT
);
CREATE INDEX api_keys_by_user ON api_keys(user_id, id);

CREATE TABLE apps (
  id          TEXT PRIMARY KEY,
  slug        TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);

CREATE TABLE app_hostnames (
  hostname TEXT PRIMARY KEY,
  app_id   TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE
);
CREATE INDEX app_hostnames_by_app ON app_hostnames(app_id);

CREATE TABLE app_members (
  app_id     TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, user_id)
);
CREATE INDEX app_members_by_user ON app_members(user_id);

CREATE TABLE scripts (
  id         TEXT PRIMARY KEY,
  app_id     TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('endpoint', 'module')),
  source     TEXT NOT NULL,
  version    BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (app_id, name)
);

CREATE TABLE script_imports (
  script_id TEXT NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
  app_id    TEXT NOT NULL,
  module    TEXT NOT NULL,
  PRIMARY KEY (script_id, module)
);
CREATE INDEX script_imports_by_module ON script_imports(app_id, module);

CREATE TABLE routes (
  id         TEXT PRIMARY KEY,
  app_id     TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  script_id  TEXT NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
  host       TEXT NOT NULL DEFAULT '',
  path       TEXT NOT NULL,
  shape      TEXT NOT NULL,
  methods    TEXT NOT NULL,
  dispatch   TEXT NOT NULL CHECK (dispatch IN ('sync', 'async')),
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX routes_by_app ON routes(app_id, id);
CREATE INDEX routes_by_script ON routes(script_id);

-- No foreign keys: rows arrive in batches after the run, possibly after the
-- app or script is gone; deleting an app deletes its rows explicitly.
CREATE TABLE executions (
  id                TEXT PRIMARY KEY,
  app_id            TEXT NOT NULL,
  script_id         TEXT NOT NULL,
  script_version    BIGINT NOT NULL,
  route_id          TEXT,
  trigger_id        TEXT,
  source            TEXT NOT NULL,
  status            TEXT NOT NULL,
  http_status       INTEGER NOT NULL,
  error_kind        TEXT,
  error_message     TEXT,
  duration_us       BIGINT NOT NULL,
  operations        BIGINT NOT NULL,
  peak_memory_bytes BIGINT NOT NULL,
  logs              TEXT NOT NULL,
  dropped_logs      INTEGER NOT NULL,
  started_at        BIGINT NOT NULL
);
CREATE INDEX executions_by_app ON executions(app_id, started_at, id);
CREATE INDEX executions_by_script ON executions(script_id, started_at, id);
CREATE INDEX executions_by_age ON executions(started_at);
