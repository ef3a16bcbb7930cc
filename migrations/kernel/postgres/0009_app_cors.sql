-- Cross-origin access to an app's hosts: the origins whose pages may call
-- the app from a browser (CORS), in the form browsers send in Origin
-- ("https://app.example.com", "http://localhost:5173"), comma-separated; or
-- "*" for any origin (never with credentials). Empty: none, as before.
ALTER TABLE apps ADD COLUMN cors_origins TEXT NOT NULL DEFAULT '';
