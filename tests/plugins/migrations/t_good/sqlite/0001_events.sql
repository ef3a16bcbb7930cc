-- Test plugin table, shipped beside the .so.
CREATE TABLE t_good_events (id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT NOT NULL);
