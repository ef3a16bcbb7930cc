-- When each plugin's one-node task last ran, on any node. A node whose timer
-- fires sooner than the task's interval after that skips its tick, so the
-- task runs about once per interval however many nodes there are.
CREATE TABLE plugin_task_runs (
  plugin      TEXT NOT NULL,
  task        TEXT NOT NULL,
  last_run_ms BIGINT NOT NULL,
  PRIMARY KEY (plugin, task)
);
