// The files data: rows in files_objects keyed by (app, collection, name),
// each pointing at one blob (files_blobs) whose bytes a BlobStore keeps.
// Every read and write is scoped by an app id from the call context; a
// change and the event it emits share one transaction.
//
// A put writes the bytes first, under a new blob id, and only then, in one
// transaction, points the file's row at them (checking the app's quota),
// marks the replaced blob dropped and emits the event: a reader sees the
// old file or the new one, never a mix, and a crash leaves at most a blob
// without a row, which the sweep removes after its grace period.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blob_store.hpp"
#include "files_rules.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/log.hpp"
#include "picloud/sdk/metrics.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/triggers.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::files {

struct FileHead {
  std::string collection;
  std::string name;
  std::string blob_id;
  std::int64_t size = 0;
  std::string content_type;
  std::string sha256;  // hex
  sdk::Value metadata;  // an object
  std::int64_t version = 0;  // 1 when stored, +1 on every replace or patch
  std::int64_t created_at = 0;  // ms since the epoch
  std::int64_t updated_at = 0;
  bool corrupted = false;  // a read found its bytes changed; refused until replaced
};

// A head as scripts and events see it (times in ms since the epoch) and as
// the admin API shows it (times in RFC 3339).
sdk::Value head_json(const FileHead& head);
sdk::Value head_admin_json(const FileHead& head);

template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next;  // the last item's position
};

struct CollectionInfo {
  std::string name;
  std::int64_t files = 0;
  std::int64_t bytes = 0;
};

struct Usage {
  std::int64_t bytes = 0;
  std::int64_t files = 0;
};

// Bytes held in memory, as a script's put() gives them.
class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(bytes_.size()); }
  sdk::Result<std::size_t> read(char* buffer, std::size_t capacity) override {
    std::size_t n = std::min(capacity, bytes_.size() - at_);
    std::copy_n(bytes_.data() + at_, n, buffer);
    at_ += n;
    return n;
  }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

// Bytes of a spooled request body: `size` of them from `offset`. The whole
// body (offset 0, all of it) may be linked into place instead of copied; a
// part of it (a multipart part) may not.
class SpoolSource final : public ByteSource {
 public:
  SpoolSource(int fd, std::int64_t offset, std::int64_t size, bool whole)
      : fd_(fd), offset_(offset), size_(size), whole_(whole) {}
  std::int64_t size() const override { return size_; }
  sdk::Result<std::size_t> read(char* buffer, std::size_t capacity) override;
  int linkable_fd() const override { return whole_ ? fd_ : -1; }

 private:
  int fd_;
  std::int64_t offset_, size_;
  bool whole_;
  std::int64_t at_ = 0;
};

using Clock = std::function<std::int64_t()>;  // ms since the epoch
std::int64_t system_now_ms();

class FilesStore {
 public:
  // `corrupted` counts reads that found bytes not matching their SHA-256.
  FilesStore(sdk::Database& db, sdk::EventSink& events, BlobStore& blobs, sdk::Logger& log,
             sdk::Counter& corrupted, Limits limits, Clock now = system_now_ms);

  BlobStore& blobs() { return blobs_; }
  const Limits& limits() const { return limits_; }

  // Stores `source` as the file (created or replaced) for call.app_id.
  // content_type must be checked already (content_type_for), metadata is
  // JSON text from encode_metadata.
  sdk::Result<FileHead> put(const sdk::CallContext& call, std::string_view collection, std::string_view name,
                            ByteSource& source, const std::string& content_type, const std::string& metadata);
  sdk::Result<std::optional<FileHead>> head(std::string_view app, std::string_view collection, std::string_view name);
  // The file's bytes, verified against their SHA-256 (code corrupted when
  // they do not match; logged with where they are, never deleted), at most
  // `max_bytes` of them (invalid_argument beyond: a larger file is served,
  // not read whole).
  sdk::Result<std::optional<std::pair<FileHead, std::string>>> read_all(std::string_view app,
                                                                        std::string_view collection,
                                                                        std::string_view name, std::int64_t max_bytes);
  // The error of a read of a file whose bytes no longer match their SHA-256.
  static sdk::Error corrupted_error(const FileHead& head);
  // Logs that a file's bytes are gone (a reader found them missing after
  // reading its row again, in case it was replaced meanwhile).
  void missing(std::string_view app, const FileHead& head);
  // A stream of [offset, offset + length) of the file. `verify` (only for
  // the whole file) checks the SHA-256 as the bytes go out and withholds
  // the last of them when it does not match, so the client sees a body
  // cut short, never a corrupted one taken for whole.
  sdk::Result<std::shared_ptr<sdk::BodyStream>> open(std::string_view app, const FileHead& head, std::int64_t offset,
                                                     std::int64_t length, bool verify);
  // Changes a file's content type and/or metadata (version + 1, an update
  // event); nothing when there is no such file.
  sdk::Result<std::optional<FileHead>> patch(const sdk::CallContext& call, std::string_view collection,
                                             std::string_view name, const std::optional<std::string>& content_type,
                                             const std::optional<std::string>& metadata);
  // The file deleted, or nothing when there was none.
  sdk::Result<std::optional<FileHead>> remove(const sdk::CallContext& call, std::string_view collection,
                                              std::string_view name);
  sdk::Result<Page<FileHead>> list(std::string_view app, std::string_view collection, std::string_view prefix,
                                   std::string_view after, std::int64_t limit);
  sdk::Result<Page<CollectionInfo>> collections(std::string_view app, std::string_view after, std::int64_t limit);
  sdk::Result<Usage> usage(std::string_view app);

  // An app's deletion, inside its transaction: its rows go, its blobs are
  // doomed; after the commit free_doomed(app) removes their bytes.
  sdk::Result<void> delete_app(sdk::Transaction& tx, std::string_view app);

  // The sweep, one pass. In the leader's transaction: dooms up to `batch`
  // blobs whose upload was abandoned, or that were dropped, more than
  // `grace_ms` ago; returns their ids, whose bytes free() then removes
  // after the commit.
  sdk::Result<std::vector<std::string>> doom_expired(sdk::Transaction& tx, std::int64_t grace_ms, std::int64_t batch);
  // The same in a transaction of its own (a backlog, after the first batch).
  sdk::Result<std::vector<std::string>> doom_expired(std::int64_t grace_ms, std::int64_t batch);
  // Removes doomed blobs' bytes, then their rows; returns how many went.
  std::int64_t free(const std::vector<std::string>& blob_ids);
  // Every doomed blob of one app (an app deleted), in batches.
  std::int64_t free_doomed(std::string_view app);
  // Checks up to `batch` live blobs after `after` (blob id order) for
  // their bytes and logs each file whose bytes are missing; returns the
  // last id checked (empty at the end of the table) and how many missed.
  struct Audit {
    std::string last;
    std::int64_t missing = 0;
  };
  sdk::Result<Audit> audit(std::string_view after, std::int64_t batch);

 private:
  static constexpr std::int64_t kHeldVersionFloorBytes = 512;
  sdk::Result<FileHead> commit_put(const sdk::CallContext& call, std::string_view collection, std::string_view name,
                                   const std::string& blob_id, const Written& written, const std::string& content_type,
                                   const std::string& metadata);
  sdk::Result<int> emit(sdk::Transaction& tx, const sdk::CallContext& call, std::string_view op,
                        std::string_view collection, std::string_view name, const sdk::Value& file,
                        const sdk::Value& previous);
  // Locks the app's usage row (PostgreSQL: FOR UPDATE), creating it.
  sdk::Result<Usage> lock_usage(sdk::Transaction& tx, std::string_view app);
  void drop_after_commit(sdk::Transaction& tx, const std::string& blob_id);
  // Removes an upload's bytes and row after it failed, unless it went live.
  void abandon(const std::string& blob_id);
  // The app's replaced and deleted versions not freed yet (0 where they go
  // at once), which count against its quota: each as at least
  // kHeldVersionFloorBytes, what its rows cost, or replacing an empty file
  // in a loop would pile up rows the quota never sees.
  sdk::Result<std::int64_t> pending_bytes(sdk::Transaction* tx, std::string_view app);
  // Whether the app may hold `new_size` more bytes (replacing a file of
  // `old_size`, or -1 for a new file): quota_exceeded when not.
  sdk::Result<void> check_quota(const Usage& used, std::int64_t pending, std::int64_t old_size,
                                std::int64_t new_size) const;
  void corrupted(std::string_view app, const FileHead& head);

  sdk::Database& db_;
  sdk::EventSink& events_;
  BlobStore& blobs_;
  sdk::Logger& log_;
  sdk::Counter& corrupted_;
  Limits limits_;
  Clock now_;
  std::string lock_clause_;  // " FOR UPDATE" on PostgreSQL
};

}  // namespace picloud::files
