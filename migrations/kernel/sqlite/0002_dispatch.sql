-- The data plane: a routing version every node watches, and the outbox of
-- work acknowledged before it runs (async routes; later triggers and cron).

CREATE TABLE kernel_state (
  name  TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
-- Bumped by every change to apps' hostnames, scripts or routes: nodes reload
-- their route table when they see it move.
INSERT INTO kernel_state (name, value) VALUES ('routing_version', 0);

CREATE TABLE outbox (
  id              TEXT PRIMARY KEY,   -- the execution id
  app_id          TEXT NOT NULL,
  script_id       TEXT NOT NULL,
  route_id        TEXT,
  trigger_id      TEXT,
  source          TEXT NOT NULL,
  payload         TEXT NOT NULL,      -- JSON: what the run needs (e.g. the request)
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  lease_owner     TEXT,
  lease_until     BIGINT,
  created_at      BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox(next_attempt_at);

-- The HTTP request a run served, to follow one request through the logs.
ALTER TABLE executions ADD COLUMN request_id TEXT;
