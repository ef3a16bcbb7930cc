// Plugin jobs and the trigger kinds' hooks, end to end on both databases:
// the t_events test plugin queues "t_events.job" jobs in the transaction of
// its own write (sdk/jobs.hpp); the kernel runs them through the outbox with
// the kind's retries and dead letters. Its trigger kind sets up and drops
// state with its triggers (created/deleted), and emits to one trigger.
#include <set>
#include <thread>

#include "fixture.hpp"
#include "scripts.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

Instance& jobs_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(backend, std::map<std::string, std::string>{
                                                   {"PICLOUD_PLUGINS_ENABLED", "t_good,t_events"},
                                                   {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"},
                                                   {"PICLOUD_SCRIPTING_TIMEOUT_MS", "1000"}});
    slot->cast_owner();
    slot->cast();
  }
  return *slot;
}

// An app with a route that queues a job: /enqueue?key=&mode=&fail=&delay=
void enqueue_route(Instance& pc, const std::string& slug) {
  save_script(pc, slug, "enqueue", R"(
void handle(request@ req, response@ res) {
  res.text(t_events::enqueue(req.query.get_string("key"), req.query.get_string("mode", "ok"),
                             req.query.get_string("fail") == "1", parseInt(req.query.get_string("delay", "0"))));
})");
  bind_route(pc, slug, R"({"script":"enqueue","path":"/enqueue"})");
}

class Jobs : public ::testing::TestWithParam<Backend> {};

TEST_P(Jobs, AJobRunsOnceAfterItsTransactionCommitsAndNeverWhenItRollsBack) {
  Instance& pc = jobs_instance(GetParam());
  std::string app = make_app(pc, "jobs-once");
  enqueue_route(pc, "jobs-once");
  auto queued = on(pc, "jobs-once.localhost", "GET", "/enqueue?key=once");
  ASSERT_EQ(queued.status, 200) << queued.body;
  ASSERT_TRUE(wait_seen(pc, "job:once/%", 1));
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox WHERE app_id = ?", {app}, 0));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(seen(pc, "job:once/%"), std::vector<std::string>{"job:once/1"});
  // The handler saw its id and a deadline within the kind's 2 s timeout.
  auto row = pc.db().query("SELECT execution_id, depth FROM t_events_seen WHERE item_key = 'job:once/1'");
  ASSERT_TRUE(row && row->size() == 1);
  EXPECT_EQ(row->rows[0][0].as_string(), queued.body);
  EXPECT_EQ(row->rows[0][1].as_int(), 1);
  // A job is no script run: no execution record.
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE id = ?", {queued.body}, 0));

  // Rolled back with the write that queued it: neither exists.
  auto failed = on(pc, "jobs-once.localhost", "GET", "/enqueue?key=never&fail=1");
  EXPECT_EQ(failed.status, 502) << failed.body;
  std::this_thread::sleep_for(400ms);
  EXPECT_TRUE(seen(pc, "job:never/%").empty());
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM t_events_items WHERE item_key = 'never'", {}, 0));

  // A delayed job waits its delay.
  auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(on(pc, "jobs-once.localhost", "GET", "/enqueue?key=later&delay=600").status, 200);
  ASSERT_TRUE(wait_seen(pc, "job:later/%", 1));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 550ms);
}

TEST_P(Jobs, TransientFailuresAreRetriedAndFinalOnesDeadLetteredAtOnce) {
  Instance& pc = jobs_instance(GetParam());
  std::string app = make_app(pc, "jobs-retry");
  enqueue_route(pc, "jobs-retry");
  save_script(pc, "jobs-retry", "alert", R"(
void on_event(event@ e) {
  const json@ dl = e.data["dead_letter"];
  t_events::seen("jobs-dl:" + dl.get_string("job") + ":" + dl["event"].get_string("key") + ":" + dl.get_int("attempts"));
})");
  ASSERT_EQ(pc.post("/apps/jobs-retry/triggers/dead_letter", pc.owner_key,
                    R"({"script":"alert","filter":{"source":"t_events.job"}})").status, 201);

  // Down on the first attempt only: delivered on the second.
  ASSERT_EQ(on(pc, "jobs-retry.localhost", "GET", "/enqueue?key=flaky&mode=flaky").status, 200);
  ASSERT_TRUE(wait_seen(pc, "job:flaky/%", 2));
  // Always down: three attempts (the kind's max), then a dead letter.
  auto down = on(pc, "jobs-retry.localhost", "GET", "/enqueue?key=down&mode=down");
  ASSERT_TRUE(wait_seen(pc, "jobs-dl:t_events.job:down:%", 1));
  EXPECT_EQ(seen(pc, "job:down/%"), (std::vector<std::string>{"job:down/1", "job:down/2", "job:down/3"}));
  // Refused for good: one attempt, dead-lettered at once; a throwing handler is retried.
  ASSERT_EQ(on(pc, "jobs-retry.localhost", "GET", "/enqueue?key=bad&mode=bad").status, 200);
  ASSERT_EQ(on(pc, "jobs-retry.localhost", "GET", "/enqueue?key=throw&mode=throw").status, 200);
  ASSERT_TRUE(wait_seen(pc, "jobs-dl:t_events.job:bad:1", 1));
  ASSERT_TRUE(wait_seen(pc, "jobs-dl:t_events.job:throw:3", 1));
  EXPECT_EQ(seen(pc, "job:bad/%"), std::vector<std::string>{"job:bad/1"});
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(seen(pc, "job:flaky/%"), (std::vector<std::string>{"job:flaky/1", "job:flaky/2"}));
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox WHERE app_id = ?", {app}, 0));

  auto list = pc.get("/apps/jobs-retry/dead_letters?source=t_events.job", pc.owner_key);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json["items"].size(), 3u) << list.body;
  std::string down_letter;
  for (const auto& item : list.json["items"].as_array()) {
    EXPECT_EQ(item["job"], sdk::Value("t_events.job"));
    EXPECT_EQ(item["op"], sdk::Value("job"));
    EXPECT_EQ(item["script_id"], sdk::Value(""));
    if (item["execution_id"].string_or("") == down.body) down_letter = item["id"].as_string();
  }
  ASSERT_FALSE(down_letter.empty()) << list.body;
  auto letter = pc.get("/apps/jobs-retry/dead_letters/" + down_letter, pc.owner_key);
  EXPECT_NE(letter.json["last_error"].string_or("").find("relay_down: always down"), std::string::npos) << letter.body;
  EXPECT_EQ(letter.json["event"]["key"], sdk::Value("down"));
  // Another app does not see it.
  make_app(pc, "jobs-other");
  EXPECT_EQ(pc.post("/apps/jobs-other/dead_letters/" + down_letter + "/replay", pc.owner_key, "").status, 404);

  // Replayed, the job runs again with the same payload (and fails again).
  auto replay = pc.post("/apps/jobs-retry/dead_letters/" + down_letter + "/replay", pc.owner_key, "");
  ASSERT_EQ(replay.status, 202) << replay.body;
  ASSERT_TRUE(wait_seen(pc, "jobs-dl:t_events.job:down:%", 2));
  EXPECT_EQ(seen(pc, "job:down/%").size(), 6u);
}

TEST_P(Jobs, AnAppsQueuedJobsGoWithTheApp) {
  Instance& pc = jobs_instance(GetParam());
  std::string app = make_app(pc, "jobs-gone");
  enqueue_route(pc, "jobs-gone");
  ASSERT_EQ(on(pc, "jobs-gone.localhost", "GET", "/enqueue?key=gone&delay=60000").status, 200);
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox WHERE app_id = ? AND job IS NOT NULL", {app}, 1));
  ASSERT_EQ(pc.call("DELETE", "/apps/jobs-gone", pc.owner_key).status, 204);
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox WHERE app_id = ?", {app}, 0));
}

TEST_P(Jobs, TriggerKindsSetUpTheirTriggersInTheCreatingTransaction) {
  Instance& pc = jobs_instance(GetParam());
  make_app(pc, "hooks");
  save_script(pc, "hooks", "h", R"(void on_event(event@ e) { t_events::seen("hooked:" + e.data.get_string("key")); })");
  auto made = pc.post("/apps/hooks/triggers/t_events", pc.owner_key, R"({"script":"h","filter":{"collection":"c"}})");
  ASSERT_EQ(made.status, 201) << made.body;
  std::string id = made.json["id"].as_string();
  EXPECT_EQ(made.json["setup"]["trigger"], sdk::Value(id));
  EXPECT_EQ(made.json["setup"]["collection"], sdk::Value("c"));
  EXPECT_EQ(seen(pc, "created:" + id), std::vector<std::string>{"created:" + id});
  // Shown once: reading the trigger again does not show it.
  auto read = pc.get("/apps/hooks/triggers/t_events/" + id, pc.owner_key);
  ASSERT_EQ(read.status, 200);
  EXPECT_FALSE(read.json.has("setup"));

  // A hook that fails rolls the creation back: no trigger, nothing recorded.
  auto before = pc.get("/apps/hooks/triggers", pc.owner_key).json["items"].size();
  auto refused = pc.post("/apps/hooks/triggers/t_events", pc.owner_key, R"({"script":"h","filter":{"collection":"hook_fails"}})");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("failed on purpose"), std::string::npos) << refused.body;
  EXPECT_EQ(pc.get("/apps/hooks/triggers", pc.owner_key).json["items"].size(), before);

  // Deleting it runs the deleted hook in the same transaction.
  ASSERT_EQ(pc.call("DELETE", "/apps/hooks/triggers/t_events/" + id, pc.owner_key).status, 204);
  EXPECT_EQ(seen(pc, "deleted:" + id), std::vector<std::string>{"deleted:" + id});
  EXPECT_EQ(pc.call("DELETE", "/apps/hooks/triggers/t_events/" + id, pc.owner_key).status, 404);
  EXPECT_EQ(seen(pc, "deleted:" + id).size(), 1u);
}

TEST_P(Jobs, AnEventForOneTriggerReachesThatTriggerAlone) {
  Instance& pc = jobs_instance(GetParam());
  make_app(pc, "aimed");
  save_script(pc, "aimed", "a", R"(void on_event(event@ e) { t_events::seen("aimed:a:" + e.data.get_string("key")); })");
  save_script(pc, "aimed", "b", R"(void on_event(event@ e) { t_events::seen("aimed:b:" + e.data.get_string("key")); })");
  save_script(pc, "aimed", "emit", R"(
void handle(request@ req, response@ res) {
  res.text("" + t_events::emit_to(req.query.get_string("t"), req.query.get_string("c", "c"), req.query.get_string("k")));
})");
  bind_route(pc, "aimed", R"({"script":"emit","path":"/emit"})");
  auto a = pc.post("/apps/aimed/triggers/t_events", pc.owner_key, R"({"script":"a","filter":{"collection":"c"}})");
  auto b = pc.post("/apps/aimed/triggers/t_events", pc.owner_key, R"({"script":"b","filter":{"collection":"c"}})");
  ASSERT_EQ(a.status, 201);
  ASSERT_EQ(b.status, 201);
  std::string ta = a.json["id"].as_string();
  EXPECT_EQ(on(pc, "aimed.localhost", "GET", "/emit?t=" + ta + "&k=1").body, "1");
  // Its filter still applies; an unknown trigger or another app's matches nothing.
  EXPECT_EQ(on(pc, "aimed.localhost", "GET", "/emit?t=" + ta + "&c=other&k=2").body, "0");
  EXPECT_EQ(on(pc, "aimed.localhost", "GET", "/emit?t=nope&k=3").body, "0");
  make_app(pc, "aimed-other");
  save_script(pc, "aimed-other", "emit", R"(
void handle(request@ req, response@ res) { res.text("" + t_events::emit_to(req.query.get_string("t"), "c", "4")); })");
  bind_route(pc, "aimed-other", R"({"script":"emit","path":"/emit"})");
  EXPECT_EQ(on(pc, "aimed-other.localhost", "GET", "/emit?t=" + ta).body, "0");
  ASSERT_TRUE(wait_seen(pc, "aimed:%", 1));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(seen(pc, "aimed:%"), std::vector<std::string>{"aimed:a:1"});
}

INSTANTIATE_TEST_SUITE_P(Backends, Jobs, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
