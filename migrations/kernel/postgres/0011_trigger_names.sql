-- An optional name for a trigger, unique in its app, so config as code
-- (picloud deploy) can match the triggers a folder names to those that
-- exist. NULL: unnamed, as every trigger made before.
ALTER TABLE triggers ADD COLUMN name TEXT;
CREATE UNIQUE INDEX triggers_by_app_name ON triggers(app_id, name) WHERE name IS NOT NULL;
