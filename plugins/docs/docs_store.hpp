// The documents: one table, docs_documents, keyed by (app, collection, id),
// the data as JSON text on SQLite and jsonb on PostgreSQL. Every read and
// write is scoped by an app id from the call context; a write and the event
// it emits share one transaction (with the row locked on PostgreSQL), so
// prev_data is exactly the document the change replaced, a rolled-back
// write fires nothing and a committed one fires once.
//
// Indexes on a path are expression indexes limited to one app's collection
// (docs_indexes lists them): one on the value (unique on request), one on
// the JSON type so that array-holding documents are found by index too,
// and on PostgreSQL one on strings in bytewise order (jsonb compares
// strings in the database's collation). A value too large for an index
// entry (kMaxIndexedValueBytes) is refused before the database sees it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "docs_filter.hpp"
#include "docs_patch.hpp"
#include "docs_plan.hpp"
#include "docs_sql.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/triggers.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::docs {

// A query at least this deep (parser_depth) that SQLite cannot prepare ran
// out of parser stack (none failed below about 100 in measurements).
inline constexpr int kDeepForSqlite = 80;

struct Document {
  std::string id;
  sdk::Value data;
  std::int64_t created_at = 0;  // ms since the epoch
  std::int64_t updated_at = 0;
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next;  // the last item's position, when another page follows
};

struct CollectionInfo {
  std::string name;
  std::int64_t documents = 0;
};

struct IndexInfo {
  std::string path;
  bool unique = false;
  std::int64_t created_at = 0;
};

struct AppIndex {
  std::string collection, path;
  bool unique = false;
};

class DocStore {
 public:
  DocStore(sdk::Database& db, sdk::EventSink& events, std::int64_t max_document_bytes);

  sdk::Result<std::optional<Document>> get(std::string_view app, std::string_view collection, std::string_view id);
  sdk::Result<std::vector<Document>> find(std::string_view app, std::string_view collection, const sdk::Value& filter,
                                          const FindOptions& options);
  // A page of a find: `cursor` is empty or the next_cursor of an earlier
  // page of the same query (then options.skip must be 0); next is the
  // position of the page's last item (for sdk::next_cursor) when another
  // page follows.
  sdk::Result<Page<Document>> find_page(std::string_view app, std::string_view collection, const sdk::Value& filter,
                                        const FindOptions& options, std::string_view cursor);
  sdk::Result<std::int64_t> count(std::string_view app, std::string_view collection, const sdk::Value& filter);
  // Documents in id order after `after`.
  sdk::Result<Page<Document>> list(std::string_view app, std::string_view collection, std::string_view after,
                                   std::int64_t limit);
  sdk::Result<Page<CollectionInfo>> collections(std::string_view app, std::string_view after, std::int64_t limit);

  // Creates a document as call.app_id (a new id when `id` is empty; a
  // conflict when a document has that id).
  sdk::Result<Document> create(const sdk::CallContext& call, std::string_view collection, std::string_view id,
                               const sdk::Value& data);
  struct Replaced {
    Document document;
    bool created = false;
  };
  // Replaces a document's data; nothing when there is none, unless
  // `create_missing` (then it is created with that id).
  sdk::Result<std::optional<Replaced>> replace(const sdk::CallContext& call, std::string_view collection,
                                               std::string_view id, const sdk::Value& data, bool create_missing);
  // Applies a patch; nothing when there is no such document.
  sdk::Result<std::optional<Document>> patch(const sdk::CallContext& call, std::string_view collection,
                                             std::string_view id, const Patch& patch);
  // The document deleted, or nothing when there was none.
  sdk::Result<std::optional<Document>> remove(const sdk::CallContext& call, std::string_view collection,
                                              std::string_view id);

  sdk::Result<std::vector<IndexInfo>> indexes(std::string_view app, std::string_view collection);
  // Conflict when the path is indexed already, when a document holds a value
  // too large for the index at it, or, for a unique index, when documents
  // share a value at it. On PostgreSQL the indexes are built without
  // blocking writes (CREATE INDEX CONCURRENTLY; the docs_indexes row is
  // there while they are built, and goes with them when the build fails).
  sdk::Result<IndexInfo> create_index(std::string_view app, std::string_view collection, const Path& path, bool unique);
  // Inside `tx` (config as code): the build blocks writes to the table.
  sdk::Result<IndexInfo> create_index(sdk::Transaction& tx, std::string_view app, std::string_view collection,
                                      const Path& path, bool unique);
  // Whether there was such an index.
  sdk::Result<bool> drop_index(std::string_view app, std::string_view collection, const Path& path);
  sdk::Result<bool> drop_index(sdk::Transaction& tx, std::string_view app, std::string_view collection, const Path& path);
  // PostgreSQL: removes indexes a stopped server left half built (and their
  // rows); how many. Run at start.
  sdk::Result<int> remove_interrupted_builds();
  // Every index of the app, by collection and path (config as code).
  sdk::Result<std::vector<AppIndex>> app_indexes(sdk::Transaction& tx, std::string_view app);
  // Deletes every document and index of an app inside `tx` (the app's
  // deletion), without events.
  sdk::Result<void> delete_app(sdk::Transaction& tx, std::string_view app) const;

 private:
  using Change = std::function<sdk::Result<std::optional<sdk::Value>>(const std::optional<Document>& current)>;
  // Reads the document locked, asks `change` for its new data (nothing:
  // leave it alone), writes it and emits the event, in one transaction.
  sdk::Result<std::optional<Replaced>> write(const sdk::CallContext& call, std::string_view collection,
                                             std::string_view id, bool create_missing, const Change& change);
  sdk::Result<int> emit(sdk::Transaction& tx, const sdk::CallContext& call, std::string_view op,
                        std::string_view collection, std::string_view id, const sdk::Value& data,
                        const sdk::Value& prev_data);
  // A unique-index conflict from the database, as an error naming the path.
  sdk::Error explain(const sdk::Error& error, std::string_view app, std::string_view collection);
  sdk::Result<Document> document_of(const std::vector<sdk::Value>& row);  // id, data, created_at, updated_at
  // PostgreSQL: drops what a concurrent build of the index `suffix` made.
  void drop_built_indexes(const std::string& suffix);
  // Runs a query that only reads (one with a $regex under a time limit).
  sdk::Result<sdk::Rows> read(const Sql& query);
  struct Found {
    std::vector<Document> documents;
    std::vector<Keyset> positions;  // each row's, when asked for
  };
  sdk::Result<Found> run_find(std::string_view app, std::string_view collection, const sdk::Value& filter,
                              const FindOptions& options, const Keyset* after, std::int64_t rows, bool positions);
  // invalid_argument when an index of the collection would refuse a value
  // of `data` (the document's `text_bytes` of JSON).
  sdk::Result<void> check_indexed_values(sdk::Transaction& tx, std::string_view app, std::string_view collection,
                                         const sdk::Value& data, std::size_t text_bytes);
  // The statements that make the path's indexes.
  std::vector<std::string> index_statements(std::string_view app, std::string_view collection, const Path& path,
                                            bool unique, bool concurrently) const;

  sdk::Database& db_;
  sdk::EventSink& events_;
  DocSql sql_;
  std::int64_t max_document_bytes_;
  std::string lock_clause_;  // " FOR UPDATE" on PostgreSQL
  std::string data_column_;  // how selects read data as text
};

}  // namespace picloud::docs
