#include "kernel/backup/snapshot_service.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

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

void write_all(int fd, const std::string& text) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

// A line of at most `limit` bytes (without its newline), or an error.
sdk::Result<std::string> read_line(int fd, std::size_t limit) {
  std::string line;
  char c;
  for (;;) {
    ssize_t n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(ErrorKind::unavailable, n == 0 ? "the connection ended" : std::strerror(errno));
    if (c == '\n') return line;
    if (line.size() >= limit) return make_error(ErrorKind::invalid_argument, "the line is too long");
    line.push_back(c);
  }
}

// Copies and staging directories a killed server or backup left beside the
// database: nothing waits for them once a server starts anew.
void remove_leftovers(const std::string& db_path) {
  std::error_code ec;
  const std::filesystem::path db(db_path);
  const std::string copy = db.filename().string() + ".snapshot-";
  const std::string staging = db.filename().string() + ".backup-sock-";
  for (const auto& entry : std::filesystem::directory_iterator(db.parent_path().empty() ? "." : db.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(copy, 0) == 0 || name.rfind(staging, 0) == 0) {
      std::filesystem::remove_all(entry.path(), ec);
      write_log(LogLevel::info, "backup", "removed a backup copy left over", {{"path", entry.path().string()}});
    }
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

SnapshotService::~SnapshotService() {
  char one = 1;
  (void)!::write(stop_write_, &one, 1);
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
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
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
    return write_all(client, "error only the server's user may ask for a copy\n");
  timeval timeout{10, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  auto request = read_line(client, kMaxRequest);
  if (!request || *request != "snapshot") return write_all(client, "error the request must be \"snapshot\"\n");
  std::string file = db_path_ + ".snapshot-XXXXXX";
  int fd = ::mkstemp(file.data());
  if (fd < 0) return write_all(client, std::string("error cannot make a file beside the database: ") + std::strerror(errno) + "\n");
  ::close(fd);
  write_log(LogLevel::info, "backup", "copying the database for a backup", {{"file", file}});
  auto copied = copy_sqlite(db_path_, file, true);
  if (!copied) {
    ::unlink(file.c_str());
    write_log(LogLevel::warn, "backup", "the database copy for a backup failed", {{"error", copied.error().message}});
    return write_all(client, "error " + copied.error().message + "\n");
  }
  write_all(client, "ok " + file + "\n");
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
  write_all(fd, "snapshot\n");
  // No time limit: copying a large database takes as long as it takes.
  auto answer = read_line(fd, 64 * 1024);
  if (!answer) return make_error(ErrorKind::unavailable, "no answer from " + path + ": " + answer.error().message);
  if (answer->rfind("ok ", 0) == 0) {
    // A file beside the database, as the server makes them, and nothing else.
    std::string file = answer->substr(3);
    const std::string prefix = db_path + ".snapshot-";
    if (file.rfind(prefix, 0) != 0 || file.find('/', prefix.size()) != std::string::npos)
      return make_error(ErrorKind::internal, "the server named a copy outside its database's directory: " + file);
    return file;
  }
  if (answer->rfind("error ", 0) == 0) return make_error(ErrorKind::unavailable, answer->substr(6));
  return make_error(ErrorKind::internal, "an answer of another shape from " + path);
}

}  // namespace picloud::kernel::backup
