// `picloud backup` of a server that holds its SQLite database exclusively.
//
// With `[database] sqlite_locking = "exclusive"` no other process can read
// the database while the server runs (db/sqlite_holder.hpp), so the backup
// command cannot copy it itself. The server then offers the copy: it
// listens on a Unix socket beside the database (`<database>.backup.sock`,
// mode 0600, answering only its own user and root), and on request copies
// the database through a connection of its own into a new file beside it
// and answers with that file's path; the command moves the file into the
// backup and carries on as with a copy of its own. One copy at a time; the
// socket exists only while such a server runs.
//
// Protocol, one request per connection: the client sends "snapshot\n"
// within 10 s; the server answers "ok <file name>\n" (a file in the
// database's directory) or "error <message>\n". A copy whose client went
// away meanwhile is removed.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::backup {

std::string snapshot_socket_path(const std::string& db_path);

// The server's side, started once it holds the database.
class SnapshotService {
 public:
  static sdk::Result<std::unique_ptr<SnapshotService>> start(const std::string& db_path);
  // Takes no more requests and ends a copy under way (its client hears an
  // error), without waiting; the server calls it as it begins to stop.
  void stop();
  // stop(), then waits for the thread; removes the socket.
  ~SnapshotService();
  SnapshotService(const SnapshotService&) = delete;
  SnapshotService& operator=(const SnapshotService&) = delete;

 private:
  SnapshotService(std::string db_path, int listener, int stop_read, int stop_write);
  void serve();
  void answer(int client);
  std::string db_path_;
  int listener_, stop_read_, stop_write_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// The command's side: asks the server holding `db_path` for a copy. Returns
// the path of the file it made (the caller takes it over and removes it).
sdk::Result<std::string> request_snapshot(const std::string& db_path);

}  // namespace picloud::kernel::backup
