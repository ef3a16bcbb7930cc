// The pubsub plugin end to end, on both databases: the real pubsub.so (and
// kv.so, which the handlers record with) loaded through the loader, scripts
// publishing from real routes over loopback, deliveries through the outbox
// with their retries and dead letters, and the admin API. The kill -9 test
// is in dispatch/crash_test.cpp.
#include <set>
#include <thread>

#include "picloud/sdk/ids.hpp"
#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

using V = sdk::Value;

std::map<std::string, std::string> pubsub_env(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env{
      {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
      {"PICLOUD_PLUGINS_ENABLED", "pubsub,kv"},
      {"PICLOUD_PUBSUB_MAX_MESSAGE_BYTES", "2048"},
      {"PICLOUD_PUBSUB_MAX_BATCH_MESSAGES", "50"},
      {"PICLOUD_PUBSUB_MAX_FANOUT_DELIVERIES", "100"},
      {"PICLOUD_PUBSUB_MAX_FANOUT_BYTES", "40000"},
      {"PICLOUD_PUBSUB_STATS_FLUSH_INTERVAL_MS", "100"},
      {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"},
      {"PICLOUD_SCRIPTING_TIMEOUT_MS", "5000"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

Instance& pubsub_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(backend, pubsub_env());
    slot->cast_owner();
    slot->cast();
  }
  return *slot;
}

// POST /pub {"topic", "message"} publishes one message, {"topic",
// "messages", "many": true} a batch; the answer is the subscriber count.
const char* kPublisher = R"(
void handle(request@ req, response@ res) {
  json a = req.json();
  if (a.get_bool("many")) res.json(pubsub::publish_many(a.get_string("topic"), a["messages"]));
  else res.json(pubsub::publish(a.get_string("topic"), a["message"]));
})";

// POST /kv {"c", "op": "keys" | "get" | "set", "k", "v"}: what handlers recorded.
const char* kReader = R"(
void handle(request@ req, response@ res) {
  json a = req.json();
  kv::Collection@ c = kv::collection(a.get_string("c"));
  string op = a.get_string("op");
  if (op == "keys") res.json(c.list("", 1000)["keys"]);
  else if (op == "get") res.json(c.get(a.get_string("k")));
  else if (op == "set") { c.set(a.get_string("k"), a["v"]); res.json(true); }
  else res.json(c.delete(a.get_string("k")));
})";

// A subscriber that records each event under "<label>|<message_id>" in the
// collection "seen" and counts its runs in "runs".
std::string recorder(const std::string& label) {
  return R"(
void on_event(event@ e) {
  kv::collection("runs").incr(")" +
         label + R"(");
  kv::collection("seen").set(")" +
         label + R"(|" + e.data.get_string("message_id"), e.data);
})";
}

// The same, but it throws while the key "broken" is in "flags".
std::string flaky_recorder(const std::string& label) {
  return R"(
void on_event(event@ e) {
  kv::collection("runs").incr(")" +
         label + R"(");
  if (kv::collection("flags").has("broken")) throw(")" +
         label + R"( is broken");
  kv::collection("seen").set(")" +
         label + R"(|" + e.data.get_string("message_id"), e.data);
})";
}

// An app with the publisher on POST /pub and the reader on POST /kv.
std::string pubsub_app(Instance& pc, const std::string& slug) {
  std::string id = make_app(pc, slug);
  save_script(pc, slug, "publisher", kPublisher);
  bind_route(pc, slug, R"({"script":"publisher","path":"/pub","methods":["POST"]})");
  save_script(pc, slug, "reader", kReader);
  bind_route(pc, slug, R"({"script":"reader","path":"/kv","methods":["POST"]})");
  return id;
}

DriverReply publish(Instance& pc, const std::string& slug, const std::string& topic, const V& message) {
  return drive_at(pc, slug, "/pub", V::object({{"topic", topic}, {"message", message}}));
}
DriverReply publish_many(Instance& pc, const std::string& slug, const std::string& topic, const V& messages) {
  return drive_at(pc, slug, "/pub", V::object({{"topic", topic}, {"messages", messages}, {"many", true}}));
}
// A publish that must succeed: the subscriber count.
std::int64_t published(Instance& pc, const std::string& slug, const std::string& topic, const V& message) {
  auto r = publish(pc, slug, topic, message);
  EXPECT_EQ(r.status, 200) << topic << " -> " << r.body;
  return r.json.int_or(-1);
}

V read_kv(Instance& pc, const std::string& slug, const V& args) {
  auto r = drive_at(pc, slug, "/kv", args);
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json;
}
std::set<std::string> seen_keys(Instance& pc, const std::string& slug) {
  std::set<std::string> out;
  V keys = read_kv(pc, slug, V::object({{"c", "seen"}, {"op", "keys"}}));
  if (keys.is_array())
    for (const auto& k : keys.as_array()) out.insert(k.string_or(""));
  return out;
}
std::int64_t runs_of(Instance& pc, const std::string& slug, const std::string& label) {
  return read_kv(pc, slug, V::object({{"c", "runs"}, {"op", "get"}, {"k", label}})).int_or(0);
}

std::string subscribe(Instance& pc, const std::string& slug, const std::string& script, const std::string& pattern,
                      const std::string& retry = "") {
  std::string body = R"({"script":")" + script + R"(","filter":{"topic":")" + pattern + R"("})" +
                     (retry.empty() ? "" : R"(,"retry":)" + retry) + "}";
  auto r = pc.post("/apps/" + slug + "/triggers/pubsub", pc.owner_key, body);
  EXPECT_EQ(r.status, 201) << body << " -> " << r.body;
  return r.json["id"].string_or("");
}

bool outbox_empty(Instance& pc, const std::string& app_id, std::chrono::milliseconds timeout = 15s) {
  return wait_count(pc, "SELECT count(*) FROM outbox WHERE app_id = ?", {app_id}, 0, timeout);
}

class Pubsub : public ::testing::TestWithParam<Backend> {};

// One publish, three subscribers, one of them failing: the other two run
// once each; the failing one is retried by its own policy, dead-lettered
// alone, and its replay reaches it alone.
TEST_P(Pubsub, EachSubscriberIsDeliveredRetriedAndDeadLetteredOnItsOwn) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = pubsub_app(pc, "psfanout");
  for (const char* label : {"a", "b"}) save_script(pc, "psfanout", label, recorder(label));
  save_script(pc, "psfanout", "c", flaky_recorder("c"));
  std::string ta = subscribe(pc, "psfanout", "a", "orders.created");
  std::string tb = subscribe(pc, "psfanout", "b", "orders.*");
  std::string tc = subscribe(pc, "psfanout", "c", "*", R"({"max_attempts":3,"backoff":"constant","base_delay_ms":50,"jitter":0})");
  read_kv(pc, "psfanout", V::object({{"c", "flags"}, {"op", "set"}, {"k", "broken"}, {"v", true}}));

  V message = V::object({{"order", 7}, {"items", V::array({"tea", "cake"})}});
  EXPECT_EQ(published(pc, "psfanout", "orders.created", message), 3);
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM dead_letters WHERE app_id = ?", {app}, 1));
  ASSERT_TRUE(outbox_empty(pc, app));
  EXPECT_EQ(runs_of(pc, "psfanout", "a"), 1);
  EXPECT_EQ(runs_of(pc, "psfanout", "b"), 1);
  EXPECT_EQ(runs_of(pc, "psfanout", "c"), 3);  // its three attempts

  // Both got the same event: one message id, the topic, when.
  auto seen = seen_keys(pc, "psfanout");
  ASSERT_EQ(seen.size(), 2u);
  std::string id = seen.begin()->substr(2);
  EXPECT_EQ(seen, (std::set<std::string>{"a|" + id, "b|" + id}));
  V event = read_kv(pc, "psfanout", V::object({{"c", "seen"}, {"op", "get"}, {"k", "a|" + id}}));
  EXPECT_EQ(event["source"], V("pubsub"));
  EXPECT_EQ(event["op"], V("publish"));
  EXPECT_EQ(event["app"], V(app));
  EXPECT_EQ(event["topic"], V("orders.created"));
  EXPECT_EQ(event["message"], message);
  EXPECT_EQ(event["message_id"], V(id));
  EXPECT_NEAR(static_cast<double>(event["published_at"].int_or(0)),
              static_cast<double>(sdk::wall_clock_ms()), 60'000.0);
  EXPECT_EQ(event.as_object().size(), 7u) << sdk::to_json(event);

  // The dead letter is c's alone, with the event and the last error.
  auto letters = pc.get("/apps/psfanout/dead_letters?source=pubsub", pc.owner_key);
  ASSERT_EQ(letters.status, 200) << letters.body;
  ASSERT_EQ(letters.json["items"].size(), 1u) << letters.body;
  V letter = letters.json["items"][0];
  EXPECT_EQ(letter["trigger_id"], V(tc));
  EXPECT_EQ(letter["attempts"], V(3));
  EXPECT_TRUE(contains(letter["last_error"].string_or(""), "c is broken"));

  // Replayed once c works again: c runs (and records), a and b do not.
  read_kv(pc, "psfanout", V::object({{"c", "flags"}, {"op", "delete"}, {"k", "broken"}}));
  auto replay = pc.post("/apps/psfanout/dead_letters/" + letter["id"].string_or("") + "/replay", pc.owner_key, "");
  ASSERT_EQ(replay.status, 202) << replay.body;
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE id = ?", {replay.json["execution_id"].string_or("")}, 1));
  ASSERT_TRUE(outbox_empty(pc, app));
  EXPECT_EQ(runs_of(pc, "psfanout", "c"), 4);
  EXPECT_EQ(runs_of(pc, "psfanout", "a"), 1);
  EXPECT_EQ(runs_of(pc, "psfanout", "b"), 1);
  EXPECT_EQ(seen_keys(pc, "psfanout"), (std::set<std::string>{"a|" + id, "b|" + id, "c|" + id}));
  // The replayed event is the original: same message id.
  EXPECT_EQ(read_kv(pc, "psfanout", V::object({{"c", "seen"}, {"op", "get"}, {"k", "c|" + id}}))["message"], message);
  (void)ta;
  (void)tb;
}

// Which patterns match which topics, as docs/pubsub.md says.
TEST_P(Pubsub, PatternsMatchAsDocumented) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = pubsub_app(pc, "pspatterns");
  // Patterns, each with a subscriber of its own (labels p0, p1, ...).
  const std::vector<std::string> patterns = {"orders", "orders.*", "orders.eu.*", "*", "orders.eu.created", "users.*"};
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    std::string label = "p" + std::to_string(i);
    save_script(pc, "pspatterns", label, recorder(label));
    subscribe(pc, "pspatterns", label, patterns[i]);
  }
  // topic -> the patterns (by index) that match it.
  const std::vector<std::pair<std::string, std::set<int>>> table = {
      {"orders", {0, 3}},                      // exact; "orders.*" needs one more segment
      {"orders.created", {1, 3}},              // one segment below
      {"orders.eu.created", {1, 2, 3, 4}},     // ".*" matches one or more segments
      {"orders.eu", {1, 3}},                   // "orders.eu.*" needs one more
      {"orders.eu.created.late", {1, 2, 3}},   // exact is exact
      {"ordersx.created", {3}},                // a prefix is whole segments
      {"users", {3}},                          //
      {"Orders.created", {3}},                 // case matters
  };
  std::set<std::string> expected;
  for (const auto& [topic, matching] : table) {
    V message = V::object({{"topic", topic}});
    EXPECT_EQ(published(pc, "pspatterns", topic, message), static_cast<std::int64_t>(matching.size())) << topic;
  }
  ASSERT_TRUE(outbox_empty(pc, app));
  // Each subscriber saw exactly the topics of its pattern.
  std::map<std::string, std::set<std::string>> got;
  for (const auto& key : seen_keys(pc, "pspatterns")) {
    V event = read_kv(pc, "pspatterns", V::object({{"c", "seen"}, {"op", "get"}, {"k", key}}));
    got[key.substr(0, key.find('|'))].insert(event["topic"].string_or(""));
  }
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    std::set<std::string> want;
    for (const auto& [topic, matching] : table)
      if (matching.count(static_cast<int>(i))) want.insert(topic);
    EXPECT_EQ(got["p" + std::to_string(i)], want) << "pattern " << patterns[i];
  }
}

TEST_P(Pubsub, TriggerFiltersAreChecked) {
  Instance& pc = pubsub_instance(GetParam());
  make_app(pc, "psfilter");
  save_script(pc, "psfilter", "r", recorder("r"));
  auto bad = [&](const std::string& filter, const std::string& part) {
    auto r = pc.post("/apps/psfilter/triggers/pubsub", pc.owner_key, R"({"script":"r","filter":)" + filter + "}");
    EXPECT_EQ(r.status, 400) << filter << " -> " << r.body;
    EXPECT_TRUE(contains(r.message(), part)) << filter;
  };
  bad(R"("orders")", "filter must be an object");
  bad(R"({})", "filter.topic is required");
  bad(R"({"topic":7})", "filter.topic is required");
  bad(R"({"topic":""})", "filter.topic is empty");
  bad(R"({"topic":"orders.*.created"})", "'*' may only be the whole pattern or its last segment");
  bad(R"({"topic":"orders*"})", "'*' may only be the whole pattern or its last segment");
  bad(R"({"topic":"*.created"})", "'*' may only be the whole pattern or its last segment");
  bad(R"({"topic":"orders.**"})", "'*' may only be the whole pattern or its last segment");
  bad(R"({"topic":".*"})", "empty segment");
  bad(R"({"topic":"orders..created"})", "empty segment");
  bad(R"({"topic":"orders created"})", "only letters, digits and _ - :");
  bad(R"({"topic":"orders.>"})", "only letters, digits and _ - :");
  bad(R"({"topic":"orders","ops":["publish"]})", "filter.ops: unknown field (a pubsub filter has topic)");
  auto r = pc.post("/apps/psfilter/triggers/pubsub", pc.owner_key, R"({"script":"r","filter":{"topic":"orders.*"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json["filter"], V::object({{"topic", "orders.*"}}));
}

TEST_P(Pubsub, BadInputIsAClearScriptErrorAndPublishesNothing) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = pubsub_app(pc, "psbad");
  save_script(pc, "psbad", "r", recorder("r"));
  subscribe(pc, "psbad", "r", "*");
  auto refused = [&](const DriverReply& r, const std::string& part) {
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_TRUE(contains(r.error(), part)) << r.body;
  };
  refused(publish(pc, "psbad", "", 1), "topic is empty");
  refused(publish(pc, "psbad", "a..b", 1), "empty segment");
  refused(publish(pc, "psbad", "a.*", 1), "'*' is for subscribers' patterns, not for topics");
  refused(publish(pc, "psbad", "a b", 1), "only letters, digits and _ - :");
  refused(publish(pc, "psbad", "caf\xc3\xa9", 1), "only letters, digits and _ - :");
  refused(publish(pc, "psbad", std::string(201, 'a'), 1), "longer than 200 characters");
  refused(publish(pc, "psbad", std::string(65, 'a'), 1), "a segment is longer than 64 characters");
  std::string deep = "a";
  for (int i = 0; i < 16; ++i) deep += ".a";
  refused(publish(pc, "psbad", deep, 1), "more than 16 segments");
  // Messages: the size cap (2048 bytes here), text JSON cannot hold.
  refused(publish(pc, "psbad", "t", std::string(2100, 'x')), "message is 2102 bytes of JSON; at most 2048 ([pubsub] max_message_bytes)");
  refused(publish(pc, "psbad", "t", V::object({{"note", std::string("a\0b", 3)}})), "message.note holds the NUL character");
  // Batches: an array, at most 50 here, every message checked first.
  refused(publish_many(pc, "psbad", "t", V::object()), "publish_many takes an array of messages, got object");
  sdk::Array many;
  for (int i = 0; i < 51; ++i) many.push_back(i);
  refused(publish_many(pc, "psbad", "t", V(many)), "a batch holds at most 50 messages, got 51 ([pubsub] max_batch_messages)");
  refused(publish_many(pc, "psbad", "t", V::array({1, 2, std::string(2100, 'x'), 4})), "message 2 is 2102 bytes");
  // Nothing of any of it was queued or counted.
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(outbox_empty(pc, app, 1s));
  EXPECT_EQ(runs_of(pc, "psbad", "r"), 0);
  auto topics = pc.get("/apps/psbad/pubsub/topics", pc.owner_key);
  EXPECT_EQ(topics.json["items"], V::array()) << topics.body;

  // An empty batch publishes nothing and is no error; a null message is a message.
  auto empty = publish_many(pc, "psbad", "t", V::array());
  EXPECT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(empty.json, V(0));
  EXPECT_EQ(published(pc, "psbad", "t", V()), 1);
  ASSERT_TRUE(outbox_empty(pc, app));
  EXPECT_EQ(runs_of(pc, "psbad", "r"), 1);
}

// A batch commits as one: all of its messages reach every subscriber, and
// one with no subscriber succeeds having queued nothing.
TEST_P(Pubsub, ABatchIsQueuedWholeForEverySubscriber) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = pubsub_app(pc, "psbatch");
  for (const char* label : {"a", "b"}) {
    save_script(pc, "psbatch", label, recorder(label));
    subscribe(pc, "psbatch", label, "jobs.*");
  }
  sdk::Array batch;
  for (int i = 0; i < 20; ++i) batch.push_back(V::object({{"n", i}}));
  auto r = publish_many(pc, "psbatch", "jobs.resize", V(batch));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json, V(2));
  EXPECT_EQ(published(pc, "psbatch", "nobody.listens", V::object({{"n", 1}})), 0);
  ASSERT_TRUE(outbox_empty(pc, app));
  auto seen = seen_keys(pc, "psbatch");
  EXPECT_EQ(seen.size(), 40u);
  std::set<std::string> ids;
  for (const auto& k : seen) ids.insert(k.substr(2));
  EXPECT_EQ(ids.size(), 20u) << "each message has its own id, the same for both subscribers";
  // Ids sort in publish order.
  std::vector<std::int64_t> order;
  for (const auto& id : ids)
    order.push_back(read_kv(pc, "psbatch", V::object({{"c", "seen"}, {"op", "get"}, {"k", "a|" + id}}))["message"]["n"].int_or(-1));
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], static_cast<std::int64_t>(i));

  // A subscriber added now gets what is published from now on, not before.
  save_script(pc, "psbatch", "late", recorder("late"));
  subscribe(pc, "psbatch", "late", "jobs.*");
  EXPECT_EQ(published(pc, "psbatch", "jobs.resize", V::object({{"n", 20}})), 3);
  ASSERT_TRUE(outbox_empty(pc, app));
  EXPECT_EQ(runs_of(pc, "psbatch", "late"), 1);
  EXPECT_EQ(seen_keys(pc, "psbatch").size(), 43u);
}

// What one publish may write, messages times subscribers, is bounded (100
// deliveries and 40,000 bytes here, each delivery's envelope counted as 320
// bytes and its topic): past it, the publish is refused whole.
TEST_P(Pubsub, APublishThatWouldWriteTooMuchIsRefusedWhole) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = pubsub_app(pc, "psfanoutlimit");
  for (const char* label : {"a", "b", "c"}) {
    save_script(pc, "psfanoutlimit", label, recorder(label));
    subscribe(pc, "psfanoutlimit", label, "t");
  }
  sdk::Array small;
  for (int i = 0; i < 34; ++i) small.push_back(i);
  auto r = publish_many(pc, "psfanoutlimit", "t", V(small));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_TRUE(contains(r.error(), "34 messages for 3 subscribers would queue 102 deliveries; at most 100 at once "
                                  "([pubsub] max_fanout_deliveries)"))
      << r.body;
  V big = V(std::string(2000, 'x'));
  // (2002 + 320 + 1) bytes a message, 8 messages, 3 subscribers.
  r = publish_many(pc, "psfanoutlimit", "t", V::array({big, big, big, big, big, big, big, big}));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_TRUE(contains(r.error(), "the publish would write 55752 bytes for 3 subscribers; at most 40000")) << r.body;
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(outbox_empty(pc, app, 1s));
  EXPECT_EQ(runs_of(pc, "psfanoutlimit", "a"), 0);
  // Just under both bounds.
  small.pop_back();
  r = publish_many(pc, "psfanoutlimit", "t", V(small));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(published(pc, "psfanoutlimit", "t", big), 3);
  ASSERT_TRUE(outbox_empty(pc, app));
  EXPECT_EQ(runs_of(pc, "psfanoutlimit", "b"), 34);
}

// The database refuses the outbox row of the second subscriber for the
// message 3. In the batch [1, 2, 3] the rows of messages 1 and 2 were
// written before it, in the same transaction, and must roll back with it;
// nothing is delivered or counted.
TEST_P(Pubsub, ARolledBackPublishDeliversNothing) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = pubsub_app(pc, "psrollback");
  save_script(pc, "psrollback", "a", recorder("a"));
  save_script(pc, "psrollback", "b", recorder("b"));
  subscribe(pc, "psrollback", "a", "t");
  std::string failing = subscribe(pc, "psrollback", "b", "t");
  const std::string refused_row = "NEW.trigger_id = '" + failing + "' AND NEW.payload LIKE '%\"message\":3,%'";
  bool pg = GetParam() == Backend::postgres;
  if (pg) {
    ASSERT_TRUE(pc.db().execute("CREATE FUNCTION ps_test_refuse() RETURNS trigger AS $$ BEGIN IF " + refused_row +
                                " THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ "
                                "LANGUAGE plpgsql"));
    ASSERT_TRUE(pc.db().execute(
        "CREATE TRIGGER ps_test_refuse AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION ps_test_refuse()"));
  } else {
    ASSERT_TRUE(pc.db().execute("CREATE TRIGGER ps_test_refuse AFTER INSERT ON outbox WHEN " + refused_row +
                                " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"));
  }
  auto one = publish(pc, "psrollback", "t", 3);
  auto batch = publish_many(pc, "psrollback", "t", V::array({1, 2, 3}));
  if (pg) {
    ASSERT_TRUE(pc.db().execute("DROP TRIGGER ps_test_refuse ON outbox"));
    ASSERT_TRUE(pc.db().execute("DROP FUNCTION ps_test_refuse()"));
  } else {
    ASSERT_TRUE(pc.db().execute("DROP TRIGGER ps_test_refuse"));
  }
  EXPECT_EQ(one.status, 502) << one.body;
  EXPECT_EQ(batch.status, 502) << batch.body;
  EXPECT_FALSE(contains(one.error(), "refused by the test")) << "the database's text stays in the server log";
  EXPECT_TRUE(outbox_empty(pc, app, 1s));
  std::this_thread::sleep_for(300ms);  // a handler wrongly queued would have run by now
  EXPECT_EQ(runs_of(pc, "psrollback", "a"), 0);
  auto topic = pc.get("/apps/psrollback/pubsub/topics/t", pc.owner_key);
  ASSERT_EQ(topic.status, 200) << topic.body;
  EXPECT_EQ(topic.json["published_total"], V(0)) << topic.body;
  // With the database willing, the same publish reaches both.
  EXPECT_EQ(published(pc, "psrollback", "t", 1), 2);
  ASSERT_TRUE(outbox_empty(pc, app));
  EXPECT_EQ(runs_of(pc, "psrollback", "a"), 1);
  EXPECT_EQ(runs_of(pc, "psrollback", "b"), 1);
}

// Two apps with the same topic names and patterns: each app's publishes
// reach its own subscribers only, and neither sees the other's topics.
TEST_P(Pubsub, AppsNeverSeeEachOthersTopics) {
  Instance& pc = pubsub_instance(GetParam());
  std::string one = pubsub_app(pc, "psone");
  std::string two = pubsub_app(pc, "pstwo");
  for (const char* slug : {"psone", "pstwo"}) {
    save_script(pc, slug, "r", recorder("r"));
    subscribe(pc, slug, "r", "*");
  }
  EXPECT_EQ(published(pc, "psone", "shared.topic", V::object({{"from", "one"}})), 1);
  EXPECT_EQ(published(pc, "psone", "shared.topic", V::object({{"from", "one"}})), 1);
  EXPECT_EQ(published(pc, "pstwo", "shared.topic", V::object({{"from", "two"}})), 1);
  ASSERT_TRUE(outbox_empty(pc, one));
  ASSERT_TRUE(outbox_empty(pc, two));
  EXPECT_EQ(runs_of(pc, "psone", "r"), 2);
  EXPECT_EQ(runs_of(pc, "pstwo", "r"), 1);
  for (const auto& key : seen_keys(pc, "pstwo"))
    EXPECT_EQ(read_kv(pc, "pstwo", V::object({{"c", "seen"}, {"op", "get"}, {"k", key}}))["message"]["from"], V("two"));
  auto t1 = pc.get("/apps/psone/pubsub/topics/shared.topic", pc.owner_key);
  auto t2 = pc.get("/apps/pstwo/pubsub/topics/shared.topic", pc.owner_key);
  EXPECT_EQ(t1.json["published_total"], V(2)) << t1.body;
  EXPECT_EQ(t2.json["published_total"], V(1)) << t2.body;
  // Another app's member sees nothing of this one.
  EXPECT_EQ(pc.get("/apps/alpha/pubsub/topics", pc.oscar).status, 404);
  EXPECT_EQ(pc.post("/apps/alpha/pubsub/topics/x/messages", pc.oscar, R"({"message":1})").status, 404);
}

TEST_P(Pubsub, AdminApiPublishesAndShowsTopicsSubscribersAndBacklogs) {
  Instance& pc = pubsub_instance(GetParam());
  // alpha: eddie is an editor, vera a viewer.
  save_script(pc, "alpha", "ps_ok", recorder("ok"));
  save_script(pc, "alpha", "ps_down", flaky_recorder("down"));
  save_script(pc, "alpha", "reader", kReader);
  bind_route(pc, "alpha", R"({"script":"reader","path":"/kv","methods":["POST"]})");
  std::string ok_trigger = subscribe(pc, "alpha", "ps_ok", "shop.*");
  std::string down_trigger =
      subscribe(pc, "alpha", "ps_down", "shop.orders", R"({"max_attempts":2,"backoff":"constant","base_delay_ms":20,"jitter":0})");
  read_kv(pc, "alpha", V::object({{"c", "flags"}, {"op", "set"}, {"k", "broken"}, {"v", true}}));

  const std::string base = "/apps/alpha/pubsub";
  auto pub = pc.post(base + "/topics/shop.orders/messages", pc.eddie, R"({"message":{"order":1}})");
  ASSERT_EQ(pub.status, 202) << pub.body;
  EXPECT_EQ(pub.json["topic"], V("shop.orders"));
  EXPECT_EQ(pub.json["subscribers"], V(2));
  ASSERT_EQ(pub.json["message_ids"].size(), 1u);
  EXPECT_TRUE(pub.json["published_at"].is_string());
  auto many = pc.post(base + "/topics/shop.refunds/messages", pc.owner_key, R"({"messages":[{"r":1},{"r":2},{"r":3}]})");
  ASSERT_EQ(many.status, 202) << many.body;
  EXPECT_EQ(many.json["subscribers"], V(1));
  EXPECT_EQ(many.json["message_ids"].size(), 3u);
  // Who may publish, and bodies that say nothing sensible.
  EXPECT_EQ(pc.post(base + "/topics/shop.orders/messages", pc.vera, R"({"message":1})").status, 403);
  EXPECT_EQ(pc.post(base + "/topics/shop.orders/messages", Creds{}, R"({"message":1})").status, 401);
  auto bad = [&](const std::string& path, const std::string& body, int status, const std::string& part) {
    auto r = pc.post(base + path, pc.eddie, body);
    EXPECT_EQ(r.status, status) << path << " " << body << " -> " << r.body;
    EXPECT_TRUE(contains(r.message(), part)) << r.body;
  };
  bad("/topics/shop.*/messages", R"({"message":1})", 400, "'*' is for subscribers' patterns");
  bad("/topics/a..b/messages", R"({"message":1})", 400, "empty segment");
  bad("/topics/t/messages", R"({})", 400, "give either message (any JSON) or messages (an array)");
  bad("/topics/t/messages", R"({"message":1,"messages":[2]})", 400, "give either message");
  bad("/topics/t/messages", R"({"messages":{"a":1}})", 400, "messages: must be an array");
  bad("/topics/t/messages", R"({"message":1,"priority":2})", 400, "priority: unknown field");
  bad("/topics/t/messages", R"({"message":)", 400, "");
  bad("/topics/t/messages", R"({"message":")" + std::string(2100, 'x') + R"("})", 400, "([pubsub] max_message_bytes)");

  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM dead_letters WHERE app_id = ?", {pc.alpha_id}, 1));
  ASSERT_TRUE(outbox_empty(pc, pc.alpha_id));

  // Topics, by name: counts, subscribers now, backlog (dead letters too).
  auto topics = pc.get(base + "/topics", pc.vera);
  ASSERT_EQ(topics.status, 200) << topics.body;
  ASSERT_GE(topics.json["items"].size(), 2u) << topics.body;  // other tests publish in alpha too, after "shop."
  V orders = topics.json["items"][0];
  EXPECT_EQ(orders["topic"], V("shop.orders"));
  EXPECT_EQ(orders["published_total"], V(1));
  EXPECT_EQ(orders["published_last_hour"], V(1));
  EXPECT_EQ(orders["published_last_day"], V(1));
  EXPECT_EQ(orders["subscribers"], V(2));
  EXPECT_EQ(orders["backlog"], V::object({{"queued", 0}, {"retrying", 0}, {"running", 0}, {"dead_letters", 1}}));
  EXPECT_TRUE(orders["first_published_at"].is_string());
  V refunds = topics.json["items"][1];
  EXPECT_EQ(refunds["topic"], V("shop.refunds"));
  EXPECT_EQ(refunds["published_total"], V(3));
  EXPECT_EQ(refunds["subscribers"], V(1));
  EXPECT_EQ(pc.get(base + "/topics", Creds{}).status, 401);
  // Pages.
  auto first = pc.get(base + "/topics?limit=1", pc.vera);
  ASSERT_EQ(first.json["items"].size(), 1u);
  auto second = pc.get(base + "/topics?limit=1&cursor=" + first.json["next_cursor"].string_or(""), pc.vera);
  ASSERT_EQ(second.json["items"].size(), 1u) << second.body;
  EXPECT_EQ(second.json["items"][0]["topic"], V("shop.refunds"));
  EXPECT_EQ(pc.get(base + "/topics?limit=0", pc.vera).status, 400);

  // One topic: each subscriber's share of its backlog.
  auto topic = pc.get(base + "/topics/shop.orders", pc.vera);
  ASSERT_EQ(topic.status, 200) << topic.body;
  ASSERT_EQ(topic.json["subscribers"].size(), 2u) << topic.body;
  for (const auto& s : topic.json["subscribers"].as_array()) {
    bool down = s["trigger_id"] == V(down_trigger);
    EXPECT_EQ(s["script"], V(down ? "ps_down" : "ps_ok"));
    EXPECT_EQ(s["dead_letters"], V(down ? 1 : 0)) << topic.body;
    EXPECT_EQ(s["matches"], V(true));
  }
  // A topic nobody published to yet, with its would-be subscribers.
  auto fresh = pc.get(base + "/topics/shop.returns", pc.vera);
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_EQ(fresh.json["published_total"], V(0));
  EXPECT_TRUE(fresh.json["last_published_at"].is_null());
  ASSERT_EQ(fresh.json["subscribers"].size(), 1u);
  EXPECT_EQ(fresh.json["subscribers"][0]["trigger_id"], V(ok_trigger));
  EXPECT_EQ(pc.get(base + "/topics/bad..topic", pc.vera).status, 400);

  // The dead letters of a topic, from the kernel's list.
  auto by_topic = pc.get("/apps/alpha/dead_letters?source=pubsub&event_field=topic&event_value=shop.orders", pc.vera);
  ASSERT_EQ(by_topic.status, 200) << by_topic.body;
  ASSERT_EQ(by_topic.json["items"].size(), 1u) << by_topic.body;
  EXPECT_EQ(by_topic.json["items"][0]["trigger_id"], V(down_trigger));
  auto none = pc.get("/apps/alpha/dead_letters?source=pubsub&event_field=topic&event_value=shop.refunds", pc.vera);
  EXPECT_EQ(none.json["items"], V::array()) << none.body;
  EXPECT_EQ(pc.get("/apps/alpha/dead_letters?event_field=topic", pc.vera).status, 400);
  EXPECT_EQ(pc.get("/apps/alpha/dead_letters?event_field=Topic%27%3B--&event_value=x", pc.vera).status, 400);

  // Subscribers: every pubsub trigger, in all and per topic.
  auto subs = pc.get(base + "/subscribers", pc.vera);
  ASSERT_EQ(subs.status, 200) << subs.body;
  ASSERT_EQ(subs.json["items"].size(), 2u) << subs.body;
  V down = subs.json["items"][1];
  EXPECT_EQ(down["trigger_id"], V(down_trigger));
  EXPECT_EQ(down["pattern"], V("shop.orders"));
  EXPECT_EQ(down["dead_letters"], V(1));
  EXPECT_EQ(down["topics"]["shop.orders"]["dead_letters"], V(1));

  // A disabled subscriber is not delivered to, nor counted for the topic.
  auto off = pc.call("PATCH", "/apps/alpha/triggers/pubsub/" + ok_trigger, pc.owner_key, R"({"enabled":false})");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(pc.post(base + "/topics/shop.orders/messages", pc.eddie, R"({"message":2})").json["subscribers"], V(1));
  EXPECT_EQ(pc.get(base + "/topics", pc.vera).json["items"][0]["subscribers"], V(1));
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM dead_letters WHERE app_id = ?", {pc.alpha_id}, 2));
  EXPECT_EQ(pc.call("DELETE", "/apps/alpha/triggers/pubsub/" + ok_trigger, pc.owner_key).status, 204);
  EXPECT_EQ(pc.call("DELETE", "/apps/alpha/triggers/pubsub/" + down_trigger, pc.owner_key).status, 204);
}

// Backlog counts come from the outbox as it stands: here, deliveries that
// failed once and wait ten minutes for their next try.
TEST_P(Pubsub, BacklogCountsQueuedAndRetryingDeliveries) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = pubsub_app(pc, "psbacklog");
  save_script(pc, "psbacklog", "slow", flaky_recorder("slow"));
  read_kv(pc, "psbacklog", V::object({{"c", "flags"}, {"op", "set"}, {"k", "broken"}, {"v", true}}));
  // Long retry delay: after its first failure each delivery waits.
  std::string t = subscribe(pc, "psbacklog", "slow", "work.*", R"({"max_attempts":5,"backoff":"constant","base_delay_ms":600000,"jitter":0})");
  for (int i = 0; i < 3; ++i) published(pc, "psbacklog", "work.a", i);
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox WHERE app_id = ? AND attempts = 1 AND lease_until IS NULL",
                         {app}, 3));
  auto subs = pc.get("/apps/psbacklog/pubsub/subscribers", pc.owner_key);
  ASSERT_EQ(subs.status, 200) << subs.body;
  ASSERT_EQ(subs.json["items"].size(), 1u);
  V s = subs.json["items"][0];
  EXPECT_EQ(s["trigger_id"], V(t));
  EXPECT_EQ(s["retrying"], V(3)) << subs.body;
  EXPECT_EQ(s["queued"], V(0));
  EXPECT_EQ(s["running"], V(0));
  EXPECT_EQ(s["topics"]["work.a"]["retrying"], V(3));
  auto topics = pc.get("/apps/psbacklog/pubsub/topics", pc.owner_key);
  EXPECT_EQ(topics.json["items"][0]["backlog"]["retrying"], V(3)) << topics.body;
  // Deleting the app takes the backlog with it.
  EXPECT_EQ(pc.call("DELETE", "/apps/psbacklog", pc.owner_key).status, 204);
  EXPECT_TRUE(outbox_empty(pc, app, 2s));
}

// A handler that publishes to the topic it subscribes to makes a loop: the
// trigger depth limit stops it.
TEST_P(Pubsub, TheDepthLimitStopsAPublishLoop) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = pubsub_app(pc, "psloop");
  save_script(pc, "psloop", "echo", R"(
void on_event(event@ e) {
  kv::collection("runs").incr("echo");
  pubsub::publish(e.data.get_string("topic"), e.data["message"]);
})");
  subscribe(pc, "psloop", "echo", "ping");
  EXPECT_EQ(published(pc, "psloop", "ping", 1), 1);
  ASSERT_TRUE(outbox_empty(pc, app));
  std::this_thread::sleep_for(300ms);
  std::int64_t runs = runs_of(pc, "psloop", "echo");
  EXPECT_EQ(runs, 8) << "handlers run at depths 1 to 8 ([triggers] max_depth), the ninth publish is dropped";
  EXPECT_TRUE(outbox_empty(pc, app, 1s));
}

TEST_P(Pubsub, DeletingAnAppDeletesItsTopics) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = pubsub_app(pc, "psgone");
  std::string keep = pubsub_app(pc, "pskeep");
  published(pc, "psgone", "t", 1);
  published(pc, "pskeep", "t", 1);
  ASSERT_EQ(pc.get("/apps/psgone/pubsub/topics", pc.owner_key).json["items"].size(), 1u);
  ASSERT_EQ(pc.call("DELETE", "/apps/psgone", pc.owner_key).status, 204);
  auto rows = [&](const std::string& id) {
    auto r = pc.db().query("SELECT count(*) FROM pubsub_topics WHERE app_id = ?", {id});
    return r ? r->rows[0][0].as_int() : -1;
  };
  EXPECT_EQ(rows(app), 0);
  EXPECT_EQ(rows(keep), 1);
  // (Counts another node still holds for it: storage/pubsub_counts_test.cpp.)
}

// A run on behalf of a user needs pubsub.publish (an editor's); a public
// route's run acts as the app.
TEST_P(Pubsub, RunsOnBehalfOfAUserNeedPubsubPublish) {
  Instance& pc = pubsub_instance(GetParam());
  save_script(pc, "alpha", "ps_publisher", kPublisher);
  auto run = [&](const Creds& who) {
    return pc.post("/apps/alpha/scripts/ps_publisher/run", who,
                   R"({"method":"POST","body":"{\"topic\":\"zz.by_user\",\"message\":1}"})");
  };
  auto by_eddie = run(pc.eddie);
  ASSERT_EQ(by_eddie.status, 200) << by_eddie.body;
  EXPECT_EQ(by_eddie.json["ok"], V(true)) << by_eddie.body;
  auto by_vera = run(pc.vera);
  ASSERT_EQ(by_vera.status, 200) << by_vera.body;
  EXPECT_EQ(by_vera.json["ok"], V(false));
  EXPECT_TRUE(contains(by_vera.json["error"]["message"].string_or(""), "forbidden: 'pubsub.publish'")) << by_vera.body;
}

// The guide's examples compile against the real plugin and do what it says.
TEST_P(Pubsub, TheGuideExamplesCompileAndRun) {
  Instance& pc = pubsub_instance(GetParam());
  std::string app = make_app(pc, "psguide");
  std::vector<std::string> examples = guide_examples("pubsub.md");
  ASSERT_EQ(examples.size(), 3u);
  for (std::size_t i = 0; i < examples.size(); ++i)
    save_script(pc, "psguide", "example" + std::to_string(i), examples[i]);
  bind_route(pc, "psguide", R"({"script":"example0","path":"/order","methods":["POST"]})");
  bind_route(pc, "psguide", R"({"script":"example2","path":"/error"})");
  auto order = [&] {
    return on(pc, "psguide.localhost", "POST", "/order", R"({"id":42})", {{"Content-Type", "application/json"}});
  };
  EXPECT_EQ(order().body, R"({"queued_for":0})");
  subscribe(pc, "psguide", "example1", "orders.created");
  EXPECT_EQ(order().body, R"({"queued_for":1})");
  ASSERT_TRUE(outbox_empty(pc, app));
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM kv_entries WHERE app_id = ? AND collection = 'mailed'", {app}, 1));
  auto error = on(pc, "psguide.localhost", "GET", "/error");
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.body, "invalid_argument: topic 'orders.*': '*' is for subscribers' patterns, not for topics");
}

INSTANTIATE_TEST_SUITE_P(Backends, Pubsub, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
