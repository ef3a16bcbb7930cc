-- What the pubsub plugin knows of the topics an app published to, for its
-- admin views. Messages themselves live in the outbox, one row per
-- subscriber, until each subscriber ran (or dead-lettered) them.

-- Each topic an app published to in the last topic_retention_days.
CREATE TABLE pubsub_topics (
  app_id             TEXT NOT NULL,
  topic              TEXT NOT NULL,
  first_published_at INTEGER NOT NULL,  -- ms since the epoch
  last_published_at  INTEGER NOT NULL,
  published_total    INTEGER NOT NULL,  -- messages, since first_published_at
  PRIMARY KEY (app_id, topic)
);
CREATE INDEX pubsub_topics_by_age ON pubsub_topics(last_published_at);

-- Messages published per topic and minute, for the last 24 hours.
CREATE TABLE pubsub_topic_minutes (
  app_id    TEXT NOT NULL,
  topic     TEXT NOT NULL,
  minute    INTEGER NOT NULL,  -- ms since the epoch / 60000
  published INTEGER NOT NULL,
  PRIMARY KEY (app_id, topic, minute)
);
CREATE INDEX pubsub_topic_minutes_by_age ON pubsub_topic_minutes(minute);

-- Apps deleted, so that counts another node still held for them when they
-- went are dropped rather than written back (app ids are never reused).
CREATE TABLE pubsub_deleted_apps (
  app_id     TEXT PRIMARY KEY,
  deleted_at INTEGER NOT NULL
);
