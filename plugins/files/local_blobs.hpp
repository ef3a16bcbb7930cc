// Blobs as files under the plugin's data directory:
//   tmp/<id>             while written (created exclusively, mode 0600)
//   blobs/<id[0:2]>/<id>  once whole: fsync'd, renamed into place, and the
//                         directory fsync'd, so a crash leaves a blob either
//                         whole under blobs/ or a temp file the sweep removes
// Readers open the final path only, so they never see a half-written file.
#pragma once

#include <string>

#include "blob_store.hpp"

namespace picloud::files {

class LocalBlobs final : public BlobStore {
 public:
  // Creates tmp/ and blobs/ under `root` (mode 0700). Writes leave
  // `reserve_bytes` of the disk free (storage_full beyond).
  static sdk::Result<std::unique_ptr<LocalBlobs>> open_at(const std::string& root, std::int64_t reserve_bytes);

  std::string_view backend() const override { return "local"; }
  sdk::Result<Written> write(const std::string& id, ByteSource& source, std::int64_t max_bytes) override;
  sdk::Result<std::shared_ptr<sdk::BodyStream>> open(const std::string& id, std::int64_t size, std::int64_t offset,
                                                     std::int64_t length, bool plain_file) override;
  sdk::Result<void> remove(const std::string& id) override;
  sdk::Result<bool> present(const std::string& id, std::int64_t size) override;
  std::string where(const std::string& id) const override { return final_path(id); }
  bool frees_dropped_at_once() const override { return true; }
  bool removals_held() const override;
  sdk::Result<std::int64_t> sweep_strays(std::int64_t older_than_ms) override;

 private:
  LocalBlobs(std::string root, std::int64_t reserve) : root_(std::move(root)), reserve_(reserve) {}
  std::string temp_path(const std::string& id) const { return root_ + "/tmp/" + id; }
  std::string shard_dir(const std::string& id) const { return root_ + "/blobs/" + id.substr(0, 2); }
  std::string final_path(const std::string& id) const { return shard_dir(id) + "/" + id; }
  sdk::Result<Written> copy_into(int fd, ByteSource& source, std::int64_t max_bytes);
  sdk::Result<Written> link_into(int fd, const std::string& id, ByteSource& source, std::int64_t max_bytes);

  std::string root_;
  std::int64_t reserve_;
};

}  // namespace picloud::files
