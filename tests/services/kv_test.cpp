// The kv plugin end to end, on both databases: the real kv.so loaded through
// the loader, scripts calling kv:: from real routes over loopback, kv
// triggers delivered through the outbox, and the admin API.
#include <atomic>
#include <limits>
#include <thread>

#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> kv_env(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env{
      {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
      {"PICLOUD_PLUGINS_ENABLED", "kv"},
      {"PICLOUD_KV_MAX_VALUE_BYTES", "4096"},
      {"PICLOUD_KV_SWEEP_INTERVAL_S", "1"},
      {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"},
      {"PICLOUD_SCRIPTING_TIMEOUT_MS", "5000"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

// One instance per backend, shared by this file's tests (each uses its own
// app).
Instance& kv_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(backend, kv_env());
    slot->cast_owner();
    slot->cast();
  }
  return *slot;
}

// Every kv:: method, driven by a JSON body: {"op", "c", "k", "v", "ttl",
// "ver", "by", "cursor", "limit", "prefix", "keys"}.
const char* kDriver = R"(
void handle(request@ req, response@ res) {
  json a = req.json();
  kv::Collection@ c = kv::collection(a.get_string("c", "things"));
  string op = a.get_string("op");
  string k = a.get_string("k");
  json r;
  if (op == "get") r = c.get(k);
  else if (op == "entry") r = c.get_entry(k);
  else if (op == "has") r = c.has(k);
  else if (op == "set") r = c.set(k, a["v"], a.get_int("ttl"));
  else if (op == "cas") r = c.set_if_version(k, a["v"], a.get_int("ver"), a.get_int("ttl"));
  else if (op == "incr") r = c.incr(k, a.get_int("by", 1));
  else if (op == "delete") r = c.delete(k);
  else if (op == "list") r = c.list(a.get_string("cursor"), a.get_int("limit", 100), a.get_string("prefix"));
  else if (op == "many") r = c.get_many(a["keys"]);
  else if (op == "name") r = c.name();
  else throw("unknown op " + op);
  res.json(r);
})";

// An app with the driver bound to POST /kv.
std::string driven_app(Instance& pc, const std::string& slug) {
  std::string id = make_app(pc, slug);
  save_script(pc, slug, "drive", kDriver);
  bind_route(pc, slug, R"({"script":"drive","path":"/kv","methods":["POST"]})");
  return id;
}

DriverReply drive(Instance& pc, const std::string& slug, const sdk::Value& args) {
  return drive_at(pc, slug, "/kv", args);
}

// Calls that must succeed: the result.
sdk::Value ok(Instance& pc, const std::string& slug, const sdk::Value& args) {
  auto r = drive(pc, slug, args);
  EXPECT_EQ(r.status, 200) << sdk::to_json(args) << " -> " << r.body;
  return r.json;
}

// Calls that must fail in the script: the error message.
std::string refused(Instance& pc, const std::string& slug, const sdk::Value& args) {
  auto r = drive(pc, slug, args);
  EXPECT_EQ(r.status, 502) << sdk::to_json(args) << " -> " << r.body;
  return r.error();
}

using V = sdk::Value;

std::int64_t row_count(Instance& pc, const std::string& app_id) {
  auto rows = pc.db().query("SELECT count(*) FROM kv_entries WHERE app_id = ?", {app_id});
  return rows ? rows->rows[0][0].as_int() : -1;
}

class Kv : public ::testing::TestWithParam<Backend> {};

TEST_P(Kv, ScriptApiRoundTrips) {
  Instance& pc = kv_instance(GetParam());
  driven_app(pc, "kvbasic");
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "name"}, {"c", "users"}})), V("users"));
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "get"}, {"k", "ada"}})), V());
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "has"}, {"k", "ada"}})), V(false));
  V ada = V::object({{"name", "Ada"}, {"born", 1815}, {"ratio", 0.5}, {"tags", V::array({"math", true, nullptr})}});
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "set"}, {"k", "ada"}, {"v", ada}})), V(1));
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "get"}, {"k", "ada"}})),
            ada);  // ints stay ints, floats floats
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "has"}, {"k", "ada"}})), V(true));
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "set"}, {"k", "ada"}, {"v", "plain text"}})), V(2));
  V entry = ok(pc, "kvbasic", V::object({{"op", "entry"}, {"k", "ada"}}));
  EXPECT_EQ(entry["key"], V("ada"));
  EXPECT_EQ(entry["value"], V("plain text"));
  EXPECT_EQ(entry["version"], V(2));
  EXPECT_TRUE(entry["expires_at"].is_null());
  EXPECT_GT(entry["updated_at"].int_or(0), 1700000000000);
  // Scalars of every kind, and a key that is any UTF-8 text.
  for (V v : {V(0), V(-7), V(2.5), V(false), V(""), V::array(), V::object()}) {
    ok(pc, "kvbasic", V::object({{"op", "set"}, {"k", "schlüssel/ä 1"}, {"v", v}}));
    EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "get"}, {"k", "schlüssel/ä 1"}})), v);
  }

  // get_many: in the order asked, null for what is missing, duplicates kept.
  ok(pc, "kvbasic", V::object({{"op", "set"}, {"k", "b"}, {"v", 2}}));
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "many"}, {"keys", V::array({"b", "nope", "ada", "b"})}})),
            V::array({2, nullptr, "plain text", 2}));
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "many"}, {"keys", V::array()}})), V::array());

  // delete says whether there was a key.
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "delete"}, {"k", "b"}})), V(true));
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "delete"}, {"k", "b"}})), V(false));
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "get"}, {"k", "b"}})), V());
  // A deleted key starts again at version 1.
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "set"}, {"k", "b"}, {"v", 3}})), V(1));

  // Collections are separate.
  EXPECT_EQ(ok(pc, "kvbasic", V::object({{"op", "get"}, {"c", "other"}, {"k", "ada"}})), V());
}

TEST_P(Kv, ListPagesInKeyOrderWithAnOpaqueCursor) {
  Instance& pc = kv_instance(GetParam());
  driven_app(pc, "kvlist");
  for (const char* k : {"user:3", "user:1", "admin:1", "user:2", "user:10", "Zed", "é"})
    ok(pc, "kvlist", V::object({{"op", "set"}, {"c", "people"}, {"k", k}, {"v", 1}}));
  std::vector<std::string> all;
  std::string cursor;
  int pages = 0;
  do {
    V page = ok(pc, "kvlist", V::object({{"op", "list"}, {"c", "people"}, {"limit", 3}, {"cursor", cursor}}));
    ASSERT_TRUE(page["keys"].is_array()) << sdk::to_json(page);
    EXPECT_LE(page["keys"].size(), 3u);
    for (const auto& k : page["keys"].as_array()) all.push_back(k.as_string());
    cursor = page["next_cursor"].string_or("");
    ++pages;
  } while (!cursor.empty() && pages < 10);
  // Bytewise order on both databases; three full pages... the last one short,
  // and no empty page after it.
  EXPECT_EQ(all, (std::vector<std::string>{"Zed", "admin:1", "user:1", "user:10", "user:2", "user:3", "é"}));
  EXPECT_EQ(pages, 3);
  // Exactly a page: no next cursor.
  V exact = ok(pc, "kvlist", V::object({{"op", "list"}, {"c", "people"}, {"limit", 7}}));
  EXPECT_EQ(exact["keys"].size(), 7u);
  EXPECT_TRUE(exact["next_cursor"].is_null());
  // The default limit, and a prefix.
  EXPECT_EQ(ok(pc, "kvlist", V::object({{"op", "list"}, {"c", "people"}}))["keys"].size(), 7u);
  EXPECT_EQ(ok(pc, "kvlist", V::object({{"op", "list"}, {"c", "people"}, {"prefix", "user:1"}}))["keys"],
            V::array({"user:1", "user:10"}));
  EXPECT_EQ(ok(pc, "kvlist", V::object({{"op", "list"}, {"c", "empty"}})),
            V::object({{"keys", V::array()}, {"next_cursor", nullptr}}));
}

TEST_P(Kv, BadInputIsAClearScriptErrorAndChangesNothing) {
  Instance& pc = kv_instance(GetParam());
  std::string app = driven_app(pc, "kvbad");
  ok(pc, "kvbad", V::object({{"op", "set"}, {"k", "n"}, {"v", "text"}}));
  const std::int64_t rows = row_count(pc, app);
  auto expect_refused = [&](V args, const std::string& part) {
    std::string message = refused(pc, "kvbad", args);
    EXPECT_TRUE(contains(message, part)) << sdk::to_json(args);
  };
  expect_refused(V::object({{"op", "get"}, {"c", ""}, {"k", "a"}}), "invalid_argument: collection name is empty");
  expect_refused(V::object({{"op", "get"}, {"c", "a b"}, {"k", "a"}}), "may hold only letters, digits");
  expect_refused(V::object({{"op", "get"}, {"c", std::string(129, 'c')}, {"k", "a"}}), "longer than 128");
  expect_refused(V::object({{"op", "set"}, {"k", ""}, {"v", 1}}), "invalid_argument: key is empty");
  expect_refused(V::object({{"op", "set"}, {"k", std::string(513, 'k')}, {"v", 1}}), "key is 513 bytes; at most 512");
  expect_refused(V::object({{"op", "set"}, {"k", "x"}}), "value is null; delete the key instead");
  // PostgreSQL cannot store U+0000 in jsonb (0.1.0 leaked its error); SQLite could: both refuse.
  expect_refused(V::object({{"op", "set"}, {"k", "x"}, {"v", V::object({{"s", std::string("a\0b", 3)}})}}),
                 "value.s holds the NUL character (U+0000)");
  expect_refused(V::object({{"op", "set"}, {"k", "x"}, {"v", std::string(5000, 'v')}}),
                 "at most 4096 ([kv] max_value_bytes)");
  expect_refused(V::object({{"op", "set"}, {"k", "x"}, {"v", 1}, {"ttl", -1}}), "ttl_seconds is negative");
  expect_refused(V::object({{"op", "set"}, {"k", "x"}, {"v", 1}, {"ttl", 400000000}}), "more than ten years");
  expect_refused(V::object({{"op", "cas"}, {"k", "x"}, {"v", 1}, {"ver", -1}}), "version is negative");
  expect_refused(V::object({{"op", "incr"}, {"k", "n"}}), "key 'n' holds string, not an int");
  ok(pc, "kvbad", V::object({{"op", "set"}, {"k", "big"}, {"v", std::numeric_limits<std::int64_t>::max()}}));
  expect_refused(V::object({{"op", "incr"}, {"k", "big"}}), "overflows int64");
  expect_refused(V::object({{"op", "list"}, {"limit", 0}}), "limit must be from 1 to 1000, got 0");
  expect_refused(V::object({{"op", "list"}, {"limit", 1001}}), "limit must be from 1 to 1000");
  expect_refused(V::object({{"op", "list"}, {"cursor", "not a cursor!"}}), "malformed cursor");
  expect_refused(V::object({{"op", "many"}, {"keys", "a"}}), "get_many takes an array of keys");
  expect_refused(V::object({{"op", "many"}, {"keys", V::array({"a", 1})}}), "keys must be strings, got int");
  V many;
  for (int i = 0; i < 1001; ++i) many.push("k" + std::to_string(i));
  expect_refused(V::object({{"op", "many"}, {"keys", many}}), "at most 1000 keys, got 1001");
  // Nothing was written by any of them (big was the one deliberate write).
  EXPECT_EQ(row_count(pc, app), rows + 1);
  EXPECT_EQ(ok(pc, "kvbad", V::object({{"op", "get"}, {"k", "n"}})), V("text"));
  EXPECT_EQ(ok(pc, "kvbad", V::object({{"op", "entry"}, {"k", "n"}}))["version"], V(1));
}

TEST_P(Kv, AppsNeverSeeEachOthersKeys) {
  Instance& pc = kv_instance(GetParam());
  std::string a = driven_app(pc, "kviso-a");
  std::string b = driven_app(pc, "kviso-b");
  ok(pc, "kviso-a", V::object({{"op", "set"}, {"c", "shared"}, {"k", "secret"}, {"v", "a's"}}));
  ok(pc, "kviso-a", V::object({{"op", "set"}, {"c", "shared"}, {"k", "n"}, {"v", 10}}));
  // Same collection and key names from app B: nothing of A's is visible or
  // touchable.
  EXPECT_EQ(ok(pc, "kviso-b", V::object({{"op", "get"}, {"c", "shared"}, {"k", "secret"}})), V());
  EXPECT_EQ(ok(pc, "kviso-b", V::object({{"op", "has"}, {"c", "shared"}, {"k", "secret"}})), V(false));
  EXPECT_EQ(ok(pc, "kviso-b", V::object({{"op", "entry"}, {"c", "shared"}, {"k", "secret"}})), V());
  EXPECT_EQ(ok(pc, "kviso-b", V::object({{"op", "many"}, {"c", "shared"}, {"keys", V::array({"secret", "n"})}})),
            V::array({nullptr, nullptr}));
  EXPECT_EQ(ok(pc, "kviso-b", V::object({{"op", "list"}, {"c", "shared"}}))["keys"], V::array());
  EXPECT_EQ(ok(pc, "kviso-b", V::object({{"op", "delete"}, {"c", "shared"}, {"k", "secret"}})), V(false));
  EXPECT_EQ(ok(pc, "kviso-b", V::object({{"op", "cas"}, {"c", "shared"}, {"k", "secret"}, {"v", "b's"}, {"ver", 1}})),
            V(false));
  EXPECT_EQ(ok(pc, "kviso-b", V::object({{"op", "incr"}, {"c", "shared"}, {"k", "n"}})), V(1));
  EXPECT_EQ(ok(pc, "kviso-b", V::object({{"op", "set"}, {"c", "shared"}, {"k", "secret"}, {"v", "b's"}})), V(1));
  // A's data is as A left it; each app has its own rows.
  EXPECT_EQ(ok(pc, "kviso-a", V::object({{"op", "get"}, {"c", "shared"}, {"k", "secret"}})), V("a's"));
  EXPECT_EQ(ok(pc, "kviso-a", V::object({{"op", "get"}, {"c", "shared"}, {"k", "n"}})), V(10));
  EXPECT_EQ(row_count(pc, a), 2);
  EXPECT_EQ(row_count(pc, b), 2);
  // The admin API: B's admin cannot read A's keys.
  auto other = pc.get("/apps/kviso-a/kv/shared/entry?key=secret", pc.oscar);
  EXPECT_EQ(other.status, 404) << other.body;
}

// Deleting an app deletes its keys in the same transaction; other apps keep
// theirs.
TEST_P(Kv, DeletingAnAppDeletesItsKeysAndNoOneElses) {
  Instance& pc = kv_instance(GetParam());
  std::string gone = driven_app(pc, "kvdel-gone");
  std::string kept = driven_app(pc, "kvdel-kept");
  for (const char* slug : {"kvdel-gone", "kvdel-kept"}) {
    ok(pc, slug, V::object({{"op", "set"}, {"c", "a"}, {"k", "x"}, {"v", 1}}));
    ok(pc, slug, V::object({{"op", "set"}, {"c", "b"}, {"k", "y"}, {"v", "two"}, {"ttl", 3600}}));
  }
  ASSERT_EQ(row_count(pc, gone), 2);
  auto deleted = pc.call("DELETE", "/apps/kvdel-gone", pc.owner_key);
  ASSERT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(row_count(pc, gone), 0);
  EXPECT_EQ(row_count(pc, kept), 2);
  EXPECT_EQ(ok(pc, "kvdel-kept", V::object({{"op", "get"}, {"c", "a"}, {"k", "x"}})), V(1));
}

TEST_P(Kv, ExpiredKeysAreInvisibleAtOnceAndSweptLater) {
  Instance& pc = kv_instance(GetParam());
  std::string app = driven_app(pc, "kvttl");
  ok(pc, "kvttl", V::object({{"op", "set"}, {"k", "short"}, {"v", "soon gone"}, {"ttl", 1}}));
  ok(pc, "kvttl", V::object({{"op", "set"}, {"k", "long"}, {"v", "stays"}, {"ttl", 3600}}));
  ok(pc, "kvttl", V::object({{"op", "set"}, {"k", "n"}, {"v", 5}, {"ttl", 1}}));
  V entry = ok(pc, "kvttl", V::object({{"op", "entry"}, {"k", "short"}}));
  std::int64_t expires = entry["expires_at"].int_or(0);
  EXPECT_GT(expires, entry["updated_at"].int_or(0) + 900);
  EXPECT_LE(expires, entry["updated_at"].int_or(0) + 1000);
  // incr keeps the expiry.
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "incr"}, {"k", "n"}})), V(6));
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "get"}, {"k", "short"}})), V("soon gone"));
  // Wait past the expiry, but check before the sweep could have run: stop
  // the sweep from mattering by checking the rows are still there.
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::milliseconds(expires + 50)));
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "get"}, {"k", "short"}})), V());
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "has"}, {"k", "short"}})), V(false));
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "entry"}, {"k", "short"}})), V());
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "many"}, {"keys", V::array({"short", "long"})}})),
            V::array({nullptr, "stays"}));
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "list"}}))["keys"], V::array({"long"}));
  auto listed = pc.get("/apps/kvttl/kv", pc.owner_key);
  EXPECT_EQ(listed.json["items"], V::array({V::object({{"collection", "things"}, {"keys", 1}})})) << listed.body;
  // Writing an expired key starts it afresh; deleting one says there was none.
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "incr"}, {"k", "n"}})), V(1));
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "entry"}, {"k", "n"}}))["version"], V(1));
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "cas"}, {"k", "short"}, {"v", "again"}, {"ver", 0}, {"ttl", 1}})),
            V(true));
  // The sweep (every second here) deletes the expired rows.
  EXPECT_TRUE(
      wait_count(pc, "SELECT count(*) FROM kv_entries WHERE app_id = '" + app + "' AND key = 'short'", {}, 0, 10s));
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "get"}, {"k", "long"}})), V("stays"));
  EXPECT_EQ(ok(pc, "kvttl", V::object({{"op", "get"}, {"k", "n"}})), V(1));
}

TEST_P(Kv, ConcurrentIncrementsLoseNothing) {
  Instance& pc = kv_instance(GetParam());
  driven_app(pc, "kvincr");
  constexpr int kThreads = 8, kEach = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // One hot key, created by the first increments racing each other,
        // and one key per thread.
        if (drive(pc, "kvincr", V::object({{"op", "incr"}, {"k", "hot"}})).status != 200) ++failures;
        if (drive(pc, "kvincr", V::object({{"op", "incr"}, {"k", "own" + std::to_string(t)}, {"by", 2}})).status != 200)
          ++failures;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ok(pc, "kvincr", V::object({{"op", "get"}, {"k", "hot"}})), V(kThreads * kEach));
  EXPECT_EQ(ok(pc, "kvincr", V::object({{"op", "entry"}, {"k", "hot"}}))["version"], V(kThreads * kEach));
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(ok(pc, "kvincr", V::object({{"op", "get"}, {"k", "own" + std::to_string(t)}})), V(2 * kEach));
}

TEST_P(Kv, CompareAndSetWritesOnlyAtTheExpectedVersion) {
  Instance& pc = kv_instance(GetParam());
  driven_app(pc, "kvcas");
  // 0: only a new key.
  EXPECT_EQ(ok(pc, "kvcas", V::object({{"op", "cas"}, {"k", "doc"}, {"v", "first"}, {"ver", 0}})), V(true));
  EXPECT_EQ(ok(pc, "kvcas", V::object({{"op", "cas"}, {"k", "doc"}, {"v", "second"}, {"ver", 0}})), V(false));
  EXPECT_EQ(ok(pc, "kvcas", V::object({{"op", "cas"}, {"k", "doc"}, {"v", "stale"}, {"ver", 2}})), V(false));
  EXPECT_EQ(ok(pc, "kvcas", V::object({{"op", "get"}, {"k", "doc"}})), V("first"));
  EXPECT_EQ(ok(pc, "kvcas", V::object({{"op", "cas"}, {"k", "doc"}, {"v", "second"}, {"ver", 1}})), V(true));
  EXPECT_EQ(ok(pc, "kvcas", V::object({{"op", "entry"}, {"k", "doc"}}))["version"], V(2));

  // Eight writers each read the counter's version and try to move it on by
  // one: every success is counted once, every conflict is retried.
  ok(pc, "kvcas", V::object({{"op", "set"}, {"k", "counter"}, {"v", 0}}));
  std::atomic<int> wins{0}, conflicts{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int done = 0; done < 15;) {
        auto e = drive(pc, "kvcas", V::object({{"op", "entry"}, {"k", "counter"}}));
        if (e.status != 200) {
          ++errors;
          return;
        }
        auto r = drive(pc, "kvcas",
                       V::object({{"op", "cas"},
                                  {"k", "counter"},
                                  {"v", e.json["value"].int_or(0) + 1},
                                  {"ver", e.json["version"].int_or(0)}}));
        if (r.status != 200) {
          ++errors;
          return;
        }
        if (r.json == V(true))
          ++wins, ++done;
        else
          ++conflicts;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wins.load(), 120);
  EXPECT_EQ(ok(pc, "kvcas", V::object({{"op", "get"}, {"k", "counter"}})), V(120));
  EXPECT_EQ(ok(pc, "kvcas", V::object({{"op", "entry"}, {"k", "counter"}}))["version"], V(121));
  std::cout << "[ cas      ] " << conflicts.load() << " conflicts retried\n";
}

// Handlers record each event they get in the "seen" collection, keyed by op
// and key: the whole event as the value.
const char* kRecorder = R"(
void on_event(event@ e) {
  kv::collection("seen").set(e.op + ":" + e.data.get_string("key"), e.data);
})";

V seen_event(Instance& pc, const std::string& slug, const std::string& key) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    V v = ok(pc, slug, V::object({{"op", "get"}, {"c", "seen"}, {"k", key}}));
    if (!v.is_null()) return v;
    std::this_thread::sleep_for(20ms);
  }
  return V();
}

std::string create_trigger(Instance& pc, const std::string& app, const std::string& json) {
  auto r = pc.post("/apps/" + app + "/triggers/kv", pc.owner_key, json);
  EXPECT_EQ(r.status, 201) << json << " -> " << r.body;
  return r.json["id"].string_or("");
}

TEST_P(Kv, TriggersFireOnInsertUpdateDeleteWithTheValues) {
  Instance& pc = kv_instance(GetParam());
  std::string app = driven_app(pc, "kvtrig");
  save_script(pc, "kvtrig", "recorder", kRecorder);
  create_trigger(pc, "kvtrig", R"({"script":"recorder","filter":{"collection":"orders*"}})");
  // Only deletes of "audit".
  create_trigger(pc, "kvtrig", R"({"script":"recorder","filter":{"collection":"audit","ops":["delete"]}})");

  ok(pc, "kvtrig", V::object({{"op", "set"}, {"c", "orders-2026"}, {"k", "o1"}, {"v", V::object({{"total", 10}})}}));
  V insert = seen_event(pc, "kvtrig", "insert:o1");
  EXPECT_EQ(insert, V::object({{"source", "kv"},
                               {"op", "insert"},
                               {"app", app},
                               {"collection", "orders-2026"},
                               {"key", "o1"},
                               {"value", V::object({{"total", 10}})},
                               {"previous", nullptr},
                               {"version", 1}}));
  ok(pc, "kvtrig", V::object({{"op", "incr"}, {"c", "orders"}, {"k", "count"}}));  // insert by incr
  ok(pc, "kvtrig", V::object({{"op", "incr"}, {"c", "orders"}, {"k", "count"}, {"by", 4}}));
  V update = seen_event(pc, "kvtrig", "update:count");
  EXPECT_EQ(update["value"], V(5));
  EXPECT_EQ(update["previous"], V(1));
  EXPECT_EQ(update["version"], V(2));
  EXPECT_EQ(update["collection"], V("orders"));
  ok(pc, "kvtrig", V::object({{"op", "delete"}, {"c", "orders-2026"}, {"k", "o1"}}));
  V del = seen_event(pc, "kvtrig", "delete:o1");
  EXPECT_EQ(del["value"], V());
  EXPECT_EQ(del["previous"], V::object({{"total", 10}}));
  EXPECT_EQ(del["version"], V(1));

  // What matches nothing fires nothing: another collection, an op the
  // filter leaves out, a delete of a missing key, a failed compare-and-set.
  ok(pc, "kvtrig", V::object({{"op", "set"}, {"c", "audit"}, {"k", "a1"}, {"v", 1}}));
  ok(pc, "kvtrig", V::object({{"op", "set"}, {"c", "customers"}, {"k", "c1"}, {"v", 1}}));
  ok(pc, "kvtrig", V::object({{"op", "delete"}, {"c", "orders"}, {"k", "missing"}}));
  ok(pc, "kvtrig", V::object({{"op", "cas"}, {"c", "orders"}, {"k", "count"}, {"v", 0}, {"ver", 99}}));
  ok(pc, "kvtrig", V::object({{"op", "delete"}, {"c", "audit"}, {"k", "a1"}}));
  EXPECT_EQ(seen_event(pc, "kvtrig", "delete:a1")["previous"], V(1));
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox WHERE app_id = ?", {app}, 0));
  V keys = ok(pc, "kvtrig", V::object({{"op", "list"}, {"c", "seen"}}))["keys"];
  EXPECT_EQ(keys, V::array({"delete:a1", "delete:o1", "insert:count", "insert:o1", "update:count"}));

  // The admin API's writes fire the same triggers.
  auto put = pc.call("PUT", "/apps/kvtrig/kv/orders/entry?key=o2", pc.owner_key, R"({"value":{"total":7}})");
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(seen_event(pc, "kvtrig", "insert:o2")["value"], V::object({{"total", 7}}));
}

TEST_P(Kv, ARolledBackWriteFiresNothingAndLeavesNothing) {
  Instance& pc = kv_instance(GetParam());
  std::string app = driven_app(pc, "kvrollback");
  save_script(pc, "kvrollback", "recorder", kRecorder);
  create_trigger(pc, "kvrollback", R"({"script":"recorder","filter":{"collection":"orders"}})");
  std::string failing = create_trigger(pc, "kvrollback", R"({"script":"recorder","filter":{"collection":"orders"}})");
  // The database refuses the outbox row of the second trigger after it was
  // written: the key and the first trigger's row were written before it in
  // the same transaction, and must roll back with it.
  bool pg = GetParam() == Backend::postgres;
  if (pg) {
    ASSERT_TRUE(
        pc.db().execute("CREATE FUNCTION kv_test_refuse() RETURNS trigger AS $$ BEGIN "
                        "IF NEW.trigger_id = '" +
                        failing +
                        "' THEN RAISE EXCEPTION 'refused by the test'; END IF; "
                        "RETURN NEW; END $$ LANGUAGE plpgsql"));
    ASSERT_TRUE(pc.db()
                    .execute("CREATE TRIGGER kv_test_refuse AFTER INSERT ON "
                             "outbox FOR EACH ROW "
                             "EXECUTE FUNCTION kv_test_refuse()")
                    .ok());
  } else {
    ASSERT_TRUE(
        pc.db().execute("CREATE TRIGGER kv_test_refuse AFTER INSERT ON outbox WHEN "
                        "NEW.trigger_id = '" +
                        failing + "' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"));
  }
  auto r = drive(pc, "kvrollback", V::object({{"op", "set"}, {"c", "orders"}, {"k", "o1"}, {"v", 1}}));
  auto d = drive(pc, "kvrollback", V::object({{"op", "incr"}, {"c", "orders"}, {"k", "n"}}));
  if (pg) {
    ASSERT_TRUE(pc.db().execute("DROP TRIGGER kv_test_refuse ON outbox").ok());
    ASSERT_TRUE(pc.db().execute("DROP FUNCTION kv_test_refuse()").ok());
  } else {
    ASSERT_TRUE(pc.db().execute("DROP TRIGGER kv_test_refuse").ok());
  }
  EXPECT_EQ(r.status, 502) << r.body;
  // The database's own text stays in the server log; the script learns the
  // kind and a reference to it.
  EXPECT_FALSE(contains(r.error(), "refused by the test")) << r.error();
  EXPECT_TRUE(contains(r.error(), "reference db-")) << r.error();
  EXPECT_EQ(d.status, 502) << d.body;
  EXPECT_EQ(row_count(pc, app), 0);
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox WHERE app_id = ?", {app}, 0));
  std::this_thread::sleep_for(300ms);  // a handler that was wrongly queued would have run by now
  EXPECT_EQ(ok(pc, "kvrollback", V::object({{"op", "list"}, {"c", "seen"}}))["keys"], V::array());
  // With the database willing again, the same write goes through and fires
  // both.
  ok(pc, "kvrollback", V::object({{"op", "set"}, {"c", "orders"}, {"k", "o1"}, {"v", 1}}));
  EXPECT_FALSE(seen_event(pc, "kvrollback", "insert:o1").is_null());
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE app_id = ? AND trigger_id IS NOT NULL", {app}, 2));
}

TEST_P(Kv, TriggerFiltersAreChecked) {
  Instance& pc = kv_instance(GetParam());
  make_app(pc, "kvfilter");
  save_script(pc, "kvfilter", "recorder", kRecorder);
  auto bad = [&](const std::string& filter, const std::string& part) {
    auto r = pc.post("/apps/kvfilter/triggers/kv", pc.owner_key, R"({"script":"recorder","filter":)" + filter + "}");
    EXPECT_EQ(r.status, 400) << filter << " -> " << r.body;
    EXPECT_TRUE(contains(r.message(), part)) << filter;
  };
  bad(R"("users")", "filter must be an object");
  bad(R"({})", "filter.collection is required");
  bad(R"({"collection":""})", "collection name is empty");
  bad(R"({"collection":"a b*"})", "may hold only letters");
  bad(R"({"collection":"*","ops":[]})", "non-empty list");
  bad(R"({"collection":"*","ops":["upsert"]})", R"("upsert" is not one of insert, update, delete)");
  bad(R"({"collection":"*","where":1})", "filter.where: unknown field");
  auto r = pc.post("/apps/kvfilter/triggers/kv", pc.owner_key,
                   R"({"script":"recorder","filter":{"collection":"user*","ops":["delete","insert","delete"]}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json["filter"], V::object({{"collection", "user*"}, {"ops", V::array({"insert", "delete"})}}));
}

TEST_P(Kv, AdminApiBrowsesAndEditsWithCapabilities) {
  Instance& pc = kv_instance(GetParam());
  std::string base = "/apps/alpha/kv";
  // Empty at first.
  auto empty = pc.get(base, pc.vera);
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(empty.json, V::object({{"items", V::array()}, {"next_cursor", nullptr}}));

  auto put = [&](const Creds& who, const std::string& collection, const std::string& key, const std::string& body) {
    return pc.call("PUT", base + "/" + collection + "/entry?key=" + key, who, body);
  };
  auto created = put(pc.eddie, "users", "ada", R"({"value":{"name":"Ada"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json["key"], V("ada"));
  EXPECT_EQ(created.json["version"], V(1));
  EXPECT_TRUE(created.json["expires_at"].is_null());
  EXPECT_EQ(created.json["updated_at"].string_or("").size(), 24u) << created.body;  // 2026-01-31T12:00:00.000Z
  auto updated = put(pc.eddie, "users", "ada", R"({"value":{"name":"Ada L."},"ttl_seconds":3600})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.json["version"], V(2));
  EXPECT_FALSE(updated.json["expires_at"].is_null());
  // A key with '/', '&' and spaces travels percent-encoded in the query.
  ASSERT_EQ(put(pc.alice, "users", "a%2Fb%26c%20d", R"({"value":1})").status, 201);
  ASSERT_EQ(put(pc.alice, "users", "bob", R"({"value":true})").status, 201);
  ASSERT_EQ(put(pc.alice, "teams", "t1", R"({"value":[1,2]})").status, 201);

  // Compare-and-set over the admin API.
  auto stale = put(pc.alice, "users", "bob", R"({"value":false,"version":5})");
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_EQ(stale.code(), "conflict");
  auto exists = put(pc.alice, "users", "bob", R"({"value":false,"version":0})");
  EXPECT_EQ(exists.status, 409);
  EXPECT_EQ(put(pc.alice, "users", "bob", R"({"value":false,"version":1})").status, 200);

  // Reading: collections with counts, entries in pages, one entry.
  auto collections = pc.get(base, pc.vera);
  EXPECT_EQ(collections.json["items"], V::array({V::object({{"collection", "teams"}, {"keys", 1}}),
                                                 V::object({{"collection", "users"}, {"keys", 3}})}));
  auto page1 = pc.get(base + "/users?limit=2", pc.vera);
  ASSERT_EQ(page1.status, 200) << page1.body;
  ASSERT_EQ(page1.json["items"].size(), 2u);
  EXPECT_EQ(page1.json["items"][0]["key"], V("a/b&c d"));
  EXPECT_EQ(page1.json["items"][1]["value"], V::object({{"name", "Ada L."}}));
  auto page2 = pc.get(base + "/users?limit=2&cursor=" + page1.json["next_cursor"].string_or(""), pc.vera);
  EXPECT_EQ(page2.json["items"].size(), 1u);
  EXPECT_EQ(page2.json["items"][0]["value"], V(false));
  EXPECT_TRUE(page2.json["next_cursor"].is_null());
  EXPECT_EQ(pc.get(base + "/users?prefix=a", pc.vera).json["items"].size(), 2u);
  auto one = pc.get(base + "/users/entry?key=ada", pc.vera);
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.json["value"], V::object({{"name", "Ada L."}}));

  // Bad requests change nothing.
  auto bad = [&](const Reply& r, int status, const std::string& part) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_TRUE(contains(r.message(), part)) << r.body;
  };
  bad(put(pc.alice, "users", "x", R"({"value":null})"), 400, "value is null");
  bad(put(pc.alice, "users", "x", R"({"valu":1})"), 400, "valu: unknown field");
  bad(put(pc.alice, "users", "x", R"({})"), 400, "value is required");
  bad(put(pc.alice, "users", "x", R"({"value":1,"ttl_seconds":"1h"})"), 400, "ttl_seconds");
  bad(put(pc.alice, "users", "x", R"({"value":1,"version":-1})"), 400, "version");
  bad(put(pc.alice, "users", "x", R"({"value":)"), 400, "malformed JSON");
  bad(put(pc.alice, "users", "x", R"([1])"), 400, "must be a JSON object");
  bad(put(pc.alice, "users", "x", "{\"value\":\"" + std::string(5000, 'v') + "\"}"), 400, "max_value_bytes");
  bad(pc.call("PUT", base + "/users/entry?key=x", pc.alice, "value=1", {{"Content-Type", "text/plain"}}), 415,
      "must be JSON");
  bad(pc.call("PUT", base + "/users/entry", pc.alice, R"({"value":1})"), 400, "key is required");
  bad(pc.call("PUT", base + "/bad%20name/entry?key=x", pc.alice, R"({"value":1})"), 400, "collection");
  bad(pc.get(base + "/users?limit=0", pc.vera), 400, "limit");
  bad(pc.get(base + "/users?limit=ten", pc.vera), 400, "limit");
  bad(pc.get(base + "/users?cursor=%21%21", pc.vera), 400, "cursor");
  bad(pc.get(base + "/users/entry?key=nobody", pc.vera), 404, "no key 'nobody'");
  EXPECT_EQ(pc.get(base + "/users", pc.vera).json["items"].size(), 3u);

  // Who may: viewers read, editors write, members of other apps see nothing,
  // keys need their scope, and nobody anonymous.
  EXPECT_EQ(put(pc.vera, "users", "x", R"({"value":1})").status, 403);
  EXPECT_EQ(pc.call("DELETE", base + "/users/entry?key=bob", pc.vera).status, 403);
  EXPECT_EQ(pc.get(base, pc.oscar).status, 404);
  EXPECT_EQ(pc.get(base, Creds{}).status, 401);
  Creds read_only = pc.make_key(pc.alice_session, "app:read");
  EXPECT_EQ(pc.get(base + "/users", read_only).status, 200);
  EXPECT_EQ(put(read_only, "users", "x", R"({"value":1})").status, 403);
  Creds scripts_only = pc.make_key(pc.alice_session, "script:read script:write");
  EXPECT_EQ(pc.get(base, scripts_only).status, 403);

  // Delete: 204, then 404.
  EXPECT_EQ(pc.call("DELETE", base + "/users/entry?key=bob", pc.eddie).status, 204);
  EXPECT_EQ(pc.call("DELETE", base + "/users/entry?key=bob", pc.eddie).status, 404);
  EXPECT_EQ(pc.get(base + "/users/entry?key=bob", pc.vera).status, 404);
}

// A run started from the admin API acts for its user: kv checks that user's
// capabilities in the app; a public route's run acts as the app.
TEST_P(Kv, RunsOnBehalfOfAUserNeedTheirCapabilities) {
  Instance& pc = kv_instance(GetParam());
  save_script(pc, "alpha", "reader", R"(
void handle(request@ req, response@ res) { res.json(kv::collection("notes").get("n1")); })");
  save_script(pc, "alpha", "writer", R"(
void handle(request@ req, response@ res) { res.text("" + kv::collection("notes").set("n1", req.json())); })");
  auto run = [&](const Creds& who, const std::string& script, const std::string& body) {
    return pc.post("/apps/alpha/scripts/" + script + "/run", who, body);
  };
  // An editor writes; the run's record says so.
  auto wrote = run(pc.eddie, "writer", R"({"method":"POST","body":"{\"by\":\"eddie\"}"})");
  ASSERT_EQ(wrote.status, 200) << wrote.body;
  EXPECT_EQ(wrote.json["ok"], V(true)) << wrote.body;
  EXPECT_EQ(wrote.json["response"]["body"], V("1"));
  // A viewer reads but may not write: the write is refused inside the run.
  auto read = run(pc.vera, "reader", "");
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json["response"]["body"], V(R"({"by":"eddie"})"));
  auto refused_write = run(pc.vera, "writer", R"({"method":"POST","body":"{\"by\":\"vera\"}"})");
  ASSERT_EQ(refused_write.status, 200) << refused_write.body;
  EXPECT_EQ(refused_write.json["ok"], V(false));
  EXPECT_EQ(refused_write.json["error"]["code"], V("script_error"));
  EXPECT_TRUE(contains(refused_write.json["error"]["message"].string_or(""),
                       "forbidden: 'kv.write' (change an app's key-value data) "
                       "needs the role editor in this app; "
                       "the run's user is viewer"));
  EXPECT_EQ(run(pc.owner_key, "reader", "").json["response"]["body"], V(R"({"by":"eddie"})"));
  // Who may start runs at all: members (not oscar), keys with script:write.
  EXPECT_EQ(run(pc.oscar, "reader", "").status, 404);
  EXPECT_EQ(run(pc.make_key(pc.vera_session, "script:read app:read"), "reader", "").status, 403);
  EXPECT_EQ(run(Creds{}, "reader", "").status, 401);
  auto bad = run(pc.eddie, "reader", R"({"method":"get"})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(run(pc.eddie, "nobody", "").status, 404);
  // The same writer on a public route runs as the app: no user, no check.
  bind_route(pc, "alpha", R"({"script":"writer","path":"/notes","methods":["POST"]})");
  auto anon = on(pc, "alpha.localhost", "POST", "/notes", R"({"by":"anyone"})", {{"Content-Type", "application/json"}});
  EXPECT_EQ(anon.status, 200) << anon.body;
  EXPECT_EQ(run(pc.vera, "reader", "").json["response"]["body"], V(R"({"by":"anyone"})"));
}

// A string, number, bool or array is a json where kv expects one: the line
// a newcomer writes first compiles and stores what it says.
TEST_P(Kv, PlainValuesAreJsonWhereKvExpectsOne) {
  Instance& pc = kv_instance(GetParam());
  make_app(pc, "kvplain");
  save_script(pc, "kvplain", "plain", R"(
void handle(request@ req, response@ res) {
  kv::Collection@ c = kv::collection("c");
  c.set("k", "text");
  c.set("n", 5);
  array<string> tags = {"a", "b"};
  c.set("tags", tags);
  res.text(c.get("k").to_string() + " " + c.get("n").to_string() + " " + c.get("n").type() + " " + c.get("tags").to_string());
})");
  bind_route(pc, "kvplain", R"({"script":"plain","path":"/plain"})");
  auto r = on(pc, "kvplain.localhost", "GET", "/plain");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"("text" 5 int ["a","b"])");
}

// The guide's examples compile against the real plugin, and the first one
// answers what its comments say.
TEST_P(Kv, TheGuideExamplesCompileAndRun) {
  Instance& pc = kv_instance(GetParam());
  make_app(pc, "kvguide");
  std::vector<std::string> examples = guide_examples("kv.md");
  ASSERT_GE(examples.size(), 4u);
  for (std::size_t i = 0; i < examples.size(); ++i)
    save_script(pc, "kvguide", "example" + std::to_string(i), examples[i]);
  bind_route(pc, "kvguide", R"({"script":"example0","path":"/first"})");
  bind_route(pc, "kvguide", R"({"script":"example1","path":"/count"})");
  bind_route(pc, "kvguide", R"({"script":"example3","path":"/error"})");
  auto first = on(pc, "kvguide.localhost", "GET", "/first");
  EXPECT_EQ(first.body, R"({"name":"Ada","visits":1})");
  EXPECT_EQ(on(pc, "kvguide.localhost", "GET", "/first").body, R"({"name":"Ada","visits":2})");
  EXPECT_EQ(on(pc, "kvguide.localhost", "GET", "/count").body, "2 users");
  auto error = on(pc, "kvguide.localhost", "GET", "/error");
  EXPECT_EQ(error.status, 400);
  EXPECT_TRUE(contains(error.body, "invalid_argument: key is empty"));
}

INSTANTIATE_TEST_SUITE_P(Backends, Kv, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

// Without the kv plugin there is no kv:: at all: a script using it does not
// compile, and the error says what is missing.
TEST(KvDisabled, ScriptsUsingKvDoNotCompile) {
  Instance pc(Backend::sqlite, kv_env({{"PICLOUD_PLUGINS_ENABLED", "t_good"}}));
  pc.cast_owner();
  make_app(pc, "nokv");
  auto body = sdk::to_json(V::object({{"name", "drive"}, {"source", kDriver}}));
  auto r = pc.post("/apps/nokv/scripts", pc.owner_key, body);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.code(), "script_invalid");
  // The first error names what is missing, not what follows it.
  EXPECT_TRUE(contains(r.message(), "line 4, column 3: kv:: is unknown: no enabled plugin declares the namespace 'kv'"))
      << r.body;
  auto triggers = pc.post("/apps/nokv/triggers/kv", pc.owner_key, R"({"script":"x","filter":{"collection":"*"}})");
  EXPECT_EQ(triggers.status, 404) << triggers.body;
  EXPECT_EQ(pc.get("/apps/nokv/kv", pc.owner_key).status, 404);
}

}  // namespace
