-- docs: what SQLite's planner should assume of docs_documents. Without
-- statistics (nothing runs ANALYZE) it takes an equality on the primary
-- key's (app_id, collection) for a handful of rows, and so prefers reading
-- a whole collection in id order to seeking a path index (docs_ix_/docs_it_)
-- for an equality, an $in or a sorted range. This row says the opposite:
-- an app or a collection can be as large as the table. Queries always name
-- one app's collection and every path index is limited to one, so it holds
-- whatever the data. A later ANALYZE replaces it with measured figures.
ANALYZE sqlite_schema;
DELETE FROM sqlite_stat1 WHERE tbl = 'docs_documents' AND idx = 'sqlite_autoindex_docs_documents_1';
INSERT INTO sqlite_stat1 (tbl, idx, stat)
  VALUES ('docs_documents', 'sqlite_autoindex_docs_documents_1', '10000000 1000000 1000000 1');
ANALYZE sqlite_schema;
