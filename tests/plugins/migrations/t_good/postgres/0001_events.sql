-- Test plugin table, shipped beside the .so.
CREATE TABLE t_good_events (id BIGSERIAL PRIMARY KEY, what TEXT NOT NULL);
