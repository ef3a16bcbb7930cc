#include "kernel/backup/snapshot_service.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>

#include "kernel/backup/database_copy.hpp"
#include "kernel/log.hpp"

namespace picloud::kernel::backup {
namespace {

using sdk::ErrorKind;
using sdk::make_error;

constexpr std::size_t kMaxRequest = 64;

sdk::Result<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return make_error(ErrorKind::invalid_argument, "the socket path " + path + " is longer than a Unix socket's " +
                                                       std::to_string(sizeof addr.sun_path - 1) + " bytes");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

bool write_all(int fd, const std::string& text) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// A line of at most `limit` bytes (without its newline), or an error; given
// a `deadline`, by then; given a `stop` descriptor, until it is readable.
sdk::Result<std::string> read_line(int fd, std::size_t limit, int stop = -1,
                                   std::optional<std::chrono::steady_clock::time_point> deadline = {}) {
  std::string line;
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return make_error(ErrorKind::invalid_argument, "nothing came in time");
      wait_ms = static_cast<int>(left.count());
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}};  // a negative fd is left out
    if (::poll(fds, 2, wait_ms) < 0 && errno != EINTR) return make_error(ErrorKind::unavailable, std::strerror(errno));
    if (fds[1].revents) return make_error(ErrorKind::unavailable, "the server is stopping");
    if (!fds[0].revents) continue;
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return make_error(ErrorKind::unavailable, n == 0 ? "the connection ended" : std::strerror(errno));
    line.append(buf, static_cast<std::size_t>(n));
    auto end = line.find('\n');
    if (std::min(end, line.size()) > limit) return make_error(ErrorKind::invalid_argument, "the line is too long");
    if (end != std::string::npos) return line.substr(0, end);
  }
}

std::string directory_of(const std::string& db_path) {
  auto dir = std::filesystem::path(db_path).parent_path();
  return dir.empty() ? "." : dir.string();
}

std::string copy_prefix(const std::string& db_path) {
  return std::filesystem::path(db_path).filename().string() + ".snapshot-";
}

// Whether `name` is `prefix` and mkstemp's six characters, as only this
// service names files.
bool made_here(const std::string& name, const std::string& prefix) {
  return name.size() == prefix.size() + 6 && name.rfind(prefix, 0) == 0 &&
         name.find('/', prefix.size()) == std::string::npos;
}

// Copies and staging directories a killed server or backup left beside the
// database: nothing waits for them once a server starts anew. Only names
// exactly as this service makes them.
void remove_leftovers(const std::string& db_path) {
  std::error_code ec;
  const std::string dir = directory_of(db_path);
  const std::string copy = copy_prefix(db_path);
  const std::string staging = std::filesystem::path(db_path).filename().string() + ".backup-sock-";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code removed;
    if (made_here(name, copy) && entry.is_regular_file(ec)) std::filesystem::remove(entry.path(), removed);
    else if (made_here(name, staging) && entry.is_directory(ec)) std::filesystem::remove_all(entry.path(), removed);
    else continue;
    if (!removed)
      write_log(LogLevel::info, "backup", "removed what a stopped backup left", {{"path", entry.path().string()}});
  }
}

}  // namespace

std::string snapshot_socket_path(const std::string& db_path) { return db_path + ".backup.sock"; }

sdk::Result<std::unique_ptr<SnapshotService>> SnapshotService::start(const std::string& db_path) {
  const std::string path = snapshot_socket_path(db_path);
  auto addr = address_of(path);
  if (!addr) return addr.error();
  remove_leftovers(db_path);
  // Bound in a private directory and renamed into place, so the socket is
  // never reachable with looser permissions than 0600 (no umask games in a
  // process with other threads). A socket left by a killed server goes: this
  // one holds the database, so no other server uses it.
  std::string dir_template = db_path + ".backup-sock-XXXXXX";
  if (!::mkdtemp(dir_template.data()))
    return make_error(ErrorKind::unavailable, "cannot make a directory beside " + db_path + ": " + std::strerror(errno));
  const std::string staged = dir_template + "/s";
  auto staged_addr = address_of(staged);
  auto cleanup_dir = [&] {
    ::unlink(staged.c_str());
    ::rmdir(dir_template.c_str());
  };
  if (!staged_addr) {
    cleanup_dir();
    return staged_addr.error();
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    cleanup_dir();
    return make_error(ErrorKind::unavailable, std::string("cannot make a socket: ") + std::strerror(errno));
  }
  auto fail = [&](const std::string& what) {
    std::string why = std::strerror(errno);
    ::close(fd);
    cleanup_dir();
    return make_error(ErrorKind::unavailable, what + ": " + why);
  };
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*staged_addr), sizeof(sockaddr_un)) != 0)
    return fail("cannot bind " + staged);
  if (::chmod(staged.c_str(), 0600) != 0) return fail("cannot set the mode of " + staged);
  if (::listen(fd, 4) != 0) return fail("cannot listen on " + staged);
  ::unlink(path.c_str());
  if (::rename(staged.c_str(), path.c_str()) != 0) return fail("cannot put the socket at " + path);
  ::rmdir(dir_template.c_str());
  int stop[2];
  if (::pipe2(stop, O_CLOEXEC) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    ::unlink(path.c_str());
    return make_error(ErrorKind::unavailable, "cannot make a pipe: " + why);
  }
  return std::unique_ptr<SnapshotService>(new SnapshotService(db_path, fd, stop[0], stop[1]));
}

SnapshotService::SnapshotService(std::string db_path, int listener, int stop_read, int stop_write)
    : db_path_(std::move(db_path)), listener_(listener), stop_read_(stop_read), stop_write_(stop_write) {
  thread_ = std::thread([this] { serve(); });
}

void SnapshotService::stop() {
  if (stopping_.exchange(true)) return;
  char one = 1;
  (void)!::write(stop_write_, &one, 1);
}

SnapshotService::~SnapshotService() {
  stop();
  if (thread_.joinable()) thread_.join();
  ::close(listener_);
  ::close(stop_read_);
  ::close(stop_write_);
  ::unlink(snapshot_socket_path(db_path_).c_str());
}

void SnapshotService::serve() {
  pthread_setname_np(pthread_self(), "picloud-backup");
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      write_log(LogLevel::warn, "backup", "waiting for backup requests failed", {{"error", std::strerror(errno)}});
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (fds[1].revents) return;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      // Out of descriptors, say: the request stays queued; no spinning.
      if (errno != EINTR && errno != EAGAIN) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    answer(client);
    ::close(client);
  }
}

void SnapshotService::answer(int client) {
  // Only this server's user and root: the socket's mode says so already;
  // the peer's credentials say it again.
  ucred peer{};
  socklen_t length = sizeof peer;
  if (::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 || (peer.uid != ::geteuid() && peer.uid != 0))
    return (void)write_all(client, "error only the server's user may ask for a copy\n");
  auto request = read_line(client, kMaxRequest, stop_read_, std::chrono::steady_clock::now() + std::chrono::seconds(10));
  if (!request) return (void)write_all(client, "error " + request.error().message + "\n");
  if (*request != "snapshot") return (void)write_all(client, "error the request must be \"snapshot\"\n");
  std::string file = db_path_ + ".snapshot-XXXXXX";
  int fd = ::mkstemp(file.data());
  if (fd < 0) return (void)write_all(client, std::string("error cannot make a file beside the database: ") + std::strerror(errno) + "\n");
  ::close(fd);
  write_log(LogLevel::info, "backup", "copying the database for a backup", {{"file", file}});
  // Stopped when the server stops or the client goes away (nobody would
  // take the copy).
  auto go_on = [&] {
    pollfd gone{client, POLLRDHUP, 0};
    return !stopping_.load() && ::poll(&gone, 1, 0) == 0;
  };
  auto copied = copy_sqlite(db_path_, file, true, go_on);
  if (!copied) {
    ::unlink(file.c_str());
    write_log(LogLevel::warn, "backup", "the database copy for a backup failed", {{"error", copied.error().message}});
    return (void)write_all(client, "error " + copied.error().message + "\n");
  }
  if (!write_all(client, "ok " + std::filesystem::path(file).filename().string() + "\n")) {
    ::unlink(file.c_str());
    write_log(LogLevel::warn, "backup", "the backup that asked for a copy went away; the copy is removed");
  }
}

sdk::Result<std::string> request_snapshot(const std::string& db_path) {
  const std::string path = snapshot_socket_path(db_path);
  auto addr = address_of(path);
  if (!addr) return addr.error();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(ErrorKind::unavailable, std::string("cannot make a socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un)) != 0)
    return make_error(ErrorKind::unavailable, "cannot reach " + path + ": " + std::strerror(errno));
  // Only the database owner's process (or root's) is taken at its word.
  struct stat db {};
  ucred peer{};
  socklen_t length = sizeof peer;
  if (::stat(db_path.c_str(), &db) != 0 || ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 ||
      (peer.uid != db.st_uid && peer.uid != 0))
    return make_error(ErrorKind::unavailable, path + " is not served by the database's owner");
  write_all(fd, "snapshot\n");
  // No time limit: copying a large database takes as long as it takes.
  auto answer = read_line(fd, 64 * 1024);
  if (!answer) return make_error(ErrorKind::unavailable, "no answer from " + path + ": " + answer.error().message);
  if (answer->rfind("ok ", 0) == 0) {
    // A file of the server's own naming in the database's directory, and
    // nothing else.
    std::string name = answer->substr(3);
    if (!made_here(name, copy_prefix(db_path)))
      return make_error(ErrorKind::internal, "the server named a copy that is not of its making: " + name);
    return directory_of(db_path) + "/" + name;
  }
  if (answer->rfind("error ", 0) == 0) return make_error(ErrorKind::unavailable, answer->substr(6));
  return make_error(ErrorKind::internal, "an answer of another shape from " + path);
}

}  // namespace picloud::kernel::backup
