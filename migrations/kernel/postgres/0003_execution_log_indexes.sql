-- Execution logs are written at the data plane's rate: every index costs each
-- run. The retention sweep no longer needs its own index on started_at (it
-- deletes in small chunks, oldest first, see ExecutionLog::sweep).
DROP INDEX executions_by_age;
