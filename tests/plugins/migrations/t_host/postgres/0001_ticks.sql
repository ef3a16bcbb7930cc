-- The ticks of the t_host test plugin's one-node task.
CREATE TABLE t_host_ticks (
  node TEXT NOT NULL,
  at   BIGINT NOT NULL
);
