-- Items the t_events test plugin writes (each with its event, in one
-- transaction) and the handler runs that saw them.
CREATE TABLE t_events_items (
  seq        BIGINT NOT NULL,
  app_id     TEXT NOT NULL,
  collection TEXT NOT NULL,
  item_key   TEXT NOT NULL,
  op         TEXT NOT NULL
);
CREATE INDEX t_events_items_by_key ON t_events_items(item_key);
CREATE TABLE t_events_seen (
  item_key     TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  depth        INTEGER NOT NULL
);
CREATE INDEX t_events_seen_by_key ON t_events_seen(item_key);
