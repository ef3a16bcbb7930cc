-- Plugin jobs: an outbox row may run a plugin's job handler instead of a
-- script. `job` names the kind ("<plugin>.<name>"); such rows and their dead
-- letters have an empty script_id.
ALTER TABLE outbox ADD COLUMN job TEXT;
ALTER TABLE dead_letters ADD COLUMN job TEXT;
