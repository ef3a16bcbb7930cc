#include "database_blobs.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "disk_room.hpp"
#include "sha256.hpp"

namespace picloud::files {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

// Chunks committed per transaction: a few MiB, so the write lock is held
// for milliseconds, not for the whole upload.
constexpr std::int64_t kBytesPerTransaction = 8LL << 20;

// Reads chunk after chunk of one blob, starting inside the first.
class ChunkReader final : public sdk::BodyStream {
 public:
  ChunkReader(sdk::Database& db, std::string id, std::int64_t chunk_bytes, std::int64_t offset, std::int64_t length)
      : db_(db), id_(std::move(id)), chunk_bytes_(chunk_bytes), next_seq_(offset / chunk_bytes), length_(length) {
    skip_ = offset % chunk_bytes;
  }
  std::int64_t length() const override { return length_; }
  sdk::Result<std::size_t> read(char* buffer, std::size_t capacity) override {
    if (sent_ >= length_) return std::size_t{0};
    if (at_ >= chunk_.size()) {
      auto rows = db_.query("SELECT data FROM files_chunks WHERE blob_id = ? AND seq = ?", {id_, next_seq_});
      if (!rows) return rows.error();
      if (rows->empty() || !rows->rows[0][0].is_bytes())
        return make_error(ErrorKind::not_found, "missing",
                          "chunk " + std::to_string(next_seq_) + " of blob " + id_ + " is missing");
      chunk_ = rows->rows[0][0].as_bytes();
      at_ = static_cast<std::size_t>(std::min<std::int64_t>(skip_, static_cast<std::int64_t>(chunk_.size())));
      skip_ = 0;
      ++next_seq_;
      if (at_ >= chunk_.size()) return make_error(ErrorKind::internal, "corrupted", "blob " + id_ + " has an empty chunk");
    }
    std::size_t n = std::min({capacity, chunk_.size() - at_, static_cast<std::size_t>(length_ - sent_)});
    std::copy_n(chunk_.data() + at_, n, buffer);
    at_ += n;
    sent_ += static_cast<std::int64_t>(n);
    return n;
  }

 private:
  sdk::Database& db_;
  std::string id_;
  std::int64_t chunk_bytes_;
  std::int64_t next_seq_;
  std::int64_t skip_ = 0;
  std::int64_t length_;
  std::int64_t sent_ = 0;
  sdk::Bytes chunk_;
  std::size_t at_ = 0;
};

}  // namespace

sdk::Result<Written> DatabaseBlobs::write(const std::string& id, ByteSource& source, std::int64_t max_bytes) {
  Sha256 hash;
  std::int64_t total = 0;
  std::int64_t seq = 0;
  std::vector<sdk::Bytes> pending;
  std::int64_t pending_bytes = 0;
  auto room = [&](std::int64_t more) -> sdk::Result<void> {
    if (room_dir_.empty()) return {};
    return check_room(room_dir_, more, reserve_);
  };
  if (auto r = room(std::max<std::int64_t>(source.size(), 0)); !r) return r.error();
  auto flush = [&]() -> sdk::Result<void> {
    if (pending.empty()) return {};
    if (auto r = room(pending_bytes); !r) return r;
    auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      std::int64_t s = seq;
      for (auto& chunk : pending) {
        auto n = tx.execute("INSERT INTO files_chunks (blob_id, seq, data) VALUES (?, ?, ?)",
                            {id, s++, Value(std::move(chunk))});
        if (!n) return n.error();
      }
      return {};
    });
    if (!r) return r;
    seq += static_cast<std::int64_t>(pending.size());
    pending.clear();
    pending_bytes = 0;
    return {};
  };
  for (;;) {
    sdk::Bytes chunk(static_cast<std::size_t>(chunk_bytes_));
    std::size_t filled = 0;
    while (filled < chunk.size()) {
      auto n = source.read(reinterpret_cast<char*>(chunk.data()) + filled, chunk.size() - filled);
      if (!n) return n.error();
      if (*n == 0) break;
      filled += *n;
    }
    if (filled == 0) break;
    chunk.resize(filled);
    total += static_cast<std::int64_t>(filled);
    if (total > max_bytes)
      return make_error(ErrorKind::invalid_argument, "file_too_large",
                        "file is more than " + std::to_string(max_bytes) + " bytes ([files] max_file_bytes)");
    hash.update({reinterpret_cast<const char*>(chunk.data()), chunk.size()});
    pending_bytes += static_cast<std::int64_t>(filled);
    pending.push_back(std::move(chunk));
    if (pending_bytes >= kBytesPerTransaction)
      if (auto r = flush(); !r) return r.error();
    if (static_cast<std::int64_t>(filled) < chunk_bytes_) break;
  }
  if (auto r = flush(); !r) return r.error();
  if (source.size() >= 0 && total != source.size())
    return make_error(ErrorKind::invalid_argument, "the upload ended after " + std::to_string(total) + " of " +
                                                       std::to_string(source.size()) + " bytes");
  return Written{total, hash.hex()};
}

sdk::Result<std::shared_ptr<sdk::BodyStream>> DatabaseBlobs::open(const std::string& id, std::int64_t size,
                                                                  std::int64_t offset, std::int64_t length, bool) {
  if (size > 0 && length > 0) {
    // The first chunk's length is the blob's chunk size, whatever the
    // setting is now.
    auto rows = db_.query("SELECT length(data) FROM files_chunks WHERE blob_id = ? AND seq = 0", {id});
    if (!rows) return rows.error();
    if (rows->empty()) return make_error(ErrorKind::not_found, "missing", "the file's bytes are missing");
    std::int64_t chunk = rows->rows[0][0].as_int();
    if (chunk <= 0) return make_error(ErrorKind::internal, "corrupted", "blob " + id + " has an empty chunk");
    return std::shared_ptr<sdk::BodyStream>(std::make_shared<ChunkReader>(db_, id, chunk, offset, length));
  }
  return std::shared_ptr<sdk::BodyStream>(
      std::make_shared<sdk::GeneratedBody>(0, [](char*, std::size_t) -> sdk::Result<std::size_t> { return 0; }));
}

sdk::Result<void> DatabaseBlobs::remove(const std::string& id) {
  auto n = db_.execute("DELETE FROM files_chunks WHERE blob_id = ?", {id});
  if (!n) return n.error();
  return {};
}

sdk::Result<bool> DatabaseBlobs::present(const std::string& id, std::int64_t size) {
  auto rows = db_.query("SELECT COALESCE(SUM(length(data)), 0) FROM files_chunks WHERE blob_id = ?", {id});
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int() == size;
}

}  // namespace picloud::files
