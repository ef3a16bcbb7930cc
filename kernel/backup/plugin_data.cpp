#include "kernel/backup/plugin_data.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "kernel/private_directory.hpp"

namespace picloud::kernel::backup {
namespace fs = std::filesystem;
namespace {

using sdk::ErrorKind;
using sdk::make_error;

bool is_plugin_file(const std::string& path) { return path.rfind("plugins/", 0) == 0; }

}  // namespace

sdk::Result<PluginDataHolds> PluginDataHolds::take(const std::string& data_dir) {
  PluginDataHolds holds;
  std::error_code ec;
  const fs::path root = fs::path(data_dir) / "plugins";
  if (!fs::is_directory(root, ec)) return holds;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory() || entry.is_symlink()) continue;
    const std::string path = (entry.path() / kHoldFile).string();
    int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return make_error(ErrorKind::unavailable, "cannot open " + path + ": " + std::strerror(errno));
    // Readable by the server's user even when the backup runs as another
    // one (root): a plugin that cannot open it cannot see it held.
    ::fchmod(fd, 0644);
    holds.fds_.push_back(fd);
    if (::flock(fd, LOCK_SH) != 0) return make_error(ErrorKind::unavailable, "cannot lock " + path + ": " + std::strerror(errno));
  }
  if (ec) return make_error(ErrorKind::unavailable, "cannot list " + root.string() + ": " + ec.message());
  return holds;
}

// The hold file is left in place: removing it while another backup holds
// it would let a plugin find no file and think nothing is held.
PluginDataHolds::~PluginDataHolds() {
  for (int fd : fds_) ::close(fd);
}

sdk::Result<std::vector<ManifestFile>> copy_plugin_data(const std::string& data_dir, const std::string& dest) {
  std::vector<ManifestFile> copied;
  const fs::path root = fs::path(data_dir) / "plugins";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return copied;
  // What to copy, and its size for the progress lines.
  std::vector<std::pair<fs::path, std::string>> files;  // source, relative name
  std::int64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::path rel = it->path().lexically_relative(root);
    auto first = rel.begin();
    const bool top_of_plugin = std::distance(rel.begin(), rel.end()) == 2;
    if (top_of_plugin && it->is_directory() && std::next(first)->string() == "tmp") {
      it.disable_recursion_pending();
      continue;
    }
    if (top_of_plugin && rel.filename() == kHoldFile) continue;
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    files.emplace_back(it->path(), "plugins/" + rel.generic_string());
    total += static_cast<std::int64_t>(it->file_size(ec));
  }
  if (ec) return make_error(ErrorKind::unavailable, "cannot list " + root.string() + ": " + ec.message());
  Progress progress("plugin data", total);
  std::set<std::string> made;
  for (const auto& [from, name] : files) {
    const fs::path to = fs::path(dest) / name;
    const std::string dir = to.parent_path().string();
    if (made.insert(dir).second)
      if (auto r = make_private_directory(dir, false); !r) return r.error();
    auto file = copy_file(from.string(), to.string(), progress);
    if (!file) {
      if (file.error().kind == ErrorKind::not_found && !fs::exists(to, ec)) continue;  // it went meanwhile
      return file.error();
    }
    copied.push_back({name, file->size, file->sha256});
  }
  for (const auto& dir : made)
    if (auto r = fsync_directory(dir); !r) return r.error();
  progress.done();
  return copied;
}

sdk::Result<void> check_plugin_data_absent(const std::string& data_dir, const std::vector<ManifestFile>& files) {
  std::error_code ec;
  for (const auto& f : files)
    if (is_plugin_file(f.path) && fs::symlink_status(fs::path(data_dir) / f.path, ec).type() != fs::file_type::not_found)
      return make_error(ErrorKind::conflict, "the data directory " + data_dir + " already holds " + f.path +
                                                 ": restore into a fresh data directory");
  return {};
}

sdk::Result<void> restore_plugin_data(const std::string& src, const std::string& data_dir,
                                      const std::vector<ManifestFile>& files) {
  std::int64_t total = 0;
  for (const auto& f : files)
    if (is_plugin_file(f.path)) total += f.size;
  Progress progress("plugin data", total);
  std::set<std::string> made;
  for (const auto& f : files) {
    if (!is_plugin_file(f.path)) continue;
    const fs::path to = fs::path(data_dir) / f.path;
    const std::string dir = to.parent_path().string();
    if (made.insert(dir).second)
      if (auto r = make_private_directory(dir, false); !r) return r.error();
    auto copied = copy_file((fs::path(src) / f.path).string(), to.string(), progress);
    if (!copied) return copied.error();
    if (copied->sha256 != f.sha256)
      return make_error(ErrorKind::invalid_argument, f.path + " changed while it was restored (its SHA-256 is " +
                                                         copied->sha256 + ", the manifest says " + f.sha256 + ")");
  }
  for (const auto& dir : made)
    if (auto r = fsync_directory(dir); !r) return r.error();
  progress.done();
  return {};
}

}  // namespace picloud::kernel::backup
