// Config as code: `picloud deploy` and `picloud export` (the real binary, as
// a client) against a real server over loopback, on both databases; the
// deploy and export endpoints and trigger names through the admin API.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "fixture.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::trunc) << text;
}

std::string slurp(const fs::path& path) { return read_file(path.string()); }

const char* kManifest = R"(# the shop
[app]
slug = "SLUG"
name = "The Shop"
hostnames = ["SLUG.localhost"]

[[routes]]
path = "/hello"
methods = ["GET"]
script = "greet"

[[routes]]
path = "/orders/{id}"
methods = ["GET", "POST"]
script = "orders"
dispatch = "sync"

[[triggers]]
name = "hourly"
kind = "cron"
script = "orders"
filter = { schedule = "0 0 * * * *" }
retry = { max_attempts = 5 }
)";

const char* kGreetings = "string hello(const string &in who) { return \"hello \" + who; }\n";
const char* kGreet =
    "import \"greetings\";\n"
    "void handle(request@ req, response@ res) { res.text(greetings::hello(\"world\")); }\n";
const char* kOrders =
    "void handle(request@ req, response@ res) { res.text(\"order \" + req.param(\"id\")); }\n"
    "void on_event(event@ e) {}\n";

std::string with_slug(std::string text, const std::string& slug) {
  for (auto at = text.find("SLUG"); at != std::string::npos; at = text.find("SLUG")) text.replace(at, 4, slug);
  return text;
}

// An app folder of the shop with slug `slug`.
fs::path shop_folder(const TempDir& dir, const std::string& name, const std::string& slug) {
  fs::path root = fs::path(dir.path()) / name;
  write(root / "picloud.toml", with_slug(kManifest, slug));
  write(root / "modules/greetings.as", kGreetings);
  write(root / "scripts/greet.as", kGreet);
  write(root / "scripts/orders.as", kOrders);
  return root;
}

struct Cli {
  int code;
  std::string out, err;
};

// The real picloud as a client of `pc`, with the owner's key unless told.
Cli picloud(Instance& pc, std::vector<std::string> args, const std::string& key,
            std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), picloud_binary());
  args.push_back("--server");
  args.push_back("http://127.0.0.1:" + std::to_string(pc.port()));
  if (!key.empty()) env["PICLOUD_API_KEY"] = key;
  Process p({args, env, "", false});
  int code = p.wait(60s);
  return {code, p.out(), p.err()};
}

std::int64_t count(Instance& pc, const std::string& sql, const sdk::Params& params) {
  auto r = pc.db().query(sql, params);
  return r ? r->rows[0][0].as_int() : -1;
}

std::string app_text(Instance& pc, const std::string& host, const std::string& path) {
  auto r = http("GET", pc.port(), path, "", {{"Host", host}});
  return std::to_string(r.status) + " " + r.body;
}

// Every file under `root`, by relative path.
std::map<std::string, std::string> files_of(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = slurp(e.path());
  return out;
}

class Deploy : public ::testing::TestWithParam<Backend> {};

TEST_P(Deploy, PlansCreatesAndReappliesAsANoOp) {
  Instance& pc = shared_instance(GetParam(), false);
  TempDir dir;
  auto folder = shop_folder(dir, "shop", "dshop");
  const std::string key = pc.owner_key.key;

  auto plan = picloud(pc, {"deploy", folder.string(), "--dry-run"}, key);
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("(a new app)"), std::string::npos) << plan.out;
  for (const char* line : {"+ create app dshop", "+ create script greet", "+ create script orders",
                           "+ create module greetings", "+ create route GET /hello", "+ create route GET,POST /orders/{id}",
                           "+ create trigger hourly", "7 to change, 0 unchanged, 0 kept", "dry run: nothing was changed"})
    EXPECT_NE(plan.out.find(line), std::string::npos) << line << "\n" << plan.out;
  EXPECT_EQ(pc.get("/apps/dshop", pc.owner_key).status, 404) << "a dry run creates nothing";

  auto applied = picloud(pc, {"deploy", folder.string()}, key);
  ASSERT_EQ(applied.code, 0) << applied.err;
  EXPECT_NE(applied.out.find("Deployed app 'dshop'"), std::string::npos) << applied.out;
  auto app = pc.get("/apps/dshop", pc.owner_key);
  ASSERT_EQ(app.status, 200);
  EXPECT_EQ(app.json["name"].as_string(), "The Shop");
  EXPECT_EQ(app_text(pc, "dshop.localhost", "/hello"), "200 hello world");
  EXPECT_EQ(app_text(pc, "dshop.localhost", "/orders/7"), "200 order 7");
  auto triggers = pc.get("/apps/dshop/triggers/cron", pc.owner_key);
  ASSERT_EQ(triggers.json["items"].size(), 1u) << triggers.body;
  EXPECT_EQ(triggers.json["items"][0]["name"].as_string(), "hourly");
  EXPECT_EQ(triggers.json["items"][0]["retry"]["max_attempts"].as_int(), 5);
  const std::string app_id = app.json["id"].as_string();
  const auto versions = count(pc, "SELECT sum(version) FROM scripts WHERE app_id = ?", {app_id});
  EXPECT_EQ(versions, 3);

  auto again = picloud(pc, {"deploy", folder.string()}, key);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("0 to change, 7 unchanged, 0 kept"), std::string::npos) << again.out;
  EXPECT_EQ(count(pc, "SELECT sum(version) FROM scripts WHERE app_id = ?", {app_id}), versions);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM routes WHERE app_id = ?", {app_id}), 2);
}

TEST_P(Deploy, ABrokenScriptRefusesEverythingAndChangesNothing) {
  Instance& pc = shared_instance(GetParam(), false);
  TempDir dir;
  auto folder = shop_folder(dir, "shop", "bshop");
  const std::string key = pc.owner_key.key;
  ASSERT_EQ(picloud(pc, {"deploy", folder.string()}, key).code, 0);
  const std::string app_id = pc.get("/apps/bshop", pc.owner_key).json["id"].as_string();

  // A route and the app change too, and a module that no longer offers
  // what greet calls: none of it may land.
  write(folder / "picloud.toml", with_slug(kManifest, "bshop") + "\n[[routes]]\npath = \"/more\"\nscript = \"greet\"\n");
  write(folder / "modules/greetings.as", "string hi() { return \"hi\"; }\n");
  write(folder / "scripts/orders.as", std::string(kOrders) + "void broken() { int x = \"text\"; }\n");
  auto refused = picloud(pc, {"deploy", folder.string()}, key);
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("scripts/greet.as:2:"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("scripts/orders.as:3:"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("2 scripts do not compile; nothing was changed"), std::string::npos) << refused.err;
  EXPECT_EQ(count(pc, "SELECT sum(version) FROM scripts WHERE app_id = ?", {app_id}), 3);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM routes WHERE app_id = ?", {app_id}), 2);
  EXPECT_EQ(app_text(pc, "bshop.localhost", "/hello"), "200 hello world");

  // So does a dry run.
  EXPECT_EQ(picloud(pc, {"deploy", folder.string(), "--dry-run"}, key).code, 1);
}

TEST_P(Deploy, ChangesWhatDiffersKeepsWhatTheFolderLeavesOutUnlessPruned) {
  Instance& pc = shared_instance(GetParam(), false);
  TempDir dir;
  auto folder = shop_folder(dir, "shop", "pshop");
  const std::string key = pc.owner_key.key;
  ASSERT_EQ(picloud(pc, {"deploy", folder.string()}, key).code, 0);
  const std::string app_id = pc.get("/apps/pshop", pc.owner_key).json["id"].as_string();

  // The module changes (greet runs the new code without being edited), the
  // orders route and the trigger leave the folder, a hostname is added.
  std::string manifest = with_slug(kManifest, "pshop");
  manifest = manifest.substr(0, manifest.find("[[routes]]\npath = \"/orders"));
  manifest.replace(manifest.find("hostnames = [\"pshop.localhost\"]"), 31,
                   "hostnames = [\"pshop.localhost\", \"www.pshop.localhost\"]");
  write(folder / "picloud.toml", manifest);
  write(folder / "modules/greetings.as", "string hello(const string &in who) { return \"hi \" + who; }\n");
  fs::remove(folder / "scripts/orders.as");

  auto kept = picloud(pc, {"deploy", folder.string()}, key);
  ASSERT_EQ(kept.code, 0) << kept.err;
  for (const char* line : {"~ update app pshop (hostnames)", "~ update module greetings (source)",
                           "= keep script orders", "= keep route GET,POST /orders/{id}", "= keep trigger hourly",
                           "2 to change, 2 unchanged, 3 kept"})
    EXPECT_NE(kept.out.find(line), std::string::npos) << line << "\n" << kept.out;
  EXPECT_EQ(app_text(pc, "www.pshop.localhost", "/hello"), "200 hi world");
  EXPECT_EQ(app_text(pc, "pshop.localhost", "/orders/1"), "200 order 1");

  auto pruned = picloud(pc, {"deploy", folder.string(), "--prune"}, key);
  ASSERT_EQ(pruned.code, 0) << pruned.err;
  for (const char* line : {"- delete script orders", "- delete route GET,POST /orders/{id}", "- delete trigger hourly",
                           "3 to change, 4 unchanged, 0 kept"})
    EXPECT_NE(pruned.out.find(line), std::string::npos) << line << "\n" << pruned.out;
  EXPECT_EQ(app_text(pc, "pshop.localhost", "/orders/1").substr(0, 3), "404");
  EXPECT_EQ(count(pc, "SELECT count(*) FROM triggers WHERE app_id = ?", {app_id}), 0);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM scripts WHERE app_id = ?", {app_id}), 2);
}

TEST_P(Deploy, ExportThenDeployToAFreshServerThenExportIsIdentical) {
  Instance& pc = shared_instance(GetParam(), false);
  TempDir dir;
  auto folder = shop_folder(dir, "shop", "rshop");
  const std::string key = pc.owner_key.key;
  ASSERT_EQ(picloud(pc, {"deploy", folder.string()}, key).code, 0);
  // A trigger made through the API without a name is exported with one.
  ASSERT_EQ(pc.post("/apps/rshop/triggers/cron", pc.owner_key,
                    R"({"script":"greet","filter":{"schedule":"@daily","timezone":"Europe/Berlin"},"enabled":false})")
                .status,
            201);
  ASSERT_EQ(pc.call("PATCH", "/apps/rshop", pc.owner_key, R"({"cors_origins":["https://shop.example.com"]})").status, 200);

  fs::path first = fs::path(dir.path()) / "first";
  auto exported = picloud(pc, {"export", "rshop", first.string()}, key);
  ASSERT_EQ(exported.code, 0) << exported.err;
  auto manifest = slurp(first / "picloud.toml");
  EXPECT_NE(manifest.find("name = \"greet_cron\""), std::string::npos) << manifest;
  EXPECT_EQ(slurp(first / "scripts/greet.as"), kGreet);
  EXPECT_EQ(slurp(first / "modules/greetings.as"), kGreetings);
  EXPECT_EQ(picloud(pc, {"export", "rshop", first.string()}, key).code, 1) << "an existing folder is not overwritten";

  // Deployed back to the same server: the unnamed trigger is matched by
  // what it is and takes the name; nothing else changes.
  auto same = picloud(pc, {"deploy", first.string()}, key);
  ASSERT_EQ(same.code, 0) << same.err;
  EXPECT_NE(same.out.find("~ update trigger greet_cron (name)"), std::string::npos) << same.out;
  EXPECT_NE(same.out.find("1 to change, 7 unchanged, 0 kept"), std::string::npos) << same.out;

  Instance fresh(GetParam());
  fresh.cast_owner();
  auto deployed = picloud(fresh, {"deploy", first.string()}, fresh.owner_key.key);
  ASSERT_EQ(deployed.code, 0) << deployed.err;
  EXPECT_EQ(app_text(fresh, "rshop.localhost", "/hello"), "200 hello world");
  fs::path second = fs::path(dir.path()) / "second";
  ASSERT_EQ(picloud(fresh, {"export", "rshop", second.string()}, fresh.owner_key.key).code, 0);
  EXPECT_EQ(files_of(first), files_of(second));
}

TEST_P(Deploy, BadFoldersAreRefusedNamingFileAndLine) {
  Instance& pc = shared_instance(GetParam(), false);
  TempDir dir;
  const std::string key = pc.owner_key.key;
  auto folder = shop_folder(dir, "shop", "xshop");
  auto manifest = with_slug(kManifest, "xshop");
  auto deploy = [&] { return picloud(pc, {"deploy", folder.string(), "--dry-run"}, key); };
  auto expect_refused = [&](const std::string& text, const std::string& needle) {
    write(folder / "picloud.toml", text);
    auto r = deploy();
    EXPECT_NE(r.code, 0) << text;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "wanted: " << needle << "\ngot: " << r.err;
  };
  // An unknown key, where it is.
  std::string unknown = manifest;
  unknown.replace(unknown.find("dispatch = \"sync\""), 17, "dispatc = \"sync\"");
  expect_refused(unknown, "picloud.toml:16: error: routes[1]: unknown field 'dispatc'");
  // A route to a script the folder does not have.
  std::string missing = manifest;
  missing.replace(missing.find("script = \"greet\""), 16, "script = \"gone\"");
  expect_refused(missing, "picloud.toml:10: error: routes[0].script: 'gone' is not a script of the deploy");
  // A host that is not the app's, a kind that does not exist, a bad filter.
  expect_refused(manifest + "\n[[routes]]\npath = \"/x\"\nscript = \"greet\"\nhost = \"elsewhere.localhost\"\n",
                 "routes[2].host: 'elsewhere.localhost' is not one of the app's hostnames");
  expect_refused(manifest + "\n[[triggers]]\nname = \"t\"\nkind = \"nope\"\nscript = \"orders\"\n",
                 "triggers[1].kind: no trigger kind 'nope'");
  expect_refused(manifest + "\n[[triggers]]\nname = \"t2\"\nkind = \"cron\"\nscript = \"orders\"\nfilter = { schedule = \"bad\" }\n",
                 "triggers[1].filter:");
  expect_refused(manifest + "\n[[triggers]]\nname = \"hourly\"\nkind = \"cron\"\nscript = \"orders\"\nfilter = { schedule = \"@daily\" }\n",
                 "triggers[1].name: 'hourly' is named twice");
  // Two routes for the same requests.
  expect_refused(manifest + "\n[[routes]]\npath = \"/orders/{n}\"\nmethods = [\"POST\"]\nscript = \"greet\"\n",
                 "picloud.toml:12: error: routes[1]: matches the same requests as routes[2] (POST /orders/{n})");
  // TOML that does not parse; a date, which JSON has no form for.
  expect_refused("[app]\nslug = \"xshop\nname = 1\n", "picloud.toml:2:");
  expect_refused(manifest + "\n[[triggers]]\nname = \"d\"\nkind = \"cron\"\nscript = \"orders\"\nfilter = { at = 2026-01-01 }\n",
                 "triggers[1].filter.at: dates and times have no JSON form");
  expect_refused("[app]\nslug = \"Bad Slug\"\n", "app.slug:");
  // A script file whose name is not a script name.
  write(folder / "picloud.toml", manifest);
  write(folder / "scripts/bad-name.as", kOrders);
  auto r = deploy();
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad-name.as: 'bad-name' is not a script name"), std::string::npos) << r.err;
  fs::remove(folder / "scripts/bad-name.as");
  EXPECT_EQ(deploy().code, 0);
  EXPECT_EQ(pc.get("/apps/xshop", pc.owner_key).status, 404) << "nothing was created along the way";
}

TEST_P(Deploy, OnlyAppAdminsDeployAndOnlyOwnersCreateApps) {
  Instance& pc = shared_instance(GetParam(), true);
  TempDir dir;
  // alpha exists (alice admin, eddie editor, vera viewer); oscar is admin of bravo only.
  auto folder = shop_folder(dir, "alpha", "alpha");
  EXPECT_EQ(picloud(pc, {"deploy", folder.string(), "--dry-run"}, pc.alice.key).code, 0);
  for (const Creds* who : {&pc.eddie, &pc.vera}) {
    auto r = picloud(pc, {"deploy", folder.string(), "--dry-run"}, who->key);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("you need admin"), std::string::npos) << r.err;
  }
  // For oscar alpha does not exist; creating it is the owner's.
  auto r = picloud(pc, {"deploy", folder.string(), "--dry-run"}, pc.oscar.key);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("only the instance owner may create apps"), std::string::npos) << r.err;
  // An app admin cannot deploy another slug onto their app.
  auto body = R"({"app":{"slug":"bravo"}})";
  auto other = pc.post("/apps/alpha/deploy?dry_run=true", pc.alice, body);
  EXPECT_EQ(other.status, 400) << other.body;
  EXPECT_EQ(other.json["error"]["details"]["field"].as_string(), "app.slug");
  // Anonymous, and bad parameters.
  EXPECT_EQ(pc.post("/apps/alpha/deploy", {}, body).status, 401);
  EXPECT_EQ(pc.post("/apps/alpha/deploy?dry_run=maybe", pc.alice, R"({"app":{"slug":"alpha"}})").status, 400);
  EXPECT_EQ(pc.post("/apps/alpha/deploy?force=1", pc.alice, R"({"app":{"slug":"alpha"}})").status, 400);
  EXPECT_EQ(pc.post("/apps/alpha/deploy", pc.alice, R"({"app":{"slug":"alpha"},"secrets":[]})").code(), "unknown_field");
  EXPECT_EQ(pc.post("/apps/alpha/deploy", pc.alice, R"({"app":{"slug":"alpha"},"routes":{}})").status, 400);
  EXPECT_EQ(pc.post("/apps/alpha/deploy", pc.alice, "[1]").status, 400);
  // Export is for those who may read the scripts.
  EXPECT_EQ(pc.get("/apps/alpha/export", pc.vera).status, 200);
  EXPECT_EQ(pc.get("/apps/bravo/export", pc.alice).status, 404);
}

TEST_P(Deploy, ARouteTheAppKeepsCannotBeShadowedOrLoseItsHostname) {
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  ASSERT_EQ(pc.post("/apps", k, R"({"slug":"kshop","hostnames":["kshop.localhost","api.kshop.localhost"]})").status, 201);
  ASSERT_EQ(pc.post("/apps/kshop/scripts", k,
                    R"({"name":"old","source":"void handle(request@ req, response@ res) { res.text(\"old\"); }"})")
                .status,
            201);
  ASSERT_EQ(pc.post("/apps/kshop/routes", k, R"({"script":"old","path":"/a/{x}","methods":["GET"],"host":"api.kshop.localhost"})").status, 201);
  std::string script = R"({"name":"new","source":"void handle(request@ req, response@ res) { res.text(\"new\"); }"})";
  // The deploy drops the hostname the kept route is bound to.
  auto lost = pc.post("/apps/kshop/deploy?dry_run=true", k,
                      R"({"app":{"slug":"kshop","hostnames":["kshop.localhost"]},"scripts":[)" + script + "]}");
  EXPECT_EQ(lost.status, 409) << lost.body;
  EXPECT_NE(lost.message().find("api.kshop.localhost"), std::string::npos) << lost.body;
  // A route of the deploy would answer the kept route's requests.
  auto shadow = pc.post("/apps/kshop/deploy", k,
                        R"({"app":{"slug":"kshop","hostnames":["kshop.localhost","api.kshop.localhost"]},"scripts":[)" +
                            script + R"(],"routes":[{"path":"/a/{y}","methods":["GET","POST"],"script":"new","host":"api.kshop.localhost"}]})");
  EXPECT_EQ(shadow.status, 409) << shadow.body;
  EXPECT_NE(shadow.message().find("deploy with prune"), std::string::npos) << shadow.body;
  // With prune, the old route goes and the new one takes its place.
  auto pruned = pc.post("/apps/kshop/deploy?prune=true", k,
                        R"({"app":{"slug":"kshop","hostnames":["kshop.localhost","api.kshop.localhost"]},"scripts":[)" +
                            script + R"(],"routes":[{"path":"/a/{y}","methods":["GET","POST"],"script":"new","host":"api.kshop.localhost"}]})");
  ASSERT_EQ(pruned.status, 200) << pruned.body;
  EXPECT_TRUE(pruned.json["applied"].as_bool());
  EXPECT_EQ(app_text(pc, "api.kshop.localhost", "/a/1"), "200 new");
}

TEST_P(Deploy, TriggersHaveOptionalUniqueNames) {
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  ASSERT_EQ(pc.post("/apps", k, R"({"slug":"nshop"})").status, 201);
  ASSERT_EQ(pc.post("/apps/nshop/scripts", k, R"({"name":"h","source":"void on_event(event@ e) {}"})").status, 201);
  auto named = pc.post("/apps/nshop/triggers/cron", k, R"({"name":"nightly","script":"h","filter":{"schedule":"@daily"}})");
  ASSERT_EQ(named.status, 201) << named.body;
  EXPECT_EQ(named.json["name"].as_string(), "nightly");
  auto twice = pc.post("/apps/nshop/triggers/dead_letter", k, R"({"name":"nightly","script":"h"})");
  EXPECT_EQ(twice.status, 409) << twice.body;
  EXPECT_NE(twice.message().find("already has a trigger named 'nightly'"), std::string::npos);
  EXPECT_EQ(pc.post("/apps/nshop/triggers/cron", k, R"({"name":"-bad","script":"h","filter":{"schedule":"@daily"}})").status, 400);
  EXPECT_EQ(pc.post("/apps/nshop/triggers/cron", k, R"({"name":"a b","script":"h","filter":{"schedule":"@daily"}})").status, 400);
  auto unnamed = pc.post("/apps/nshop/triggers/cron", k, R"({"script":"h","filter":{"schedule":"@hourly"}})");
  ASSERT_EQ(unnamed.status, 201);
  EXPECT_TRUE(unnamed.json["name"].is_null());
  const std::string id = unnamed.json["id"].as_string();
  auto renamed = pc.call("PATCH", "/apps/nshop/triggers/cron/" + id, k, R"({"name":"hourly"})");
  EXPECT_EQ(renamed.status, 200);
  EXPECT_EQ(renamed.json["name"].as_string(), "hourly");
  EXPECT_EQ(pc.call("PATCH", "/apps/nshop/triggers/cron/" + id, k, R"({"name":"nightly"})").status, 409);
  auto cleared = pc.call("PATCH", "/apps/nshop/triggers/cron/" + id, k, R"({"name":null})");
  EXPECT_TRUE(cleared.json["name"].is_null()) << cleared.body;
  // Another app may use the same name.
  ASSERT_EQ(pc.post("/apps", k, R"({"slug":"nshop2"})").status, 201);
  ASSERT_EQ(pc.post("/apps/nshop2/scripts", k, R"({"name":"h","source":"void on_event(event@ e) {}"})").status, 201);
  EXPECT_EQ(pc.post("/apps/nshop2/triggers/cron", k, R"({"name":"nightly","script":"h","filter":{"schedule":"@daily"}})").status, 201);
}

TEST_P(Deploy, TheApiKeyComesFromTheEnvironmentOrAPrivateCredentialsFile) {
  Instance& pc = shared_instance(GetParam(), false);
  TempDir dir;
  auto folder = shop_folder(dir, "shop", "cshop");
  const std::string server = "http://127.0.0.1:" + std::to_string(pc.port());
  fs::path credentials = fs::path(dir.path()) / "credentials";
  write(credentials, "[\"" + server + "/\"]\napi_key = \"" + pc.owner_key.key + "\"\n");
  ::chmod(credentials.c_str(), 0644);
  auto open = picloud(pc, {"deploy", folder.string(), "--dry-run"}, "", {{"PICLOUD_CREDENTIALS", credentials.string()}});
  EXPECT_EQ(open.code, 2);
  EXPECT_NE(open.err.find("can be read by others (mode 0644)"), std::string::npos) << open.err;
  ::chmod(credentials.c_str(), 0600);
  auto ok = picloud(pc, {"deploy", folder.string(), "--dry-run"}, "", {{"PICLOUD_CREDENTIALS", credentials.string()}});
  EXPECT_EQ(ok.code, 0) << ok.err;
  auto none = picloud(pc, {"deploy", folder.string(), "--dry-run"}, "", {{"PICLOUD_CREDENTIALS", "/nonexistent"}});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("no API key"), std::string::npos) << none.err;
  auto wrong = picloud(pc, {"deploy", folder.string(), "--dry-run"}, "pcl_wrong");
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.err.find("error:"), std::string::npos) << wrong.err;
}

TEST_P(Deploy, KeysNeedEveryScopeADeployOrExportUses) {
  Instance& pc = shared_instance(GetParam(), false);
  TempDir dir;
  auto folder = shop_folder(dir, "shop", "scshop");
  ASSERT_EQ(picloud(pc, {"deploy", folder.string()}, pc.owner_key.key).code, 0);
  const Creds only_admin = pc.make_key(pc.owner, "app:admin");
  auto r = picloud(pc, {"deploy", folder.string(), "--dry-run"}, only_admin.key);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("lacks a scope needed to deploy (it needs app:write, app:admin, script:write)"), std::string::npos)
      << r.err;
  const Creds only_scripts = pc.make_key(pc.owner, "script:read");
  EXPECT_EQ(pc.get("/apps/scshop/export", only_scripts).status, 403);
  const Creds reader = pc.make_key(pc.owner, "script:read app:read");
  EXPECT_EQ(pc.get("/apps/scshop/export", reader).status, 200);
  const Creds deployer = pc.make_key(pc.owner, "app:admin app:write script:write");
  EXPECT_EQ(picloud(pc, {"deploy", folder.string(), "--dry-run"}, deployer.key).code, 0);
}

TEST_P(Deploy, ScriptsTheAppKeepsMustStillCompile) {
  Instance& pc = shared_instance(GetParam(), false);
  const Creds& k = pc.owner_key;
  ASSERT_EQ(pc.post("/apps", k, R"({"slug":"kpshop","hostnames":["kpshop.localhost"]})").status, 201);
  ASSERT_EQ(pc.post("/apps/kpshop/scripts", k,
                    R"({"name":"lib","kind":"module","source":"string hello() { return \"hi\"; }"})").status,
            201);
  ASSERT_EQ(pc.post("/apps/kpshop/scripts", k,
                    R"({"name":"page","source":"import \"lib\";\nvoid handle(request@ req, response@ res) { res.text(lib::hello()); }"})")
                .status,
            201);
  // The deploy names only the module, and takes hello() away from it.
  auto broken = pc.post("/apps/kpshop/deploy", k,
                        R"({"app":{"slug":"kpshop"},"scripts":[{"name":"lib","kind":"module","source":"string hi() { return \"x\"; }"}]})");
  EXPECT_EQ(broken.status, 422) << broken.body;
  EXPECT_NE(broken.message().find("page (endpoint, kept by the app)"), std::string::npos) << broken.body;
  EXPECT_TRUE(broken.json["error"]["details"]["scripts"][0]["kept"].as_bool());
  // Nor may it make the module an endpoint while page imports it.
  auto endpoint = pc.post("/apps/kpshop/deploy", k,
                          R"({"app":{"slug":"kpshop"},"scripts":[{"name":"lib","source":"void handle(request@ req, response@ res) {}"}]})");
  EXPECT_EQ(endpoint.status, 422) << endpoint.body;
  EXPECT_EQ(app_text(pc, "kpshop.localhost", "/nothing").substr(0, 3), "404");
  // What [app] leaves out is kept: no field but the slug changes nothing.
  auto same = pc.post("/apps/kpshop/deploy?dry_run=true", k,
                      R"({"app":{"slug":"kpshop"},"scripts":[{"name":"lib","kind":"module","source":"string hello() { return \"hi\"; }"}]})");
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(same.json["changes"].size(), 0u) << same.body;
}

TEST_P(Deploy, ExportNeverClobbersAFolderAndItsNamesDeployBack) {
  Instance& pc = shared_instance(GetParam(), false);
  TempDir dir;
  const Creds& k = pc.owner_key;
  ASSERT_EQ(pc.post("/apps", k, R"({"slug":"exshop"})").status, 201);
  ASSERT_EQ(pc.post("/apps/exshop/scripts", k, R"({"name":"_helper","source":"void on_event(event@ e) {}"})").status, 201);
  ASSERT_EQ(pc.post("/apps/exshop/triggers/cron", k, R"({"script":"_helper","filter":{"schedule":"@daily"}})").status, 201);
  // A folder holding someone's work is left alone.
  fs::path work = fs::path(dir.path()) / "work";
  write(work / "scripts/precious.as", "// mine\n");
  auto refused = picloud(pc, {"export", "exshop", work.string()}, k.key);
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("already holds scripts"), std::string::npos) << refused.err;
  EXPECT_EQ(slurp(work / "scripts/precious.as"), "// mine\n");
  // The made-up trigger name is a valid one, so the folder deploys back.
  fs::path out = fs::path(dir.path()) / "out";
  ASSERT_EQ(picloud(pc, {"export", "exshop", out.string()}, k.key).code, 0);
  EXPECT_NE(slurp(out / "picloud.toml").find("name = \"helper_cron\""), std::string::npos) << slurp(out / "picloud.toml");
  auto back = picloud(pc, {"deploy", out.string()}, k.key);
  EXPECT_EQ(back.code, 0) << back.err;
  // Routes match whatever the order of their methods; a bundle over the
  // server's 1 MiB body limit (three scripts of 400 KB) deploys.
  auto big = pc.post("/apps/exshop/routes", k, R"({"script":"_helper","path":"/m","methods":["POST","GET"]})");
  ASSERT_EQ(big.status, 201) << big.body;
  std::string filler(400 * 1024, ' ');
  filler = "// " + filler + "\nvoid handle(request@ req, response@ res) { res.text(\"big\"); }\n";
  for (const char* name : {"big1", "big2", "big3"}) write(out / "scripts" / (std::string(name) + ".as"), filler);
  std::string manifest = slurp(out / "picloud.toml") + "\n[[routes]]\npath = \"/m\"\nmethods = [\"GET\", \"POST\"]\nscript = \"_helper\"\n";
  write(out / "picloud.toml", manifest);
  auto bigger = picloud(pc, {"deploy", out.string()}, k.key);
  EXPECT_EQ(bigger.code, 0) << bigger.err;
  EXPECT_NE(bigger.out.find("3 to change"), std::string::npos) << bigger.out;  // the three scripts; the route is the same
}

TEST_P(Deploy, TheKeyIsNotSentInTheClearToAnotherMachine) {
  Instance& pc = shared_instance(GetParam(), false);
  TempDir dir;
  auto folder = shop_folder(dir, "shop", "clshop");
  Process p({{picloud_binary(), "deploy", folder.string(), "--dry-run", "--server", "http://192.0.2.1:8080"},
             {{"PICLOUD_API_KEY", pc.owner_key.key}}, "", false});
  EXPECT_EQ(p.wait(30s), 2);
  EXPECT_NE(p.err().find("the API key would travel unencrypted"), std::string::npos) << p.err();
}

// A server with the plugins that declare resources: docs (indexes),
// realtime (topics) and secrets (required names).
Instance& resources_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(
        backend, std::map<std::string, std::string>{
                     {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
                     {"PICLOUD_PLUGINS_ENABLED", "docs,realtime,secrets"}});
    slot->cast_owner();
  }
  return *slot;
}

TEST_P(Deploy, PluginsResourcesAreDeployedKeptPrunedAndExported) {
  Instance& pc = resources_instance(GetParam());
  TempDir dir;
  const std::string key = pc.owner_key.key;
  auto folder = shop_folder(dir, "shop", "rsshop");
  const std::string manifest = with_slug(kManifest, "rsshop");
  write(folder / "picloud.toml", manifest + R"(
[secrets]
required = ["STRIPE_KEY"]

[[docs.indexes]]
collection = "orders"
path = "customer.id"

[[docs.indexes]]
collection = "orders"
path = "number"
unique = true

[[realtime.topics]]
name = "chat"
external = true
auth_mode = "public"
)");
  auto first = picloud(pc, {"deploy", folder.string()}, key);
  ASSERT_EQ(first.code, 0) << first.err;
  for (const char* line : {"+ create docs.indexes orders/customer.id", "+ create docs.indexes orders/number",
                           "+ create realtime.topics chat", "! missing secrets.required STRIPE_KEY"})
    EXPECT_NE(first.out.find(line), std::string::npos) << line << "\n" << first.out;
  auto indexes = pc.get("/apps/rsshop/docs/orders/indexes", pc.owner_key);
  ASSERT_EQ(indexes.json["items"].size(), 2u) << indexes.body;
  EXPECT_TRUE(indexes.json["items"][1]["unique"].as_bool());
  auto topic = pc.get("/apps/rsshop/realtime/topics/chat", pc.owner_key);
  ASSERT_EQ(topic.status, 200) << topic.body;
  EXPECT_TRUE(topic.json["external"].as_bool());
  EXPECT_EQ(topic.json["auth_mode"].as_string(), "public");

  // The secret set, nothing is missing any more and nothing changes.
  ASSERT_EQ(pc.call("PUT", "/apps/rsshop/secrets/STRIPE_KEY", pc.owner_key, R"({"value":"sk_test"})").status / 100, 2);
  auto again = picloud(pc, {"deploy", folder.string()}, key);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out.find("missing"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("0 to change, 11 unchanged, 0 kept"), std::string::npos) << again.out;

  // Export writes them back (the secret's name only); a fresh server gets
  // the same indexes and topics from that folder.
  fs::path exported = fs::path(dir.path()) / "exported";
  ASSERT_EQ(picloud(pc, {"export", "rsshop", exported.string()}, key).code, 0);
  auto text = slurp(exported / "picloud.toml");
  for (const char* part : {"[secrets]\nrequired = [ \"STRIPE_KEY\" ]", "[[docs.indexes]]\ncollection = \"orders\"\npath = \"number\"\nunique = true",
                           "[[realtime.topics]]\nauth_mode = \"public\"\nexternal = true\nname = \"chat\""})
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  EXPECT_EQ(text.find("sk_test"), std::string::npos);
  auto same = picloud(pc, {"deploy", exported.string()}, key);
  EXPECT_NE(same.out.find("0 to change"), std::string::npos) << same.out << same.err;

  // An index is not rebuilt by a deploy (its drop would lock every app's
  // documents until the commit): changing `unique` is refused, and nothing
  // of the deploy lands.
  std::string changed = manifest + "\n[[docs.indexes]]\ncollection = \"orders\"\npath = \"number\"\n";
  write(folder / "picloud.toml", changed);
  auto rebuilt = picloud(pc, {"deploy", folder.string()}, key);
  EXPECT_EQ(rebuilt.code, 1);
  EXPECT_NE(rebuilt.err.find("docs.indexes 'orders/number': the index exists with unique = true"), std::string::npos)
      << rebuilt.err;
  EXPECT_TRUE(pc.get("/apps/rsshop/docs/orders/indexes", pc.owner_key).json["items"][1]["unique"].as_bool());
  // Dropped through the admin API, it is made anew; what the folder leaves
  // out is kept, then pruned.
  ASSERT_EQ(pc.call("DELETE", "/apps/rsshop/docs/orders/indexes?path=number", pc.owner_key).status, 204);
  auto kept = picloud(pc, {"deploy", folder.string()}, key);
  ASSERT_EQ(kept.code, 0) << kept.err;
  for (const char* line : {"+ create docs.indexes orders/number", "= keep docs.indexes orders/customer.id",
                           "= keep realtime.topics chat"})
    EXPECT_NE(kept.out.find(line), std::string::npos) << line << "\n" << kept.out;
  auto pruned = picloud(pc, {"deploy", folder.string(), "--prune"}, key);
  ASSERT_EQ(pruned.code, 0) << pruned.err;
  for (const char* line : {"- delete docs.indexes orders/customer.id", "- delete realtime.topics chat"})
    EXPECT_NE(pruned.out.find(line), std::string::npos) << line << "\n" << pruned.out;
  EXPECT_EQ(pc.get("/apps/rsshop/realtime/topics/chat", pc.owner_key).status, 404);
  indexes = pc.get("/apps/rsshop/docs/orders/indexes", pc.owner_key);
  ASSERT_EQ(indexes.json["items"].size(), 1u) << indexes.body;
  EXPECT_FALSE(indexes.json["items"][0]["unique"].as_bool());
  EXPECT_EQ(pc.get("/apps/rsshop/secrets/STRIPE_KEY", pc.owner_key).status, 200) << "prune never deletes a secret";

  // Bad items are refused where they are, and change nothing.
  auto refused = [&](const std::string& extra, const std::string& needle) {
    write(folder / "picloud.toml", manifest + extra);
    auto r = picloud(pc, {"deploy", folder.string()}, key);
    EXPECT_EQ(r.code, 1) << extra;
    EXPECT_NE(r.err.find(needle), std::string::npos) << needle << "\n" << r.err;
  };
  refused("\n[[docs.indexes]]\ncollection = \"orders\"\npath = \"a..b\"\n", "picloud.toml:25: error: resources.docs.indexes[0]: path:");
  refused("\n[[docs.indexes]]\ncollection = \"orders\"\npath = \"a\"\nsparse = true\n", "unknown field 'sparse'");
  refused("\n[[realtime.topics]]\nname = \"t\"\nauth_mode = \"open\"\n", "auth_mode: must be");
  refused("\n[[docs.tables]]\nname = \"t\"\n", "no enabled plugin declares the resource kind 'docs.tables'");
  refused("\n[files]\nbuckets = []\n", "no enabled plugin declares the resource kind 'files.buckets'");
  refused("\n[secrets]\nrequired = [\"bad name\"]\n", "resources.secrets.required[0]:");
  EXPECT_EQ(pc.get("/apps/rsshop/docs/orders/indexes", pc.owner_key).json["items"].size(), 1u);
}

// A server that speaks only TLS, with a self-signed certificate: the
// command reaches it over https, trusting that certificate with --ca, and
// refuses it without.
TEST(DeployOverTls, AnHttpsServerIsReachedWithItsCertificate) {
  TempDir dir;
  const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  std::string make = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout '" + key +
                     "' -out '" + cert + "' -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null";
  ASSERT_EQ(std::system(make.c_str()), 0);
  ::chmod(key.c_str(), 0600);
  const int port = free_port();
  const std::string password = "correct horse battery staple";
  Process server({{picloud_binary(), "serve"},
                  {{"PICLOUD_SERVER_PORT", std::to_string(port)},
                   {"PICLOUD_SERVER_DATA_DIR", dir.path() + "/data"},
                   {"PICLOUD_SERVER_TLS_CERT", cert},
                   {"PICLOUD_SERVER_TLS_KEY", key},
                   {"PICLOUD_DATABASE_MIGRATIONS_PATH", source_dir() + "/migrations"},
                   {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir()},
                   {"PICLOUD_PLUGINS_ENABLED", "kv"},
                   {"PICLOUD_OWNER_USERNAME", "owner"},
                   {"PICLOUD_OWNER_PASSWORD", password},
                   {"PICLOUD_LOG_LEVEL", "warn"}},
                  dir.path(),
                  false});
  const std::string base = "https://localhost:" + std::to_string(port);
  const std::string curl = "curl -sS --cacert '" + cert + "' -c '" + dir.path() + "/jar' -b '" + dir.path() + "/jar' ";
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    up = std::system((curl + "-fo /dev/null " + base + "/readyz 2>/dev/null").c_str()) == 0;
    if (!up) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(up) << server.err();
  ASSERT_EQ(std::system((curl + "-fo /dev/null -H 'Content-Type: application/json' -H 'Origin: " + base +
                         "' -d '{\"username\":\"owner\",\"password\":\"" + password + "\"}' " + base + "/api/v1/admin/login")
                            .c_str()),
            0);
  std::string key_file = dir.path() + "/apikey.json";
  ASSERT_EQ(std::system((curl + "-fo '" + key_file + "' -H 'Content-Type: application/json' -H 'Origin: " + base +
                         "' -d '{\"name\":\"ci\",\"scopes\":[\"app:admin\",\"app:write\",\"script:write\",\"app:read\",\"script:read\"]}' " +
                         base + "/api/v1/admin/keys")
                            .c_str()),
            0);
  const std::string made = read_file(key_file);
  const auto at = made.find("\"key\":\"");
  ASSERT_NE(at, std::string::npos) << made;
  const std::string api_key = made.substr(at + 7, made.find('"', at + 7) - at - 7);
  auto folder = shop_folder(dir, "shop", "tlshop");
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), picloud_binary());
    Process p({args, {{"PICLOUD_API_KEY", api_key}}, "", false});
    int code = p.wait(60s);
    return Cli{code, p.out(), p.err()};
  };
  auto untrusted = run({"deploy", folder.string(), "--server", base});
  EXPECT_EQ(untrusted.code, 1);
  EXPECT_NE(untrusted.err.find("does not verify"), std::string::npos) << untrusted.err;
  EXPECT_NE(untrusted.err.find("--ca FILE"), std::string::npos) << untrusted.err;
  auto deployed = run({"deploy", folder.string(), "--server", base, "--ca", cert});
  ASSERT_EQ(deployed.code, 0) << deployed.err;
  EXPECT_NE(deployed.out.find("+ create app tlshop"), std::string::npos) << deployed.out;
  // By address too (the certificate names 127.0.0.1), and export.
  const std::string by_address = "https://127.0.0.1:" + std::to_string(port);
  auto again = run({"deploy", folder.string(), "--server", by_address, "--ca", cert});
  EXPECT_NE(again.out.find("0 to change"), std::string::npos) << again.out << again.err;
  auto exported = run({"export", "tlshop", dir.path() + "/out", "--server", by_address, "--ca", cert});
  EXPECT_EQ(exported.code, 0) << exported.err;
  EXPECT_EQ(slurp(fs::path(dir.path()) / "out/scripts/greet.as"), kGreet);
}

INSTANTIATE_TEST_SUITE_P(Backends, Deploy, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
