#include "docs_store.hpp"

#include <algorithm>
#include <cstdio>

#include "docs_rules.hpp"
#include "picloud/sdk/json_parse.hpp"

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

sdk::Result<sdk::Rows> DocStore::read(const Sql& query) {
  if (!query.regex || sql_.sqlite()) return db_.query(query.text, query.params);
  // PostgreSQL's regular expressions are not linear in every case: a query
  // running one is cut off after kRegexStatementTimeoutMs.
  sdk::Result<sdk::Rows> rows = make_error(ErrorKind::internal, "not run");
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    if (auto r = tx.execute("SET LOCAL statement_timeout = " + std::to_string(kRegexStatementTimeoutMs)); !r)
      return r.error();
    rows = tx.query(query.text, query.params);
    if (!rows) return rows.error();
    return {};
  });
  if (!done) {
    if (done.error().message.find("statement timeout") != std::string::npos)
      return make_error(ErrorKind::invalid_argument, "the query's $regex ran longer than " +
                                                          std::to_string(kRegexStatementTimeoutMs) +
                                                          " ms; anchor the pattern (^...) or narrow the filter");
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

sdk::Result<std::vector<Document>> DocStore::find(std::string_view app, std::string_view collection,
                                                  const Value& filter, const FindOptions& options) {
  auto where = compile_filter(sql_, filter, app, collection);
  if (!where) return where.error();
  Sql query("SELECT d.id, " + data_column_ + ", d.created_at, d.updated_at FROM docs_documents d WHERE ");
  query += *where;
  query += order_by(sql_, options) + " LIMIT ";
  query.bind(Value(options.limit));
  query += " OFFSET ";
  query.bind(Value(options.skip));
  auto rows = read(query);
  if (!rows) return rows.error();
  std::vector<Document> out;
  out.reserve(rows->size());
  for (const auto& row : rows->rows) {
    auto doc = document_of(row);
    if (!doc) return doc.error();
    out.push_back(std::move(*doc));
  }
  return out;
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
  if (error.kind != ErrorKind::conflict) return error;
  auto at = error.message.find("docs_ix_");
  if (at == std::string::npos) return error;
  std::string name = error.message.substr(at, 8 + 16);
  auto rows = db_.query("SELECT path FROM docs_indexes WHERE app_id = ? AND collection = ? AND index_name = ?",
                        {app, collection, name});
  std::string path = rows && !rows->empty() ? rows->rows[0][0].as_string() : name;
  return make_error(ErrorKind::conflict, "another document of '" + std::string(collection) +
                                             "' has the same value at '" + path + "' (a unique index)");
}

sdk::Result<Document> DocStore::create(const sdk::CallContext& call, std::string_view collection, std::string_view id,
                                       const Value& data) {
  auto text = encode_document(data, max_document_bytes_);
  if (!text) return text.error();
  const bool generated = id.empty();
  Document doc{generated ? new_id() : std::string(id), data, now_ms(), 0};
  doc.updated_at = doc.created_at;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
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

sdk::Result<IndexInfo> DocStore::create_index(std::string_view app, std::string_view collection, const Path& path,
                                              bool unique) {
  sdk::Result<IndexInfo> made = make_error(ErrorKind::internal, "not run");
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    made = create_index(tx, app, collection, path, unique);
    if (!made) return made.error();
    return {};
  });
  if (!done) return done.error();
  return made;
}

sdk::Result<IndexInfo> DocStore::create_index(sdk::Transaction& tx, std::string_view app, std::string_view collection,
                                              const Path& path, bool unique) {
  if (!literal_safe(app) || !literal_safe(collection))
    return make_error(ErrorKind::invalid_argument, "app id or collection name cannot be spelled in an index");
  const std::string suffix = index_suffix(app, collection, path.text);
  const std::string scope =
      " WHERE app_id = '" + std::string(app) + "' AND collection = '" + std::string(collection) + "'";
  // The value index: on SQLite with a second column telling booleans, arrays
  // and objects from the ints and text json_extract turns them into, so a
  // unique index tells true from 1 and ["a"] from the string "[\"a\"]".
  const std::string value_columns =
      sql_.sqlite() ? sql_.value(path, "data") + ", CASE " + sql_.type(path, "data") +
                          " WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'array' THEN 2 WHEN 'object' THEN 3 ELSE 0 END"
                    : "(" + sql_.value(path, "data") + ")";
  const std::string type_column = sql_.sqlite() ? sql_.type(path, "data") : "(" + sql_.type(path, "data") + ")";
  IndexInfo info{path.text, unique, now_ms()};
  {
    auto n = tx.execute(
        "INSERT INTO docs_indexes (app_id, collection, path, is_unique, index_name, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, collection, path) DO NOTHING",
        {app, collection, path.text, unique ? 1 : 0, "docs_ix_" + suffix, info.created_at});
    if (!n) return n.error();
    if (*n == 0)
      return make_error(ErrorKind::conflict,
                        "'" + std::string(collection) + "' has an index on '" + path.text + "' already");
    auto made = tx.execute(std::string("CREATE ") + (unique ? "UNIQUE " : "") + "INDEX docs_ix_" + suffix +
                           " ON docs_documents (" + value_columns + ")" + scope);
    if (!made) {
      if (made.error().kind == ErrorKind::conflict || made.error().message.find("nique") != std::string::npos)
        return make_error(ErrorKind::conflict, "documents of '" + std::string(collection) + "' share values at '" +
                                                   path.text + "', so it cannot have a unique index");
      return made.error();
    }
    auto typed = tx.execute("CREATE INDEX docs_it_" + suffix + " ON docs_documents (" + type_column + ")" + scope);
    if (!typed) return typed.error();
  }
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

sdk::Result<void> DocStore::delete_app(sdk::Transaction& tx, std::string_view app) {
  auto indexes = tx.query("SELECT index_name FROM docs_indexes WHERE app_id = ?", {app});
  if (!indexes) return indexes.error();
  for (const auto& row : indexes->rows) {
    // docs_ix_<suffix> is the value index; docs_it_<suffix> its type index.
    const std::string name = row[0].string_or("");
    if (name.rfind("docs_ix_", 0) != 0) continue;
    const std::string suffix = name.substr(8);
    if (auto r = tx.execute("DROP INDEX IF EXISTS docs_ix_" + suffix); !r) return r.error();
    if (auto r = tx.execute("DROP INDEX IF EXISTS docs_it_" + suffix); !r) return r.error();
  }
  for (const char* sql : {"DELETE FROM docs_indexes WHERE app_id = ?", "DELETE FROM docs_documents WHERE app_id = ?"})
    if (auto r = tx.execute(sql, {app}); !r) return r.error();
  return {};
}

}  // namespace picloud::docs
