// Apps, scripts, routes and execution logs through the admin API; the
// request rules every endpoint shares; the OpenAPI document; the CLI that
// creates the first owner.
#include <algorithm>
#include <set>

#include "fixture.hpp"
#include "kernel/admin/secrets.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

const std::string kHello = R"(void handle(request@ req, response@ res) { res.text(\"hi\"); })";

std::string script_body(const std::string& name, const std::string& source, const std::string& kind = "endpoint") {
  return R"({"name":")" + name + R"(","kind":")" + kind + R"(","source":")" + source + R"("})";
}

std::int64_t count(Instance& pc, const std::string& sql, const sdk::Params& params) {
  auto r = pc.db().query(sql, params);
  return r ? r->rows[0][0].as_int() : -1;
}

class Resources : public ::testing::TestWithParam<Backend> {};

TEST_P(Resources, AppsHaveSlugsHostnamesAndMembersAndTakeEverythingWithThem) {
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  auto made = pc.post("/apps", k, R"({"slug":"shop","name":"The Shop","hostnames":["Shop.Example.com","shop.localhost"]})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.json["hostnames"], sdk::Value::array({"shop.example.com", "shop.localhost"}));
  std::string id = made.json["id"].as_string();
  EXPECT_EQ(pc.get("/apps/shop", k).json["id"].as_string(), id);
  EXPECT_EQ(pc.get("/apps/" + id, k).json["slug"].as_string(), "shop");

  EXPECT_EQ(pc.post("/apps", k, R"({"slug":"shop"})").status, 409);
  auto taken = pc.post("/apps", k, R"({"slug":"other","hostnames":["shop.localhost"]})");
  EXPECT_EQ(taken.status, 409);
  EXPECT_NE(taken.message().find("shop.localhost"), std::string::npos);
  EXPECT_EQ(pc.get("/apps/other", k).status, 404) << "a refused create leaves nothing behind";
  for (const std::string bad : {R"({"slug":"Bad Slug"})", R"({"slug":"-x"})", R"({"slug":""})",
                                R"({"slug":"01a2086c-32ff-7000-ad92-e1d7d65fba5a"})",
                                R"({"slug":"ok","hostnames":["a..b"]})", R"({"slug":"ok","hostnames":["h:8080"]})",
                                R"({"slug":"ok","hostnames":["x.y","x.y"]})", R"({"slug":"ok","hostnames":"x.y"})",
                                R"({"slug":"ok","owner":"me"})"}) {
    auto r = pc.post("/apps", k, bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
  }
  EXPECT_EQ(pc.get("/apps/ok", k).status, 404);

  auto patched = pc.call("PATCH", "/apps/shop", k, R"({"name":"Shop 2","hostnames":["shop.localhost"]})");
  EXPECT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json["hostnames"], sdk::Value::array({"shop.localhost"}));
  EXPECT_EQ(patched.json["name"].as_string(), "Shop 2");

  // Everything the app owns goes with it.
  ASSERT_EQ(pc.post("/apps/shop/scripts", k, script_body("hello", kHello)).status, 201);
  ASSERT_EQ(pc.post("/apps/shop/routes", k, R"({"script":"hello","path":"/hi","host":"shop.localhost"})").status, 201);
  // A hostname a route uses cannot be dropped.
  EXPECT_EQ(pc.call("PATCH", "/apps/shop", k, R"({"hostnames":[]})").status, 409);
  pc.make_user("member");
  ASSERT_EQ(pc.call("PUT", "/apps/shop/members/member", k, R"({"role":"editor"})").status, 201);
  EXPECT_EQ(pc.call("PUT", "/apps/shop/members/member", k, R"({"role":"viewer"})").json["role"].as_string(), "viewer");
  EXPECT_EQ(pc.call("PUT", "/apps/shop/members/member", k, R"({"role":"god"})").status, 400);
  // Access checks are remembered briefly, but a removal counts at once.
  Creds member = pc.login("member");
  EXPECT_EQ(pc.get("/apps/shop", member).status, 200);
  EXPECT_EQ(pc.call("DELETE", "/apps/shop/members/member", k).status, 204);
  EXPECT_EQ(pc.get("/apps/shop", member).status, 404);
  kernel::admin::ExecutionRecord run;
  run.id = kernel::admin::new_id();
  run.app_id = id;
  run.script_id = "s";
  run.source = "route";
  run.started_at_ms = kernel::admin::now_ms();
  pc.kernel().admin()->executions().record(run);
  pc.kernel().admin()->executions().flush();
  EXPECT_EQ(count(pc, "SELECT count(*) FROM executions WHERE app_id = ?", {id}), 1);
  EXPECT_EQ(pc.call("DELETE", "/apps/shop", k).status, 204);
  for (const char* table : {"scripts", "routes", "app_hostnames", "app_members", "executions"})
    EXPECT_EQ(count(pc, std::string("SELECT count(*) FROM ") + table + " WHERE app_id = ?", {id}), 0) << table;
  EXPECT_EQ(pc.get("/apps/shop", k).status, 404);
}

TEST_P(Resources, AppListsShowOnlyTheCallersAppsInPages) {
  Instance& pc = shared_instance(GetParam());
  // Vera sees exactly the apps she is a member of (alpha, and whatever other
  // tests in this process made her a member of), never bravo.
  auto mine = pc.get("/apps?limit=200", pc.vera);
  ASSERT_EQ(mine.status, 200);
  auto vera_id = pc.get("/me", pc.vera).json["user"]["id"].as_string();
  EXPECT_EQ(static_cast<std::int64_t>(mine.json["items"].size()),
            count(pc, "SELECT count(*) FROM app_members WHERE user_id = ?", {vera_id}))
      << mine.body;
  std::set<std::string> slugs;
  for (const auto& a : mine.json["items"].as_array()) {
    slugs.insert(a["slug"].as_string());
    EXPECT_EQ(a["role"].as_string(), "viewer");
  }
  EXPECT_TRUE(slugs.count("alpha"));
  EXPECT_FALSE(slugs.count("bravo"));
  std::set<std::string> seen;
  std::string cursor;
  for (int i = 0; i < 100; ++i) {
    auto page = pc.get("/apps?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor), pc.owner_key);
    ASSERT_EQ(page.status, 200);
    for (const auto& a : page.json["items"].as_array()) EXPECT_TRUE(seen.insert(a["id"].as_string()).second);
    if (page.json["next_cursor"].is_null()) break;
    cursor = page.json["next_cursor"].as_string();
  }
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()), count(pc, "SELECT count(*) FROM apps", {}));
}

TEST_P(Resources, ScriptsCompileOnSaveAndTrackVersionsAndImports) {
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  ASSERT_EQ(pc.post("/apps", k, R"({"slug":"scripts"})").status, 201);
  const std::string base = "/apps/scripts/scripts";

  auto broken = pc.post(base, k, script_body("broken", R"(void handle(request@ req, response@ res) {\n  res.text(\"x\")\n})"));
  EXPECT_EQ(broken.status, 422) << broken.body;
  EXPECT_EQ(broken.code(), "script_invalid");
  const auto& first = broken.json["error"]["details"]["errors"][std::size_t{0}];
  EXPECT_EQ(first["line"].as_int(), 3);
  EXPECT_GT(first["column"].as_int(), 0);
  EXPECT_FALSE(first["message"].as_string().empty());
  EXPECT_EQ(pc.get(base + "/broken", k).status, 404) << "a script that does not compile is not saved";
  EXPECT_EQ(pc.post(base, k, script_body("noentry", "int x() { return 1; }")).status, 422);

  auto lib = pc.post(base, k, script_body("greetings", R"(string hello(const string &in who) { return \"hi \" + who; })", "module"));
  ASSERT_EQ(lib.status, 201) << lib.body;
  EXPECT_EQ(lib.json["version"].as_int(), 1);
  auto user = pc.post(base, k, script_body("greeter", R"(import \"greetings\";\nvoid handle(request@ req, response@ res) { res.text(greetings::hello(\"you\")); })"));
  ASSERT_EQ(user.status, 201) << user.body;
  EXPECT_EQ(user.json["imports"], sdk::Value::array({"greetings"}));
  EXPECT_EQ(user.json["source"].as_string().find("import \"greetings\";"), 0u);
  auto missing = pc.post(base, k, script_body("lost", R"(import \"nowhere\";\nvoid handle(request@ req, response@ res) {})"));
  EXPECT_EQ(missing.status, 422);
  EXPECT_NE(missing.message().find("nowhere"), std::string::npos) << missing.body;

  // Every change bumps the version; the list has no sources.
  auto v2 = pc.call("PATCH", base + "/greeter", k, R"({"source":"void handle(request@ req, response@ res) { res.text(\"v2\"); }"})");
  EXPECT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(v2.json["version"].as_int(), 2);
  EXPECT_EQ(v2.json["imports"], sdk::Value::array());
  EXPECT_EQ(pc.call("PATCH", base + "/greeter", k, R"({"name":"greeter2"})").json["version"].as_int(), 3);
  auto list = pc.get(base + "?kind=endpoint", k);
  ASSERT_EQ(list.json["items"].size(), 1u) << list.body;
  EXPECT_FALSE(list.json["items"][0].has("source"));
  EXPECT_EQ(pc.get(base + "?kind=banana", k).status, 400);
  // A bad change changes nothing.
  EXPECT_EQ(pc.call("PATCH", base + "/greeter2", k, R"({"source":"void handle("})").status, 422);
  EXPECT_EQ(pc.get(base + "/greeter2", k).json["version"].as_int(), 3);

  // Modules in use: cannot be deleted or renamed; a breaking change is reported.
  ASSERT_EQ(pc.call("PATCH", base + "/greeter2", k, R"({"source":"import \"greetings\";\nvoid handle(request@ req, response@ res) { res.text(greetings::hello(\"x\")); }"})").status, 200);
  EXPECT_EQ(pc.call("DELETE", base + "/greetings", k).status, 409);
  EXPECT_EQ(pc.call("PATCH", base + "/greetings", k, R"({"name":"salutations"})").status, 409);
  auto breaking = pc.call("PATCH", base + "/greetings", k, R"({"source":"string bye() { return \"bye\"; }"})");
  EXPECT_EQ(breaking.status, 200) << breaking.body;
  ASSERT_EQ(breaking.json["broken_dependents"].size(), 1u) << breaking.body;
  EXPECT_EQ(breaking.json["broken_dependents"][0]["name"].as_string(), "greeter2");
  // A cycle through the module being saved is refused.
  ASSERT_EQ(pc.post(base, k, script_body("second", R"(import \"greetings\";\nint two() { return 2; })", "module")).status, 201);
  auto cycle = pc.call("PATCH", base + "/greetings", k, R"({"source":"import \"second\";\nint one() { return 1; }"})");
  EXPECT_EQ(cycle.status, 422) << cycle.body;
  EXPECT_NE(cycle.message().find("cycle"), std::string::npos) << cycle.body;

  // Names: identifiers, not reserved, unique per app.
  EXPECT_EQ(pc.post(base, k, script_body("json", kHello)).status, 400);
  EXPECT_EQ(pc.post(base, k, script_body("has space", kHello)).status, 400);
  EXPECT_EQ(pc.post(base, k, script_body("greeter2", kHello)).status, 409);
  EXPECT_EQ(pc.post(base, k, R"({"name":"x","kind":"macro","source":"int x;"})").status, 400);
  EXPECT_EQ(pc.post(base, k, R"({"name":"x","source":7})").json["error"]["details"]["field"].as_string(), "source");
  auto huge = pc.post(base, k, script_body("huge", "//" + std::string(600 * 1024, 'x')));
  EXPECT_EQ(huge.status, 400) << huge.body.substr(0, 200);
  EXPECT_EQ(pc.post(base, k, std::string(2 << 20, ' ')).status, 413);

  // An endpoint bound to a route cannot go or become a module.
  ASSERT_EQ(pc.post("/apps/scripts/routes", k, R"({"script":"greeter2","path":"/g"})").status, 201);
  EXPECT_EQ(pc.call("DELETE", base + "/greeter2", k).status, 409);
  EXPECT_EQ(pc.call("PATCH", base + "/greeter2", k, R"({"kind":"module"})").status, 409);
}

TEST_P(Resources, OtherAppsResourcesAreNotFound) {
  Instance& pc = shared_instance(GetParam());
  auto s = pc.post("/apps/bravo/scripts", pc.owner_key, script_body("bravo_only", kHello));
  ASSERT_EQ(s.status, 201) << s.body;
  std::string sid = s.json["id"].as_string();
  auto r = pc.post("/apps/bravo/routes", pc.owner_key, R"({"script":"bravo_only","path":"/b"})");
  ASSERT_EQ(r.status, 201);
  std::string rid = r.json["id"].as_string();
  // Alice (admin of alpha) names bravo's ids under alpha.
  EXPECT_EQ(pc.get("/apps/alpha/scripts/" + sid, pc.alice).status, 404);
  EXPECT_EQ(pc.get("/apps/alpha/routes/" + rid, pc.alice).status, 404);
  EXPECT_EQ(pc.call("DELETE", "/apps/alpha/routes/" + rid, pc.alice).status, 404);
  EXPECT_EQ(pc.call("PATCH", "/apps/alpha/scripts/" + sid, pc.alice, R"({"name":"stolen"})").status, 404);
  auto bind = pc.post("/apps/alpha/routes", pc.alice, R"({"script":")" + sid + R"(","path":"/steal"})");
  EXPECT_EQ(bind.status, 404) << bind.body;
  EXPECT_EQ(pc.get("/apps/bravo/scripts/" + sid, pc.owner_key).json["name"].as_string(), "bravo_only");
}

// Two clients adding the same route at the same moment: exactly one gets it
// (the conflict check runs inside the write transaction).
TEST_P(Resources, ConcurrentConflictingRoutesOnlyOneWins) {
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  ASSERT_EQ(pc.post("/apps", k, R"({"slug":"racing"})").status, 201);
  ASSERT_EQ(pc.post("/apps/racing/scripts", k, script_body("h", kHello)).status, 201);
  for (int round = 0; round < 15; ++round) {
    const std::string body = R"({"script":"h","path":"/race/)" + std::to_string(round) + R"("})";
    int statuses[2] = {0, 0};
    std::thread a([&] { statuses[0] = pc.post("/apps/racing/routes", k, body).status; });
    std::thread b([&] { statuses[1] = pc.post("/apps/racing/routes", k, body).status; });
    a.join();
    b.join();
    EXPECT_EQ(std::min(statuses[0], statuses[1]), 201) << "round " << round;
    EXPECT_EQ(std::max(statuses[0], statuses[1]), 409) << "round " << round;
  }
  EXPECT_EQ(count(pc, "SELECT count(*) FROM routes r JOIN apps a ON a.id = r.app_id WHERE a.slug = 'racing'", {}), 15);
}

// Triggers through the admin API: the kind (declared by the t_good plugin)
// validates the filter; scripts, retry overrides and enabled are the kernel's.
TEST_P(Resources, TriggersAreValidatedByTheirKindAndManaged) {
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  ASSERT_EQ(pc.post("/apps", k, R"({"slug":"trig"})").status, 201);
  ASSERT_EQ(pc.post("/apps/trig/scripts", k, script_body("on_change", kHello)).status, 201);
  ASSERT_EQ(pc.post("/apps/trig/scripts", k, script_body("lib", "int one() { return 1; }", "module")).status, 201);
  const std::string base = "/apps/trig/triggers";

  auto made = pc.post(base + "/t_good", k, R"({"script":"on_change","filter":{"collection":"orders*"}})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.json["kind"].as_string(), "t_good");
  EXPECT_EQ(made.json["script"].as_string(), "on_change");
  EXPECT_EQ(made.json["filter"], sdk::Value::object({{"collection", "orders*"}, {"ops", sdk::Value::array({"insert", "delete"})}}))
      << "the kind filled in its default";
  EXPECT_TRUE(made.json["retry"].is_null());
  EXPECT_TRUE(made.json["enabled"].as_bool());
  const std::string id = made.json["id"].as_string();

  struct Bad {
    std::string path, body;
    int status;
    std::string says;
  };
  for (const auto& b : std::vector<Bad>{
           {"/nosuch", R"({"script":"on_change"})", 404, "kinds: cron, dead_letter, t_good"},
           {"/t_good", R"({"script":"on_change"})", 400, "must be an object"},
           {"/t_good", R"({"script":"on_change","filter":{"collection":""}})", 400, "collection must be a non-empty string"},
           {"/t_good", R"({"script":"on_change","filter":{"collection":"a","ops":["update"]}})", 400, "ops may hold"},
           {"/t_good", R"({"script":"on_change","filter":{"collection":"a","extra":1}})", 400, "unknown field 'extra'"},
           {"/t_good", R"({"filter":{"collection":"a"}})", 400, "script is required"},
           {"/t_good", R"({"script":"lib","filter":{"collection":"a"}})", 400, "is a module"},
           {"/t_good", R"({"script":"nope","filter":{"collection":"a"}})", 404, "not found in this app"},
           {"/t_good", R"({"script":"on_change","filter":{"collection":"a"},"retry":{"max_attempts":0}})", 400, "retry.max_attempts"},
           {"/t_good", R"({"script":"on_change","filter":{"collection":"a"},"retry":{"tries":2}})", 400, "retry.tries: unknown field"},
           {"/t_good", R"({"script":"on_change","filter":{"collection":"a"},"enabled":"yes"})", 400, "enabled"},
           {"/t_good", R"({"script":"on_change","filter":{"collection":"a"},"priority":1})", 400, "priority"},
       }) {
    auto r = pc.post(base + b.path, k, b.body);
    EXPECT_EQ(r.status, b.status) << b.body << " -> " << r.body;
    EXPECT_NE(r.body.find(b.says), std::string::npos) << b.body << " -> " << r.body;
  }
  EXPECT_EQ(count(pc, "SELECT count(*) FROM triggers t JOIN apps a ON a.id = t.app_id WHERE a.slug = 'trig'", {}), 1)
      << "nothing was stored by the refused requests";

  auto retried = pc.post(base + "/t_good", k,
                         R"({"script":"on_change","filter":{"collection":"users","ops":["delete"]},"retry":{"max_attempts":5,"backoff":"linear"},"enabled":false})");
  ASSERT_EQ(retried.status, 201) << retried.body;
  EXPECT_EQ(retried.json["retry"], sdk::Value::object({{"max_attempts", 5}, {"backoff", "linear"}}));
  EXPECT_FALSE(retried.json["enabled"].as_bool());

  EXPECT_EQ(pc.get(base, k).json["items"].size(), 2u);
  EXPECT_EQ(pc.get(base + "/t_good?script=on_change", k).json["items"].size(), 2u);
  EXPECT_EQ(pc.get(base + "?kind=other", k).json["items"].size(), 0u);
  EXPECT_EQ(pc.get(base + "/nosuch", k).status, 404);
  EXPECT_EQ(pc.get(base + "/t_good/" + id, k).json["filter"]["collection"].as_string(), "orders*");
  EXPECT_EQ(pc.get(base + "/other/" + id, k).status, 404) << "a trigger is found under its own kind only";

  auto patched = pc.call("PATCH", base + "/t_good/" + id, k, R"({"enabled":false,"filter":{"collection":"carts"}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_FALSE(patched.json["enabled"].as_bool());
  EXPECT_EQ(patched.json["filter"]["ops"], sdk::Value::array({"insert", "delete"}));
  EXPECT_EQ(pc.call("PATCH", base + "/t_good/" + id, k, R"({"filter":{"collection":""}})").status, 400);
  EXPECT_EQ(pc.get(base + "/t_good/" + id, k).json["filter"]["collection"].as_string(), "carts") << "unchanged by the refused patch";

  // A script that triggers run cannot be deleted or made a module.
  auto held = pc.call("DELETE", "/apps/trig/scripts/on_change", k);
  EXPECT_EQ(held.status, 409);
  EXPECT_NE(held.body.find("run by 2 triggers"), std::string::npos) << held.body;
  EXPECT_EQ(pc.call("PATCH", "/apps/trig/scripts/on_change", k, R"({"kind":"module"})").status, 409);

  EXPECT_EQ(pc.call("DELETE", base + "/t_good/" + id, k).status, 204);
  EXPECT_EQ(pc.call("DELETE", base + "/t_good/" + id, k).status, 404);
  EXPECT_EQ(pc.call("DELETE", base + "/t_good/" + retried.json["id"].as_string(), k).status, 204);
  EXPECT_EQ(pc.call("DELETE", "/apps/trig/scripts/on_change", k).status, 204);
}

TEST_P(Resources, RoutesAreValidatedAndConflictsRefused) {
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  ASSERT_EQ(pc.post("/apps", k, R"({"slug":"routes","hostnames":["routes.localhost"]})").status, 201);
  const std::string base = "/apps/routes/routes";
  ASSERT_EQ(pc.post("/apps/routes/scripts", k, script_body("users", kHello)).status, 201);
  ASSERT_EQ(pc.post("/apps/routes/scripts", k, script_body("lib", "int one() { return 1; }", "module")).status, 201);

  auto made = pc.post(base, k, R"({"script":"users","path":"/users/{id}","methods":["get","PATCH"]})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.json["methods"], sdk::Value::array({"GET", "PATCH"}));
  EXPECT_TRUE(made.json["host"].is_null());
  EXPECT_EQ(made.json["dispatch"].as_string(), "sync");
  // Same shape, other parameter name, overlapping method: conflict.
  auto clash = pc.post(base, k, R"({"script":"users","path":"/users/{user_id}","methods":["GET"]})");
  EXPECT_EQ(clash.status, 409) << clash.body;
  EXPECT_EQ(clash.json["error"]["details"]["route_id"], made.json["id"]);
  EXPECT_EQ(pc.post(base, k, R"({"script":"users","path":"/users/{id}"})").status, 409) << "any method overlaps";
  EXPECT_EQ(pc.post(base, k, R"({"script":"users","path":"/users/{id}","methods":["DELETE"]})").status, 201);
  EXPECT_EQ(pc.post(base, k, R"({"script":"users","path":"/users/{id}","methods":["GET"],"host":"routes.localhost"})").status, 201)
      << "an exact host is another match";
  EXPECT_EQ(pc.post(base, k, R"({"script":"users","path":"/users/*","dispatch":"async"})").status, 201);

  struct Bad {
    std::string body;
    int status;
  };
  for (const auto& b : std::vector<Bad>{
           {R"({"script":"lib","path":"/lib"})", 400},
           {R"({"script":"nope","path":"/x"})", 404},
           {R"({"script":"users","path":"no-slash"})", 400},
           {R"({"script":"users","path":"/a/*/b"})", 400},
           {R"({"script":"users","path":"/a/{x}/{x}"})", 400},
           {R"({"script":"users","path":"/api/v1/admin/apps"})", 400},
           {R"({"script":"users","path":"/healthz"})", 400},
           {R"({"script":"users","path":"/x","host":"elsewhere.example"})", 400},
           {R"({"script":"users","path":"/x","methods":["FETCH"]})", 400},
           {R"({"script":"users","path":"/x","methods":["*","GET"]})", 400},
           {R"({"script":"users","path":"/x","methods":[]})", 400},
           {R"({"script":"users","path":"/x","dispatch":"later"})", 400},
           {R"({"script":"users","path":"/x","priority":1})", 400},
           {R"({"path":"/x"})", 400},
       }) {
    auto r = pc.post(base, k, b.body);
    EXPECT_EQ(r.status, b.status) << b.body << " -> " << r.body;
  }
  EXPECT_EQ(count(pc, "SELECT count(*) FROM routes r JOIN apps a ON a.id = r.app_id WHERE a.slug = 'routes'", {}), 4);

  std::string id = made.json["id"].as_string();
  auto patched = pc.call("PATCH", base + "/" + id, k, R"({"methods":["PUT"],"host":"routes.localhost","dispatch":"async"})");
  EXPECT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json["host"].as_string(), "routes.localhost");
  EXPECT_EQ(pc.call("PATCH", base + "/" + id, k, R"({"host":null})").json["host"].type(), sdk::ValueType::null);
  EXPECT_EQ(pc.get(base + "?script=users", k).json["items"].size(), 4u);
  EXPECT_EQ(pc.call("DELETE", base + "/" + id, k).status, 204);
  EXPECT_EQ(pc.get(base + "/" + id, k).status, 404);
}

TEST_P(Resources, ExecutionLogsAreBatchedListedNewestFirstAndSwept) {
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  auto app = pc.post("/apps", k, R"({"slug":"logs"})");
  ASSERT_EQ(app.status, 201);
  std::string app_id = app.json["id"].as_string();
  auto s = pc.post("/apps/logs/scripts", k, script_body("job", kHello));
  std::string sid = s.json["id"].as_string();
  auto& log = pc.kernel().admin()->executions();
  std::int64_t now = kernel::admin::now_ms();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    kernel::admin::ExecutionRecord r;
    r.id = kernel::admin::new_id();
    r.app_id = app_id;
    r.script_id = i < 4 ? sid : "other-script";
    r.script_version = 1;
    r.source = "route";
    r.ok = i != 2;
    r.http_status = r.ok ? 200 : 502;
    r.error_kind = r.ok ? "" : "threw";
    r.error_message = r.ok ? "" : "boom";
    r.duration_us = 1500;
    r.logs = {sdk::Value::object({{"level", "info"}, {"message", "line " + std::to_string(i)}})};
    r.started_at_ms = now + i;
    ids.push_back(r.id);
    auto t0 = std::chrono::steady_clock::now();
    log.record(r);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5ms) << "recording never waits for the database";
  }
  // Written within the flush interval without being asked.
  bool written = false;
  for (int i = 0; i < 100 && !written; ++i) {
    written = count(pc, "SELECT count(*) FROM executions WHERE app_id = ?", {app_id}) == 5;
    if (!written) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(written);

  auto all = pc.get("/apps/logs/executions", k);
  ASSERT_EQ(all.status, 200) << all.body;
  ASSERT_EQ(all.json["items"].size(), 5u);
  EXPECT_EQ(all.json["items"][0]["id"].as_string(), ids[4]) << "newest first";
  EXPECT_FALSE(all.json["items"][0].has("logs"));
  EXPECT_EQ(pc.get("/apps/logs/executions?status=error", k).json["items"].size(), 1u);
  EXPECT_EQ(pc.get("/apps/logs/executions?script=job", k).json["items"].size(), 4u);
  EXPECT_EQ(pc.get("/apps/logs/scripts/job/executions?status=ok", k).json["items"].size(), 3u);
  EXPECT_EQ(pc.get("/apps/logs/executions?status=maybe", k).status, 400);
  std::vector<std::string> paged;
  std::string cursor;
  for (int i = 0; i < 10; ++i) {
    auto p = pc.get("/apps/logs/executions?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), k);
    for (const auto& e : p.json["items"].as_array()) paged.push_back(e["id"].as_string());
    if (p.json["next_cursor"].is_null()) break;
    cursor = p.json["next_cursor"].as_string();
  }
  EXPECT_EQ(paged, std::vector<std::string>(ids.rbegin(), ids.rend()));
  auto one = pc.get("/apps/logs/executions/" + ids[2], k);
  EXPECT_EQ(one.json["error_kind"].as_string(), "threw");
  EXPECT_EQ(one.json["http_status"].as_int(), 502);
  EXPECT_EQ(one.json["logs"][std::size_t{0}]["message"].as_string(), "line 2");
  EXPECT_DOUBLE_EQ(one.json["duration_ms"].as_number(), 1.5);
  EXPECT_EQ(pc.get("/apps/alpha/executions/" + ids[2], k).status, 404) << "another app's execution";

  ASSERT_TRUE(pc.db().execute("UPDATE executions SET started_at = ? WHERE id = ?",
                              {now - std::int64_t{8} * 24 * 3600 * 1000, ids[0]}));
  auto swept = log.sweep();
  ASSERT_TRUE(swept);
  EXPECT_GE(*swept, 1);
  EXPECT_EQ(pc.get("/apps/logs/executions", k).json["items"].size(), 4u);

  // Many rows: written several to a statement, swept in chunks, oldest only.
  const std::int64_t old = now - std::int64_t{9} * 24 * 3600 * 1000;
  for (int i = 0; i < 1234; ++i) {
    kernel::admin::ExecutionRecord r;
    r.id = kernel::admin::new_id();
    r.app_id = app_id;
    r.script_id = sid;
    r.script_version = 1;
    r.source = "route";
    r.logs = {sdk::Value::object({{"level", "info"}, {"message", "row " + std::to_string(i)}})};
    r.started_at_ms = i % 2 == 0 ? old + i : now;
    log.record(r);
  }
  log.flush();
  EXPECT_EQ(count(pc, "SELECT count(*) FROM executions WHERE app_id = ?", {app_id}), 4 + 1234);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM executions WHERE app_id = ? AND logs LIKE '%row 1233%'", {app_id}), 1);
  swept = log.sweep();
  ASSERT_TRUE(swept);
  EXPECT_GE(*swept, 617);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM executions WHERE app_id = ?", {app_id}), 4 + 617);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM executions WHERE app_id = ? AND started_at < ?", {app_id, now}), 0);
}

TEST_P(Resources, BodiesWithNulOrAFieldNamedTwiceAreRefusedAndChangeNothing) {
  // On 0.1.0 PostgreSQL cut a name at U+0000 (SQLite kept it), and a field
  // named twice silently took the last value.
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  auto before = count(pc, "SELECT count(*) FROM apps", {});
  auto nul = pc.post("/apps", k, R"({"slug":"nulapp","name":"cut\u0000here"})");
  EXPECT_EQ(nul.status, 400) << nul.body;
  EXPECT_EQ(nul.json["error"]["details"]["field"].string_or(""), "name") << nul.body;
  EXPECT_NE(nul.body.find("U+0000"), std::string::npos) << nul.body;
  auto nested = pc.post("/apps", k, R"({"slug":"nulapp","hostnames":["a.localhost","b\u0000.localhost"]})");
  EXPECT_EQ(nested.status, 400) << nested.body;
  auto twice = pc.post("/apps", k, R"({"slug":"twiceapp","slug":"otherslug"})");
  EXPECT_EQ(twice.status, 400) << twice.body;
  EXPECT_NE(twice.json["error"]["message"].string_or("").find("\"slug\" appears twice"), std::string::npos) << twice.body;
  auto key = pc.post("/apps", k, R"({"slug":"keyapp","na\u0000me":"x"})");
  EXPECT_EQ(key.status, 400) << key.body;
  EXPECT_NE(key.body.find("U+0000"), std::string::npos) << key.body;
  EXPECT_EQ(count(pc, "SELECT count(*) FROM apps", {}), before) << "nothing was created";
  // The same names in different objects are fine.
  auto fine = pc.post("/apps", k, R"({"slug":"fineapp","name":"n","hostnames":[]})");
  EXPECT_EQ(fine.status, 201) << fine.body;
  // An escaped backslash before "u0000" is no NUL.
  auto literal = pc.post("/apps", k, R"({"slug":"litapp","name":"a\\u0000b"})");
  EXPECT_EQ(literal.status, 201) << literal.body;
}

TEST_P(Resources, TheOpenApiDocumentListsExactlyTheRegisteredAdminRoutes) {
  Instance& pc = shared_instance(GetParam(), false);
  auto doc = pc.get("/api/v1/openapi.json", {});
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(doc.json["openapi"].as_string().rfind("3.", 0), 0u);
  std::set<std::string> documented;
  for (const auto& [path, item] : doc.json["paths"].as_object())
    for (const auto& [method, op] : item.as_object()) {
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(upper + " " + path);
      EXPECT_TRUE(op.has("x-capability")) << upper << " " << path;
    }
  std::set<std::string> registered;
  for (const auto& r : pc.kernel().routes())
    if (r.find(" /api/v1/") != std::string::npos) registered.insert(r);
  for (const auto& r : registered) EXPECT_TRUE(documented.count(r)) << r << " is not in the OpenAPI document";
  for (const auto& d : documented) EXPECT_TRUE(registered.count(d)) << d << " is documented but not registered";
  EXPECT_TRUE(documented.count("GET /api/v1/admin/apps/{app}/t_good")) << "plugins' admin routes are listed";
}

INSTANTIATE_TEST_SUITE_P(Backends, Resources, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

TEST(CreateOwner, MakesTheFirstOwnerFromStandardInputOnce) {
  TempDir dir;
  auto run = [&](const std::string& shell) {
    Process p({{"/bin/sh", "-c", shell},
               {{"PICLOUD_DATABASE_URL", "sqlite:" + dir.file("db.sqlite")},
                {"PICLOUD_DATABASE_MIGRATIONS_PATH", source_dir() + "/migrations"},
                {"PICLOUD_PLUGINS_ENABLED", ""}},
               dir.path()});
    int code = p.wait(30s);
    return std::make_pair(code, p.out() + p.err());
  };
  std::string bin = picloud_binary();
  auto weak = run("echo short | " + bin + " admin create-owner --username boss");
  EXPECT_EQ(weak.first, 2) << weak.second;
  EXPECT_NE(weak.second.find("12 characters"), std::string::npos) << weak.second;
  // The password policy holds here too, naming the reason.
  auto named = run("echo 'boss-of-this-place' | " + bin + " admin create-owner --username boss");
  EXPECT_EQ(named.first, 2) << named.second;
  EXPECT_NE(named.second.find("must not contain the user name"), std::string::npos) << named.second;
  auto made = run("echo 'a long enough secret' | " + bin + " admin create-owner --username boss");
  EXPECT_EQ(made.first, 0) << made.second;
  EXPECT_NE(made.second.find("owner 'boss' created"), std::string::npos) << made.second;
  auto again = run("echo 'another long secret' | " + bin + " admin create-owner --username boss2");
  EXPECT_EQ(again.first, 1) << again.second;
  EXPECT_NE(again.second.find("there are users already"), std::string::npos) << again.second;
  auto common = run("echo 'Password2024!' | " + bin + " admin reset-password --username boss");
  EXPECT_EQ(common.first, 2) << common.second;
  EXPECT_NE(common.second.find("too common"), std::string::npos) << common.second;
  auto reset = run("echo 'a new long secret!' | " + bin + " admin reset-password --username boss");
  EXPECT_EQ(reset.first, 0) << reset.second;
}

}  // namespace
