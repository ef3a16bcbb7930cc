// The keyring at start-up and in rotation, with real processes on both
// databases: the key a database was sealed with is required, a node with
// another key is refused naming both ids, PostgreSQL never mints a key, and
// `picloud keys rotate` re-seals every value and resumes when interrupted.
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <optional>
#include <thread>

#include "kernel/keyring/keyring.hpp"
#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

using V = sdk::Value;

const std::string kOtherKey = "YW5vdGhlciBrZXlyaW5nIGtleSBmb3IgUGlDbG91ISE=";

std::string id_of(const std::string& base64) {
  auto key = kernel::keyring::decode_key(base64, "test");
  return key ? kernel::keyring::key_id(*key) : "?";
}

// `picloud <args>` on a database, with the test plugins' path and `env`.
std::unique_ptr<Process> picloud(const std::vector<std::string>& args, const std::string& db_url, const std::string& cwd,
                                 std::map<std::string, std::string> env = {}) {
  std::vector<std::string> argv{picloud_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  env.emplace("PICLOUD_DATABASE_URL", db_url);
  env.emplace("PICLOUD_SERVER_PORT", std::to_string(free_port()));
  env.emplace("PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir());
  env.emplace("PICLOUD_PLUGINS_ENABLED", "secrets");
  return std::make_unique<Process>(Process::Options{argv, env, cwd, false});
}

class Keyring : public ::testing::TestWithParam<Backend> {};

TEST_P(Keyring, ANodeWithAnotherMasterKeyIsRefusedNamingBothIds) {
  TestDatabase db(GetParam());
  TempDir dir;
  {
    auto first = picloud({"migrate"}, db.url(), dir.path(), {{"PICLOUD_KEYRING_KEY", kKeyringKey}});
    ASSERT_EQ(first->wait(20s), 0) << first->err();
    // migrate alone records no key; a start does.
    auto serve = picloud({"serve"}, db.url(), dir.path(), {{"PICLOUD_KEYRING_KEY", kKeyringKey}});
    ASSERT_TRUE(serve->running());
    bool recorded = false;
    for (int i = 0; i < 200 && !recorded; ++i) {
      auto conn = db.open(1);
      auto rows = conn->query("SELECT value FROM keyring_state WHERE name = 'active_key_id'");
      recorded = rows && !rows->empty();
      if (!recorded) std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(recorded) << serve->err();
    serve->signal(SIGTERM);
    serve->wait(20s);
  }
  auto other = picloud({"serve"}, db.url(), dir.path(), {{"PICLOUD_KEYRING_KEY", kOtherKey}});
  EXPECT_EQ(other->wait(20s), 1);
  EXPECT_TRUE(contains(other->err(), "sealed with master key " + id_of(kKeyringKey) +
                                         ", which this node does not have; it has " + id_of(kOtherKey)))
      << other->err();
  auto malformed = picloud({"serve"}, db.url(), dir.path(), {{"PICLOUD_KEYRING_KEY", "c2hvcnQ="}});
  EXPECT_EQ(malformed->wait(20s), 1);
  EXPECT_TRUE(contains(malformed->err(), "is not base64 of 32 bytes")) << malformed->err();
}

TEST_P(Keyring, SqliteMakesAPrivateKeyFileOnFirstStartAndPostgresNeverMintsOne) {
  TestDatabase db(GetParam());
  TempDir dir;
  auto p = picloud({"serve"}, db.url(), dir.path());
  if (GetParam() == Backend::postgres) {
    EXPECT_EQ(p->wait(20s), 1);
    EXPECT_TRUE(contains(p->err(), "on PostgreSQL the master key must be given, the same on every node")) << p->err();
    return;
  }
  std::string file = dir.path() + "/data/keyring.keys";
  for (int i = 0; i < 200 && !std::filesystem::exists(file); ++i) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(std::filesystem::exists(file)) << p->err();
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  p->signal(SIGTERM);
  p->wait(20s);
  EXPECT_TRUE(contains(p->err(), "created a master key file: back it up")) << p->err();
  // Loosened by someone: the next start is refused, saying how to fix it.
  ::chmod(file.c_str(), 0640);
  auto again = picloud({"serve"}, db.url(), dir.path());
  EXPECT_EQ(again->wait(20s), 1);
  EXPECT_TRUE(contains(again->err(), "chmod 600 ./data/keyring.keys")) << again->err();
}

TEST_P(Keyring, RotationReSealsEveryValueAndResumesWhenInterrupted) {
  TempDir keys_dir;
  const std::string key_file = keys_dir.path() + "/keyring.keys";
  // The key file starts with the test key, as an operator would write it.
  {
    auto key = kernel::keyring::decode_key(kKeyringKey, "test");
    ASSERT_TRUE(key);
    kernel::keyring::KeySet set;
    set.active = kernel::keyring::key_id(*key);
    set.keys[set.active] = *key;
    ASSERT_TRUE(kernel::keyring::write_key_file(key_file, set));
  }
  std::map<std::string, std::string> env = {
      {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir()}, {"PICLOUD_PLUGINS_ENABLED", "secrets"},
      {"PICLOUD_KEYRING_KEY", ""},                           {"PICLOUD_KEYRING_KEY_FILE", key_file}};
  Instance pc(GetParam(), env);
  pc.cast_owner();
  make_app(pc, "rot");
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(pc.call("PUT", "/apps/rot/secrets/s" + std::to_string(i), pc.owner_key,
                      R"({"value":"value-)" + std::to_string(i) + R"("})")
                  .status,
              204);
  auto key_ids = [&] {
    std::map<std::string, std::int64_t> out;
    auto rows = pc.db().query("SELECT key_id, count(*) FROM sealed_values GROUP BY key_id");
    if (rows)
      for (const auto& r : rows->rows) out[r[0].as_string()] = r[1].as_int();
    return out;
  };
  const std::string first = id_of(kKeyringKey);
  EXPECT_EQ(key_ids(), (std::map<std::string, std::int64_t>{{first, 5}}));

  TempDir cwd;
  std::map<std::string, std::string> cli{{"PICLOUD_KEYRING_KEY", ""}, {"PICLOUD_KEYRING_KEY_FILE", key_file}};
  auto rotate = picloud({"keys", "rotate"}, pc.database_url(), cwd.path(), cli);
  ASSERT_EQ(rotate->wait(30s), 0) << rotate->out() << rotate->err();
  EXPECT_TRUE(contains(rotate->out(), "re-sealed 5 value(s)")) << rotate->out();
  auto after = key_ids();
  ASSERT_EQ(after.size(), 1u);
  const std::string second = after.begin()->first;
  EXPECT_NE(second, first);
  EXPECT_EQ(after[second], 5);
  // The running node reads the new key from its key file when it first
  // meets it: it reads re-sealed values and seals new ones with it.
  auto reread = pc.get("/apps/rot/secrets/s0", pc.owner_key);
  EXPECT_EQ(reread.status, 200) << reread.body;
  EXPECT_EQ(reread.json["value"], V("value-0"));
  EXPECT_EQ(pc.call("PUT", "/apps/rot/secrets/late", pc.owner_key, R"({"value":"x"})").status, 204);
  EXPECT_EQ(key_ids()[second], 6);
  EXPECT_EQ(pc.call("DELETE", "/apps/rot/secrets/late", pc.owner_key).status, 204);

  // Interrupted: two values still under the second key after a third
  // rotation began (their old envelopes put back, as if not yet re-sealed).
  auto saved = pc.db().query("SELECT name, envelope FROM sealed_values WHERE name IN ('s1', 's3') ORDER BY name");
  ASSERT_TRUE(saved && saved->size() == 2);
  auto rotate_again = picloud({"keys", "rotate"}, pc.database_url(), cwd.path(), cli);
  ASSERT_EQ(rotate_again->wait(30s), 0) << rotate_again->err();
  const std::string third = key_ids().begin()->first;
  ASSERT_NE(third, second);
  for (const auto& row : saved->rows)
    ASSERT_TRUE(pc.db().execute("UPDATE sealed_values SET key_id = ?, envelope = ? WHERE name = ?",
                                {second, row[1], row[0]}));
  auto status = picloud({"keys", "status"}, pc.database_url(), cwd.path(), cli);
  ASSERT_EQ(status->wait(30s), 0) << status->err();
  EXPECT_TRUE(contains(status->out(), "2 value(s) sealed with " + second)) << status->out();
  auto resume = picloud({"keys", "rotate"}, pc.database_url(), cwd.path(), cli);
  ASSERT_EQ(resume->wait(30s), 0) << resume->err();
  EXPECT_TRUE(contains(resume->out(), "resuming: 2 value(s) not yet sealed with " + third)) << resume->out();
  EXPECT_EQ(key_ids(), (std::map<std::string, std::int64_t>{{third, 5}}));
  const std::string key_text = test::read_file(key_file);
  EXPECT_EQ(std::count(key_text.begin(), key_text.end(), '\n'), 6) << "no fourth key was made:\n" << key_text;

  // Interrupted just after the key file was written: the file's active key
  // is new, the database's is not. The next run finishes that rotation.
  {
    auto current = kernel::keyring::read_key_file(key_file);
    ASSERT_TRUE(current) << current.error().message;
    std::string fourth_key(32, '4');
    current->active = kernel::keyring::key_id(fourth_key);
    current->keys[current->active] = fourth_key;
    ASSERT_TRUE(kernel::keyring::write_key_file(key_file, *current));
    auto finish = picloud({"keys", "rotate"}, pc.database_url(), cwd.path(), cli);
    ASSERT_EQ(finish->wait(30s), 0) << finish->err();
    EXPECT_TRUE(contains(finish->out(), "resuming the rotation to " + current->active)) << finish->out();
    EXPECT_EQ(key_ids(), (std::map<std::string, std::int64_t>{{current->active, 5}}));
  }

  // A node with the rotated key file reads every value: another node on
  // PostgreSQL; on SQLite (one node per database) the running one, which
  // reads the key file again for a key it has not seen.
  std::optional<Instance> other;
  if (GetParam() == Backend::postgres)
    other.emplace(GetParam(), std::map<std::string, std::string>{{"PICLOUD_DATABASE_URL", pc.database_url()},
                                                                 {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir()},
                                                                 {"PICLOUD_PLUGINS_ENABLED", "secrets"},
                                                                 {"PICLOUD_KEYRING_KEY", ""},
                                                                 {"PICLOUD_KEYRING_KEY_FILE", key_file}});
  Instance& reader = other ? *other : pc;
  auto owner = reader.login("owner");
  for (int i = 0; i < 5; ++i) {
    auto r = reader.get("/apps/rot/secrets/s" + std::to_string(i), owner);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json["value"], V("value-" + std::to_string(i)));
  }

  // A value that no longer opens (moved by SQL) does not stop a rotation:
  // the others are re-sealed, it is named, and the run fails.
  ASSERT_TRUE(pc.db().execute("UPDATE sealed_values SET name = 'moved' WHERE name = 's4'"));
  auto partial = picloud({"keys", "rotate"}, pc.database_url(), cwd.path(), cli);
  EXPECT_EQ(partial->wait(30s), 1);
  EXPECT_TRUE(contains(partial->err(), "not re-sealed: secrets/")) << partial->err();
  EXPECT_TRUE(contains(partial->err(), "/moved: the value 'moved' cannot be opened")) << partial->err();
  EXPECT_TRUE(contains(partial->err(), "1 value(s) could not be opened")) << partial->err();
  EXPECT_EQ(key_ids().size(), 2u);  // four re-sealed, the moved one under its old key
}

INSTANTIATE_TEST_SUITE_P(Backends, Keyring, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
