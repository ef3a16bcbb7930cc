#include "docs_store.hpp"

#include <algorithm>
#include <cstdio>

#include "docs_rules.hpp"
#include "picloud/sdk/json_parse.hpp"
#include "picloud/sdk/regex.hpp"

namespace picloud::docs {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

constexpr std::string_view kColumns = "d.id, d.data, d.created_at, d.updated_at";

// Index names derive from what they index; 64 bits of FNV-1a keep them
// short and, for the indexes one server holds, distinct (docs_indexes
// refuses a repeated name should two ever collide).
std::string index_suffix(std::string_view app, std::string_view collection, std::string_view path) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&](std::string_view part) {
    for (unsigned char c : part) h = (h ^ c) * 0x100000001b3ULL;
    h = (h ^ 0xFF) * 0x100000001b3ULL;  // separator
  };
  mix(app);
  mix(collection);
  mix(path);
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

// Index definitions cannot bind parameters: the app id and collection name
// are spelled as literals, so they are checked to be plain identifiers.
bool literal_safe(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':';
  });
}

}  // namespace

DocStore::DocStore(sdk::Database& db, sdk::EventSink& events, std::int64_t max_document_bytes)
    : db_(db),
      events_(events),
      sql_(db.dialect()),
      max_document_bytes_(max_document_bytes),
      lock_clause_(db.dialect() == sdk::Dialect::postgres ? " FOR UPDATE" : ""),
      data_column_(db.dialect() == sdk::Dialect::postgres ? "d.data::text" : "d.data") {}

sdk::Result<Document> DocStore::document_of(const std::vector<Value>& row) {
  if (!row[1].is_string()) return make_error(ErrorKind::internal, "stored document is not text");
  // As deep as any script may build a value (scripting.max_json_depth is at
  // most 512): what a script could store, it can read back.
  auto data = sdk::parse_json(row[1].as_string(), 512);
  if (!data) return make_error(ErrorKind::internal, "stored document " + row[0].string_or("") + " is not JSON");
  return Document{row[0].as_string(), std::move(*data), row[2].as_int(), row[3].as_int()};
}

namespace {

sdk::Error regex_ran_out() {
  return make_error(ErrorKind::invalid_argument, "the query's $regex ran longer than " +
                                                     std::to_string(sdk::regex::kTimeLimitMs) +
                                                     " ms; anchor the pattern (^...) or narrow the filter");
}

}  // namespace

sdk::Result<sdk::Rows> DocStore::read(const Sql& query) {
  if (!query.regex || sql_.sqlite()) {
    auto rows = db_.query(query.text, query.params);
    // SQLite's parser running out of stack on a deep query (an error with
    // no more detail than this) answers as compile_filter's bound does.
    if (!rows && sql_.sqlite() && rows.error().message.find("SQL logic error") != std::string::npos &&
        parser_depth(query.text) > kDeepForSqlite)
      return make_error(ErrorKind::invalid_argument, kNestedTooDeeply);
    // The kernel's regular expression function bounds its own time there.
    if (!rows && query.regex && rows.error().code == sdk::regex::kTimeLimitCode)
      return regex_ran_out();
    return rows;
  }
  // PostgreSQL's regular expressions are not linear in every case: a query
  // running one is cut off after regex::kTimeLimitMs.
  sdk::Result<sdk::Rows> rows = make_error(ErrorKind::internal, "not run");
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    if (auto r = tx.execute("SET LOCAL statement_timeout = " + std::to_string(sdk::regex::kTimeLimitMs)); !r)
      return r.error();
    rows = tx.query(query.text, query.params);
    if (!rows) return rows.error();
    return {};
  });
  if (!done) {
    if (done.error().message.find("57014") != std::string::npos) return regex_ran_out();  // query_canceled
    return done.error();
  }
  return rows;
}

sdk::Result<std::optional<Document>> DocStore::get(std::string_view app, std::string_view collection,
                                                   std::string_view id) {
  auto rows = db_.query("SELECT d.id, " + data_column_ +
                            ", d.created_at, d.updated_at FROM docs_documents d "
                            "WHERE d.app_id = ? AND d.collection = ? AND d.id = ?",
                        {app, collection, id});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Document>();
  auto doc = document_of(rows->rows[0]);
  if (!doc) return doc.error();
  return std::optional<Document>(std::move(*doc));
}

sdk::Result<DocStore::Found> DocStore::run_find(std::string_view app, std::string_view collection,
                                               const Value& filter, const FindOptions& options, const Keyset* after,
                                               std::int64_t rows, bool positions) {
  auto query = find_query(sql_, filter, app, collection, options, after, rows);
  if (!query) return query.error();
  auto found = read(*query);
  if (!found) return found.error();
  Found out;
  out.documents.reserve(found->size());
  for (const auto& row : found->rows) {
    auto doc = document_of(row);
    if (!doc) return doc.error();
    out.documents.push_back(std::move(*doc));
  }
  if (positions)
    for (const auto& row : found->rows)
      out.positions.push_back(Keyset{std::vector<Value>(row.begin() + 4, row.end()), row[0].as_string()});
  return out;
}

sdk::Result<std::vector<Document>> DocStore::find(std::string_view app, std::string_view collection,
                                                  const Value& filter, const FindOptions& options) {
  auto found = run_find(app, collection, filter, options, nullptr, options.limit, false);
  if (!found) return found.error();
  return std::move(found->documents);
}

sdk::Result<Page<Document>> DocStore::find_page(std::string_view app, std::string_view collection,
                                                const Value& filter, const FindOptions& options,
                                                std::string_view cursor) {
  const std::string fingerprint = query_fingerprint(collection, filter, options);
  std::optional<Keyset> after;
  if (!cursor.empty()) {
    if (options.skip != 0)
      return make_error(ErrorKind::invalid_argument,
                        "options: skip cannot be combined with a cursor (the cursor is the position already)");
    auto decoded = decode_page_cursor(sql_, cursor, fingerprint, options);
    if (!decoded) return decoded.error();
    after = std::move(*decoded);
  }
  // One row more than the page tells whether another page follows.
  auto found = run_find(app, collection, filter, options, after ? &*after : nullptr, options.limit + 1, true);
  if (!found) return found.error();
  Page<Document> page;
  const auto limit = static_cast<std::size_t>(options.limit);
  if (found->documents.size() > limit) {
    found->documents.resize(limit);
    page.next = encode_page_cursor(fingerprint, found->positions[limit - 1]);
  }
  page.items = std::move(found->documents);
  return page;
}

sdk::Result<std::int64_t> DocStore::count(std::string_view app, std::string_view collection, const Value& filter) {
  auto where = compile_filter(sql_, filter, app, collection);
  if (!where) return where.error();
  Sql query("SELECT COUNT(*) FROM docs_documents d WHERE ");
  query += *where;
  auto rows = read(query);
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int();
}

sdk::Result<Page<Document>> DocStore::list(std::string_view app, std::string_view collection, std::string_view after,
                                           std::int64_t limit) {
  auto rows = db_.query("SELECT d.id, " + data_column_ +
                            ", d.created_at, d.updated_at FROM docs_documents d "
                            "WHERE d.app_id = ? AND d.collection = ? AND d.id > ? ORDER BY d.id LIMIT ?",
                        {app, collection, after, limit + 1});  // one more tells whether another page follows
  if (!rows) return rows.error();
  Page<Document> page;
  for (const auto& row : rows->rows) {
    if (static_cast<std::int64_t>(page.items.size()) == limit) {
      page.next = page.items.back().id;
      break;
    }
    auto doc = document_of(row);
    if (!doc) return doc.error();
    page.items.push_back(std::move(*doc));
  }
  return page;
}

sdk::Result<Page<CollectionInfo>> DocStore::collections(std::string_view app, std::string_view after,
                                                        std::int64_t limit) {
  auto rows = db_.query(
      "SELECT collection, COUNT(*) FROM docs_documents WHERE app_id = ? AND collection > ? "
      "GROUP BY collection ORDER BY collection LIMIT ?",
      {app, after, limit + 1});
  if (!rows) return rows.error();
  Page<CollectionInfo> page;
  for (const auto& row : rows->rows) {
    if (static_cast<std::int64_t>(page.items.size()) == limit) {
      page.next = page.items.back().name;
      break;
    }
    page.items.push_back({row[0].as_string(), row[1].as_int()});
  }
  return page;
}

sdk::Result<int> DocStore::emit(sdk::Transaction& tx, const sdk::CallContext& call, std::string_view op,
                                std::string_view collection, std::string_view id, const Value& data,
                                const Value& prev_data) {
  return events_.emit(
      tx, call,
      {"docs", std::string(op),
       Value::object({{"collection", collection}, {"id", id}, {"data", data}, {"prev_data", prev_data}})});
}

sdk::Error DocStore::explain(const sdk::Error& error, std::string_view app, std::string_view collection) {
  // PostgreSQL's "index row size ... exceeds ... maximum" should a value
  // ever pass the check above (an index made while the write ran).
  const bool too_large = error.message.find("54000") != std::string::npos;  // program_limit_exceeded
  if (error.kind != ErrorKind::conflict && !too_large) return error;
  auto at = error.message.find("docs_ix_");
  if (at == std::string::npos) at = error.message.find("docs_is_");
  if (at == std::string::npos || at + 8 + 16 > error.message.size()) return error;
  std::string name = "docs_ix_" + error.message.substr(at + 8, 16);
  auto rows = db_.query("SELECT path FROM docs_indexes WHERE app_id = ? AND collection = ? AND index_name = ?",
                        {app, collection, name});
  std::string path = rows && !rows->empty() ? rows->rows[0][0].as_string() : name;
  if (too_large)
    return make_error(ErrorKind::invalid_argument, "the value at '" + path + "' is too large for the index of '" +
                                                       std::string(collection) + "' on it (at most " +
                                                       std::to_string(kMaxIndexedValueBytes) + " bytes)");
  return make_error(ErrorKind::conflict, "another document of '" + std::string(collection) +
                                             "' has the same value at '" + path + "' (a unique index)");
}

sdk::Result<void> DocStore::check_indexed_values(sdk::Transaction& tx, std::string_view app,
                                                 std::string_view collection, const Value& data,
                                                 std::size_t text_bytes) {
  if (indexed_size_bound(data, text_bytes) <= kMaxIndexedValueBytes) return {};  // most documents
  auto paths = tx.query("SELECT path FROM docs_indexes WHERE app_id = ? AND collection = ?", {app, collection});
  if (!paths) return paths.error();
  for (const auto& row : paths->rows) {
    auto path = parse_path(row[0].string_or(""));
    if (!path) continue;
    const Value* at = &data;
    for (const auto& segment : path->segments) {
      if (!at->is_object() || !at->has(segment)) {
        at = nullptr;
        break;
      }
      at = &(*at)[segment];
    }
    if (!at || at->is_null()) continue;
    if (std::size_t size = indexed_size(*at); size > kMaxIndexedValueBytes)
      return make_error(ErrorKind::invalid_argument,
                        "the value at '" + path->text + "' counts " + std::to_string(size) + " bytes; '" +
                            std::string(collection) + "' has an index on '" + path->text +
                            "', whose values take at most " + std::to_string(kMaxIndexedValueBytes) +
                            " (JSON text plus 16 per array element and object member)");
  }
  return {};
}

sdk::Result<Document> DocStore::create(const sdk::CallContext& call, std::string_view collection, std::string_view id,
                                       const Value& data) {
  auto text = encode_document(data, max_document_bytes_);
  if (!text) return text.error();
  const bool generated = id.empty();
  Document doc{generated ? new_id() : std::string(id), data, now_ms(), 0};
  doc.updated_at = doc.created_at;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    if (auto fits = check_indexed_values(tx, call.app_id, collection, data, text->size()); !fits) return fits.error();
    auto n = tx.execute(
        "INSERT INTO docs_documents (app_id, collection, id, data, created_at, updated_at) "
        "VALUES (?, ?, ?, " +
            sql_.json_param() + ", ?, ?) ON CONFLICT (app_id, collection, id) DO NOTHING",
        {call.app_id, collection, doc.id, *text, doc.created_at, doc.updated_at});
    if (!n) return n.error();
    if (*n == 0)
      return make_error(ErrorKind::conflict,
                        "a document with id '" + doc.id + "' exists in '" + std::string(collection) + "'");
    auto fired = emit(tx, call, "create", collection, doc.id, data, Value());
    if (!fired) return fired.error();
    return {};
  });
  if (!done) return explain(done.error(), call.app_id, collection);
  return doc;
}

sdk::Result<std::optional<DocStore::Replaced>> DocStore::write(const sdk::CallContext& call,
                                                               std::string_view collection, std::string_view id,
                                                               bool create_missing, const Change& change) {
  std::optional<Replaced> written;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    written.reset();
    auto rows = tx.query("SELECT d.id, " + data_column_ +
                             ", d.created_at, d.updated_at FROM docs_documents d "
                             "WHERE d.app_id = ? AND d.collection = ? AND d.id = ?" +
                             lock_clause_,
                         {call.app_id, collection, id});
    if (!rows) return rows.error();
    std::optional<Document> current;
    if (!rows->empty()) {
      auto doc = document_of(rows->rows[0]);
      if (!doc) return doc.error();
      current = std::move(*doc);
    }
    if (!current && !create_missing) return {};
    auto next = change(current);
    if (!next) return next.error();
    if (!*next) return {};
    auto text = encode_document(**next, max_document_bytes_);
    if (!text) return text.error();
    if (auto fits = check_indexed_values(tx, call.app_id, collection, **next, text->size()); !fits)
      return fits.error();
    const std::int64_t now = now_ms();
    if (current) {
      auto n = tx.execute("UPDATE docs_documents SET data = " + sql_.json_param() +
                              ", updated_at = ? WHERE app_id = ? AND collection = ? AND id = ?",
                          {*text, now, call.app_id, collection, id});
      if (!n) return n.error();
    } else {
      // A concurrent create of the same id fails here as a conflict.
      auto n = tx.execute(
          "INSERT INTO docs_documents (app_id, collection, id, data, created_at, updated_at) "
          "VALUES (?, ?, ?, " +
              sql_.json_param() + ", ?, ?)",
          {call.app_id, collection, id, *text, now, now});
      if (!n) return n.error();
    }
    auto fired =
        emit(tx, call, current ? "update" : "create", collection, id, **next, current ? current->data : Value());
    if (!fired) return fired.error();
    written =
        Replaced{Document{std::string(id), std::move(**next), current ? current->created_at : now, now}, !current};
    return {};
  });
  if (!done) return explain(done.error(), call.app_id, collection);
  return written;
}

sdk::Result<std::optional<DocStore::Replaced>> DocStore::replace(const sdk::CallContext& call,
                                                                 std::string_view collection, std::string_view id,
                                                                 const Value& data, bool create_missing) {
  if (auto text = encode_document(data, max_document_bytes_); !text) return text.error();  // before any lock
  return write(
      call, collection, id, create_missing,
      [&](const std::optional<Document>&) -> sdk::Result<std::optional<Value>> { return std::optional<Value>(data); });
}

sdk::Result<std::optional<Document>> DocStore::patch(const sdk::CallContext& call, std::string_view collection,
                                                     std::string_view id, const Patch& patch) {
  auto written = write(call, collection, id, false,
                       [&](const std::optional<Document>& current) -> sdk::Result<std::optional<Value>> {
                         Value next = current->data;
                         if (auto applied = apply_patch(next, patch); !applied) return applied.error();
                         return std::optional<Value>(std::move(next));
                       });
  if (!written) return written.error();
  if (!*written) return std::optional<Document>();
  return std::optional<Document>(std::move((*written)->document));
}

sdk::Result<std::optional<Document>> DocStore::remove(const sdk::CallContext& call, std::string_view collection,
                                                      std::string_view id) {
  std::optional<Document> removed;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    removed.reset();
    auto rows = tx.query("DELETE FROM docs_documents WHERE app_id = ? AND collection = ? AND id = ? RETURNING id, " +
                             std::string(sql_.sqlite() ? "data" : "data::text") + ", created_at, updated_at",
                         {call.app_id, collection, id});
    if (!rows) return rows.error();
    if (rows->empty()) return {};
    auto doc = document_of(rows->rows[0]);
    if (!doc) return doc.error();
    removed = std::move(*doc);
    auto fired = emit(tx, call, "delete", collection, id, Value(), removed->data);
    if (!fired) return fired.error();
    return {};
  });
  if (!done) return done.error();
  return removed;
}

sdk::Result<std::vector<IndexInfo>> DocStore::indexes(std::string_view app, std::string_view collection) {
  auto rows = db_.query(
      "SELECT path, is_unique, created_at FROM docs_indexes WHERE app_id = ? AND collection = ? ORDER BY path",
      {app, collection});
  if (!rows) return rows.error();
  std::vector<IndexInfo> out;
  for (const auto& row : rows->rows) out.push_back({row[0].as_string(), row[1].as_int() != 0, row[2].as_int()});
  return out;
}

std::vector<std::string> DocStore::index_statements(std::string_view app, std::string_view collection,
                                                    const Path& path, bool unique, bool concurrently) const {
  const std::string suffix = index_suffix(app, collection, path.text);
  const std::string scope =
      " WHERE app_id = '" + std::string(app) + "' AND collection = '" + std::string(collection) + "'";
  const std::string create = concurrently ? "INDEX CONCURRENTLY " : "INDEX ";
  // The value index: on SQLite with a second column telling booleans, arrays
  // and objects from the ints and text json_extract turns them into, so a
  // unique index tells true from 1 and ["a"] from the string "[\"a\"]".
  const std::string value_columns =
      sql_.sqlite() ? sql_.value(path, "data") + ", CASE " + sql_.type(path, "data") +
                          " WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'array' THEN 2 WHEN 'object' THEN 3 ELSE 0 END"
                    : "(" + sql_.value(path, "data") + ")";
  const std::string type_column = sql_.sqlite() ? sql_.type(path, "data") : "(" + sql_.type(path, "data") + ")";
  std::vector<std::string> out{
      std::string("CREATE ") + (unique ? "UNIQUE " : "") + create + "docs_ix_" + suffix + " ON docs_documents (" +
          value_columns + ")" + scope,
      "CREATE " + create + "docs_it_" + suffix + " ON docs_documents (" + type_column + ")" + scope};
  // jsonb orders strings in the database's collation; sorts and ranges on
  // strings are bytewise, so they read this one (only strings are in it).
  if (!sql_.sqlite()) {
    out.push_back("CREATE " + create + "docs_is_" + suffix + " ON docs_documents (" +
                  sql_.bytewise_text(path, "data") + ")" + scope + " AND " + sql_.type(path, "data") + " = 'string'");
    // PostgreSQL keeps no statistics for the expressions of partial indexes
    // and guesses that a handful of documents hold a number there: a sort
    // of "all of them" then looks cheaper than reading the index in order.
    // Statistics on the expressions (whole table) give it real figures.
    out.push_back("CREATE STATISTICS IF NOT EXISTS docs_st_" + suffix + " ON (" + sql_.type(path, "data") + "), (" +
                  sql_.value(path, "data") + "), (" + sql_.bytewise_text(path, "data") + ") FROM docs_documents");
    out.push_back("ANALYZE docs_documents");
  }
  return out;
}

namespace {

// Lists the index in docs_indexes (through a transaction or the database);
// a conflict when the path has one.
template <typename Executor>
sdk::Result<void> list_index(Executor& on, std::string_view app, std::string_view collection, const Path& path,
                             bool unique, const std::string& suffix, std::int64_t created_at) {
  auto n = on.execute(
      "INSERT INTO docs_indexes (app_id, collection, path, is_unique, index_name, created_at) "
      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, collection, path) DO NOTHING",
      {app, collection, path.text, unique ? 1 : 0, "docs_ix_" + suffix, created_at});
  if (!n) return n.error();
  if (*n == 0)
    return make_error(ErrorKind::conflict,
                      "'" + std::string(collection) + "' has an index on '" + path.text + "' already");
  return {};
}

// A build refused by the database, as the error the API gives.
sdk::Error index_refused(const sdk::Error& error, std::string_view collection, const Path& path) {
  if (error.kind == ErrorKind::conflict || error.message.find("nique") != std::string::npos)
    return make_error(ErrorKind::conflict, "documents of '" + std::string(collection) + "' share values at '" +
                                               path.text + "', so it cannot have a unique index");
  if (error.message.find("54000") != std::string::npos)  // program_limit_exceeded: an index entry too large
    return make_error(ErrorKind::conflict, "a document of '" + std::string(collection) + "' holds a value at '" +
                                               path.text + "' larger than an index entry takes (" +
                                               std::to_string(kMaxIndexedValueBytes) + " bytes)");
  return error;
}

// The first document (by id) whose value at the path is too large to index,
// and how large it counts. Values shorter than a ninth of the limit cannot
// be (each element and member takes at least two bytes of text), so only
// the longer ones are read, a batch at a time.
template <typename Reader>
sdk::Result<std::optional<std::pair<std::string, std::size_t>>> oversized(Reader& reader, const DocSql& sql,
                                                                          std::string_view app,
                                                                          std::string_view collection,
                                                                          const Path& path) {
  const std::string text = sql.sqlite() ? "json_quote(" + sql.value(path, "d.data") + ")"
                                        : "(" + sql.value(path, "d.data") + ")::text";
  const std::string bytes = sql.sqlite() ? "length(CAST(" + text + " AS BLOB))" : "octet_length(" + text + ")";
  std::string after;
  for (;;) {
    auto rows = reader.query("SELECT d.id, " + text +
                                 " FROM docs_documents d WHERE d.app_id = ? AND d.collection = ? AND d.id > ? AND " +
                                 bytes + " > ? ORDER BY d.id LIMIT 200",
                             {app, collection, after, static_cast<std::int64_t>(kMaxIndexedValueBytes / 9)});
    if (!rows) return rows.error();
    for (const auto& row : rows->rows) {
      auto value = sdk::parse_json(row[1].string_or("null"), 512);
      if (!value) return value.error();
      if (std::size_t size = indexed_size(*value); size > kMaxIndexedValueBytes)
        return std::optional<std::pair<std::string, std::size_t>>(std::make_pair(row[0].as_string(), size));
    }
    if (rows->size() < 200) return std::optional<std::pair<std::string, std::size_t>>();
    after = rows->rows.back()[0].as_string();
  }
}

sdk::Error too_large_to_index(std::string_view collection, const Path& path, const std::string& id,
                              std::size_t size) {
  return make_error(ErrorKind::conflict, "document '" + id + "' of '" + std::string(collection) +
                                             "' holds a value at '" + path.text + "' that counts " +
                                             std::to_string(size) + " bytes; an indexed value takes at most " +
                                             std::to_string(kMaxIndexedValueBytes) +
                                             " (its JSON text plus 16 per array element and object member)");
}

}  // namespace

sdk::Result<IndexInfo> DocStore::create_index(std::string_view app, std::string_view collection, const Path& path,
                                              bool unique) {
  if (sql_.sqlite()) {
    // SQLite builds an index holding the write lock, as every write does.
    sdk::Result<IndexInfo> made = make_error(ErrorKind::internal, "not run");
    auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      made = create_index(tx, app, collection, path, unique);
      if (!made) return made.error();
      return {};
    });
    if (!done) return done.error();
    return made;
  }
  // PostgreSQL builds without blocking writers, which it can do only outside
  // a transaction: the row first (so writes check their values against the
  // index from now on), then the documents already there, then the build.
  if (!literal_safe(app) || !literal_safe(collection))
    return make_error(ErrorKind::invalid_argument, "app id or collection name cannot be spelled in an index");
  const std::string suffix = index_suffix(app, collection, path.text);
  IndexInfo info{path.text, unique, now_ms()};
  if (auto listed = list_index(db_, app, collection, path, unique, suffix, info.created_at); !listed)
    return listed.error();
  auto undo = [&](sdk::Error error) -> sdk::Error {
    // An interrupted concurrent build leaves an invalid index: dropped here,
    // concurrently too (a plain DROP would lock every app's documents).
    drop_built_indexes(suffix);
    (void)db_.execute("DELETE FROM docs_indexes WHERE app_id = ? AND collection = ? AND path = ?",
                      {app, collection, path.text});
    return error;
  };
  // A drop of this index (or the app's deletion) while it is built removes
  // the row, and drops only what exists by then: what is built after that
  // is dropped here.
  auto still_wanted = [&]() -> sdk::Result<bool> {
    auto rows = db_.query("SELECT 1 FROM docs_indexes WHERE app_id = ? AND collection = ? AND index_name = ?",
                          {app, collection, "docs_ix_" + suffix});
    if (!rows) return rows.error();
    return !rows->empty();
  };
  auto big = oversized(db_, sql_, app, collection, path);
  if (!big) return undo(big.error());
  if (*big) return undo(too_large_to_index(collection, path, (*big)->first, (*big)->second));
  for (const auto& statement : index_statements(app, collection, path, unique, true)) {
    if (auto made = db_.execute(statement); !made) return undo(index_refused(made.error(), collection, path));
    auto wanted = still_wanted();
    if (!wanted) return undo(wanted.error());
    if (!*wanted)
      return undo(make_error(ErrorKind::conflict, "the index on '" + path.text + "' of '" + std::string(collection) +
                                                      "' was dropped while it was built"));
  }
  return info;
}

void DocStore::drop_built_indexes(const std::string& suffix) {
  for (const char* kind : {"docs_ix_", "docs_it_", "docs_is_"})
    (void)db_.execute("DROP INDEX CONCURRENTLY IF EXISTS " + std::string(kind) + suffix);
  (void)db_.execute("DROP STATISTICS IF EXISTS docs_st_" + suffix);
}

sdk::Result<int> DocStore::remove_interrupted_builds() {
  if (sql_.sqlite()) return 0;
  // A server stopped during a concurrent build leaves the index invalid (and
  // its row listed): both go, so that the index can be created again. A
  // build in progress elsewhere (another node) is invalid too until it
  // ends, and is left alone.
  auto rows = db_.query(
      "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
      "WHERE NOT i.indisvalid AND c.relname LIKE 'docs\\_i%' "
      "AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)");
  if (!rows) return rows.error();
  int removed = 0;
  for (const auto& row : rows->rows) {
    const std::string name = row[0].string_or("");
    if (name.size() != 8 + 16) continue;  // docs_i?_ and the 16 hex digits of its suffix
    const std::string suffix = name.substr(8);
    auto dropped = db_.execute("DELETE FROM docs_indexes WHERE index_name = ?", {"docs_ix_" + suffix});
    if (!dropped) return dropped.error();
    drop_built_indexes(suffix);
    ++removed;
  }
  return removed;
}

sdk::Result<IndexInfo> DocStore::create_index(sdk::Transaction& tx, std::string_view app, std::string_view collection,
                                              const Path& path, bool unique) {
  if (!literal_safe(app) || !literal_safe(collection))
    return make_error(ErrorKind::invalid_argument, "app id or collection name cannot be spelled in an index");
  const std::string suffix = index_suffix(app, collection, path.text);
  IndexInfo info{path.text, unique, now_ms()};
  if (auto listed = list_index(tx, app, collection, path, unique, suffix, info.created_at); !listed)
    return listed.error();
  auto big = oversized(tx, sql_, app, collection, path);
  if (!big) return big.error();
  if (*big) return too_large_to_index(collection, path, (*big)->first, (*big)->second);
  for (const auto& statement : index_statements(app, collection, path, unique, false))
    if (auto made = tx.execute(statement); !made) return index_refused(made.error(), collection, path);
  return info;
}

sdk::Result<bool> DocStore::drop_index(std::string_view app, std::string_view collection, const Path& path) {
  bool existed = false;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto dropped = drop_index(tx, app, collection, path);
    if (!dropped) return dropped.error();
    existed = *dropped;
    return {};
  });
  if (!done) return done.error();
  return existed;
}

sdk::Result<bool> DocStore::drop_index(sdk::Transaction& tx, std::string_view app, std::string_view collection,
                                       const Path& path) {
  const std::string suffix = index_suffix(app, collection, path.text);
  auto n = tx.execute("DELETE FROM docs_indexes WHERE app_id = ? AND collection = ? AND path = ?",
                      {app, collection, path.text});
  if (!n) return n.error();
  if (*n == 0) return false;
  if (auto r = tx.execute("DROP INDEX IF EXISTS docs_ix_" + suffix); !r) return r.error();
  if (auto r = tx.execute("DROP INDEX IF EXISTS docs_it_" + suffix); !r) return r.error();
  if (auto r = tx.execute("DROP INDEX IF EXISTS docs_is_" + suffix); !r) return r.error();
  if (!sql_.sqlite())
    if (auto r = tx.execute("DROP STATISTICS IF EXISTS docs_st_" + suffix); !r) return r.error();
  return true;
}

sdk::Result<std::vector<AppIndex>> DocStore::app_indexes(sdk::Transaction& tx, std::string_view app) {
  auto rows = tx.query("SELECT collection, path, is_unique FROM docs_indexes WHERE app_id = ? ORDER BY collection, path",
                       {app});
  if (!rows) return rows.error();
  std::vector<AppIndex> out;
  for (const auto& row : rows->rows) out.push_back({row[0].as_string(), row[1].as_string(), row[2].as_int() != 0});
  return out;
}

sdk::Result<void> DocStore::delete_app(sdk::Transaction& tx, std::string_view app) const {
  auto indexes = tx.query("SELECT index_name FROM docs_indexes WHERE app_id = ?", {app});
  if (!indexes) return indexes.error();
  for (const auto& row : indexes->rows) {
    // docs_ix_<suffix> is the value index; docs_it_<suffix> its type index,
    // docs_is_<suffix> (PostgreSQL) its strings index.
    const std::string name = row[0].string_or("");
    if (name.rfind("docs_ix_", 0) != 0) continue;
    const std::string suffix = name.substr(8);
    if (auto r = tx.execute("DROP INDEX IF EXISTS docs_ix_" + suffix); !r) return r.error();
    if (auto r = tx.execute("DROP INDEX IF EXISTS docs_it_" + suffix); !r) return r.error();
    if (auto r = tx.execute("DROP INDEX IF EXISTS docs_is_" + suffix); !r) return r.error();
    if (!sql_.sqlite())
      if (auto r = tx.execute("DROP STATISTICS IF EXISTS docs_st_" + suffix); !r) return r.error();
  }
  for (const char* sql : {"DELETE FROM docs_indexes WHERE app_id = ?", "DELETE FROM docs_documents WHERE app_id = ?"})
    if (auto r = tx.execute(sql, {app}); !r) return r.error();
  return {};
}

}  // namespace picloud::docs
