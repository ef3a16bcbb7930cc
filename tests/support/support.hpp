// Shared test helpers: temporary directories, child processes, HTTP over
// loopback, and a fresh database per test on SQLite or PostgreSQL.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernel/db/database.hpp"
#include "picloud/sdk/database.hpp"

namespace picloud::test {

// The master key test servers run with (base64 of 32 bytes): on PostgreSQL
// one must be given, and the same on every node.
inline const std::string kKeyringKey = "dGVzdCBrZXlyaW5nIGtleSBmb3IgUGlDbG91ZCB0ZXM=";

// A directory removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

std::string read_file(const std::string& path);

// Paths of the build tree, set by CMake.
std::string picloud_binary();
std::string test_plugin_dir();
// Where the built-in plugins (kv, ...) are built.
std::string builtin_plugin_dir();
std::string source_dir();

// A child process with stdout and stderr captured to files.
class Process {
 public:
  struct Options {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;  // added to a minimal environment
    std::string cwd;
    bool drop_root = false;  // run as "nobody" when the test runs as root
  };
  explicit Process(Options options);
  ~Process();  // kills the child if it still runs
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Exit code (or 128+signal); -1 if it did not end within `timeout`.
  int wait(std::chrono::milliseconds timeout);
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::unique_ptr<TempDir> io_;
};

// AddressSanitizer's shadow memory and quarantine count in the process's
// resident set: peak-memory checks mean nothing under it.
#if defined(__SANITIZE_ADDRESS__)
#define PICLOUD_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PICLOUD_TEST_UNDER_ASAN 1
#endif
#endif
#ifndef PICLOUD_TEST_UNDER_ASAN
#define PICLOUD_TEST_UNDER_ASAN 0
#endif

// This process's peak resident set (VmHWM) in KiB; reset_peak_rss() starts
// it again from the current resident set.
long peak_rss_kib();
void reset_peak_rss();

// A loopback port for a server a test starts: outside the ephemeral range and
// reserved against the other test processes for as long as this one lives.
int free_port();

struct HttpResult {
  int status = 0;  // 0: no answer (connection refused, timeout)
  std::map<std::string, std::string> headers;  // names lower case
  std::string body;
};

HttpResult http(const std::string& method, int port, const std::string& path, const std::string& body = "",
                const std::map<std::string, std::string>& headers = {});
inline HttpResult http_get(int port, const std::string& path) { return http("GET", port, path); }

// Sends raw bytes on a new connection and returns everything received until
// the server closes it or `timeout` passes (then `closed` is false).
struct RawResult {
  std::string received;
  bool closed = false;
};
RawResult raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout);

// Polls GET `path` until it answers `status`; false on timeout.
bool wait_for_status(int port, const std::string& path, int status, std::chrono::milliseconds timeout);

// Which databases the storage tests run on.
enum class Backend { sqlite, postgres };
std::string backend_name(Backend b);

// A fresh, empty database for one test: a file in a temp dir, or a new
// PostgreSQL database on the server named by PICLOUD_TEST_POSTGRES_URL
// (dropped afterwards). Without that variable a PostgreSQL test fails: the
// suite never skips a database silently.
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend);
  ~TestDatabase();
  const std::string& url() const { return url_; }
  // Opens a kernel Database on it (the test owns it).
  std::unique_ptr<kernel::db::Database> open(int pool_size = 4) const;

 private:
  Backend backend_;
  std::unique_ptr<TempDir> dir_;
  std::string url_;
  std::string pg_name_;
};

}  // namespace picloud::test
