#include "kernel/backup/file_copy.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace picloud::kernel::backup {
namespace {

using sdk::ErrorKind;
using sdk::make_error;

constexpr std::size_t kBuffer = 1 << 20;

sdk::Error io_error(const std::string& what, const std::string& path, int err) {
  return make_error(err == ENOENT ? ErrorKind::not_found : ErrorKind::unavailable,
                    what + " " + path + ": " + std::strerror(err));
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

 private:
  int fd_;
};

class Hasher {
 public:
  Hasher() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(const char* data, std::size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &len);
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out.push_back(kDigits[digest[i] >> 4]);
      out.push_back(kDigits[digest[i] & 15]);
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

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

// Reads `in` to its end, hashing, and writes it to `out` unless it is -1.
sdk::Result<CopiedFile> pump(int in, int out, const std::string& from, const std::string& to, Progress& progress) {
  std::vector<char> buffer(kBuffer);
  Hasher hash;
  CopiedFile copied;
  for (;;) {
    ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", from, errno);
    }
    if (n == 0) break;
    hash.update(buffer.data(), static_cast<std::size_t>(n));
    if (out >= 0 && !write_all(out, buffer.data(), static_cast<std::size_t>(n))) return io_error("cannot write", to, errno);
    copied.size += n;
    progress.add(n);
  }
  copied.sha256 = hash.hex();
  return copied;
}

}  // namespace

Progress::Progress(std::string what, std::int64_t total_bytes)
    : what_(std::move(what)), total_(total_bytes), last_(std::chrono::steady_clock::now()) {}

void Progress::add(std::int64_t bytes) {
  done_ += bytes;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ >= std::chrono::seconds(1)) {
    last_ = now;
    print();
  }
}

void Progress::done() { print(); }

void Progress::print() {
  if (total_ > 0)
    std::printf("%s: %s of %s (%d%%)\n", what_.c_str(), human_bytes(done_).c_str(), human_bytes(total_).c_str(),
                static_cast<int>(done_ * 100 / total_));
  else
    std::printf("%s: %s\n", what_.c_str(), human_bytes(done_).c_str());
  std::fflush(stdout);
}

std::string human_bytes(std::int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return text;
}

sdk::Result<CopiedFile> copy_file(const std::string& from, const std::string& to, Progress& progress) {
  // O_NOFOLLOW: a backup copies what PiCloud wrote, never what a link points at.
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (in.get() < 0) return io_error("cannot open", from, errno);
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.get() < 0) return io_error("cannot create", to, errno);
  auto copied = pump(in.get(), out.get(), from, to, progress);
  if (!copied) return copied;
  if (::fsync(out.get()) != 0) return io_error("cannot flush", to, errno);
  return copied;
}

sdk::Result<CopiedFile> hash_file(const std::string& path, Progress& progress) {
  Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (in.get() < 0) return io_error("cannot open", path, errno);
  return pump(in.get(), -1, path, "", progress);
}

sdk::Result<void> fsync_directory(const std::string& path) {
  Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) return io_error("cannot flush the directory", path, errno);
  return {};
}

sdk::Result<void> write_file_atomically(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  {
    Fd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (out.get() < 0) return io_error("cannot create", temp, errno);
    if (!write_all(out.get(), content.data(), content.size()) || ::fsync(out.get()) != 0)
      return io_error("cannot write", temp, errno);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) return io_error("cannot rename into place", path, errno);
  auto slash = path.find_last_of('/');
  return fsync_directory(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
}

}  // namespace picloud::kernel::backup
