// Blobs as chunks in the database (files_chunks: blob id, sequence number,
// up to chunk_bytes each), so that every node sharing one PostgreSQL
// serves the same files. Chunks are written in transactions of a few MiB
// each, so a large upload never holds SQLite's write lock for long; the
// blob is only readable through its file row, which is written after the
// last chunk committed.
#pragma once

#include "blob_store.hpp"
#include "picloud/sdk/database.hpp"

namespace picloud::files {

class DatabaseBlobs final : public BlobStore {
 public:
  // `room_dir`, when not empty, is a directory on the database's disk
  // (SQLite's): writes leave `reserve_bytes` of it free.
  DatabaseBlobs(sdk::Database& db, std::int64_t chunk_bytes, std::string room_dir, std::int64_t reserve_bytes)
      : db_(db), chunk_bytes_(chunk_bytes), room_dir_(std::move(room_dir)), reserve_(reserve_bytes) {}

  std::string_view backend() const override { return "database"; }
  sdk::Result<Written> write(const std::string& id, ByteSource& source, std::int64_t max_bytes) override;
  sdk::Result<std::shared_ptr<sdk::BodyStream>> open(const std::string& id, std::int64_t size, std::int64_t offset,
                                                     std::int64_t length, bool plain_file) override;
  sdk::Result<void> remove(const std::string& id) override;
  sdk::Result<bool> present(const std::string& id, std::int64_t size) override;
  std::string where(const std::string& id) const override { return "files_chunks, blob " + id; }
  bool frees_dropped_at_once() const override { return false; }

 private:
  sdk::Database& db_;
  std::int64_t chunk_bytes_;
  std::string room_dir_;
  std::int64_t reserve_;
};

}  // namespace picloud::files
