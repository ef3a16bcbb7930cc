// picloud backup and picloud restore as an operator runs them: a real
// server with data in every kind of store (kv, docs, a secret, a file,
// scripts and routes), backed up while it serves and while a writer
// writes, restored into a fresh database and data directory, and read back
// through a new server; and every refusal, on SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "kernel/admin/api_support.hpp"
#include "picloud/sdk/json.hpp"
#include "support.hpp"

using namespace picloud;
using namespace std::chrono_literals;
using test::Backend;
using test::Process;

namespace {

const std::string kPassword = "correct horse battery staple";
// Another master key than test::kKeyringKey (base64 of 32 bytes).
const std::string kOtherKey = "b3RoZXIga2V5IGZvciBQaUNsb3VkIHJlc3RvcmUgdGU=";

std::string sha256_of(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kDigits[digest[i] >> 4]);
    out.push_back(kDigits[digest[i] & 15]);
  }
  return out;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

// Where a server keeps its state: a database and a data directory.
struct Place {
  explicit Place(Backend backend, std::map<std::string, std::string> settings = {})
      : db(backend), env(std::move(settings)) {}
  test::TestDatabase db;
  test::TempDir dir;
  std::map<std::string, std::string> env;  // more settings for its processes
  std::string data_dir() const { return dir.path() + "/data"; }
};

// The environment every picloud process of a place runs with.
std::map<std::string, std::string> env_of(const Place& place, const std::string& key = test::kKeyringKey) {
  std::map<std::string, std::string> env{{"PICLOUD_SERVER_DATA_DIR", place.data_dir()},
                                         {"PICLOUD_DATABASE_URL", place.db.url()},
                                         {"PICLOUD_DATABASE_MIGRATIONS_PATH", test::source_dir() + "/migrations"},
                                         {"PICLOUD_PLUGINS_SEARCH_PATH", test::builtin_plugin_dir()},
                                         {"PICLOUD_PLUGINS_ENABLED", "kv,docs,files,secrets"},
                                         {"PICLOUD_KEYRING_KEY", key},
                                         {"PICLOUD_LOG_LEVEL", "warn"}};
  for (const auto& [k, v] : place.env) env[k] = v;
  return env;
}

struct Run {
  int status;
  std::string out, err;
};

// `picloud <args...>` on a place, to its end.
Run picloud(const Place& place, std::vector<std::string> args, const std::string& key = test::kKeyringKey,
            const std::map<std::string, std::string>& extra_env = {}) {
  args.insert(args.begin(), test::picloud_binary());
  auto env = env_of(place, key);
  for (const auto& [k, v] : extra_env) env[k] = v;
  Process p({args, env, place.dir.path()});
  int status = p.wait(120s);
  return {status, p.out(), p.err()};
}

// A server on a place, signed in as the owner.
struct Server {
  int port = test::free_port();
  std::unique_ptr<Process> process;
  std::string cookie;

  explicit Server(const Place& place) {
    auto env = env_of(place);
    env["PICLOUD_SERVER_PORT"] = std::to_string(port);
    env["PICLOUD_OWNER_USERNAME"] = "owner";
    env["PICLOUD_OWNER_PASSWORD"] = kPassword;
    process = std::make_unique<Process>(Process::Options{{test::picloud_binary(), "serve"}, env, place.dir.path()});
    EXPECT_TRUE(test::wait_for_status(port, "/readyz", 200, 20s)) << process->err();
    auto login = test::http("POST", port, "/api/v1/admin/login",
                            R"({"username":"owner","password":")" + kPassword + R"("})",
                            {{"Content-Type", "application/json"}});
    EXPECT_EQ(login.status, 200) << login.body;
    cookie = login.headers["set-cookie"].substr(0, login.headers["set-cookie"].find(';'));
  }
  ~Server() { stop(); }
  void stop() {
    if (!process) return;
    process->signal(SIGTERM);
    EXPECT_EQ(process->wait(20s), 0) << process->err();
    process.reset();
  }

  test::HttpResult admin(const std::string& method, const std::string& path, const std::string& body = "",
                         const std::string& type = "application/json") {
    std::map<std::string, std::string> headers{{"Cookie", cookie}};
    if (!body.empty()) headers["Content-Type"] = type;
    return test::http(method, port, "/api/v1/admin" + path, body, headers);
  }
  test::HttpResult app(const std::string& method, const std::string& path, const std::string& body = "") {
    return test::http(method, port, path, body, {{"Host", "shop.localhost"}});
  }
};

const std::string kReport = R"(
void handle(request@ req, response@ res) {
  json head = files::collection("media").head("photo.bin");
  res.json({{"secret", secrets::get("api_key")},
            {"visits", kv::collection("stats").get("visits")},
            {"todos", docs::collection("todos").count()},
            {"photo_sha256", head["sha256"]}});
}
)";

const std::string kPhoto = random_bytes(1536 * 1024 + 7, 1);

// The data every test backs up: one of each kind.
void seed(Server& s) {
  ASSERT_EQ(s.admin("POST", "/apps", R"({"slug":"shop","hostnames":["shop.localhost"]})").status, 201);
  ASSERT_EQ(s.admin("PUT", "/apps/shop/kv/stats/entry?key=visits", R"({"value":41})").status, 201);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(s.admin("POST", "/apps/shop/docs/todos/documents", R"({"data":{"n":)" + std::to_string(i) + "}}").status, 201);
  ASSERT_EQ(s.admin("PUT", "/apps/shop/secrets/api_key", R"({"value":"sk_live_42"})").status, 204);
  auto put = s.admin("PUT", "/apps/shop/files/media/file?name=photo.bin", kPhoto, "application/octet-stream");
  ASSERT_EQ(put.status, 201) << put.body;
  auto script = s.admin("POST", "/apps/shop/scripts", sdk::to_json(sdk::Value::object({{"name", "report"}, {"source", kReport}})));
  ASSERT_EQ(script.status, 201) << script.body;
  ASSERT_EQ(s.admin("POST", "/apps/shop/routes", R"({"script":"report","path":"/report","methods":["GET"]})").status, 201);
}

// Everything seed() wrote, read back through the admin API and the app's route.
void expect_seeded(Server& s, std::int64_t min_visits = 41) {
  auto report = s.app("GET", "/report");
  ASSERT_EQ(report.status, 200) << report.body;
  auto r = kernel::admin::parse_stored_json(report.body);
  EXPECT_EQ(r["secret"].string_or(""), "sk_live_42");
  EXPECT_GE(r["visits"].int_or(-1), min_visits);
  EXPECT_EQ(r["todos"].int_or(-1), 3);
  EXPECT_EQ(r["photo_sha256"].string_or(""), sha256_of(kPhoto));
  auto photo = s.admin("GET", "/apps/shop/files/media/file?name=photo.bin");
  ASSERT_EQ(photo.status, 200);
  EXPECT_TRUE(photo.body == kPhoto) << "the file's bytes differ (" << photo.body.size() << " bytes)";
  auto entry = s.admin("GET", "/apps/shop/kv/stats/entry?key=visits");
  EXPECT_EQ(entry.status, 200) << entry.body;
  auto scripts = s.admin("GET", "/apps/shop/scripts/report");
  EXPECT_EQ(scripts.status, 200) << scripts.body;
}

// A client of the server's backup socket (-1 and errno when it is not there).
int connect_to(const std::string& socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  int error = errno;
  ::close(fd);
  errno = error;
  return -1;
}

class BackupTest : public ::testing::TestWithParam<Backend> {};

TEST_P(BackupTest, RestoredServerReadsBackEverythingWithTheSameKey) {
  Place source(GetParam());
  test::TempDir backups;
  const std::string dest = backups.file("b1");
  {
    Server server(source);
    seed(server);
    auto backup = picloud(source, {"backup", dest});
    ASSERT_EQ(backup.status, 0) << backup.out << backup.err;
    EXPECT_NE(backup.out.find("the master key is NOT in this backup"), std::string::npos) << backup.out;
    EXPECT_NE(backup.out.find("backup done"), std::string::npos);
  }
  // What is in it, and what is not.
  EXPECT_TRUE(std::filesystem::exists(dest + "/manifest.json"));
  EXPECT_FALSE(std::filesystem::exists(dest + "/keyring.keys"));
  auto manifest = kernel::admin::parse_stored_json(test::read_file(dest + "/manifest.json"));
  EXPECT_EQ(manifest["database"]["kind"].string_or(""), GetParam() == Backend::sqlite ? "sqlite" : "postgres");
  EXPECT_GT(manifest["schema"]["kernel"].int_or(0), 0);
  EXPECT_GT(manifest["schema"]["files"].int_or(0), 0);
  EXPECT_EQ(manifest["keyring"]["sealed_key_ids"].size(), 1u);
  bool has_blob = false;
  for (const auto& f : manifest["contents"].as_array())
    has_blob = has_blob || (f["path"].string_or("").rfind("plugins/files/blobs/", 0) == 0 && f["size"].int_or(0) == static_cast<std::int64_t>(kPhoto.size()));
  EXPECT_TRUE(has_blob) << test::read_file(dest + "/manifest.json");

  Place target(GetParam());
  auto restore = picloud(target, {"restore", dest});
  ASSERT_EQ(restore.status, 0) << restore.out << restore.err;
  EXPECT_NE(restore.out.find("the master key in use opens the restored sealed values"), std::string::npos) << restore.out;
  Server restored(target);
  expect_seeded(restored);
}

TEST_P(BackupTest, BackupWhileAWriterWritesIsConsistent) {
  Place source(GetParam());
  test::TempDir backups;
  Server server(source);
  seed(server);
  // A writer replaces one file over and over (each replace removes the old
  // version's bytes at once) and counts visits, while backups are taken.
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    for (unsigned i = 0; !stop; ++i) {
      auto bytes = random_bytes(64 * 1024 + i % 1000, i + 100);
      if (server.admin("PUT", "/apps/shop/files/media/file?name=hot.bin", bytes, "application/octet-stream").status / 100 == 2)
        ++writes;
      (void)server.admin("PUT", "/apps/shop/kv/stats/entry?key=visits", "{\"value\":" + std::to_string(41 + i) + "}");
    }
  });
  while (writes < 5) std::this_thread::sleep_for(10ms);
  std::vector<std::string> dests;
  for (int i = 0; i < 3; ++i) {
    dests.push_back(backups.file("b" + std::to_string(i)));
    auto backup = picloud(source, {"backup", dests.back()});
    EXPECT_EQ(backup.status, 0) << backup.out << backup.err;
  }
  stop = true;
  writer.join();
  EXPECT_GT(writes.load(), 5);
  for (const auto& dest : dests) {
    Place target(GetParam());
    auto restore = picloud(target, {"restore", dest});
    ASSERT_EQ(restore.status, 0) << restore.out << restore.err;
    Server restored(target);
    expect_seeded(restored);
    // The file being replaced is whole in the version the snapshot names.
    auto head = restored.admin("GET", "/apps/shop/files/media/meta?name=hot.bin");
    ASSERT_EQ(head.status, 200) << head.body;
    auto hot = restored.admin("GET", "/apps/shop/files/media/file?name=hot.bin");
    ASSERT_EQ(hot.status, 200) << hot.body;
    EXPECT_EQ(sha256_of(hot.body), kernel::admin::parse_stored_json(head.body)["sha256"].string_or(""));
  }
}

TEST_P(BackupTest, RefusesAnExistingNonEmptyDestination) {
  Place source(GetParam());
  Server server(source);
  seed(server);
  test::TempDir dest;
  dest.write("notes.txt", "mine");
  auto backup = picloud(source, {"backup", dest.path()});
  EXPECT_EQ(backup.status, 1);
  EXPECT_NE(backup.err.find("not an empty directory"), std::string::npos) << backup.err;
  EXPECT_EQ(test::read_file(dest.file("notes.txt")), "mine");
  EXPECT_FALSE(std::filesystem::exists(dest.file("manifest.json")));
}

// An empty directory given as DEST is made owner-only like a new one, or
// refused when it belongs to someone else: whoever can write it could swap
// the database or the manifest a restore trusts.
TEST_P(BackupTest, AnEmptyDestinationIsMadeOwnerOnlyOrRefusedWhenAnotherUsersDirectory) {
  Place source(GetParam());
  Server server(source);
  seed(server);
  test::TempDir dests;
  const std::string shared = dests.file("shared");
  ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 0777), 0);  // past the umask
  auto backup = picloud(source, {"backup", shared});
  ASSERT_EQ(backup.status, 0) << backup.out << backup.err;
  struct stat st {};
  ASSERT_EQ(::stat(shared.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(std::filesystem::exists(shared + "/manifest.json"));

  if (::geteuid() != 0) GTEST_SKIP() << "giving a directory to another user needs root";
  const std::string theirs = dests.file("theirs");
  ASSERT_EQ(::mkdir(theirs.c_str(), 0700), 0);
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  auto refused = picloud(source, {"backup", theirs});
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("belongs to another user"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(theirs + "/manifest.json"));
}

TEST_P(BackupTest, RestoreRefusesANonEmptyDatabaseADamagedBackupAndANewerSchema) {
  Place source(GetParam());
  test::TempDir backups;
  const std::string dest = backups.file("b");
  {
    Server server(source);
    seed(server);
    ASSERT_EQ(picloud(source, {"backup", dest}).status, 0);
  }
  // Into the database it came from: not empty.
  auto env_source = picloud(source, {"restore", dest});
  EXPECT_EQ(env_source.status, 1);
  EXPECT_NE(env_source.err.find("is not empty"), std::string::npos) << env_source.err;

  // A blob changed by one byte: refused before anything is written.
  auto manifest_text = test::read_file(dest + "/manifest.json");
  auto manifest = kernel::admin::parse_stored_json(manifest_text);
  std::string blob;
  for (const auto& f : manifest["contents"].as_array())
    if (f["path"].string_or("").rfind("plugins/", 0) == 0) blob = dest + "/" + f["path"].as_string();
  ASSERT_FALSE(blob.empty());
  std::string original = test::read_file(blob);
  {
    std::string damaged = original;
    damaged[damaged.size() / 2] ^= 0x01;
    std::ofstream(blob, std::ios::binary | std::ios::trunc) << damaged;
  }
  Place target(GetParam());
  auto damaged = picloud(target, {"restore", dest});
  EXPECT_EQ(damaged.status, 1);
  EXPECT_NE(damaged.err.find("does not match its checksum"), std::string::npos) << damaged.err;
  EXPECT_FALSE(std::filesystem::exists(target.data_dir() + "/plugins"));
  std::ofstream(blob, std::ios::binary | std::ios::trunc) << original;

  // A schema newer than this PiCloud's migrations.
  std::string newer = manifest_text;
  auto at = newer.find("\"kernel\":");
  ASSERT_NE(at, std::string::npos);
  newer.replace(at, newer.find_first_of(",}", at) - at, "\"kernel\":9999");
  std::ofstream(dest + "/manifest.json", std::ios::trunc) << newer;
  auto too_new = picloud(target, {"restore", dest});
  EXPECT_EQ(too_new.status, 1);
  EXPECT_NE(too_new.err.find("newer than this PiCloud knows"), std::string::npos) << too_new.err;
  std::ofstream(dest + "/manifest.json", std::ios::trunc) << manifest_text;

  // Nothing was written by the refusals: the restore goes through now.
  auto restore = picloud(target, {"restore", dest});
  EXPECT_EQ(restore.status, 0) << restore.out << restore.err;
  // And once restored, not again.
  auto again = picloud(target, {"restore", dest});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("is not empty"), std::string::npos) << again.err;
}

TEST_P(BackupTest, RestoreWithAnotherMasterKeyWarns) {
  Place source(GetParam());
  test::TempDir backups;
  const std::string dest = backups.file("b");
  {
    Server server(source);
    seed(server);
    ASSERT_EQ(picloud(source, {"backup", dest}).status, 0);
  }
  Place target(GetParam());
  auto restore = picloud(target, {"restore", dest}, kOtherKey);
  EXPECT_EQ(restore.status, 3) << restore.out << restore.err;
  EXPECT_NE(restore.err.find("WARNING: the master key in use cannot open"), std::string::npos) << restore.err;
}

TEST_P(BackupTest, AnOlderBackupIsMigratedWhenRestored) {
  // The database of an older PiCloud: one kernel migration fewer.
  test::TempDir older;
  std::filesystem::copy(test::source_dir() + "/migrations", older.file("migrations"),
                        std::filesystem::copy_options::recursive);
  const std::string dialect = GetParam() == Backend::sqlite ? "sqlite" : "postgres";
  std::string newest;
  for (const auto& f : std::filesystem::directory_iterator(older.file("migrations/kernel/" + dialect)))
    newest = std::max(newest, f.path().string());
  std::filesystem::remove(newest);
  const std::map<std::string, std::string> older_env{{"PICLOUD_DATABASE_MIGRATIONS_PATH", older.file("migrations")}};
  Place source(GetParam());
  auto migrate = picloud(source, {"migrate"}, test::kKeyringKey, older_env);
  ASSERT_EQ(migrate.status, 0) << migrate.err;
  test::TempDir backups;
  auto backup = picloud(source, {"backup", backups.file("b")}, test::kKeyringKey, older_env);
  ASSERT_EQ(backup.status, 0) << backup.out << backup.err;
  const std::int64_t version = std::stoll(std::filesystem::path(newest).filename().string().substr(0, 4));
  auto manifest = kernel::admin::parse_stored_json(test::read_file(backups.file("b/manifest.json")));
  EXPECT_EQ(manifest["schema"]["kernel"].int_or(0), version - 1);

  Place target(GetParam());
  auto restore = picloud(target, {"restore", backups.file("b")});
  ASSERT_EQ(restore.status, 0) << restore.out << restore.err;
  EXPECT_NE(restore.out.find("1 migration(s) applied"), std::string::npos) << restore.out;
  Server restored(target);
  ASSERT_EQ(restored.admin("POST", "/apps", R"({"slug":"shop","hostnames":["shop.localhost"]})").status, 201);
}

TEST(BackupSqliteTest, RestoreRefusesWhileAServerServesTheDatabase) {
  Place source(Backend::sqlite);
  test::TempDir backups;
  const std::string dest = backups.file("b");
  {
    Server server(source);
    seed(server);
    ASSERT_EQ(picloud(source, {"backup", dest}).status, 0);
  }
  Place target(Backend::sqlite);
  Server serving(target);
  auto restore = picloud(target, {"restore", dest});
  EXPECT_EQ(restore.status, 1);
  EXPECT_NE(restore.err.find("cannot restore while a server runs"), std::string::npos) << restore.err;
}

TEST(BackupSqliteTest, BacksUpAStoppedServerWithoutChangingItsFiles) {
  Place source(Backend::sqlite);
  test::TempDir backups;
  { Server server(source); seed(server); }
  auto db_path = source.db.url().substr(7);
  auto before = test::read_file(db_path);
  ASSERT_EQ(picloud(source, {"backup", backups.file("b")}).status, 0);
  EXPECT_TRUE(test::read_file(db_path) == before);
  Place target(Backend::sqlite);
  ASSERT_EQ(picloud(target, {"restore", backups.file("b")}).status, 0);
  Server restored(target);
  expect_seeded(restored);
}

// [database] sqlite_locking = "exclusive": the server holds its database
// alone (no -shm file; no other process can read it, not even one that does
// not ask first), every service works, and `picloud backup` gets its copy
// from the server (over the socket beside the database, which answers
// nothing else) and restores; a second server is told who holds the
// database at once, and an exclusive server does not start beside a reader.
TEST(BackupSqliteTest, AServerHoldingItsDatabaseExclusivelyIsBackedUpThroughItself) {
  Place source(Backend::sqlite, {{"PICLOUD_DATABASE_SQLITE_LOCKING", "exclusive"}});
  const std::string db_path = source.db.url().substr(7);
  const std::string socket_path = db_path + ".backup.sock";
  test::TempDir backups;
  const std::string dest = backups.file("b");
  // A copy a killed server left behind goes when the next one starts.
  { std::ofstream(db_path + ".snapshot-AbC123") << "stale"; }
  Server server(source);
  EXPECT_FALSE(std::filesystem::exists(db_path + ".snapshot-AbC123"));
  seed(server);
  expect_seeded(server);
  EXPECT_FALSE(std::filesystem::exists(db_path + "-shm"));
  EXPECT_TRUE(std::filesystem::exists(db_path + "-wal"));
  struct stat st {};
  ASSERT_EQ(::stat(socket_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // The socket answers "snapshot" and nothing else.
  {
    int fd = connect_to(socket_path);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const std::string ask = "DROP TABLE apps\n";
    ASSERT_EQ(::send(fd, ask.data(), ask.size(), 0), static_cast<ssize_t>(ask.size()));
    char buf[256] = {};
    ssize_t n = ::recv(fd, buf, sizeof buf - 1, MSG_WAITALL);
    ::close(fd);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0).rfind("error ", 0), 0u) << buf;
  }

  // A copy whose asker went away is not left beside the database.
  {
    int fd = connect_to(socket_path);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(::send(fd, "snapshot\n", 9, 0), 9);
    ::close(fd);
  }
  auto copies_beside = [&] {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(db_path).parent_path()))
      n += entry.path().filename().string().find(".snapshot-") != std::string::npos;
    return n;
  };
  for (int i = 0; i < 200 && copies_beside() > 0; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(copies_beside(), 0);

  // A backup while it serves, with a writer going on.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i)
      server.admin("PUT", "/apps/shop/kv/stats/entry?key=n" + std::to_string(i % 50), R"({"value":1})");
  });
  auto backup = picloud(source, {"backup", dest});
  stop = true;
  writer.join();
  ASSERT_EQ(backup.status, 0) << backup.err;
  EXPECT_EQ(copies_beside(), 0);

  // A reader that does not ask first is locked out by SQLite itself.
  Process reader({{"/usr/bin/python3", "-c",
                   "import sqlite3, sys\n"
                   "try:\n"
                   "    sqlite3.connect(sys.argv[1], timeout=0).execute('SELECT count(*) FROM apps').fetchall()\n"
                   "    print('read')\n"
                   "except sqlite3.OperationalError as e:\n"
                   "    print(e)\n",
                   db_path},
                  {}, backups.path()});
  EXPECT_EQ(reader.wait(30s), 0) << reader.err();
  EXPECT_NE(reader.out().find("database is locked"), std::string::npos) << reader.out();
  // Another server on the same database is refused at once, naming it.
  auto began = std::chrono::steady_clock::now();
  auto again = picloud(source, {"serve"}, test::kKeyringKey, {{"PICLOUD_SERVER_PORT", std::to_string(test::free_port())}});
  EXPECT_LT(std::chrono::steady_clock::now() - began, 4s) << "waited out a busy timeout";
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("held exclusively by process " + std::to_string(server.process->pid()) + " (picloud)"),
            std::string::npos)
      << again.err;
  EXPECT_EQ(again.err.find("move it away"), std::string::npos) << again.err;

  server.stop();
  EXPECT_FALSE(std::filesystem::exists(socket_path));
  // The other way round: an exclusive server does not start while another
  // process reads the database, and says which.
  {
    Process reading({{"/usr/bin/python3", "-c",
                      "import sqlite3, sys, time\n"
                      "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                      "c.execute('BEGIN')\n"
                      "c.execute('SELECT count(*) FROM apps').fetchall()\n"
                      "print('reading', flush=True)\n"
                      "time.sleep(60)\n",
                      db_path},
                     {}, backups.path()});
    for (int i = 0; i < 500 && reading.out().find("reading") == std::string::npos; ++i)
      std::this_thread::sleep_for(10ms);
    ASSERT_NE(reading.out().find("reading"), std::string::npos) << reading.err();
    began = std::chrono::steady_clock::now();
    auto blocked = picloud(source, {"serve"}, test::kKeyringKey,
                           {{"PICLOUD_SERVER_PORT", std::to_string(test::free_port())}});
    EXPECT_LT(std::chrono::steady_clock::now() - began, 4s) << "waited out a busy timeout";
    EXPECT_NE(blocked.status, 0);
    EXPECT_NE(blocked.err.find("is in use by process " + std::to_string(reading.pid())), std::string::npos)
        << blocked.err;
    EXPECT_EQ(blocked.err.find("move it away"), std::string::npos) << blocked.err;
  }
  Place target(Backend::sqlite);
  auto restore = picloud(target, {"restore", dest});
  ASSERT_EQ(restore.status, 0) << restore.err;
  Server restored(target);
  expect_seeded(restored);
}

INSTANTIATE_TEST_SUITE_P(Databases, BackupTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return test::backend_name(info.param); });

}  // namespace
