#include "files_store.hpp"

#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "picloud/sdk/json_parse.hpp"
#include "picloud/sdk/text.hpp"
#include "sha256.hpp"

namespace picloud::files {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

// As deep as any script may build a value (scripting.max_json_depth is at
// most 512): what was stored reads back.
constexpr int kMetadataDepth = 512;

constexpr std::string_view kColumns =
    "collection, name, blob_id, size, content_type, sha256, metadata, version, created_at, updated_at, corrupted";
constexpr std::string_view kInsertColumns =
    "collection, name, blob_id, size, content_type, sha256, metadata, version, created_at, updated_at";

FileHead head_of(const std::vector<Value>& row) {
  FileHead h;
  h.collection = row[0].as_string();
  h.name = row[1].as_string();
  h.blob_id = row[2].as_string();
  h.size = row[3].as_int();
  h.content_type = row[4].as_string();
  h.sha256 = row[5].as_string();
  auto metadata = sdk::parse_json(row[6].as_string(), kMetadataDepth);
  h.metadata = metadata ? std::move(*metadata) : Value::object();
  h.version = row[7].as_int();
  h.created_at = row[8].as_int();
  h.updated_at = row[9].as_int();
  h.corrupted = row[10].as_int() != 0;
  return h;
}

std::string new_blob_id() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no random bytes for a blob id");
  return to_hex(raw, sizeof raw);
}

// The prefix's length in characters, as SQL's substr() counts on both
// databases.
std::int64_t char_count(std::string_view text) {
  std::int64_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// Checks the SHA-256 of a whole file as it streams out, and withholds the
// last bytes when it does not match: the client gets a body shorter than
// its Content-Length (the connection is reset), never a corrupted file that
// looks whole.
class VerifiedBody final : public sdk::BodyStream {
 public:
  using OnMismatch = std::function<void()>;
  VerifiedBody(std::shared_ptr<sdk::BodyStream> inner, std::string sha256, OnMismatch on_mismatch)
      : inner_(std::move(inner)), expected_(std::move(sha256)), on_mismatch_(std::move(on_mismatch)) {}
  std::int64_t length() const override { return inner_->length(); }
  sdk::Result<std::size_t> read(char* buffer, std::size_t capacity) override {
    auto n = inner_->read(buffer, capacity);
    if (!n) return n;
    hash_.update({buffer, *n});
    read_ += static_cast<std::int64_t>(*n);
    if (*n > 0 && read_ == inner_->length() && hash_.hex() != expected_) {
      on_mismatch_();
      return make_error(ErrorKind::internal, "corrupted", "the file's bytes do not match their SHA-256");
    }
    return n;
  }

 private:
  std::shared_ptr<sdk::BodyStream> inner_;
  std::string expected_;
  OnMismatch on_mismatch_;
  Sha256 hash_;
  std::int64_t read_ = 0;
};

}  // namespace

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Value head_json(const FileHead& h) {
  return Value::object({{"collection", h.collection},
                        {"name", h.name},
                        {"size", h.size},
                        {"content_type", h.content_type},
                        {"sha256", h.sha256},
                        {"version", h.version},
                        {"created_at", h.created_at},
                        {"updated_at", h.updated_at},
                        {"metadata", h.metadata}});
}

Value head_admin_json(const FileHead& h) {
  Value v = head_json(h);
  v.as_object()["created_at"] = sdk::rfc3339(h.created_at);
  v.as_object()["updated_at"] = sdk::rfc3339(h.updated_at);
  return v;
}

sdk::Result<std::size_t> SpoolSource::read(char* buffer, std::size_t capacity) {
  auto want = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(capacity), size_ - at_));
  if (want == 0) return std::size_t{0};
  for (;;) {
    ssize_t n = ::pread(fd_, buffer, want, offset_ + at_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(ErrorKind::internal, std::string("cannot read the uploaded body: ") + std::strerror(errno));
    at_ += n;
    return static_cast<std::size_t>(n);
  }
}

FilesStore::FilesStore(sdk::Database& db, sdk::EventSink& events, BlobStore& blobs, sdk::Logger& log,
                       sdk::Counter& corrupted, Limits limits, Clock now)
    : db_(db),
      events_(events),
      blobs_(blobs),
      log_(log),
      corrupted_(corrupted),
      limits_(limits),
      now_(std::move(now)),
      lock_clause_(db.dialect() == sdk::Dialect::postgres ? " FOR UPDATE" : "") {}

sdk::Result<FileHead> FilesStore::put(const sdk::CallContext& call, std::string_view collection,
                                      std::string_view name, ByteSource& source, const std::string& content_type,
                                      const std::string& metadata) {
  if (source.size() >= 0)
    if (auto ok = check_size(source.size(), limits_); !ok) return ok.error();
  // Refuse early what the quota cannot take (checked again, exactly, when
  // the row is written): no bytes are written for nothing.
  if ((limits_.quota_bytes > 0 || limits_.quota_files > 0) && source.size() >= 0) {
    auto used = usage(call.app_id);
    if (!used) return used.error();
    auto pending = pending_bytes(nullptr, call.app_id);
    if (!pending) return pending.error();
    auto old = head(call.app_id, collection, name);
    if (!old) return old.error();
    if (auto ok = check_quota(*used, *pending, *old ? (*old)->size : -1, source.size()); !ok) return ok.error();
  }
  const std::string blob_id = new_blob_id();
  if (auto r = db_.execute("INSERT INTO files_blobs (blob_id, app_id, state, created_at) VALUES (?, ?, 'writing', ?)",
                           {blob_id, call.app_id, now_()});
      !r)
    return r.error();
  auto written = blobs_.write(blob_id, source, limits_.max_file_bytes);
  if (!written) {
    if (written.error().kind == ErrorKind::internal)
      log_.error("cannot store a file's bytes", {{"where", blobs_.where(blob_id)}, {"error", written.error().message}});
    abandon(blob_id);
    return written.error();
  }
  auto committed = commit_put(call, collection, name, blob_id, *written, content_type, metadata);
  if (!committed) abandon(blob_id);
  return committed;
}

void FilesStore::abandon(const std::string& blob_id) {
  // Best effort; what remains is the sweep's. The bytes go unless the blob
  // is live: a commit that reported an error may still have happened (a
  // connection lost at COMMIT), and a blob the sweep freed meanwhile may
  // have got bytes written after it.
  auto rows = db_.query("SELECT state FROM files_blobs WHERE blob_id = ?", {blob_id});
  if (!rows || (!rows->empty() && rows->rows[0][0].as_string() == "live")) return;
  if (blobs_.remove(blob_id))
    (void)db_.execute("DELETE FROM files_blobs WHERE blob_id = ? AND state IN ('writing', 'doomed')", {blob_id});
}

sdk::Result<std::int64_t> FilesStore::pending_bytes(sdk::Transaction* tx, std::string_view app) {
  if (blobs_.frees_dropped_at_once()) return std::int64_t{0};
  const std::string sql =
      "SELECT COALESCE(SUM(CASE WHEN size < ? THEN ? ELSE size END), 0) FROM files_blobs "
      "WHERE app_id = ? AND state IN ('dropped', 'doomed')";
  const sdk::Params params{kHeldVersionFloorBytes, kHeldVersionFloorBytes, std::string(app)};
  auto rows = tx ? tx->query(sql, params) : db_.query(sql, params);
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int();
}

sdk::Result<void> FilesStore::check_quota(const Usage& used, std::int64_t pending, std::int64_t old_size,
                                          std::int64_t new_size) const {
  const bool replacing = old_size >= 0;
  const std::int64_t files = used.files + (replacing ? 0 : 1);
  if (limits_.quota_files > 0 && files > limits_.quota_files && files > used.files)
    return make_error(ErrorKind::conflict, "quota_exceeded",
                      "the app would have " + std::to_string(files) + " files; its quota is " +
                          std::to_string(limits_.quota_files) + " ([files] quota_files)");
  if (limits_.quota_bytes <= 0) return {};
  // A replaced version is held until the sweep frees it where a reader may
  // still be reading it (the database backend): it counts until then.
  const std::int64_t held_old =
      replacing && !blobs_.frees_dropped_at_once() ? std::max(old_size, kHeldVersionFloorBytes) : 0;
  const std::int64_t before = used.bytes + pending;
  const std::int64_t after = used.bytes - (replacing ? old_size : 0) + new_size + pending + held_old;
  if (after > limits_.quota_bytes && after > before)
    return make_error(ErrorKind::conflict, "quota_exceeded",
                      "the app's files would take " + std::to_string(after) + " bytes" +
                          (pending + held_old > 0 ? " (" + std::to_string(pending + held_old) +
                                                        " of them replaced or deleted versions the sweep has not freed "
                                                        "yet)"
                                                  : "") +
                          "; its quota is " + std::to_string(limits_.quota_bytes) + " ([files] quota_bytes)");
  return {};
}

sdk::Result<Usage> FilesStore::lock_usage(sdk::Transaction& tx, std::string_view app) {
  if (auto r = tx.execute("INSERT INTO files_usage (app_id, bytes, files) VALUES (?, 0, 0) ON CONFLICT (app_id) DO NOTHING",
                          {app});
      !r)
    return r.error();
  auto rows = tx.query("SELECT bytes, files FROM files_usage WHERE app_id = ?" + lock_clause_, {app});
  if (!rows) return rows.error();
  // Deleted under our feet: the app's deletion held the lock, then took
  // the row with it.
  if (rows->empty()) return make_error(ErrorKind::not_found, "the app was deleted");
  return Usage{rows->rows[0][0].as_int(), rows->rows[0][1].as_int()};
}

void FilesStore::drop_after_commit(sdk::Transaction& tx, const std::string& blob_id) {
  if (!blobs_.frees_dropped_at_once()) return;
  (void)tx.after_commit([this, blob_id] {
    if (auto r = db_.execute("UPDATE files_blobs SET state = 'doomed' WHERE blob_id = ? AND state = 'dropped'", {blob_id});
        r && *r == 1)
      free({blob_id});
  });
}

sdk::Result<FileHead> FilesStore::commit_put(const sdk::CallContext& call, std::string_view collection,
                                             std::string_view name, const std::string& blob_id,
                                             const Written& written, const std::string& content_type,
                                             const std::string& metadata) {
  FileHead stored;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto used = lock_usage(tx, call.app_id);
    if (!used) return used.error();
    // The app's deletion took the usage row's lock first: once it has
    // committed, an upload that was still running stores nothing.
    auto deleted = tx.query("SELECT 1 FROM files_deleted_apps WHERE app_id = ?", {call.app_id});
    if (!deleted) return deleted.error();
    if (!deleted->empty()) return make_error(ErrorKind::not_found, "the app was deleted");
    auto rows = tx.query("SELECT " + std::string(kColumns) +
                             " FROM files_objects WHERE app_id = ? AND collection = ? AND name = ?" + lock_clause_,
                         {call.app_id, collection, name});
    if (!rows) return rows.error();
    std::optional<FileHead> old;
    if (!rows->empty()) old = head_of(rows->rows[0]);
    const std::int64_t bytes = used->bytes - (old ? old->size : 0) + written.size;
    const std::int64_t files = used->files + (old ? 0 : 1);
    auto pending = pending_bytes(&tx, call.app_id);
    if (!pending) return pending.error();
    if (auto ok = check_quota(*used, *pending, old ? old->size : -1, written.size); !ok) return ok.error();
    // The sweep may have doomed an upload that outlived its grace period.
    auto claimed = tx.execute("UPDATE files_blobs SET state = 'live', size = ? WHERE blob_id = ? AND state = 'writing'",
                              {written.size, blob_id});
    if (!claimed) return claimed.error();
    if (*claimed != 1)
      return make_error(ErrorKind::unavailable, "the upload took longer than the sweep's grace period; try again");
    const std::int64_t now = now_();
    stored = FileHead{std::string(collection), std::string(name), blob_id, written.size, content_type,
                      written.sha256, Value::object(), old ? old->version + 1 : 1, old ? old->created_at : now, now};
    if (auto m = sdk::parse_json(metadata, kMetadataDepth)) stored.metadata = std::move(*m);
    if (old) {
      auto n = tx.execute(
          "UPDATE files_objects SET blob_id = ?, size = ?, content_type = ?, sha256 = ?, metadata = ?, version = ?, "
          "updated_at = ?, corrupted = 0 WHERE app_id = ? AND collection = ? AND name = ?",
          {blob_id, written.size, content_type, written.sha256, metadata, stored.version, now, call.app_id,
           collection, name});
      if (!n) return n.error();
      auto dropped =
          tx.execute("UPDATE files_blobs SET state = 'dropped', dropped_at = ? WHERE blob_id = ?", {now, old->blob_id});
      if (!dropped) return dropped.error();
      drop_after_commit(tx, old->blob_id);
    } else {
      auto n = tx.execute("INSERT INTO files_objects (app_id, " + std::string(kInsertColumns) +
                              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          {call.app_id, collection, name, blob_id, written.size, content_type, written.sha256, metadata,
                           stored.version, now, now});
      if (!n) return n.error();
    }
    if (auto u = tx.execute("UPDATE files_usage SET bytes = ?, files = ? WHERE app_id = ?", {bytes, files, call.app_id});
        !u)
      return u.error();
    auto fired = emit(tx, call, old ? "update" : "insert", collection, name, head_json(stored),
                      old ? head_json(*old) : Value());
    if (!fired) return fired.error();
    return {};
  });
  if (!done) return done.error();
  return stored;
}

sdk::Result<int> FilesStore::emit(sdk::Transaction& tx, const sdk::CallContext& call, std::string_view op,
                                  std::string_view collection, std::string_view name, const Value& file,
                                  const Value& previous) {
  return events_.emit(
      tx, call,
      {"files", std::string(op),
       Value::object({{"collection", collection}, {"name", name}, {"file", file}, {"previous", previous}})});
}

sdk::Result<std::optional<FileHead>> FilesStore::head(std::string_view app, std::string_view collection,
                                                      std::string_view name) {
  auto rows = db_.query("SELECT " + std::string(kColumns) +
                            " FROM files_objects WHERE app_id = ? AND collection = ? AND name = ?",
                        {app, collection, name});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<FileHead>();
  return std::optional<FileHead>(head_of(rows->rows[0]));
}

void FilesStore::missing(std::string_view app, const FileHead& head) {
  log_.error("a stored file's bytes are missing",
             {{"app", std::string(app)}, {"collection", head.collection}, {"name", head.name},
              {"where", blobs_.where(head.blob_id)}});
}

void FilesStore::corrupted(std::string_view app, const FileHead& head) {
  corrupted_.inc();
  // Marked, so that ranges of it (which are not checked) are refused too,
  // until the file is replaced.
  (void)db_.execute("UPDATE files_objects SET corrupted = ? WHERE app_id = ? AND blob_id = ?",
                    {now_(), app, head.blob_id});
  log_.error("a stored file is corrupted: its bytes do not match their SHA-256 (kept as it is for inspection)",
             {{"app", std::string(app)},
              {"collection", head.collection},
              {"name", head.name},
              {"where", blobs_.where(head.blob_id)},
              {"sha256", head.sha256}});
}

sdk::Error FilesStore::corrupted_error(const FileHead& head) {
  return make_error(ErrorKind::internal, "corrupted",
                    "file '" + head.name + "' is corrupted: its bytes do not match their SHA-256");
}

sdk::Result<std::shared_ptr<sdk::BodyStream>> FilesStore::open(std::string_view app, const FileHead& head,
                                                               std::int64_t offset, std::int64_t length,
                                                               bool verify) {
  if (head.corrupted) return corrupted_error(head);
  const bool whole = offset == 0 && length == head.size;
  auto stream = blobs_.open(head.blob_id, head.size, offset, length, !(verify && whole));
  if (!stream) {
    if (stream.error().code == "corrupted") corrupted(app, head);
    return stream.error();
  }
  if (!(verify && whole) || head.size == 0) return stream;
  return std::shared_ptr<sdk::BodyStream>(std::make_shared<VerifiedBody>(
      std::move(*stream), head.sha256, [this, app = std::string(app), head] { corrupted(app, head); }));
}

sdk::Result<std::optional<std::pair<FileHead, std::string>>> FilesStore::read_all(std::string_view app,
                                                                                  std::string_view collection,
                                                                                  std::string_view name,
                                                                                  std::int64_t max_bytes) {
  using Found = std::optional<std::pair<FileHead, std::string>>;
  // A replace between reading the row and opening its bytes frees the old
  // blob at once (local backend): read the row again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto found = head(app, collection, name);
    if (!found) return found.error();
    if (!*found) return Found();
    const FileHead& h = **found;
    if (h.size > max_bytes)
      return make_error(ErrorKind::invalid_argument, "file_too_large",
                        "file '" + h.name + "' is " + std::to_string(h.size) + " bytes; a script reads at most " +
                            std::to_string(max_bytes) + " ([files] script_max_bytes): answer with serve() instead");
    auto stream = open(app, h, 0, h.size, false);
    if (!stream) {
      if (stream.error().code == "missing" && attempt < 2) continue;
      if (stream.error().code == "missing") missing(app, h);
      return stream.error();
    }
    std::string bytes(static_cast<std::size_t>(h.size), '\0');
    std::size_t at = 0;
    while (at < bytes.size()) {
      auto n = (*stream)->read(bytes.data() + at, bytes.size() - at);
      if (!n) return n.error();
      if (*n == 0) return make_error(ErrorKind::internal, "corrupted", "file '" + h.name + "' is shorter than its record");
      at += *n;
    }
    Sha256 hash;
    hash.update(bytes);
    if (hash.hex() != h.sha256) {
      corrupted(app, h);
      return corrupted_error(h);
    }
    return Found(std::make_pair(h, std::move(bytes)));
  }
  return make_error(ErrorKind::unavailable, "file '" + std::string(name) + "' is being replaced; try again");
}

sdk::Result<std::optional<FileHead>> FilesStore::patch(const sdk::CallContext& call, std::string_view collection,
                                                       std::string_view name,
                                                       const std::optional<std::string>& content_type,
                                                       const std::optional<std::string>& metadata) {
  std::optional<FileHead> patched;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    patched.reset();
    auto rows = tx.query("SELECT " + std::string(kColumns) +
                             " FROM files_objects WHERE app_id = ? AND collection = ? AND name = ?" + lock_clause_,
                         {call.app_id, collection, name});
    if (!rows) return rows.error();
    if (rows->empty()) return {};
    FileHead old = head_of(rows->rows[0]);
    FileHead next = old;
    if (content_type) next.content_type = *content_type;
    std::string metadata_text = metadata ? *metadata : sdk::to_json(old.metadata);
    if (metadata)
      if (auto m = sdk::parse_json(*metadata, kMetadataDepth)) next.metadata = std::move(*m);
    next.version = old.version + 1;
    next.updated_at = now_();
    auto n = tx.execute(
        "UPDATE files_objects SET content_type = ?, metadata = ?, version = ?, updated_at = ? "
        "WHERE app_id = ? AND collection = ? AND name = ?",
        {next.content_type, metadata_text, next.version, next.updated_at, call.app_id, collection, name});
    if (!n) return n.error();
    auto fired = emit(tx, call, "update", collection, name, head_json(next), head_json(old));
    if (!fired) return fired.error();
    patched = std::move(next);
    return {};
  });
  if (!done) return done.error();
  return patched;
}

sdk::Result<std::optional<FileHead>> FilesStore::remove(const sdk::CallContext& call, std::string_view collection,
                                                        std::string_view name) {
  std::optional<FileHead> removed;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    removed.reset();
    auto used = lock_usage(tx, call.app_id);
    if (!used) return used.error();
    auto rows = tx.query("DELETE FROM files_objects WHERE app_id = ? AND collection = ? AND name = ? RETURNING " +
                             std::string(kColumns),
                         {call.app_id, collection, name});
    if (!rows) return rows.error();
    if (rows->empty()) return {};
    removed = head_of(rows->rows[0]);
    if (auto u = tx.execute("UPDATE files_usage SET bytes = ?, files = ? WHERE app_id = ?",
                            {used->bytes - removed->size, used->files - 1, call.app_id});
        !u)
      return u.error();
    auto dropped = tx.execute("UPDATE files_blobs SET state = 'dropped', dropped_at = ? WHERE blob_id = ?",
                              {now_(), removed->blob_id});
    if (!dropped) return dropped.error();
    drop_after_commit(tx, removed->blob_id);
    auto fired = emit(tx, call, "delete", collection, name, Value(), head_json(*removed));
    if (!fired) return fired.error();
    return {};
  });
  if (!done) return done.error();
  return removed;
}

sdk::Result<Page<FileHead>> FilesStore::list(std::string_view app, std::string_view collection,
                                             std::string_view prefix, std::string_view after, std::int64_t limit) {
  std::string sql = "SELECT " + std::string(kColumns) +
                    " FROM files_objects WHERE app_id = ? AND collection = ? AND name > ?";
  sdk::Params params{app, collection, after};
  if (!prefix.empty()) {
    sql += " AND substr(name, 1, ?) = ?";
    params.emplace_back(char_count(prefix));
    params.emplace_back(prefix);
  }
  sql += " ORDER BY name LIMIT ?";
  params.emplace_back(limit + 1);  // one more tells whether another page follows
  auto rows = db_.query(sql, params);
  if (!rows) return rows.error();
  Page<FileHead> page;
  for (const auto& row : rows->rows) {
    if (static_cast<std::int64_t>(page.items.size()) == limit) {
      page.next = page.items.back().name;
      break;
    }
    page.items.push_back(head_of(row));
  }
  return page;
}

sdk::Result<Page<CollectionInfo>> FilesStore::collections(std::string_view app, std::string_view after,
                                                          std::int64_t limit) {
  auto rows = db_.query(
      "SELECT collection, COUNT(*), COALESCE(SUM(size), 0) FROM files_objects WHERE app_id = ? AND collection > ? "
      "GROUP BY collection ORDER BY collection LIMIT ?",
      {app, after, limit + 1});
  if (!rows) return rows.error();
  Page<CollectionInfo> page;
  for (const auto& row : rows->rows) {
    if (static_cast<std::int64_t>(page.items.size()) == limit) {
      page.next = page.items.back().name;
      break;
    }
    page.items.push_back({row[0].as_string(), row[1].as_int(), row[2].as_int()});
  }
  return page;
}

sdk::Result<Usage> FilesStore::usage(std::string_view app) {
  auto rows = db_.query("SELECT bytes, files FROM files_usage WHERE app_id = ?", {app});
  if (!rows) return rows.error();
  if (rows->empty()) return Usage{};
  return Usage{rows->rows[0][0].as_int(), rows->rows[0][1].as_int()};
}

sdk::Result<void> FilesStore::delete_app(sdk::Transaction& tx, std::string_view app) {
  // The usage row first, as every write takes it: a put committing at the
  // same moment waits, then finds the tombstone.
  if (auto used = lock_usage(tx, app); !used) return used.error();
  if (auto r = tx.execute("INSERT INTO files_deleted_apps (app_id, deleted_at) VALUES (?, ?) ON CONFLICT (app_id) DO NOTHING",
                          {app, now_()});
      !r)
    return r.error();
  // The blob rows in id order, as the sweep takes them: the two never wait
  // on each other in a circle.
  if (auto r = tx.query("SELECT blob_id FROM files_blobs WHERE app_id = ? ORDER BY blob_id" + lock_clause_, {app}); !r)
    return r.error();
  for (const char* sql : {"UPDATE files_blobs SET state = 'doomed' WHERE app_id = ?",
                          "DELETE FROM files_objects WHERE app_id = ?", "DELETE FROM files_usage WHERE app_id = ?"})
    if (auto r = tx.execute(sql, {app}); !r) return r.error();
  return tx.after_commit([this, app = std::string(app)] {
    std::int64_t n = free_doomed(app);
    log_.info("deleted app's files removed", {{"app", app}, {"blobs", std::to_string(n)}});
  });
}

sdk::Result<std::vector<std::string>> FilesStore::doom_expired(sdk::Transaction& tx, std::int64_t grace_ms,
                                                              std::int64_t batch) {
  const std::int64_t cutoff = now_() - grace_ms;
  auto rows = tx.query(
      "SELECT blob_id FROM files_blobs WHERE state = 'doomed' OR (state = 'writing' AND created_at < ?) "
      "OR (state = 'dropped' AND dropped_at < ?) ORDER BY blob_id LIMIT ?",
      {cutoff, cutoff, batch});
  if (!rows) return rows.error();
  std::vector<std::string> ids;
  for (const auto& row : rows->rows) {
    auto n = tx.execute(
        "UPDATE files_blobs SET state = 'doomed' WHERE blob_id = ? AND (state = 'doomed' OR "
        "(state = 'writing' AND created_at < ?) OR (state = 'dropped' AND dropped_at < ?))",
        {row[0], cutoff, cutoff});
    if (!n) return n.error();
    if (*n == 1) ids.push_back(row[0].as_string());
  }
  return ids;
}

sdk::Result<std::vector<std::string>> FilesStore::doom_expired(std::int64_t grace_ms, std::int64_t batch) {
  sdk::Result<std::vector<std::string>> ids = std::vector<std::string>();
  auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    ids = doom_expired(tx, grace_ms, batch);
    if (!ids) return ids.error();
    return {};
  });
  if (!r) return r.error();
  return ids;
}

std::int64_t FilesStore::free(const std::vector<std::string>& blob_ids) {
  std::int64_t freed = 0;
  // A backup is copying the bytes: they stay, doomed, for the next sweep.
  if (blobs_.removals_held()) return 0;
  for (const auto& id : blob_ids) {
    // Bytes first, then the row: a crash in between leaves the row, and
    // the next sweep tries again.
    if (auto r = blobs_.remove(id); !r) {
      log_.warn("cannot remove a blob's bytes", {{"where", blobs_.where(id)}, {"error", r.error().message}});
      continue;
    }
    if (auto r = db_.execute("DELETE FROM files_blobs WHERE blob_id = ? AND state = 'doomed'", {id}); r && *r == 1)
      ++freed;
  }
  return freed;
}

std::int64_t FilesStore::free_doomed(std::string_view app) {
  std::int64_t freed = 0;
  for (;;) {
    auto rows = db_.query("SELECT blob_id FROM files_blobs WHERE app_id = ? AND state = 'doomed' LIMIT 500", {app});
    if (!rows || rows->empty()) break;
    std::vector<std::string> ids;
    for (const auto& row : rows->rows) ids.push_back(row[0].as_string());
    std::int64_t n = free(ids);
    freed += n;
    if (n == 0) break;  // nothing could go: the sweep tries later
  }
  return freed;
}

sdk::Result<FilesStore::Audit> FilesStore::audit(std::string_view after, std::int64_t batch) {
  auto rows = db_.query(
      "SELECT o.blob_id, o.size, o.app_id, o.collection, o.name FROM files_objects o WHERE o.blob_id > ? "
      "ORDER BY o.blob_id LIMIT ?",
      {after, batch});
  if (!rows) return rows.error();
  Audit audit;
  for (const auto& row : rows->rows) {
    audit.last = row[0].as_string();
    auto present = blobs_.present(audit.last, row[1].as_int());
    if (!present) return present.error();
    if (!*present) {
      ++audit.missing;
      log_.error("a stored file's bytes are missing or incomplete",
                 {{"app", row[2].as_string()},
                  {"collection", row[3].as_string()},
                  {"name", row[4].as_string()},
                  {"where", blobs_.where(audit.last)}});
    }
  }
  if (static_cast<std::int64_t>(rows->size()) < batch) audit.last.clear();
  return audit;
}

}  // namespace picloud::files
