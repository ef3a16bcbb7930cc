#include "local_blobs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "disk_room.hpp"
#include "sha256.hpp"

namespace picloud::files {
namespace {

using sdk::ErrorKind;
using sdk::make_error;

constexpr std::size_t kBufferBytes = 256 * 1024;
// How often a write of unknown length checks the disk's free space.
constexpr std::int64_t kRoomCheckBytes = 64LL << 20;

// ENOSPC and EDQUOT are the operator's to fix, and say so; anything else
// is an internal failure naming the operation. Messages name no paths
// (they reach scripts and admins); the store logs where the blob is.
sdk::Error io_error(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT)
    return make_error(ErrorKind::unavailable, "storage_full", what + ": the disk is full");
  return make_error(ErrorKind::internal, what + ": " + std::strerror(err));
}

// Creates a directory; whether it did (false: it was there).
sdk::Result<bool> make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return true;
  if (errno != EEXIST) return io_error("cannot create a directory for stored files", errno);
  return false;
}

sdk::Result<void> fsync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open a directory of stored files", errno);
  int r = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (r != 0) return io_error("cannot fsync a directory of stored files", err);
  return {};
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// A file's bytes read with pread from `offset`, `length` of them.
class FileRange final : public sdk::BodyStream {
 public:
  FileRange(int fd, std::int64_t offset, std::int64_t length) : fd_(fd), offset_(offset), length_(length) {}
  std::int64_t length() const override { return length_; }
  sdk::Result<std::size_t> read(char* buffer, std::size_t capacity) override {
    if (read_ >= length_) return std::size_t{0};
    auto want = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(capacity), length_ - read_));
    ssize_t n = ::pread(fd_.get(), buffer, want, offset_ + read_);
    if (n < 0) return make_error(ErrorKind::internal, std::string("cannot read a stored file: ") + std::strerror(errno));
    if (n == 0) return make_error(ErrorKind::internal, "a stored file is shorter than its record");
    read_ += n;
    return static_cast<std::size_t>(n);
  }

 private:
  Fd fd_;
  std::int64_t offset_, length_, read_ = 0;
};

}  // namespace

sdk::Result<std::unique_ptr<LocalBlobs>> LocalBlobs::open_at(const std::string& root, std::int64_t reserve) {
  for (const char* sub : {"", "/tmp", "/blobs"})
    if (auto r = make_dir(root + sub); !r) return r.error();
  return std::unique_ptr<LocalBlobs>(new LocalBlobs(root, reserve));
}

sdk::Result<Written> LocalBlobs::write(const std::string& id, ByteSource& source, std::int64_t max_bytes) {
  const std::string temp = temp_path(id);
  sdk::Result<Written> written = make_error(ErrorKind::internal, "not written");
  if (int spool = source.linkable_fd(); spool >= 0) {
    written = link_into(spool, id, source, max_bytes);  // takes no more room
  } else {
    if (auto room = check_room(root_, std::max<std::int64_t>(source.size(), 0), reserve_); !room) return room.error();
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot create a temporary file", errno);
    Fd file(fd);
    written = copy_into(fd, source, max_bytes);
    if (written && ::fsync(fd) != 0) written = io_error("cannot fsync a temporary file", errno);
  }
  if (!written) return written;
  // Into place: the blob is whole the moment its final name exists. A new
  // shard directory is made durable in blobs/ first.
  const std::string shard = shard_dir(id);
  auto created = make_dir(shard);
  if (!created) return created.error();
  if (*created)
    if (auto r = fsync_dir(root_ + "/blobs"); !r) return r.error();
  if (::rename(temp.c_str(), final_path(id).c_str()) != 0) return io_error("cannot move a file into place", errno);
  if (auto r = fsync_dir(shard); !r) return r.error();
  return written;
}

sdk::Result<Written> LocalBlobs::copy_into(int fd, ByteSource& source, std::int64_t max_bytes) {
  Sha256 hash;
  std::vector<char> buffer(kBufferBytes);
  std::int64_t total = 0;
  for (;;) {
    auto n = source.read(buffer.data(), buffer.size());
    if (!n) return n.error();
    if (*n == 0) break;
    total += static_cast<std::int64_t>(*n);
    if (total > max_bytes)
      return make_error(ErrorKind::invalid_argument, "file_too_large",
                        "file is more than " + std::to_string(max_bytes) + " bytes ([files] max_file_bytes)");
    // Of unknown length (a multipart part): the disk is asked again now and then.
    if (source.size() < 0 && total / kRoomCheckBytes != (total - static_cast<std::int64_t>(*n)) / kRoomCheckBytes)
      if (auto room = check_room(root_, 0, reserve_); !room) return room.error();
    hash.update({buffer.data(), *n});
    if (!write_all(fd, buffer.data(), *n)) return io_error("cannot write a file's bytes", errno);
  }
  if (source.size() >= 0 && total != source.size())
    return make_error(ErrorKind::invalid_argument, "the upload ended after " + std::to_string(total) + " of " +
                                                       std::to_string(source.size()) + " bytes");
  return Written{total, hash.hex()};
}

// An unlinked spooled body already holds the bytes on this file system:
// hash it in place and give it a name, instead of writing it again.
sdk::Result<Written> LocalBlobs::link_into(int spool, const std::string& id, ByteSource& source,
                                          std::int64_t max_bytes) {
  const std::int64_t size = source.size();
  if (size > max_bytes)
    return make_error(ErrorKind::invalid_argument, "file_too_large",
                      "file is " + std::to_string(size) + " bytes; at most " + std::to_string(max_bytes) +
                          " ([files] max_file_bytes)");
  const std::string temp = temp_path(id);
  const std::string proc = "/proc/self/fd/" + std::to_string(spool);
  if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, temp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    // Another file system, or no /proc: copy instead.
    if (auto room = check_room(root_, size, reserve_); !room) return room.error();
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot create a temporary file", errno);
    Fd file(fd);
    auto written = copy_into(fd, source, max_bytes);
    if (written && ::fsync(fd) != 0) return io_error("cannot fsync a temporary file", errno);
    return written;
  }
  Sha256 hash;
  std::vector<char> buffer(kBufferBytes);
  std::int64_t total = 0;
  for (;;) {
    ssize_t n = ::pread(spool, buffer.data(), buffer.size(), total);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read the uploaded body", errno);
    }
    if (n == 0) break;
    hash.update({buffer.data(), static_cast<std::size_t>(n)});
    total += n;
  }
  if (total != size)
    return make_error(ErrorKind::internal, "the uploaded body is " + std::to_string(total) + " bytes, not " +
                                               std::to_string(size));
  if (::fsync(spool) != 0) return io_error("cannot fsync an uploaded file", errno);
  ::fchmod(spool, 0600);
  return Written{total, hash.hex()};
}

sdk::Result<std::shared_ptr<sdk::BodyStream>> LocalBlobs::open(const std::string& id, std::int64_t size,
                                                               std::int64_t offset, std::int64_t length,
                                                               bool plain_file) {
  int fd = ::open(final_path(id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(ErrorKind::not_found, "missing", "the file's bytes are missing");
    return io_error("cannot open a stored file", errno);
  }
  Fd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size != size)
    return make_error(ErrorKind::internal, "corrupted",
                      "the stored file is " + std::to_string(st.st_size) + " bytes, not " + std::to_string(size));
  if (plain_file) {
    auto body = std::make_shared<sdk::FileBody>(fd, offset, length);
    file.release();  // the body owns it now
    return std::shared_ptr<sdk::BodyStream>(std::move(body));
  }
  auto range = std::make_shared<FileRange>(fd, offset, length);
  file.release();
  return std::shared_ptr<sdk::BodyStream>(std::move(range));
}

sdk::Result<void> LocalBlobs::remove(const std::string& id) {
  for (const std::string& path : {temp_path(id), final_path(id)})
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove a stored file", errno);
  return {};
}

sdk::Result<bool> LocalBlobs::present(const std::string& id, std::int64_t size) {
  struct stat st {};
  if (::stat(final_path(id).c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return io_error("cannot stat a stored file", errno);
  }
  return st.st_size == size;
}

bool LocalBlobs::removals_held() const {
  int fd = ::open((root_ + "/.backup-hold").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno != ENOENT;  // there but unreadable: a backup may hold it
  // A backup holds it shared; an exclusive lock taken and dropped at once
  // tells whether one does.
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

sdk::Result<std::int64_t> LocalBlobs::sweep_strays(std::int64_t older_than_ms) {
  const std::string dir = root_ + "/tmp";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return io_error("cannot read the temporary files' directory", errno);
  std::int64_t removed = 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    std::string path = dir + "/" + name;
    if (::lstat(path.c_str(), &st) != 0) continue;
    std::int64_t mtime_ms = std::int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
    if (mtime_ms < older_than_ms && ::unlink(path.c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

}  // namespace picloud::files
