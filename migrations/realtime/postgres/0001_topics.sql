-- Realtime topics an app registered, and the last events published to each
-- (a bounded buffer, so a client that reconnects on any node receives what
-- it missed). An event's id is assigned once, at publish, from its topic's
-- counter; a topic's first id is its creation time in microseconds, so a
-- topic deleted and registered again never reuses an id a client may hold.
CREATE TABLE realtime_topics (
  app_id        TEXT NOT NULL,
  name          TEXT NOT NULL,
  external      INTEGER NOT NULL DEFAULT 0,  -- browsers may subscribe
  auth_mode     TEXT NOT NULL DEFAULT 'token',  -- public | token
  last_event_id BIGINT NOT NULL,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL,
  PRIMARY KEY (app_id, name)
);

CREATE TABLE realtime_events (
  app_id       TEXT NOT NULL,
  topic        TEXT NOT NULL,
  id           BIGINT NOT NULL,
  message      TEXT NOT NULL,  -- JSON
  published_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, topic, id)
);
