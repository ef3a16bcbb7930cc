// The host functions the next service plugins build on, through the t_host
// test plugin loaded by the real loader into a real server: routes on app
// hosts under /_picloud/<plugin>/, admin-host routes that never shadow an
// app, app lookup, a run's deadline, JSON parsed by the kernel, after-commit
// work, a task on one node at a time, and the plugin's directories.
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "fixture.hpp"
#include "kernel/db/leader.hpp"
#include "kernel/db/url.hpp"
#include "scripts.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

class PluginHostApi : public ::testing::TestWithParam<Backend> {
 protected:
  std::map<std::string, std::string> env(std::map<std::string, std::string> more = {}) {
    std::map<std::string, std::string> e{{"PICLOUD_PLUGINS_ENABLED", "t_host"},
                                         {"PICLOUD_SERVER_DATA_DIR", data_.path() + "/data"}};
    for (auto& [k, v] : more) e[k] = v;
    return e;
  }
  // An app with a script that answers `body` (AngelScript) on GET /run.
  void app_running(Instance& pc, const std::string& slug, const std::string& body) {
    auto app = pc.post("/apps", pc.owner_key, R"({"slug":")" + slug + R"(","hostnames":[")" + slug + R"(.localhost"]})");
    ASSERT_EQ(app.status, 201) << app.body;
    save_script(pc, slug, "run", "void handle(request@ req, response@ res) {\n" + body + "\n}");
    bind_route(pc, slug, R"({"script":"run","path":"/run"})");
  }
  HttpResult run(Instance& pc, const std::string& slug) { return on(pc, slug + ".localhost", "GET", "/run"); }

  TempDir data_;
};

TEST_P(PluginHostApi, AppHostRoutesAnswerUnderTheReservedPrefixForTheHostsApp) {
  Instance pc(GetParam(), env());
  pc.cast_owner();
  auto app = pc.post("/apps", pc.owner_key, R"({"slug":"ph","hostnames":["ph.localhost"]})");
  ASSERT_EQ(app.status, 201) << app.body;
  std::string app_id = app.json["id"].as_string();

  auto who = on(pc, "PH.localhost:8080", "GET", "/_picloud/t_host/whoami/bob");
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(who.body, R"({"app_id":")" + app_id + R"(","name":"bob","path":"/_picloud/t_host/whoami/bob"})");

  // No app on the host, the admin API's host, a path or method no plugin routes.
  auto nobody = on(pc, "nobody.localhost", "GET", "/_picloud/t_host/whoami/bob");
  EXPECT_EQ(nobody.status, 404);
  EXPECT_TRUE(contains(nobody.body, "no app serves the host 'nobody.localhost'"));
  EXPECT_EQ(http_get(pc.port(), "/_picloud/t_host/whoami/bob").status, 404);
  auto missing = on(pc, "ph.localhost", "GET", "/_picloud/t_host/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(contains(missing.body, "no plugin route for GET /_picloud/t_host/nothing"));
  auto wrong = on(pc, "ph.localhost", "POST", "/_picloud/t_host/whoami/bob");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers["allow"], "GET");

  // An app can neither route under the prefix nor catch its paths.
  save_script(pc, "ph", "app", R"(void handle(request@ req, response@ res) { res.text("the app's " + req.path); })");
  auto reserved = pc.post("/apps/ph/routes", pc.owner_key, R"({"script":"app","path":"/_picloud/t_host/x"})");
  EXPECT_EQ(reserved.status, 400);
  EXPECT_TRUE(contains(reserved.body, "'/_picloud/' is reserved for plugins"));
  bind_route(pc, "ph", R"({"script":"app","path":"/*"})");
  EXPECT_EQ(on(pc, "ph.localhost", "GET", "//_picloud/t_host/whoami/eve").body,
            R"({"app_id":")" + app_id + R"(","name":"eve","path":"//_picloud/t_host/whoami/eve"})");
  EXPECT_EQ(on(pc, "ph.localhost", "GET", "/_picloud/nothing").status, 404);
  // HEAD is answered as GET without a body; the Host may end in a dot.
  auto head = on(pc, "ph.localhost.", "HEAD", "/_picloud/t_host/whoami/bob");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");

  // A plugin's admin-host route answers on the admin API's hosts only; on
  // an app's host the path is the app's.
  auto ping = http_get(pc.port(), "/t_host/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "pong");
  auto shadowed = on(pc, "ph.localhost", "GET", "/t_host/ping");
  EXPECT_EQ(shadowed.status, 200);
  EXPECT_EQ(shadowed.body, "the app's /t_host/ping");
}

TEST_P(PluginHostApi, AnAppIsFoundByIdSlugOrHostname) {
  Instance pc(GetParam(), env());
  pc.cast_owner();
  app_running(pc, "finder", R"(
  json by_slug = t_host::find_app("finder");
  json by_id = t_host::find_app(by_slug.get_string("id"));
  json by_host = t_host::find_app("FINDER.localhost:80");
  string missing;
  try { t_host::find_app("no-such-app"); } catch { missing = getExceptionInfo(); }
  res.text(by_slug.to_string() + "|" + (by_id.to_string() == by_slug.to_string() ? "same" : "differs") + "|" +
           (by_host.to_string() == by_slug.to_string() ? "same" : "differs") + "|" + missing);)");
  auto r = run(pc, "finder");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(contains(r.body, R"("hostnames":["finder.localhost"])"));
  EXPECT_TRUE(contains(r.body, R"("slug":"finder")"));
  EXPECT_TRUE(contains(r.body, "|same|same|not_found: app 'no-such-app' not found"));
}

TEST_P(PluginHostApi, APluginCallSeesItsRunsDeadlineAndWaitsNoLonger) {
  Instance pc(GetParam(), env({{"PICLOUD_SCRIPTING_TIMEOUT_MS", "1500"}}));
  pc.cast_owner();
  app_running(pc, "late", R"(
  int left = t_host::remaining();
  res.text("" + left);)");
  auto r = run(pc, "late");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GT(std::stoll(r.body), 0);
  EXPECT_LE(std::stoll(r.body), 1500);

  // Asked to wait 20 s, the plugin stops at the run's end; the run then
  // ends as timed out, not 20 s later.
  save_script(pc, "late", "slow", R"(void handle(request@ req, response@ res) { res.text("" + t_host::wait_out(20000)); })");
  bind_route(pc, "late", R"({"script":"slow","path":"/slow"})");
  auto started = std::chrono::steady_clock::now();
  auto slow = on(pc, "late.localhost", "GET", "/slow");
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(slow.status == 504 || (slow.status == 200 && std::stoll(slow.body) <= 1600)) << slow.status << slow.body;
}

TEST_P(PluginHostApi, JsonIsParsedByTheKernelAsItParsesRequestBodies) {
  Instance pc(GetParam(), env());
  pc.cast_owner();
  app_running(pc, "js", R"(
  string dup, bad, deep;
  try { t_host::parse('{"a":1,"a":2}', true); } catch { dup = getExceptionInfo(); }
  try { t_host::parse('{"a":'); } catch { bad = getExceptionInfo(); }
  string nested64 = "1";
  for (int i = 0; i < 64; i++) nested64 = "[" + nested64 + "]";
  int depth64 = t_host::parse(nested64).is_array() ? 64 : 0;
  try { t_host::parse("[" + nested64 + "]"); } catch { deep = getExceptionInfo(); }
  res.text(t_host::parse('{"n":9007199254740993,"f":1.5,"l":[true,null,"x"]}').to_string() + "|" +
           t_host::parse('{"a":1,"a":2}').to_string() + "|" + t_host::parse('7').to_string() + "|" +
           dup + "|" + bad + "|" + depth64 + "|" + deep);)");
  auto r = run(pc, "js");
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> parts;
  for (std::size_t at = 0, bar; at <= r.body.size(); at = bar + 1) {
    bar = r.body.find('|', at);
    if (bar == std::string::npos) bar = r.body.size();
    parts.push_back(r.body.substr(at, bar - at));
  }
  ASSERT_EQ(parts.size(), 7u) << r.body;
  EXPECT_TRUE(contains(parts[0], R"("n":9007199254740993)"));  // an int, not rounded through a double
  EXPECT_TRUE(contains(parts[0], R"("f":1.5)"));
  EXPECT_TRUE(contains(parts[0], R"("l":[true,null,"x"])"));
  EXPECT_EQ(parts[1], R"({"a":2})");  // stored text: the last of a repeated field
  EXPECT_EQ(parts[2], "7");
  EXPECT_EQ(parts[3], R"(invalid_argument: malformed JSON: the field "a" appears twice in one object)");
  EXPECT_TRUE(contains(parts[4], "invalid_argument: malformed JSON"));
  // 64 levels are read; 65 are refused for their depth alone.
  EXPECT_EQ(parts[5], "64");
  EXPECT_TRUE(contains(parts[6], "invalid_argument: malformed JSON"));
  EXPECT_TRUE(contains(parts[6], "depth"));
}

TEST_P(PluginHostApi, AHandleMethodGetsTheMembersOfItsStateItDeclares) {
  Instance pc(GetParam(), env());
  pc.cast_owner();
  app_running(pc, "parcel", R"(
  t_host::Parcel@ p = t_host::parcel(1000);
  res.text(p.members.to_string() + "|" + p.size() + "|" + p.all().to_string());)");
  auto r = run(pc, "parcel");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"(["label"]|1000|["label","payload"])");
}

TEST_P(PluginHostApi, AfterCommitWorkRunsOnlyOnCommitAndIsFreedEitherWay) {
  // One connection: the work's own query gets it only once the committed
  // transaction gave it back.
  Instance pc(GetParam(), env({{"PICLOUD_DATABASE_POOL_SIZE", "1"}, {"PICLOUD_DATABASE_ACQUIRE_TIMEOUT_MS", "3000"}}));
  pc.cast_owner();
  app_running(pc, "ac", R"(
  json before = t_host::after_commits();
  int committed = t_host::write(true);
  json after_commit = t_host::after_commits();
  int rolled = t_host::write(false);
  json after_rollback = t_host::after_commits();
  res.text(committed + "," + rolled + "|" +
           (after_commit.get_int("ran") - before.get_int("ran")) + "," + (after_commit.get_int("freed") - before.get_int("freed")) + "," +
           (after_commit.get_int("queried") - before.get_int("queried")) + "|" +
           (after_rollback.get_int("ran") - after_commit.get_int("ran")) + "," + (after_rollback.get_int("freed") - after_commit.get_int("freed")));)");
  auto started = std::chrono::steady_clock::now();
  auto r = run(pc, "ac");
  ASSERT_EQ(r.status, 200) << r.body;
  // Committed: the work ran once, could read the database and was freed;
  // rolled back: freed, not run.
  EXPECT_EQ(r.body, "1,0|1,1,1|0,1");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  auto rows = pc.db().query("SELECT count(*) FROM t_host_ticks WHERE node = 'written'");
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->rows[0][0].as_int(), 1);
}

TEST_P(PluginHostApi, APluginHasAPrivateDataDirectoryAndKnowsItsInstallDirectory) {
  Instance pc(GetParam(), env());
  pc.cast_owner();
  app_running(pc, "dirs", R"(res.text(t_host::data_dir() + "|" + t_host::install_dir());)");
  auto r = run(pc, "dirs");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string expected = std::filesystem::canonical(data_.path()).string() + "/data/plugins/t_host";
  std::string data_dir = r.body.substr(0, r.body.find('|'));
  EXPECT_EQ(std::filesystem::weakly_canonical(data_dir).string(), expected);
  struct stat st {};
  ASSERT_EQ(::stat(data_dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(std::filesystem::weakly_canonical(r.body.substr(r.body.find('|') + 1)),
            std::filesystem::weakly_canonical(test_plugin_dir()));
}

TEST_P(PluginHostApi, AOneNodeTaskSkipsItsTickWhileAnotherNodeHoldsItsLock) {
  Instance pc(GetParam(), env({{"PICLOUD_T_HOST_TICK_MS", "20"}, {"PICLOUD_T_HOST_NODE", "a"}}));
  auto ticks = [&] {
    auto rows = pc.db().query("SELECT count(*) FROM t_host_ticks WHERE node = 'a'");
    return rows ? rows->rows[0][0].as_int() : -1;
  };
  ASSERT_TRUE(wait_count(pc, "SELECT CASE WHEN count(*) >= 3 THEN 1 ELSE 0 END FROM t_host_ticks WHERE node = 'a'", {}, 1));
  if (GetParam() == Backend::sqlite) return;  // one node: nothing to take turns with

  // Another "node" holds the task's lock: no tick runs here meanwhile.
  auto url = kernel::db::parse_database_url(pc.database_url(), 5);
  ASSERT_TRUE(url);
  auto other = kernel::db::Database::open(*url, {});
  ASSERT_TRUE(other) << other.error().message;
  std::int64_t during = -1, held_from = -1;
  auto held = (*other)->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto lock = tx.query("SELECT pg_advisory_xact_lock(?)", {kernel::db::plugin_task_key("t_host", "tick")});
    if (!lock) return lock.error();
    std::this_thread::sleep_for(100ms);  // a tick in flight when the lock was taken ends
    held_from = ticks();
    std::this_thread::sleep_for(400ms);
    during = ticks();
    return {};
  });
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_EQ(during, held_from) << "ticks ran while another node held the lock";
  // Released: the task runs here again.
  ASSERT_TRUE(wait_count(pc, "SELECT CASE WHEN count(*) > ? THEN 1 ELSE 0 END FROM t_host_ticks WHERE node = 'a'",
                         {during}, 1));
}

TEST_P(PluginHostApi, TwoNodesRunAOneNodeTaskAboutOncePerIntervalBetweenThem) {
  if (GetParam() == Backend::sqlite) GTEST_SKIP() << "one node per SQLite database";
  constexpr int kTickMs = 250;
  Instance a(GetParam(), env({{"PICLOUD_T_HOST_TICK_MS", std::to_string(kTickMs)}, {"PICLOUD_T_HOST_NODE", "a"}}));
  Instance b(GetParam(), env({{"PICLOUD_DATABASE_URL", a.database_url()},
                              {"PICLOUD_T_HOST_TICK_MS", std::to_string(kTickMs)},
                              {"PICLOUD_T_HOST_NODE", "b"}}));
  auto count = [&](const std::string& where) {
    auto rows = a.db().query("SELECT count(*) FROM t_host_ticks WHERE " + where);
    return rows ? rows->rows[0][0].as_int() : -1;
  };
  std::int64_t from = count("node IN ('a', 'b')");
  std::this_thread::sleep_for(3000ms);
  std::int64_t ticks = count("node IN ('a', 'b')") - from;
  // Each node's timer fires every 250 ms (24 in all); between them the task
  // runs about once per interval: 12, with slack for timers and the
  // tenth-of-an-interval tolerance.
  EXPECT_GE(ticks, 6) << "the task stopped running";
  EXPECT_LE(ticks, 15) << "both nodes ran the task every interval";
}

TEST_P(PluginHostApi, TheKeyringSealsPerPluginAndAppAndSignsPerApp) {
  Instance pc(GetParam(), env({{"PICLOUD_PLUGINS_ENABLED", "t_host,secrets"},
                               {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()}}));
  pc.cast_owner();
  auto other = pc.post("/apps", pc.owner_key, R"({"slug":"kr-other","hostnames":["kr-other.localhost"]})");
  ASSERT_EQ(other.status, 201) << other.body;
  std::string other_id = other.json["id"].as_string();
  app_running(pc, "kr", R"(
  json value = "the secrets plugin's";
  secrets::set("shared_name", value);
  t_host::seal_put("shared_name", "t_host's");
  string mine = t_host::seal_get("shared_name").to_string();
  string theirs = secrets::get("shared_name").to_string();
  string absent = t_host::seal_get("no_such").to_string();
  array<uint8>@ sig = t_host::sign("payload");
  array<uint8> cut = sig;
  cut.resize(sig.length() - 1);
  res.text(mine + "|" + theirs + "|" + absent + "|" + sig.length() + "|" + t_host::verify("payload", sig) + "|" +
           t_host::verify("payload!", sig) + "|" + t_host::verify("payload", cut) + "|" +
           t_host::verify("payload", sig, ")" + other_id + R"("));)");
  auto r = run(pc, "kr");
  ASSERT_EQ(r.status, 200) << r.body;
  // Each plugin opens only its own values of one name; a signature holds
  // for its data and app alone, and a cut one never.
  EXPECT_EQ(r.body, R"("t_host's"|"the secrets plugin's"|null|40|true|false|false|false)");
}

INSTANTIATE_TEST_SUITE_P(Backends, PluginHostApi, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
