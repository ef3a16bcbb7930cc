// The data plane end to end: requests over real HTTP matched by Host and
// route to scripts, sync and async, on both databases.
#include <signal.h>

#include <atomic>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "fixture.hpp"
#include "scripts.hpp"
#include "picloud/sdk/json.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

// An instance with short limits, one per backend, shared by this file.
Instance& dispatch_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(backend, std::map<std::string, std::string>{
                                                   {"PICLOUD_SCRIPTING_TIMEOUT_MS", "300"},
                                                   {"PICLOUD_SCRIPTING_MAX_MEMORY_BYTES", "8388608"},
                                                   {"PICLOUD_DISPATCH_MAX_ATTEMPTS", "2"},
                                                   {"PICLOUD_DISPATCH_RETRY_BASE_MS", "50"},
                                                   {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"},
                                               });
    slot->cast_owner();
  }
  return *slot;
}

class Dispatch : public ::testing::TestWithParam<Backend> {};

TEST_P(Dispatch, SyncRoutesPassRequestsAndResponsesThrough) {
  Instance& pc = dispatch_instance(GetParam());
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"echo","hostnames":["echo.localhost","echo.example.com"]})").status, 201);
  save_script(pc, "echo", "inspect", R"(
void handle(request@ req, response@ res) {
  json echo = {{"method", req.method}, {"path", req.path}, {"id", req.param("id")},
              {"q", req.query.get_string("q", "-")}, {"agent", req.header("X-Agent", "none")},
              {"body", req.body}};
  res.status = 201;
  res.set_header("X-Made-By", "script");
  res.json(echo);
})");
  save_script(pc, "echo", "raw", R"(
void handle(request@ req, response@ res) { res.bytes(req.bytes()); })");
  save_script(pc, "echo", "answer", R"(
void handle(request@ req, response@ res) { res.text("any host"); })");
  save_script(pc, "echo", "exact", R"(
void handle(request@ req, response@ res) { res.text("exact host " + req.param("name")); })");
  bind_route(pc, "echo", R"({"script":"inspect","path":"/items/{id}","methods":["GET","POST"]})");
  bind_route(pc, "echo", R"({"script":"raw","path":"/raw","methods":["PUT"]})");
  bind_route(pc, "echo", R"({"script":"answer","path":"/who/*"})");
  bind_route(pc, "echo", R"({"script":"exact","path":"/who/{name}","host":"echo.example.com"})");

  auto r = on(pc, "echo.localhost:8080", "POST", "/items/42?q=a%20b", R"({"x":1})",
              {{"X-Agent", "tester"}, {"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["x-made-by"], "script");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  auto v = kernel::admin::parse_stored_json(r.body);
  EXPECT_EQ(v["method"].as_string(), "POST");
  EXPECT_EQ(v["path"].as_string(), "/items/42");
  EXPECT_EQ(v["id"].as_string(), "42");
  EXPECT_EQ(v["q"].as_string(), "a b");
  EXPECT_EQ(v["agent"].as_string(), "tester");
  EXPECT_EQ(v["body"].as_string(), R"({"x":1})");

  std::string binary("\0\1\2\xff\xfe body", 10);
  auto b = on(pc, "ECHO.LOCALHOST", "PUT", "/raw", binary, {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.body, binary);

  auto head = on(pc, "echo.localhost", "HEAD", "/items/7");
  EXPECT_EQ(head.status, 201);
  EXPECT_TRUE(head.body.empty());

  // Most specific wins; a host-specific route beats an any-host one.
  EXPECT_EQ(on(pc, "echo.localhost", "GET", "/who/ada").body, "any host");
  EXPECT_EQ(on(pc, "echo.example.com", "GET", "/who/ada").body, "exact host ada");
  EXPECT_EQ(on(pc, "echo.example.com", "GET", "/who/ada/more").body, "any host");

  auto method = on(pc, "echo.localhost", "DELETE", "/items/1");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.headers["allow"], "GET, POST");
  auto none = on(pc, "echo.localhost", "GET", "/nothing");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(kernel::admin::parse_stored_json(none.body)["error"]["code"].as_string(), "not_found");
  EXPECT_EQ(on(pc, "unknown.localhost", "GET", "/items/1").status, 404);
  // Kernel routes answer on every host and cannot be shadowed.
  EXPECT_EQ(on(pc, "echo.localhost", "GET", "/healthz").body, "ok\n");

  // Every run is in the execution log (batched, so it may take a moment).
  auto app = pc.get("/apps/echo", pc.owner_key).json["id"].as_string();
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE app_id = ?", {app}, 6));
  // The request id follows the run into its record.
  EXPECT_EQ(on(pc, "echo.localhost", "GET", "/who/x", "", {{"X-Request-Id", "trace-77"}}).status, 200);
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE app_id = ? AND request_id = 'trace-77'", {app}, 1));
}

TEST_P(Dispatch, AnotherAppsHostNeverReachesThisAppsRoutes) {
  Instance& pc = dispatch_instance(GetParam());
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"one","hostnames":["one.localhost"]})").status, 201);
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"two","hostnames":["two.localhost"]})").status, 201);
  save_script(pc, "one", "mine", R"(void handle(request@ req, response@ res) { res.text("one"); })");
  bind_route(pc, "one", R"({"script":"mine","path":"/only-one"})");
  EXPECT_EQ(on(pc, "one.localhost", "GET", "/only-one").body, "one");
  EXPECT_EQ(on(pc, "two.localhost", "GET", "/only-one").status, 404);
}

TEST_P(Dispatch, AppHostsNeverServeTheAdminApiOrSeeItsPaths) {
  Instance& pc = dispatch_instance(GetParam());
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"greedy","hostnames":["greedy.localhost"]})").status, 201);
  save_script(pc, "greedy", "all", R"(void handle(request@ req, response@ res) { res.text("script saw " + req.path); })");
  bind_route(pc, "greedy", R"({"script":"all","path":"/*"})");
  EXPECT_EQ(on(pc, "greedy.localhost", "GET", "/anything").body, "script saw /anything");
  // Credentials are not honoured on an app's host, and sign-in is not offered
  // there: an app's page never shares an origin with a working admin API.
  auto me = on(pc, "greedy.localhost", "GET", "/api/v1/admin/me", "", {{"Authorization", "Bearer " + pc.owner_key.key}});
  EXPECT_EQ(me.status, 404) << me.body;
  auto login = on(pc, "greedy.localhost", "POST", "/api/v1/admin/login",
                  R"({"username":"owner","password":")" + kPassword + R"("})", {{"Content-Type", "application/json"}});
  EXPECT_EQ(login.status, 404) << login.body;
  EXPECT_EQ(login.headers.count("set-cookie"), 0u);
  // Kernel paths, even unregistered ones under /api/v1/admin, never reach a script.
  for (const char* path : {"/api/v1/admin/nothing-here", "/api/v1/admin", "/metrics/x"}) {
    auto r = on(pc, "greedy.localhost", "GET", path, "", {{"Cookie", "picloud_session=secret"}});
    EXPECT_EQ(r.status, 404) << path << " " << r.body;
    EXPECT_EQ(r.body.find("script saw"), std::string::npos) << path;
  }
  EXPECT_EQ(pc.get("/me", pc.owner_key).status, 200) << "elsewhere the API answers as before";
}

TEST_P(Dispatch, FailuresAnswerWithTheirOwnStatus) {
  Instance& pc = dispatch_instance(GetParam());
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"fail","hostnames":["fail.localhost"]})").status, 201);
  save_script(pc, "fail", "lib", R"(string name() { return "x"; })", "module");
  save_script(pc, "fail", "uses_lib", R"(import "lib";
void handle(request@ req, response@ res) { res.text(lib::name()); })");
  save_script(pc, "fail", "throws", R"(void handle(request@ req, response@ res) { throw("no luck"); })");
  save_script(pc, "fail", "spins", R"(void handle(request@ req, response@ res) { int i = 0; while (true) { i++; } })");
  save_script(pc, "fail", "hogs", R"(void handle(request@ req, response@ res) {
  string s = "x"; while (true) { s += s; } })");
  for (const char* name : {"uses_lib", "throws", "spins", "hogs"})
    bind_route(pc, "fail", std::string(R"({"script":")") + name + R"(","path":"/)" + name + R"("})");
  EXPECT_EQ(on(pc, "fail.localhost", "GET", "/uses_lib").body, "x");
  // The module changes under it: the importer no longer compiles (422).
  ASSERT_EQ(pc.call("PATCH", "/apps/fail/scripts/lib", pc.owner_key, R"({"source":"int other() { return 1; }"})").status, 200);

  struct Case {
    std::string path;
    int status;
    std::string code;
  };
  for (const auto& c : std::vector<Case>{{"/uses_lib", 422, "compile_error"},
                                         {"/throws", 502, "script_error"},
                                         {"/spins", 504, "timeout"},
                                         {"/hogs", 507, "memory_limit"}}) {
    auto r = on(pc, "fail.localhost", "GET", c.path);
    EXPECT_EQ(r.status, c.status) << c.path << " " << r.body;
    auto v = kernel::admin::parse_stored_json(r.body);
    EXPECT_EQ(v["error"]["code"].as_string(), c.code) << r.body;
    EXPECT_FALSE(v["error"]["message"].as_string().empty());
    std::string id = v["error"]["details"]["execution_id"].string_or("");
    EXPECT_EQ(r.headers["x-execution-id"], id);
    // The failure is in the execution log under that id.
    EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE id = ? AND status = 'error'", {id}, 1)) << c.path;
  }
  auto thrown = on(pc, "fail.localhost", "GET", "/throws");
  EXPECT_NE(thrown.body.find("no luck"), std::string::npos) << thrown.body;
  // The server is fine afterwards.
  EXPECT_EQ(on(pc, "fail.localhost", "GET", "/healthz").status, 200);
}

TEST_P(Dispatch, RouteChangesTakeEffectAtOnceAndFromOtherNodes) {
  Instance& pc = dispatch_instance(GetParam());
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"live","hostnames":["live.localhost"]})").status, 201);
  save_script(pc, "live", "v", R"(void handle(request@ req, response@ res) { res.text("v1"); })");
  EXPECT_EQ(on(pc, "live.localhost", "GET", "/v").status, 404);
  bind_route(pc, "live", R"({"script":"v","path":"/v"})");
  EXPECT_EQ(on(pc, "live.localhost", "GET", "/v").body, "v1");
  ASSERT_EQ(pc.call("PATCH", "/apps/live/scripts/v", pc.owner_key,
                    sdk::to_json(sdk::Value::object({{"source", R"(void handle(request@ req, response@ res) { res.text("v2"); })"}})))
                .status,
            200);
  EXPECT_EQ(on(pc, "live.localhost", "GET", "/v").body, "v2");
  auto routes = pc.get("/apps/live/routes", pc.owner_key);
  ASSERT_EQ(pc.call("DELETE", "/apps/live/routes/" + routes.json["items"][0]["id"].as_string(), pc.owner_key).status, 204);
  EXPECT_EQ(on(pc, "live.localhost", "GET", "/v").status, 404);

  // Another node adds a route straight into the shared database and bumps
  // the version: this node serves it within its poll interval.
  auto app = pc.get("/apps/live", pc.owner_key).json["id"].as_string();
  auto script = pc.get("/apps/live/scripts/v", pc.owner_key).json["id"].as_string();
  ASSERT_TRUE(pc.db().execute("INSERT INTO routes (id, app_id, script_id, host, path, shape, methods, dispatch, created_at, "
                              "updated_at) VALUES (?, ?, ?, '', '/elsewhere', '/elsewhere', '*', 'sync', 0, 0)",
                              {kernel::admin::new_id(), app, script}));
  ASSERT_TRUE(pc.db().execute("UPDATE kernel_state SET value = value + 1 WHERE name = 'routing_version'"));
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    served = on(pc, "live.localhost", "GET", "/elsewhere").status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

// A module changed on one node: a second node sharing the database runs the
// importing endpoint with the new module code, not its cached compilation.
TEST_P(Dispatch, ModuleChangesReachEveryNodesCompiledImporters) {
  if (GetParam() == Backend::sqlite) GTEST_SKIP() << "one node per SQLite database";
  Instance& a = dispatch_instance(GetParam());
  Instance b(GetParam(), {{"PICLOUD_DATABASE_URL", a.database_url()}, {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"}});
  ASSERT_EQ(a.post("/apps", a.owner_key, R"({"slug":"mods","hostnames":["mods.localhost"]})").status, 201);
  auto module = [](const std::string& word) { return "string word() { return \"" + word + "\"; }"; };
  save_script(a, "mods", "lib", module("one"), "module");
  save_script(a, "mods", "ep", "import \"lib\";\nvoid handle(request@ req, response@ res) { res.text(lib::word()); }");
  bind_route(a, "mods", R"({"script":"ep","path":"/w"})");
  auto served_by = [](Instance& node, const std::string& want) {
    for (int i = 0; i < 150; ++i) {
      if (on(node, "mods.localhost", "GET", "/w").body == want) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  ASSERT_TRUE(served_by(a, "one"));
  ASSERT_TRUE(served_by(b, "one")) << "the second node compiled and cached the endpoint";
  auto before = a.get("/apps/mods/scripts/ep", a.owner_key).json["version"].as_int();

  auto changed = a.call("PATCH", "/apps/mods/scripts/lib", a.owner_key,
                        sdk::to_json(sdk::Value::object({{"source", module("two")}})));
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(on(a, "mods.localhost", "GET", "/w").body, "two");
  EXPECT_TRUE(served_by(b, "two")) << "the other node still ran the old module code";
  EXPECT_EQ(a.get("/apps/mods/scripts/ep", a.owner_key).json["version"].as_int(), before + 1)
      << "an importer's version moves with its module";
  // A change that leaves the module's code as it was moves nobody.
  ASSERT_EQ(a.call("PATCH", "/apps/mods/scripts/lib", a.owner_key, R"({"source":"string word() { return \"two\"; }"})")
                .status,
            200);
  EXPECT_EQ(a.get("/apps/mods/scripts/ep", a.owner_key).json["version"].as_int(), before + 1);
}

TEST_P(Dispatch, AsyncRoutesAnswer202AndRunFromTheOutbox) {
  Instance& pc = dispatch_instance(GetParam());
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"later","hostnames":["later.localhost"]})").status, 201);
  save_script(pc, "later", "job", R"(
void handle(request@ req, response@ res) {
  log::info("job " + req.param("n") + " " + req.body + " " + req.header("X-Tag"));
  res.text("done");
})");
  save_script(pc, "later", "flaky", R"(void handle(request@ req, response@ res) { throw("always fails"); })");
  bind_route(pc, "later", R"({"script":"job","path":"/jobs/{n}","methods":["POST"],"dispatch":"async"})");
  bind_route(pc, "later", R"({"script":"flaky","path":"/flaky","dispatch":"async"})");

  auto r = on(pc, "later.localhost", "POST", "/jobs/5", "payload", {{"X-Tag", "t1"}});
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = kernel::admin::parse_stored_json(r.body)["execution_id"].as_string();
  EXPECT_EQ(r.headers["x-execution-id"], id);
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE id = ? AND status = 'ok'", {id}, 1));
  auto one = pc.get("/apps/later/executions/" + id, pc.owner_key);
  EXPECT_EQ(one.json["logs"][std::size_t{0}]["message"].as_string(), "job 5 payload t1") << one.body;
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox WHERE id = ?", {id}, 0));

  // A failing run is tried max_attempts (2) times, then ends with an error.
  auto f = on(pc, "later.localhost", "GET", "/flaky");
  ASSERT_EQ(f.status, 202);
  std::string fid = kernel::admin::parse_stored_json(f.body)["execution_id"].as_string();
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE id = ? AND status = 'error'", {fid}, 1));
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox WHERE id = ?", {fid}, 0));
  auto app = pc.get("/apps/later", pc.owner_key).json["id"].as_string();
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE app_id = ? AND error_kind = 'script_error'", {app}, 2))
      << "both attempts are logged";
}

TEST_P(Dispatch, OverloadAnswers503AndRecovers) {
  Instance pc(GetParam(), {{"PICLOUD_DISPATCH_MAX_RUNNING", "1"},
                           {"PICLOUD_DISPATCH_MAX_QUEUED", "1"},
                           {"PICLOUD_DISPATCH_QUEUE_TIMEOUT_MS", "100"},
                           {"PICLOUD_SCRIPTING_TIMEOUT_MS", "400"}});
  pc.cast_owner();
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"busy","hostnames":["busy.localhost"]})").status, 201);
  save_script(pc, "busy", "slow", R"(void handle(request@ req, response@ res) {
  if (req.param("how") == "fast") { res.text("fast"); return; }
  int i = 0; while (true) { i++; } })");
  bind_route(pc, "busy", R"({"script":"slow","path":"/{how}"})");
  std::vector<std::future<HttpResult>> calls;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i)
    calls.push_back(std::async(std::launch::async, [&] { return on(pc, "busy.localhost", "GET", "/slow"); }));
  int turned_away = 0, ran = 0;
  for (auto& c : calls) {
    auto r = c.get();
    if (r.status == 503) {
      ++turned_away;
      EXPECT_EQ(r.headers["retry-after"], "1");
      EXPECT_NE(r.body.find("overloaded"), std::string::npos);
    } else {
      EXPECT_EQ(r.status, 504) << r.body;
      ++ran;
    }
  }
  EXPECT_GT(turned_away, 0);
  EXPECT_GT(ran, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "nobody hangs";
  EXPECT_EQ(on(pc, "busy.localhost", "GET", "/fast").body, "fast");
  auto metrics = http("GET", pc.port(), "/metrics");
  EXPECT_NE(metrics.body.find("picloud_dispatch_rejected_total " + std::to_string(turned_away)), std::string::npos)
      << metrics.body.substr(0, 200);
}

TEST_P(Dispatch, AnAppThatSaturatesTheServerLeavesRoomForOthers) {
  // Four slots; the hostile app's scripts loop until their timeout, and it
  // keeps twelve requests going. On a gate without shares it holds every
  // slot and the queue, and the other app's requests wait out the queue
  // timeout and answer 503.
  Instance pc(GetParam(), {{"PICLOUD_DISPATCH_MAX_RUNNING", "4"},
                           {"PICLOUD_DISPATCH_MAX_QUEUED", "64"},
                           {"PICLOUD_DISPATCH_QUEUE_TIMEOUT_MS", "300"},
                           {"PICLOUD_SCRIPTING_TIMEOUT_MS", "1500"}});
  pc.cast_owner();
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"hog","hostnames":["hog.localhost"]})").status, 201);
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"calm","hostnames":["calm.localhost"]})").status, 201);
  save_script(pc, "hog", "spin", R"(void handle(request@ req, response@ res) { int i = 0; while (true) { i++; } })");
  bind_route(pc, "hog", R"({"script":"spin","path":"/spin"})");
  save_script(pc, "calm", "hello", R"(void handle(request@ req, response@ res) { res.text("hello"); })");
  bind_route(pc, "calm", R"({"script":"hello","path":"/hello"})");

  std::atomic<bool> stop{false};
  std::atomic<int> hog_rejected{0}, hog_ran{0};
  std::vector<std::thread> hogs;
  for (int i = 0; i < 12; ++i)
    hogs.emplace_back([&] {
      while (!stop) {
        auto r = on(pc, "hog.localhost", "GET", "/spin");
        (r.status == 503 ? hog_rejected : hog_ran)++;
      }
    });
  auto hog = pc.get("/apps/hog", pc.owner_key).json["id"].as_string();
  auto calm = pc.get("/apps/calm", pc.owner_key).json["id"].as_string();
  // Wait until the hostile app holds its share of the slots.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string running = "picloud_app_runs_running{app=\"" + hog + "\"} 3";
  while (http("GET", pc.port(), "/metrics").body.find(running) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  auto metrics = http("GET", pc.port(), "/metrics").body;
  EXPECT_NE(metrics.find(running), std::string::npos) << "the hostile app holds three of the four slots";

  int ok = 0;
  for (int i = 0; i < 10; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = on(pc, "calm.localhost", "GET", "/hello");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "not waiting out the hostile app's runs";
    if (r.status == 200) ++ok;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(ok, 10);
  metrics = http("GET", pc.port(), "/metrics").body;
  stop = true;
  for (auto& t : hogs) t.join();
  EXPECT_GT(hog_rejected.load(), 0) << "the hostile app's extra requests are turned away";
  EXPECT_GT(hog_ran.load(), 0);
  EXPECT_NE(metrics.find("picloud_app_runs_rejected_total{app=\"" + calm + "\"} 0"), std::string::npos);
  EXPECT_EQ(metrics.find("picloud_app_runs_rejected_total{app=\"" + hog + "\"} 0"), std::string::npos)
      << "the hostile app's rejections are counted";
}

INSTANTIATE_TEST_SUITE_P(Backends, Dispatch, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
