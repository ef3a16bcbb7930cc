-- The nodes serving this database (kernel/cluster/node_registry.hpp). Each
-- writes its row when it starts, beats every few seconds and deletes the row
-- when it stops; a row whose beat is old belongs to a node that died, whose
-- outbox leases another node gives back (released_at). Times are the
-- database's clock, in ms since the epoch, so nodes' clocks never disagree.
CREATE TABLE nodes (
  id           TEXT PRIMARY KEY,
  address      TEXT NOT NULL,
  host_name    TEXT NOT NULL,
  version      TEXT NOT NULL,
  pid          BIGINT NOT NULL,
  started_at   BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  released_at  BIGINT
);
