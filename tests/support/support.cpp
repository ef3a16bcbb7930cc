#include "support.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "kernel/db/url.hpp"

namespace picloud::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "picloud-test.XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
  // Readable by an unprivileged child (see Process::Options::drop_root).
  fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
}

TempDir::~TempDir() {
  std::error_code ec;
  // Restore write permission on anything a test made read-only.
  for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::recursive_directory_iterator(); ++it)
    if (it->is_directory(ec)) fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& content) const {
  fs::path p = fs::path(path_) / name;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string picloud_binary() { return PICLOUD_TEST_BINARY; }
std::string test_plugin_dir() { return PICLOUD_TEST_PLUGIN_DIR; }
std::string builtin_plugin_dir() { return PICLOUD_TEST_BUILTIN_PLUGIN_DIR; }
std::string source_dir() { return PICLOUD_TEST_SOURCE_DIR; }

Process::Process(Options options) : io_(std::make_unique<TempDir>()) {
  std::string out = io_->file("stdout"), err = io_->file("stderr");
  std::vector<std::string> env_strings;
  for (const char* keep : {"PATH", "HOME", "LANG", "TMPDIR"})
    if (const char* v = std::getenv(keep)) env_strings.push_back(std::string(keep) + "=" + v);
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : options.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  uid_t run_as = 0;
  if (options.drop_root && geteuid() == 0) {
    struct passwd* pw = getpwnam("nobody");
    if (pw) run_as = pw->pw_uid;
  }
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(126);
    if (run_as && (setgid(run_as) != 0 || setuid(run_as) != 0)) _exit(126);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
}

Process::~Process() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
}

bool Process::running() { return wait(std::chrono::milliseconds(0)) == -1; }

void Process::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    pid_t r = waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

std::string Process::out() const { return read_file(io_->file("stdout")); }
std::string Process::err() const { return read_file(io_->file("stderr")); }

long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

namespace {

// The ports the kernel never hands out as the local end of an outgoing
// connection: those below its ephemeral range (or above it, when the range
// starts low). Empty when the range covers nearly everything.
std::pair<int, int> ports_outside_the_ephemeral_range() {
  int low = 32768, high = 60999;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  in >> low >> high;
  if (low - 1 >= 12000) return {10000, low - 1};
  if (high + 1 <= 63535) return {high + 1, 65535};
  return {0, -1};
}

// One lock file per port, held until this process ends: the other test
// processes running in parallel skip a port one of them has handed out.
bool claim(int port) {
  static const fs::path dir = fs::temp_directory_path() / ("picloud-test-ports-" + std::to_string(::getuid()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string file = (dir / std::to_string(port)).string();
  int fd = ::open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  return true;  // the descriptor stays open: the lock lasts as long as we do
}

bool bindable(int port) {
  try {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
    return true;
  } catch (const Poco::Exception&) {
    return false;
  }
}

}  // namespace

// A port from the ephemeral range could be taken, between this check and the
// server's own bind, by the local end of any connection any test makes (that
// is how a server once failed to start with "Address already in use"). Ports
// outside it are only taken by servers that ask for them, and every test
// server asks here.
int free_port() {
  static std::mutex mutex;
  static std::mt19937 random{std::random_device{}()};
  static const auto [low, high] = ports_outside_the_ephemeral_range();
  std::lock_guard lock(mutex);
  for (int attempt = 0; low <= high && attempt < 1000; ++attempt) {
    const int port = std::uniform_int_distribution<int>(low, high)(random);
    if (claim(port) && bindable(port)) return port;
  }
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
  return s.address().port();
}

HttpResult http(const std::string& method, int port, const std::string& path, const std::string& body,
                const std::map<std::string, std::string>& headers) {
  HttpResult result;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST" || method == "PUT") req.setContentLength64(static_cast<Poco::Int64>(body.size()));
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse res;
    std::istream& in = session.receiveResponse(res);
    result.status = res.getStatus();
    for (const auto& [k, v] : res) {
      std::string lower = k;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[lower] = v;
    }
    Poco::StreamCopier::copyToString(in, result.body);
  } catch (const std::exception&) {
    result.status = 0;
  }
  return result;
}

RawResult raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  RawResult result;
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    socket.setReceiveTimeout(Poco::Timespan(0, 50000));
    try {
      int n = socket.receiveBytes(buf, sizeof buf);
      if (n <= 0) {
        result.closed = true;
        break;
      }
      result.received.append(buf, static_cast<std::size_t>(n));
    } catch (const Poco::TimeoutException&) {
    } catch (const Poco::Exception&) {
      result.closed = true;  // reset
      break;
    }
  }
  return result;
}

bool wait_for_status(int port, const std::string& path, int status, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (http_get(port, path).status == status) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string backend_name(Backend b) { return b == Backend::sqlite ? "sqlite" : "postgres"; }

namespace {

std::unique_ptr<kernel::db::Database> open_url(const std::string& url, int pool_size) {
  auto parsed = kernel::db::parse_database_url(url, 5);
  if (!parsed) throw std::runtime_error(parsed.error().message);
  kernel::db::DatabaseOptions options;
  options.pool_size = pool_size;
  auto db = kernel::db::Database::open(*parsed, options);
  if (!db) throw std::runtime_error(db.error().message);
  return std::move(*db);
}

const char* postgres_admin_url() {
  const char* url = std::getenv("PICLOUD_TEST_POSTGRES_URL");
  if (!url || !*url)
    throw std::runtime_error(
        "PICLOUD_TEST_POSTGRES_URL is not set: run the tests with ./dev test, which starts a PostgreSQL server");
  return url;
}

}  // namespace

TestDatabase::TestDatabase(Backend backend) : backend_(backend) {
  if (backend == Backend::sqlite) {
    dir_ = std::make_unique<TempDir>();
    url_ = "sqlite:" + dir_->file("test.db");
    return;
  }
  static std::atomic<int> counter{0};
  std::string admin = postgres_admin_url();
  pg_name_ = "picloud_t" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  auto db = open_url(admin, 1);
  // A test process killed before its destructors ran (a ctest timeout) left
  // its databases behind; a later process given the same pid meets them.
  // No live process has this pid but this one: whatever is there is stale.
  (void)db->execute("DROP DATABASE IF EXISTS " + pg_name_ + " WITH (FORCE)");
  auto r = db->execute("CREATE DATABASE " + pg_name_);
  if (!r) throw std::runtime_error(r.error().message);
  auto slash = admin.rfind('/');
  url_ = admin.substr(0, slash + 1) + pg_name_;
}

TestDatabase::~TestDatabase() {
  if (backend_ == Backend::postgres && !pg_name_.empty()) {
    try {
      auto db = open_url(postgres_admin_url(), 1);
      (void)db->execute("DROP DATABASE IF EXISTS " + pg_name_ + " WITH (FORCE)");
    } catch (...) {
    }
  }
}

std::unique_ptr<kernel::db::Database> TestDatabase::open(int pool_size) const { return open_url(url_, pool_size); }

}  // namespace picloud::test
