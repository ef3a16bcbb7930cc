// Triggers end to end, on both databases: a plugin's events (the t_events
// test plugin writes an item and emits its event in one transaction) fan out
// to the matching triggers' scripts through the outbox; failures are retried
// by the trigger's policy and dead-lettered; dead_letter handlers, replay and
// resolve; the depth limit; cron ticks, their catch-up and two nodes.
#include <atomic>
#include <set>
#include <thread>

#include "fixture.hpp"
#include "kernel/triggers/cron_scheduler.hpp"
#include "scripts.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> trigger_env(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env{
      {"PICLOUD_PLUGINS_ENABLED", "t_good,t_events"},
      {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"},
      {"PICLOUD_SCRIPTING_TIMEOUT_MS", "1000"},
      {"PICLOUD_TRIGGERS_MAX_DEPTH", "3"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

// One instance per backend, shared by this file's tests (each uses its own app).
Instance& triggers_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(backend, trigger_env());
    slot->cast_owner();
    slot->cast();
  }
  return *slot;
}

Reply add_trigger(Instance& pc, const std::string& app, const std::string& kind, const std::string& json) {
  return pc.post("/apps/" + app + "/triggers/" + kind, pc.owner_key, json);
}

std::string create_trigger(Instance& pc, const std::string& app, const std::string& kind, const std::string& json) {
  auto r = add_trigger(pc, app, kind, json);
  EXPECT_EQ(r.status, 201) << json << " -> " << r.body;
  return r.json["id"].string_or("");
}

bool wait_outbox_empty(Instance& pc, std::chrono::milliseconds timeout = 10s) {
  return wait_count(pc, "SELECT count(*) FROM outbox", {}, 0, timeout);
}

std::string metric(Instance& pc, const std::string& name) {
  auto body = http_get(pc.port(), "/metrics").body;
  auto at = body.find("\n" + name + " ");
  if (at == std::string::npos) return "";
  auto start = at + name.size() + 2;
  return body.substr(start, body.find('\n', start) - start);
}

class Triggers : public ::testing::TestWithParam<Backend> {};

TEST_P(Triggers, CommittedWritesFireExactlyTheMatchingTriggersAndRolledBackOnesNothing) {
  Instance& pc = triggers_instance(GetParam());
  std::string app = make_app(pc, "fanout");
  // Records what it saw: key/op/source/app and its run's depth.
  save_script(pc, "fanout", "record", R"(
void on_event(event@ e) {
  t_events::seen("fan:" + e.data.get_string("key") + "/" + e.op + "/" + e.source + "/" +
                 (e.data.get_string("app") == ")" + app + R"(" ? "app" : "other") + "/" + t_events::depth());
})");
  save_script(pc, "fanout", "record_all", R"(
void on_event(event@ e) { t_events::seen("fan:all:" + e.data.get_string("key") + "/" + e.op); })");
  save_script(pc, "fanout", "writer", R"(
void handle(request@ req, response@ res) {
  int matched = t_events::write(req.query.get_string("c"), req.query.get_string("k"), req.query.get_string("op", "insert"),
                                req.query.get_string("fail") == "1");
  res.text("" + matched);
})");
  bind_route(pc, "fanout", R"({"script":"writer","path":"/write"})");
  create_trigger(pc, "fanout", "t_events", R"({"script":"record","filter":{"collection":"orders*","ops":["insert"]}})");
  create_trigger(pc, "fanout", "t_events", R"({"script":"record_all","filter":{"collection":"*"}})");
  std::string disabled =
      create_trigger(pc, "fanout", "t_events", R"({"script":"record","filter":{"collection":"*"},"enabled":false})");
  ASSERT_FALSE(disabled.empty());
  // Another app's trigger on the same collections never sees this app's events.
  make_app(pc, "fanout-other");
  save_script(pc, "fanout-other", "spy", R"(void on_event(event@ e) { t_events::seen("fan:spy"); })");
  create_trigger(pc, "fanout-other", "t_events", R"({"script":"spy","filter":{"collection":"*"}})");

  auto write = [&](const std::string& query) { return on(pc, "fanout.localhost", "GET", "/write?" + query); };
  auto a = write("c=orders1&k=a");
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.body, "2");  // record (orders*, insert) and record_all
  EXPECT_EQ(write("c=orders1&k=b&op=update").body, "1");  // record_all only
  EXPECT_EQ(write("c=users&k=c&op=delete").body, "1");
  // The write and its event roll back together: nothing fires.
  auto failed = write("c=orders1&k=d&fail=1");
  EXPECT_EQ(failed.status, 502) << failed.body;
  EXPECT_NE(failed.body.find("failed on purpose"), std::string::npos) << failed.body;

  ASSERT_TRUE(wait_seen(pc, "fan:%", 4));
  ASSERT_TRUE(wait_outbox_empty(pc));
  std::this_thread::sleep_for(200ms);  // nothing more arrives
  EXPECT_EQ(seen(pc, "fan:%"), (std::vector<std::string>{"fan:a/insert/t_events/app/1", "fan:all:a/insert",
                                                         "fan:all:b/update", "fan:all:c/delete"}));
  auto items = pc.db().query("SELECT count(*) FROM t_events_items WHERE item_key = 'd'");
  ASSERT_TRUE(items);
  EXPECT_EQ(items->rows[0][0].as_int(), 0);
  // The runs are recorded with their trigger and source.
  auto runs = pc.db().query(
      "SELECT count(*) FROM executions WHERE app_id = ? AND source = 't_events' AND trigger_id IS NOT NULL AND status = 'ok'",
      {app});
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->rows[0][0].as_int(), 4);
}

TEST_P(Triggers, FailingHandlersAreRetriedByTheirPolicyThenDeadLetteredAndReplayed) {
  Instance& pc = triggers_instance(GetParam());
  std::string app = make_app(pc, "retry");
  save_script(pc, "retry", "flaky", R"(
void on_event(event@ e) {
  t_events::seen("retry:" + e.data.get_string("key"));
  throw("handler broke on " + e.data.get_string("key"));
})");
  save_script(pc, "retry", "alert", R"(
void on_event(event@ e) {
  const json@ dl = e.data["dead_letter"];
  t_events::seen("retry-dl:" + dl.get_string("source") + ":" + dl["event"].get_string("key") + ":" + dl.get_int("attempts"));
})");
  save_script(pc, "retry", "writer", R"(
void handle(request@ req, response@ res) { res.text("" + t_events::write("jobs", req.query.get_string("k"))); })");
  bind_route(pc, "retry", R"({"script":"writer","path":"/write"})");
  std::string trigger = create_trigger(
      pc, "retry", "t_events",
      R"({"script":"flaky","filter":{"collection":"jobs"},"retry":{"max_attempts":3,"backoff":"constant","base_delay_ms":150,"jitter":0}})");
  create_trigger(pc, "retry", "dead_letter", R"({"script":"alert","filter":{"source":"t_events"}})");
  // A dead_letter trigger for another source does not fire.
  create_trigger(pc, "retry", "dead_letter", R"({"script":"alert","filter":{"source":"cron"}})");

  auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(on(pc, "retry.localhost", "GET", "/write?k=x").body, "1");
  ASSERT_TRUE(wait_seen(pc, "retry-dl:%", 1)) << "no dead-letter handler ran";
  auto took = std::chrono::steady_clock::now() - started;
  // The handler's outcome is written once its run has ended, after the line it wrote.
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM dead_letters WHERE handler IS NOT NULL", {}, 1));
  EXPECT_EQ(seen(pc, "retry:%").size(), 3u);  // three attempts, then dead-lettered
  EXPECT_GE(took, 290ms) << "two 150 ms waits between the attempts";
  EXPECT_EQ(seen(pc, "retry-dl:%"), std::vector<std::string>{"retry-dl:t_events:x:3"});

  auto count = pc.get("/apps/retry/dead_letters/count", pc.owner_key);
  ASSERT_EQ(count.status, 200) << count.body;
  EXPECT_EQ(count.json["unresolved"].as_int(), 1);
  auto list = pc.get("/apps/retry/dead_letters", pc.owner_key);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json["items"].size(), 1u);
  const auto& item = list.json["items"][std::size_t{0}];
  std::string letter = item["id"].as_string();
  EXPECT_EQ(item["source"], sdk::Value("t_events"));
  EXPECT_EQ(item["op"], sdk::Value("insert"));
  EXPECT_EQ(item["trigger_id"], sdk::Value(trigger));
  EXPECT_EQ(item["attempts"], sdk::Value(3));
  EXPECT_NE(item["last_error"].string_or("").find("handler broke on x"), std::string::npos) << list.body;
  EXPECT_EQ(item["handler"], sdk::Value("ok"));
  EXPECT_EQ(item["resolved"], sdk::Value(false));
  EXPECT_TRUE(item["event"].is_null()) << "lists leave the event out";
  auto one = pc.get("/apps/retry/dead_letters/" + letter, pc.owner_key);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json["event"]["key"], sdk::Value("x"));
  EXPECT_EQ(one.json["event"]["source"], sdk::Value("t_events"));
  EXPECT_LE(one.json["first_attempt_at"].as_string(), one.json["last_attempt_at"].as_string());

  // Other apps and roles: another app's letter does not exist; a viewer reads, cannot replay.
  EXPECT_EQ(pc.get("/apps/alpha/dead_letters/" + letter, pc.owner_key).status, 404);
  EXPECT_EQ(pc.post("/apps/alpha/dead_letters/" + letter + "/replay", pc.owner_key, "").status, 404);
  EXPECT_EQ(pc.get("/apps/retry/dead_letters", pc.vera).status, 404);  // vera is no member of this app
  ASSERT_EQ(pc.call("PUT", "/apps/retry/members/vera", pc.owner_key, R"({"role":"viewer"})").status, 201);
  EXPECT_EQ(pc.get("/apps/retry/dead_letters", pc.vera).status, 200);
  EXPECT_EQ(pc.post("/apps/retry/dead_letters/" + letter + "/replay", pc.vera, "").status, 403);
  EXPECT_EQ(pc.post("/apps/retry/dead_letters/" + letter + "/resolve", pc.vera, "").status, 403);
  EXPECT_EQ(pc.get("/apps/retry/dead_letters?state=nope", pc.owner_key).status, 400);
  EXPECT_EQ(pc.get("/apps/retry/dead_letters?colour=red", pc.owner_key).status, 400);

  // Replay: the event runs again (and, failing again, becomes a new dead letter).
  auto replay = pc.post("/apps/retry/dead_letters/" + letter + "/replay", pc.owner_key, "");
  ASSERT_EQ(replay.status, 202) << replay.body;
  ASSERT_TRUE(wait_seen(pc, "retry-dl:%", 2));
  EXPECT_EQ(seen(pc, "retry:%").size(), 6u);
  auto again = pc.post("/apps/retry/dead_letters/" + letter + "/replay", pc.owner_key, "");
  EXPECT_EQ(again.status, 409) << again.body;
  auto first = pc.get("/apps/retry/dead_letters/" + letter, pc.owner_key);
  EXPECT_EQ(first.json["resolution"], sdk::Value("replayed"));
  EXPECT_EQ(first.json["resolved_by"].string_or("").rfind("owner (key ", 0), 0u) << first.body;

  // Resolve the new one with a reason; twice is a conflict.
  auto open_now = pc.get("/apps/retry/dead_letters", pc.owner_key);
  ASSERT_EQ(open_now.json["items"].size(), 1u);
  std::string second = open_now.json["items"][std::size_t{0}]["id"].as_string();
  EXPECT_NE(second, letter);
  EXPECT_EQ(pc.post("/apps/retry/dead_letters/" + second + "/resolve", pc.owner_key, R"({"colour":"red"})").status, 400);
  auto resolved = pc.post("/apps/retry/dead_letters/" + second + "/resolve", pc.owner_key, R"({"reason":"known issue"})");
  ASSERT_EQ(resolved.status, 200) << resolved.body;
  EXPECT_EQ(resolved.json["resolution"], sdk::Value("resolved"));
  EXPECT_EQ(resolved.json["reason"], sdk::Value("known issue"));
  EXPECT_EQ(pc.post("/apps/retry/dead_letters/" + second + "/resolve", pc.owner_key, "").status, 409);
  EXPECT_EQ(pc.get("/apps/retry/dead_letters/count", pc.owner_key).json["unresolved"].as_int(), 0);
  auto all = pc.get("/apps/retry/dead_letters?state=all&limit=1", pc.owner_key);
  ASSERT_EQ(all.json["items"].size(), 1u);
  auto rest = pc.get("/apps/retry/dead_letters?state=all&limit=1&cursor=" + all.json["next_cursor"].string_or(""), pc.owner_key);
  ASSERT_EQ(rest.status, 200) << rest.body;
  ASSERT_EQ(rest.json["items"].size(), 1u);
  EXPECT_NE(rest.json["items"][std::size_t{0}]["id"], all.json["items"][std::size_t{0}]["id"]);
  EXPECT_TRUE(rest.json["next_cursor"].is_null());
}

TEST_P(Triggers, DeadLetterHandlersRunOnceAndTheirFailureOnlyMarksTheLetter) {
  Instance& pc = triggers_instance(GetParam());
  make_app(pc, "stop");
  save_script(pc, "stop", "fails", R"(void on_event(event@ e) { throw("always"); })");
  save_script(pc, "stop", "broken_alert", R"(
void on_event(event@ e) { t_events::seen("stop-dl"); throw("the alert is broken too"); })");
  save_script(pc, "stop", "writer", R"(
void handle(request@ req, response@ res) { res.text("" + t_events::write("c", "k")); })");
  bind_route(pc, "stop", R"({"script":"writer","path":"/write"})");
  create_trigger(pc, "stop", "t_events", R"({"script":"fails","filter":{"collection":"c"},"retry":{"max_attempts":1}})");
  create_trigger(pc, "stop", "dead_letter", R"({"script":"broken_alert"})");
  auto failures_before = metric(pc, "picloud_dead_letter_handler_failures_total");
  ASSERT_EQ(on(pc, "stop.localhost", "GET", "/write").body, "1");
  ASSERT_TRUE(wait_seen(pc, "stop-dl", 1));
  ASSERT_TRUE(wait_outbox_empty(pc));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(seen(pc, "stop-dl").size(), 1u) << "a dead_letter handler is never retried";
  auto list = pc.get("/apps/stop/dead_letters?state=all", pc.owner_key);
  ASSERT_EQ(list.json["items"].size(), 1u) << "a failed dead_letter handler is never dead-lettered: " << list.body;
  EXPECT_EQ(list.json["items"][std::size_t{0}]["handler"], sdk::Value("handler_failed"));
  EXPECT_EQ(list.json["items"][std::size_t{0}]["resolved"], sdk::Value(false));
  EXPECT_EQ(list.json["items"][std::size_t{0}]["attempts"], sdk::Value(1));
  EXPECT_NE(metric(pc, "picloud_dead_letter_handler_failures_total"), failures_before);
}

TEST_P(Triggers, ScriptsListReplayAndResolveTheirAppsDeadLetters) {
  Instance& pc = triggers_instance(GetParam());
  make_app(pc, "dlapi");
  save_script(pc, "dlapi", "fails", R"(void on_event(event@ e) { t_events::seen("dlapi:run"); throw("no"); })");
  save_script(pc, "dlapi", "writer", R"(
void handle(request@ req, response@ res) { res.text("" + t_events::write("c", req.query.get_string("k"))); })");
  save_script(pc, "dlapi", "manage", R"(
void handle(request@ req, response@ res) {
  string action = req.query.get_string("do");
  if (action == "count") { res.text("" + dead_letters::count()); return; }
  if (action == "list") {
    json page = dead_letters::list({{"state", req.query.get_string("state", "unresolved")}, {"limit", 10}});
    string ids = "";
    for (uint i = 0; i < page["items"].size(); i++) ids += page["items"][i].get_string("id") + ",";
    res.text(ids);
    return;
  }
  if (action == "get") { json d = dead_letters::get(req.query.get_string("id")); res.text(d.to_string()); return; }
  if (action == "replay") { res.text(dead_letters::replay(req.query.get_string("id"))); return; }
  if (action == "resolve") { dead_letters::resolve(req.query.get_string("id"), "handled in a script"); res.text("ok"); return; }
  if (action == "badfilter") { dead_letters::list({{"colour", "red"}}); return; }
})");
  bind_route(pc, "dlapi", R"({"script":"writer","path":"/write"})");
  bind_route(pc, "dlapi", R"({"script":"manage","path":"/manage"})");
  create_trigger(pc, "dlapi", "t_events", R"({"script":"fails","filter":{"collection":"c"},"retry":{"max_attempts":1}})");
  auto manage = [&](const std::string& q) { return on(pc, "dlapi.localhost", "GET", "/manage?" + q); };

  ASSERT_EQ(on(pc, "dlapi.localhost", "GET", "/write?k=one").body, "1");
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM dead_letters d JOIN apps a ON a.id = d.app_id WHERE a.slug = 'dlapi'", {}, 1));
  EXPECT_EQ(manage("do=count").body, "1");
  std::string ids = manage("do=list").body;
  ASSERT_EQ(ids.size(), 37u) << ids;  // one id and a comma
  std::string id = ids.substr(0, 36);
  EXPECT_NE(manage("do=get&id=" + id).body.find("\"key\":\"one\""), std::string::npos);
  EXPECT_EQ(manage("do=get&id=no-such-letter").body, "null");
  // Another app's script cannot see or touch it.
  make_app(pc, "dlapi-other");
  save_script(pc, "dlapi-other", "peek", R"(
void handle(request@ req, response@ res) {
  string id = req.query.get_string("id");
  string replay = "refused";
  try { dead_letters::replay(id); replay = "REPLAYED"; } catch {}
  res.text("" + dead_letters::count() + " " + dead_letters::get(id).to_string() + " " + replay);
})");
  bind_route(pc, "dlapi-other", R"({"script":"peek","path":"/peek"})");
  EXPECT_EQ(on(pc, "dlapi-other.localhost", "GET", "/peek?id=" + id).body, "0 null refused");
  auto replayed = manage("do=replay&id=" + id);
  ASSERT_EQ(replayed.status, 200) << replayed.body;
  ASSERT_TRUE(wait_seen(pc, "dlapi:run", 2));
  EXPECT_EQ(manage("do=replay&id=" + id).status, 502) << "replaying a resolved letter throws";
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM dead_letters d JOIN apps a ON a.id = d.app_id WHERE a.slug = 'dlapi'", {}, 2));
  std::string second = manage("do=list").body.substr(0, 36);
  EXPECT_NE(second, id);
  EXPECT_EQ(manage("do=resolve&id=" + second).body, "ok");
  EXPECT_EQ(manage("do=count").body, "0");
  auto bad = manage("do=badfilter");
  EXPECT_EQ(bad.status, 502);
  EXPECT_NE(bad.body.find("unknown filter field 'colour'"), std::string::npos) << bad.body;
}

TEST_P(Triggers, TriggerLoopsStopAtTheDepthLimit) {
  Instance& pc = triggers_instance(GetParam());
  make_app(pc, "loop");
  // Each run writes again to the collection it listens on: a loop.
  save_script(pc, "loop", "again", R"(
void on_event(event@ e) {
  t_events::seen("loop:" + t_events::depth());
  t_events::write("c", "k" + t_events::depth());
})");
  save_script(pc, "loop", "writer", R"(void handle(request@ req, response@ res) { res.text("" + t_events::write("c", "k0")); })");
  bind_route(pc, "loop", R"({"script":"writer","path":"/write"})");
  create_trigger(pc, "loop", "t_events", R"({"script":"again","filter":{"collection":"c"}})");
  auto before = metric(pc, "picloud_trigger_depth_exceeded_total");
  ASSERT_EQ(on(pc, "loop.localhost", "GET", "/write").body, "1");
  ASSERT_TRUE(wait_seen(pc, "loop:%", 3));
  ASSERT_TRUE(wait_outbox_empty(pc));
  std::this_thread::sleep_for(300ms);
  // Depths 1, 2, 3 ran (the limit is 3 here); the write at depth 3 was kept,
  // its event dropped, and nothing was dead-lettered.
  EXPECT_EQ(seen(pc, "loop:%"), (std::vector<std::string>{"loop:1", "loop:2", "loop:3"}));
  EXPECT_NE(metric(pc, "picloud_trigger_depth_exceeded_total"), before);
  EXPECT_EQ(pc.get("/apps/loop/dead_letters/count", pc.owner_key).json["unresolved"].as_int(), 0);
}

TEST_P(Triggers, PluginsEmitOnlyWellFormedEventsOfTheirOwnKinds) {
  Instance& pc = triggers_instance(GetParam());
  make_app(pc, "emits");
  save_script(pc, "emits", "emit", R"(
void handle(request@ req, response@ res) {
  json payload = json::parse(req.body);
  res.text("" + t_events::emit_raw(req.query.get_string("source"), req.query.get_string("op"), payload));
})");
  bind_route(pc, "emits", R"({"script":"emit","path":"/emit"})");
  auto emit = [&](const std::string& query, const std::string& payload) {
    return on(pc, "emits.localhost", "POST", "/emit?" + query, payload);
  };
  auto refused = [&](const std::string& query, const std::string& payload, const std::string& says) {
    auto r = emit(query, payload);
    EXPECT_EQ(r.status, 502) << query << " " << payload << " -> " << r.body;
    EXPECT_NE(r.body.find(says), std::string::npos) << query << " " << payload << " -> " << r.body;
  };
  refused("source=t_good&op=insert", R"({"collection":"c"})", "'t_good' is not a trigger kind it declared");
  refused("source=cron&op=tick", R"({})", "'cron' is not a trigger kind it declared");
  refused("source=t_events&op=explode", R"({"collection":"c"})", "'explode' is not an op of the kind");
  refused("source=t_events&op=insert", R"([1,2])", "the payload must be an object");
  refused("source=t_events&op=insert", R"({"collection":"c","app":"someone-else"})", "may not have a field 'app'");
  refused("source=t_events&op=insert", R"({"collection":"c","source":"x"})", "may not have a field 'source'");
  EXPECT_EQ(emit("source=t_events&op=insert", R"({"collection":"c"})").body, "0");  // well-formed, no trigger
}

// A plugin whose app hook fails stops the app's deletion: the app, its
// routes and every plugin's data of it stay, and the admin is told why.
TEST_P(Triggers, AnAppDeletionAPluginRefusesChangesNothing) {
  Instance& pc = triggers_instance(GetParam());
  std::string app = make_app(pc, "undel");
  save_script(pc, "undel", "writer", R"(
void handle(request@ req, response@ res) { res.text("" + t_events::write(req.query.get_string("c"), "k")); })");
  bind_route(pc, "undel", R"({"script":"writer","path":"/write"})");
  ASSERT_EQ(on(pc, "undel.localhost", "GET", "/write?c=plain").status, 200);
  ASSERT_EQ(on(pc, "undel.localhost", "GET", "/write?c=undeletable").status, 200);
  auto items = [&] {
    auto rows = pc.db().query("SELECT count(*) FROM t_events_items WHERE app_id = ?", {app});
    return rows ? rows->rows[0][0].as_int() : -1;
  };
  ASSERT_EQ(items(), 2);
  auto refused = pc.call("DELETE", "/apps/undel", pc.owner_key);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("plugin 't_events' could not delete the app's data"), std::string::npos) << refused.body;
  EXPECT_EQ(pc.get("/apps/undel", pc.owner_key).status, 200);
  EXPECT_EQ(items(), 2);
  EXPECT_EQ(on(pc, "undel.localhost", "GET", "/write?c=plain").status, 200) << "the app's routes still serve";
  // Once the plugin lets go, the app goes with all its items.
  ASSERT_TRUE(pc.db().execute("DELETE FROM t_events_items WHERE app_id = ? AND collection = 'undeletable'", {app}).ok());
  auto deleted = pc.call("DELETE", "/apps/undel", pc.owner_key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(items(), 0);
}

TEST_P(Triggers, KernelKindsValidateTheirFilters) {
  Instance& pc = triggers_instance(GetParam());
  make_app(pc, "kinds");
  save_script(pc, "kinds", "h", R"(void on_event(event@ e) {})");
  auto bad = [&](const std::string& kind, const std::string& json, const std::string& says) {
    auto r = add_trigger(pc, "kinds", kind, json);
    EXPECT_EQ(r.status, 400) << json << " -> " << r.body;
    EXPECT_NE(r.body.find(says), std::string::npos) << json << " -> " << r.body;
  };
  bad("cron", R"({"script":"h","filter":{"schedule":"* * * *"}})", "6 fields");
  bad("cron", R"({"script":"h","filter":{"schedule":"0 0 0 30 2 *"}})", "never");
  bad("cron", R"({"script":"h","filter":{"schedule":"0 * * * * *","timezone":"Mars/Olympus"}})", "Mars/Olympus");
  bad("cron", R"({"script":"h","filter":{"schedule":"0 * * * * *","every":"day"}})", "unknown field 'every'");
  bad("cron", R"({"script":"h"})", "schedule is required");
  bad("dead_letter", R"({"script":"h","filter":{"colour":"red"}})", "unknown field 'colour'");
  bad("dead_letter", R"({"script":"h","filter":{"source":5}})", "source must be a non-empty string");
  auto ok = add_trigger(pc, "kinds", "cron", R"({"script":"h","filter":{"schedule":"@daily","timezone":"Europe/Berlin"}})");
  ASSERT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(ok.json["filter"]["timezone"], sdk::Value("Europe/Berlin"));
  auto utc = add_trigger(pc, "kinds", "cron", R"({"script":"h","filter":{"schedule":"0 0 * * * *"}})");
  ASSERT_EQ(utc.status, 201) << utc.body;
  EXPECT_EQ(utc.json["filter"]["timezone"], sdk::Value("UTC"));
}

TEST_P(Triggers, CronTicksRunOnTimeWithTheirEvent) {
  Instance& pc = triggers_instance(GetParam());
  make_app(pc, "cron");
  save_script(pc, "cron", "tick", R"(
void on_event(event@ e) {
  t_events::seen("cron:" + e.data.get_string("scheduled_at") + "|" + e.data.get_string("schedule") + "|" +
                 e.data.get_string("timezone") + "|" + e.data.get_int("missed") + "|" + e.op + "|" +
                 (e.data.get_string("fired_at") >= e.data.get_string("scheduled_at") ? "after" : "BEFORE"));
})");
  std::string id = create_trigger(pc, "cron", "cron",
                                  R"({"script":"tick","filter":{"schedule":"* * * * * *","timezone":"Asia/Tokyo"}})");
  ASSERT_TRUE(wait_seen(pc, "cron:%", 3, 8s));
  ASSERT_EQ(pc.call("PATCH", "/apps/cron/triggers/cron/" + id, pc.owner_key, R"({"enabled":false})").status, 200);
  ASSERT_TRUE(wait_outbox_empty(pc));
  auto ticks = seen(pc, "cron:%");
  std::set<std::string> windows;
  for (const auto& t : ticks) {
    EXPECT_NE(t.find("|* * * * * *|Asia/Tokyo|0|tick|after"), std::string::npos) << t;
    windows.insert(t.substr(0, t.find('|')));
  }
  EXPECT_EQ(windows.size(), ticks.size()) << "a window fired twice";
  // Consecutive windows are one second apart (on time, none skipped).
  std::vector<std::string> ordered(windows.begin(), windows.end());
  for (std::size_t i = 1; i < ordered.size(); ++i) {
    auto second = [](const std::string& w) { return std::stoi(w.substr(w.find('T') + 7, 2)); };
    EXPECT_EQ((second(ordered[i - 1]) + 1) % 60, second(ordered[i])) << ordered[i - 1] << " then " << ordered[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Triggers, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

// Catch-up is checked with a scheduler of the test's own, driven by a clock
// of the test's choosing; the instance's own scheduler polls too rarely to
// interfere.
class CronCatchUp : public ::testing::TestWithParam<Backend> {};

TEST_P(CronCatchUp, ATriggerThatMissedWindowsFiresOnceForTheLatest) {
  Instance pc(GetParam(), trigger_env({{"PICLOUD_TRIGGERS_CRON_POLL_INTERVAL_MS", "60000"}}));
  pc.cast_owner();
  make_app(pc, "catchup");
  save_script(pc, "catchup", "tick", R"(
void on_event(event@ e) { t_events::seen("up:" + e.data.get_string("scheduled_at") + "/" + e.data.get_int("missed")); })");
  std::string id = create_trigger(pc, "catchup", "cron", R"({"script":"tick","filter":{"schedule":"*/10 * * * * *"}})");
  auto row = pc.db().query("SELECT updated_at FROM triggers WHERE id = ?", {id});
  ASSERT_TRUE(row && !row->empty());
  // A whole minute after the change: no scheduler has seen the trigger yet.
  const std::int64_t changed = row->rows[0][0].as_int();
  const std::int64_t t0 = (changed / 60000 + 1) * 60000;  // the next full minute

  kernel::dispatch::OutboxSignal signal;
  kernel::MetricsRegistry metrics;
  kernel::triggers::CronScheduler scheduler(pc.db(), signal, metrics, 1000);
  auto queued = [&] {
    auto r = pc.db().query("SELECT count(*) FROM outbox WHERE trigger_id = ?", {id});
    return r ? r->rows[0][0].as_int() : -1;
  };
  auto next = scheduler.pass(changed);  // first sight: scheduled, nothing due
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_GT(*next, changed);
  EXPECT_LE(*next, changed + 10000);
  EXPECT_EQ(queued(), 0);
  // "Down" for two and a half minutes: 15 windows passed; one tick, for the latest.
  ASSERT_TRUE(scheduler.pass(t0 + 150500));
  ASSERT_TRUE(scheduler.pass(t0 + 150900));
  ASSERT_TRUE(wait_seen(pc, "up:%", 1));
  ASSERT_TRUE(wait_outbox_empty(pc));
  auto ticks = seen(pc, "up:%");
  ASSERT_EQ(ticks.size(), 1u);
  EXPECT_EQ(ticks[0], "up:" + kernel::admin::format_time(t0 + 150000) + "/" +
                          std::to_string((t0 + 150000 - *next) / 10000));
  auto state = pc.db().query("SELECT next_fire_at, last_fired_at FROM cron_schedules WHERE trigger_id = ?", {id});
  ASSERT_TRUE(state && !state->empty());
  EXPECT_EQ(state->rows[0][0].as_int(), t0 + 160000);
  EXPECT_EQ(state->rows[0][1].as_int(), t0 + 150500);
  // An edit starts the schedule afresh from the edit: a daily time twelve
  // hours from the (real) edit is not due at the test's clock, whenever the
  // test runs (an hourly one was, when run just before a full hour).
  const std::string far_hour = std::to_string((changed / 3600000 + 12) % 24);
  ASSERT_EQ(pc.call("PATCH", "/apps/catchup/triggers/cron/" + id, pc.owner_key,
                    R"({"filter":{"schedule":"0 0 )" + far_hour + R"( * * *"}})")
                .status,
            200);
  auto edited = scheduler.pass(t0 + 151000);
  ASSERT_TRUE(edited);
  EXPECT_EQ(queued(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, CronCatchUp, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

// Two nodes on one PostgreSQL database: every tick fires once.
TEST(CronTwoNodes, EachTickFiresOnceAcrossNodes) {
  auto env = trigger_env({{"PICLOUD_TRIGGERS_CRON_POLL_INTERVAL_MS", "100"}});
  Instance first(Backend::postgres, env);
  first.cast_owner();
  env["PICLOUD_DATABASE_URL"] = first.database_url();
  Instance second(Backend::postgres, env);
  make_app(first, "twonodes");
  save_script(first, "twonodes", "tick", R"(
void on_event(event@ e) { t_events::seen("two:" + e.data.get_string("scheduled_at")); })");
  std::string id = create_trigger(first, "twonodes", "cron", R"({"script":"tick","filter":{"schedule":"* * * * * *"}})");
  ASSERT_TRUE(wait_seen(first, "two:%", 4, 10s));
  ASSERT_EQ(first.call("PATCH", "/apps/twonodes/triggers/cron/" + id, first.owner_key, R"({"enabled":false})").status, 200);
  ASSERT_TRUE(wait_outbox_empty(first));
  auto ticks = seen(first, "two:%");
  std::set<std::string> windows(ticks.begin(), ticks.end());
  EXPECT_EQ(windows.size(), ticks.size()) << "a tick fired on both nodes";
  EXPECT_GE(ticks.size(), 4u);
}

TEST(DeadLetterRetention, OldDeadLettersAreSwept) {
  Instance pc(Backend::sqlite, trigger_env({{"PICLOUD_TRIGGERS_SWEEP_INTERVAL_S", "1"},
                                            {"PICLOUD_TRIGGERS_DEAD_LETTER_RETENTION_DAYS", "30"}}));
  pc.cast_owner();
  std::string app = make_app(pc, "sweep");
  const std::int64_t now = kernel::admin::now_ms();
  const std::int64_t day = 24 * 3600 * 1000LL;
  for (auto [id, age] : std::vector<std::pair<std::string, std::int64_t>>{{"old", 31 * day}, {"recent", 29 * day}}) {
    auto r = pc.db().execute(
        "INSERT INTO dead_letters (id, app_id, execution_id, source, op, script_id, payload, depth, attempts, "
        "first_attempt_at, last_attempt_at, last_error, created_at) VALUES (?, ?, ?, 't_events', 'insert', 's', '{}', 1, 3, ?, ?, 'e', ?)",
        {id, app, id, now - age, now - age, now - age});
    ASSERT_TRUE(r) << r.error().message;
  }
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM dead_letters WHERE app_id = ?", {app}, 1, 5s));
  auto left = pc.db().query("SELECT id FROM dead_letters WHERE app_id = ?", {app});
  ASSERT_TRUE(left && left->size() == 1);
  EXPECT_EQ(left->rows[0][0].as_string(), "recent");
}

}  // namespace
