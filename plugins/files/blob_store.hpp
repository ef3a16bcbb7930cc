// Where files' bytes live. A blob is one version of one file's bytes, named
// by a random id that its row in files_blobs records (the store, not the
// backend, owns the rows); a backend only writes, reads and removes bytes:
//   local     one file per blob under the plugin's data directory
//             (local_blobs.cpp)
//   database  chunks in the files_chunks table, so nodes sharing a
//             PostgreSQL share files (database_blobs.cpp)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"

namespace picloud::files {

// The bytes of an upload, read once from the start.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // The number of bytes, or -1 when only the end tells (a multipart part).
  virtual std::int64_t size() const = 0;
  // The next bytes, at most `capacity`; 0 at the end.
  virtual sdk::Result<std::size_t> read(char* buffer, std::size_t capacity) = 0;
  // A file holding exactly these bytes from offset 0 that the backend may
  // link into place instead of copying (an unlinked spooled body), or -1.
  virtual int linkable_fd() const { return -1; }
};

// What a backend wrote: the bytes' length and SHA-256 (hex).
struct Written {
  std::int64_t size = 0;
  std::string sha256;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual std::string_view backend() const = 0;  // "local" or "database"

  // Writes `source` as blob `id`, durably (on disk or committed) once it
  // returns, refusing past `max_bytes` (code file_too_large). Nothing of
  // the blob is readable before it returns; on an error, remove() cleans
  // up what was written.
  virtual sdk::Result<Written> write(const std::string& id, ByteSource& source, std::int64_t max_bytes) = 0;
  // A stream of the blob's bytes [offset, offset + length) of a blob of
  // `size` bytes. A file backend may give a file range (sent with
  // sendfile) when `plain_file` allows it; otherwise a producer. not_found
  // (code missing) when the bytes are gone.
  virtual sdk::Result<std::shared_ptr<sdk::BodyStream>> open(const std::string& id, std::int64_t size,
                                                             std::int64_t offset, std::int64_t length,
                                                             bool plain_file) = 0;
  // Removes the blob's bytes, written or half written; nothing when there
  // are none.
  virtual sdk::Result<void> remove(const std::string& id) = 0;
  // Whether the blob's bytes are all there (the sweep's check of live rows).
  virtual sdk::Result<bool> present(const std::string& id, std::int64_t size) = 0;
  // Where the blob is, for logs: a path, or the table and id.
  virtual std::string where(const std::string& id) const = 0;
  // Whether a blob dropped by a replace or delete may go at once. A local
  // file may (a reader that has it open keeps reading); chunks may not (a
  // reader mid-stream reads them one by one), so they wait for the sweep's
  // grace period.
  virtual bool frees_dropped_at_once() const = 0;
  // Whether removing blobs that were live must wait: `picloud backup` is
  // copying the bytes and holds the lock on `.backup-hold` in the plugin's
  // data directory (kernel/backup/plugin_data.hpp). A blob its database
  // snapshot names may have been dropped since; left in place, the backup
  // finds it. Their rows stay doomed, and the sweep frees them afterwards.
  virtual bool removals_held() const { return false; }
  // The sweep's own clean-up, beyond blobs with rows (temp files left by a
  // crash); returns how many it removed.
  virtual sdk::Result<std::int64_t> sweep_strays(std::int64_t /*older_than_ms*/) { return std::int64_t{0}; }
};

}  // namespace picloud::files
