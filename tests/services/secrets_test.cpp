// The secrets plugin and the kernel's keyring end to end, on both databases:
// the real secrets.so through the loader, scripts calling secrets:: over
// loopback, the admin API, and what reaches the database (never plaintext).
#include <filesystem>

#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

using V = sdk::Value;

std::map<std::string, std::string> secrets_env(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env{
      {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
      {"PICLOUD_PLUGINS_ENABLED", "secrets"},
      {"PICLOUD_SECRETS_MAX_VALUE_BYTES", "1024"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

Instance& secrets_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(backend, secrets_env());
    slot->cast_owner();
    slot->cast();
  }
  return *slot;
}

// Every secrets:: function, driven by a JSON body {"op", "name", "value"}.
const char* kDriver = R"(
void handle(request@ req, response@ res) {
  json a = req.json();
  string op = a.get_string("op");
  string name = a.get_string("name");
  json r;
  if (op == "get") r = secrets::get(name);
  else if (op == "set") secrets::set(name, a["value"]);
  else if (op == "delete") r = secrets::delete(name);
  else if (op == "list") r = secrets::list();
  else throw("unknown op " + op);
  res.json(r);
})";

void drive_app(Instance& pc, const std::string& slug) {
  make_app(pc, slug);
  save_script(pc, slug, "drive", kDriver);
  bind_route(pc, slug, R"({"script":"drive","path":"/secrets","methods":["POST"]})");
}

DriverReply drive(Instance& pc, const std::string& slug, const V& args) { return drive_at(pc, slug, "/secrets", args); }

V ok(Instance& pc, const std::string& slug, const V& args) {
  auto r = drive(pc, slug, args);
  EXPECT_EQ(r.status, 200) << sdk::to_json(args) << " -> " << r.body;
  return r.json;
}

std::string refused(Instance& pc, const std::string& slug, const V& args) {
  auto r = drive(pc, slug, args);
  EXPECT_EQ(r.status, 502) << sdk::to_json(args) << " -> " << r.body;
  return r.error();
}

std::int64_t rows_of(Instance& pc, const std::string& app_id) {
  auto rows = pc.db().query("SELECT count(*) FROM sealed_values WHERE app_id = ?", {app_id});
  return rows ? rows->rows[0][0].as_int() : -1;
}

class Secrets : public ::testing::TestWithParam<Backend> {};

TEST_P(Secrets, ScriptsSetGetListAndDeleteTheirAppsSecrets) {
  Instance& pc = secrets_instance(GetParam());
  drive_app(pc, "sec-rt");
  EXPECT_EQ(ok(pc, "sec-rt", V::object({{"op", "get"}, {"name", "api_key"}})), V());
  ok(pc, "sec-rt", V::object({{"op", "set"}, {"name", "api_key"}, {"value", "sk-123"}}));
  ok(pc, "sec-rt", V::object({{"op", "set"}, {"name", "smtp.login"}, {"value", V::object({{"user", "u"}, {"port", 587}})}}));
  EXPECT_EQ(ok(pc, "sec-rt", V::object({{"op", "get"}, {"name", "api_key"}})), V("sk-123"));
  EXPECT_EQ(ok(pc, "sec-rt", V::object({{"op", "get"}, {"name", "smtp.login"}})),
            V::object({{"user", "u"}, {"port", 587}}));
  // Replaced in place.
  ok(pc, "sec-rt", V::object({{"op", "set"}, {"name", "api_key"}, {"value", "sk-456"}}));
  EXPECT_EQ(ok(pc, "sec-rt", V::object({{"op", "get"}, {"name", "api_key"}})), V("sk-456"));
  // Names and times, never values.
  V list = ok(pc, "sec-rt", V::object({{"op", "list"}}));
  ASSERT_EQ(list.size(), 2u) << sdk::to_json(list);
  EXPECT_EQ(list[0]["name"], V("api_key"));
  EXPECT_EQ(list[1]["name"], V("smtp.login"));
  EXPECT_TRUE(list[0]["updated_at"].is_string());
  EXPECT_EQ(sdk::to_json(list).find("sk-456"), std::string::npos);
  EXPECT_EQ(ok(pc, "sec-rt", V::object({{"op", "delete"}, {"name", "api_key"}})), V(true));
  EXPECT_EQ(ok(pc, "sec-rt", V::object({{"op", "delete"}, {"name", "api_key"}})), V(false));
  EXPECT_EQ(ok(pc, "sec-rt", V::object({{"op", "get"}, {"name", "api_key"}})), V());
}

TEST_P(Secrets, BadNamesAndValuesAreRefusedAndChangeNothing) {
  Instance& pc = secrets_instance(GetParam());
  std::string id = make_app(pc, "sec-bad");
  save_script(pc, "sec-bad", "drive", kDriver);
  bind_route(pc, "sec-bad", R"({"script":"drive","path":"/secrets","methods":["POST"]})");
  EXPECT_TRUE(contains(refused(pc, "sec-bad", V::object({{"op", "set"}, {"name", ""}, {"value", "x"}})),
                       "invalid_argument: secret name is empty"));
  EXPECT_TRUE(contains(refused(pc, "sec-bad", V::object({{"op", "set"}, {"name", "a/b"}, {"value", "x"}})),
                       "may hold only letters, digits and _ - ."));
  EXPECT_TRUE(contains(refused(pc, "sec-bad", V::object({{"op", "set"}, {"name", std::string(129, 'n')}, {"value", "x"}})),
                       "longer than 128 characters"));
  EXPECT_TRUE(contains(refused(pc, "sec-bad", V::object({{"op", "set"}, {"name", "n"}, {"value", V()}})),
                       "cannot be null (delete it instead)"));
  std::string big = refused(pc, "sec-bad", V::object({{"op", "set"}, {"name", "n"}, {"value", std::string(2000, 'x')}}));
  EXPECT_TRUE(contains(big, "a secret holds at most 1024 ([secrets] max_value_bytes)"));
  EXPECT_EQ(big.find("xxxx"), std::string::npos) << "the error repeats the value";
  EXPECT_TRUE(contains(refused(pc, "sec-bad", V::object({{"op", "get"}, {"name", "no such"}})), "may hold only"));
  EXPECT_EQ(rows_of(pc, id), 0);
}

TEST_P(Secrets, AppsNeverSeeEachOthersSecrets) {
  Instance& pc = secrets_instance(GetParam());
  drive_app(pc, "sec-a");
  drive_app(pc, "sec-b");
  ok(pc, "sec-a", V::object({{"op", "set"}, {"name", "token"}, {"value", "a-only"}}));
  EXPECT_EQ(ok(pc, "sec-b", V::object({{"op", "get"}, {"name", "token"}})), V());
  EXPECT_EQ(ok(pc, "sec-b", V::object({{"op", "list"}})).size(), 0u);
  EXPECT_EQ(ok(pc, "sec-b", V::object({{"op", "delete"}, {"name", "token"}})), V(false));
  EXPECT_EQ(ok(pc, "sec-a", V::object({{"op", "get"}, {"name", "token"}})), V("a-only"));
}

TEST_P(Secrets, ASealedValueMovedToAnotherAppOrNameDoesNotOpen) {
  Instance& pc = secrets_instance(GetParam());
  std::string a = make_app(pc, "sec-from");
  save_script(pc, "sec-from", "drive", kDriver);
  bind_route(pc, "sec-from", R"({"script":"drive","path":"/secrets","methods":["POST"]})");
  drive_app(pc, "sec-to");
  auto to = pc.db().query("SELECT id FROM apps WHERE slug = 'sec-to'");
  ASSERT_TRUE(to && !to->empty());
  const std::string b = to->rows[0][0].as_string();
  ok(pc, "sec-from", V::object({{"op", "set"}, {"name", "db_password"}, {"value", "hunter2-long-enough"}}));
  // Renamed inside the app by SQL: it does not open under the new name.
  ASSERT_TRUE(pc.db().execute("UPDATE sealed_values SET name = 'other' WHERE app_id = ? AND name = 'db_password'", {a}));
  EXPECT_TRUE(contains(refused(pc, "sec-from", V::object({{"op", "get"}, {"name", "other"}})),
                       "the value 'other' cannot be opened: it was not sealed for this app and name, or it was altered"));
  // Moved to another app: neither.
  ASSERT_TRUE(pc.db().execute("UPDATE sealed_values SET app_id = ?, name = 'db_password' WHERE app_id = ? AND name = 'other'",
                              {b, a}));
  EXPECT_TRUE(contains(refused(pc, "sec-to", V::object({{"op", "get"}, {"name", "db_password"}})), "cannot be opened"));
  // One flipped byte of the ciphertext: refused too.
  ok(pc, "sec-from", V::object({{"op", "set"}, {"name", "k"}, {"value", "v"}}));
  auto row = pc.db().query("SELECT envelope FROM sealed_values WHERE app_id = ? AND name = 'k'", {a});
  ASSERT_TRUE(row && !row->empty());
  sdk::Bytes env = row->rows[0][0].as_bytes();
  env[env.size() - 20] ^= 1;
  ASSERT_TRUE(pc.db().execute("UPDATE sealed_values SET envelope = ? WHERE app_id = ? AND name = 'k'", {V(env), a}));
  EXPECT_TRUE(contains(refused(pc, "sec-from", V::object({{"op", "get"}, {"name", "k"}})), "cannot be opened"));
}

TEST_P(Secrets, ThePlaintextNeverReachesTheDatabase) {
  Instance& pc = secrets_instance(GetParam());
  drive_app(pc, "sec-disk");
  const std::string marker = "MARKER-7f3a9c-plaintext-secret";
  ok(pc, "sec-disk", V::object({{"op", "set"}, {"name", "marked"}, {"value", marker}}));
  EXPECT_EQ(ok(pc, "sec-disk", V::object({{"op", "get"}, {"name", "marked"}})), V(marker));
  std::string everything;
  if (GetParam() == Backend::sqlite) {
    // The database file and its write-ahead log, byte for byte.
    std::string file = pc.database_url().substr(std::string("sqlite:").size());
    everything = read_file(file);
    if (std::filesystem::exists(file + "-wal")) everything += read_file(file + "-wal");
    ASSERT_FALSE(everything.empty());
  } else {
    TempDir dir;
    std::string dump = dir.file("dump.sql");
    std::string cmd = "pg_dump_bin=$(ls /usr/lib/postgresql/*/bin/pg_dump | tail -1); \"$pg_dump_bin\" --no-owner '" +
                      pc.database_url() + "' > '" + dump + "' 2>'" + dir.file("err") + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(dir.file("err"));
    everything = read_file(dump);
    ASSERT_NE(everything.find("sealed_values"), std::string::npos);
  }
  EXPECT_EQ(everything.find(marker), std::string::npos) << "the plaintext is in the database";
  // pg_dump writes bytea as hex: the plaintext must not be there that way either.
  std::string hex_marker;
  for (unsigned char c : marker) {
    static const char d[] = "0123456789abcdef";
    hex_marker += {d[c >> 4], d[c & 15]};
  }
  EXPECT_EQ(everything.find(hex_marker), std::string::npos) << "the plaintext is in the database, in hex";
}

TEST_P(Secrets, TheAdminApiListsNamesAndOnlyAdminsReadValuesBack) {
  Instance& pc = secrets_instance(GetParam());
  const std::string base = "/apps/alpha/secrets";
  // An editor sets; a viewer may not.
  EXPECT_EQ(pc.call("PUT", base + "/stripe", pc.eddie, R"({"value":"sk-live"})").status, 204);
  EXPECT_EQ(pc.call("PUT", base + "/stripe", pc.vera, R"({"value":"x"})").status, 403);
  auto unknown = pc.call("PUT", base + "/stripe", pc.eddie, R"({"value":"x","ttl":5})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_TRUE(contains(unknown.body, "ttl: unknown field"));
  EXPECT_EQ(pc.call("PUT", base + "/bad%20name", pc.eddie, R"({"value":"x"})").status, 400);
  // Everyone in the app lists names, never values.
  auto list = pc.get(base, pc.vera);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_TRUE(contains(list.body, R"("name":"stripe")"));
  EXPECT_EQ(list.body.find("sk-live"), std::string::npos);
  // Reading a value back: the app's admins and the owner only.
  EXPECT_EQ(pc.get(base + "/stripe", pc.eddie).status, 403);
  auto read = pc.get(base + "/stripe", pc.alice);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json["value"], V("sk-live"));
  EXPECT_EQ(pc.get(base + "/stripe", pc.oscar).status, 404);  // not a member of alpha
  EXPECT_EQ(pc.get(base + "/missing", pc.alice).status, 404);
  EXPECT_EQ(pc.call("DELETE", base + "/stripe", pc.eddie).status, 204);
  EXPECT_EQ(pc.call("DELETE", base + "/stripe", pc.eddie).status, 404);
}

TEST_P(Secrets, RunsOnBehalfOfAUserNeedTheirCapabilities) {
  Instance& pc = secrets_instance(GetParam());
  ASSERT_EQ(pc.call("PUT", "/apps/alpha/secrets/run_token", pc.owner_key, R"({"value":"t"})").status, 204);
  save_script(pc, "alpha", "peek", R"(void handle(request@ req, response@ res) { res.json(secrets::get("run_token")); })");
  auto by_viewer = pc.post("/apps/alpha/scripts/peek/run", pc.vera, "");
  ASSERT_EQ(by_viewer.status, 200) << by_viewer.body;
  EXPECT_EQ(by_viewer.json["ok"], V(false));
  EXPECT_TRUE(contains(by_viewer.json["error"]["message"].string_or(""), "forbidden: 'secrets.read'"));
  auto by_owner = pc.post("/apps/alpha/scripts/peek/run", pc.owner_key, "");
  ASSERT_EQ(by_owner.status, 200) << by_owner.body;
  EXPECT_EQ(by_owner.json["response"]["body"], V(R"("t")"));
}

TEST_P(Secrets, DeletingAnAppDeletesItsSecrets) {
  Instance& pc = secrets_instance(GetParam());
  std::string id = make_app(pc, "sec-gone");
  save_script(pc, "sec-gone", "drive", kDriver);
  bind_route(pc, "sec-gone", R"({"script":"drive","path":"/secrets","methods":["POST"]})");
  ok(pc, "sec-gone", V::object({{"op", "set"}, {"name", "a"}, {"value", "1"}}));
  ASSERT_EQ(rows_of(pc, id), 1);
  EXPECT_EQ(pc.call("DELETE", "/apps/sec-gone", pc.owner_key).status, 204);
  EXPECT_EQ(rows_of(pc, id), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Secrets, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
