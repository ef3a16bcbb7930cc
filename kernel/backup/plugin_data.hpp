// Plugins' data directories (<data_dir>/plugins/<name>/) in a backup.
//
// A plugin may keep files there that its rows name (the files plugin's
// blobs). A plugin writes such a file before the row that names it commits,
// so every file a database snapshot names existed when the snapshot was
// taken. What could still lose one is the plugin removing it after the
// snapshot, before the copy reaches it. So, from before the snapshot until
// the copy ends, a backup holds a shared lock (flock) on `.backup-hold` in
// each plugin's data directory, and a plugin must not remove a file that a
// snapshot taken meanwhile may name while that lock is held (it leaves the
// removal for later: files/blob_store.hpp). The lock goes with the backup
// process, so a crashed backup holds nothing back.
//
// Not copied: `tmp/` at the top of a plugin's directory (work in progress:
// uploads under way, which no row names yet) and the hold file itself.
#pragma once

#include <string>
#include <vector>

#include "kernel/backup/file_copy.hpp"
#include "kernel/backup/manifest.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::kernel::backup {

inline constexpr const char* kHoldFile = ".backup-hold";

// The holds on every plugin's data directory, released when destroyed.
class PluginDataHolds {
 public:
  static sdk::Result<PluginDataHolds> take(const std::string& data_dir);
  PluginDataHolds(PluginDataHolds&& other) noexcept : fds_(std::move(other.fds_)) { other.fds_.clear(); }
  PluginDataHolds(const PluginDataHolds&) = delete;
  PluginDataHolds& operator=(const PluginDataHolds&) = delete;
  ~PluginDataHolds();

 private:
  PluginDataHolds() = default;
  std::vector<int> fds_;
};

// Copies <data_dir>/plugins/ to <dest>/plugins/; the files copied, named
// "plugins/<name>/...". A file that went while the copy ran is skipped
// (under the holds, only files no snapshot names go).
sdk::Result<std::vector<ManifestFile>> copy_plugin_data(const std::string& data_dir, const std::string& dest);

// conflict naming the first of the backup's plugin files that exists
// under `data_dir` already: a restore never overwrites.
sdk::Result<void> check_plugin_data_absent(const std::string& data_dir, const std::vector<ManifestFile>& files);
// Copies the backup's plugin files into `data_dir`, checking each
// against its SHA-256 again as it goes.
sdk::Result<void> restore_plugin_data(const std::string& src, const std::string& data_dir,
                                      const std::vector<ManifestFile>& files);

}  // namespace picloud::kernel::backup
