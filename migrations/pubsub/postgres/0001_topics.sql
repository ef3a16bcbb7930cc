-- What the pubsub plugin knows of the topics an app published to, for its
-- admin views. Messages themselves live in the outbox, one row per
-- subscriber, until each subscriber ran (or dead-lettered) them. Topics
-- sort bytewise ("C"), as on SQLite, so listings page the same way.

-- Each topic an app published to in the last topic_retention_days, one row
-- however busy it is.
CREATE TABLE pubsub_topics (
  app_id             TEXT NOT NULL,
  topic              TEXT COLLATE "C" NOT NULL,
  first_published_at BIGINT NOT NULL,  -- ms since the epoch
  last_published_at  BIGINT NOT NULL,
  published_total    BIGINT NOT NULL,  -- messages, since first_published_at
  last_hour          TEXT NOT NULL,    -- per-minute counts: [newest minute, c0, ..., c59]
  last_day           TEXT NOT NULL,    -- per-hour counts: [newest hour, c0, ..., c23]
  PRIMARY KEY (app_id, topic)
);
CREATE INDEX pubsub_topics_by_age ON pubsub_topics(last_published_at);

-- Apps deleted, so that counts another node still held for them when they
-- went are dropped rather than written back (app ids are never reused).
CREATE TABLE pubsub_deleted_apps (
  app_id     TEXT PRIMARY KEY,
  deleted_at BIGINT NOT NULL
);
