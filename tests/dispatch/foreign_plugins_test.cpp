// Plugins the kernel did not build alike, working through the C boundary:
//  - t_good and t_events compiled with clang and libc++
//    (tests/sdk/build_libcxx_plugins.sh, run by ctest before this binary) in
//    the GCC-built kernel: routes, script functions, trigger kind, events,
//    metrics and a background task, and what they throw stays on their side;
//  - t_c, written in C against the frozen ABI 2.0 header (tests/abi/).
#include <thread>

#include "fixture.hpp"
#include "scripts.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

std::string seen_count(Instance& pc, const std::string& key) {
  auto rows = pc.db().query("SELECT count(*) FROM t_events_seen WHERE item_key = ?", {key});
  return rows ? std::to_string(rows->rows[0][0].as_int()) : rows.error().message;
}

}  // namespace

TEST(LibcxxPlugins, RoutesScriptsEventsAndMetricsWorkAcrossTheCBoundary) {
  Instance pc(Backend::sqlite, {{"PICLOUD_PLUGINS_SEARCH_PATH", PICLOUD_TEST_LIBCXX_PLUGIN_DIR},
                                {"PICLOUD_PLUGINS_ENABLED", "t_good,t_events"},
                                {"PICLOUD_T_GOOD_GREETING", "bonjour"},
                                {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"}});
  pc.cast_owner();

  // Routes: path parameters, the query, binary bodies and headers both ways.
  auto hello = http_get(pc.port(), "/t_good/hello");
  EXPECT_EQ(hello.status, 200);
  EXPECT_EQ(hello.body, "bonjour");
  auto item = http_get(pc.port(), "/t_good/items/42?x=1");
  EXPECT_EQ(item.body, R"({"id":"42","query":"x=1"})");
  std::string binary("a\0b\xff", 4);
  auto echo = http("POST", pc.port(), "/t_good/echo", binary);
  EXPECT_EQ(echo.status, 201);
  EXPECT_EQ(echo.body, binary);
  EXPECT_EQ(echo.headers["x-echo-length"], "4");
  // A handler that throws (a libc++ exception) answers 500; the server lives on.
  EXPECT_EQ(http_get(pc.port(), "/t_good/throws").status, 500);
  EXPECT_EQ(http_get(pc.port(), "/t_good/hello").status, 200);

  // Script functions, defaults, errors and the trigger kind with its events.
  auto app = pc.post("/apps", pc.owner_key, R"({"slug":"lcx","hostnames":["lcx.localhost"]})");
  ASSERT_EQ(app.status, 201) << app.body;
  std::string app_id = app.json["id"].as_string();
  save_script(pc, "lcx", "greet", R"(
void handle(request@ req, response@ res) {
  string caught;
  try { t_events::emit_raw("t_events", "nope", json::object()); } catch { caught = getExceptionInfo(); }
  res.text(t_good::greet("ann") + " | " + t_good::greet() + " | " + t_events::write("c", "k1") + " | " + caught);
})");
  bind_route(pc, "lcx", R"({"script":"greet","path":"/greet"})");
  save_script(pc, "lcx", "record", R"(
void on_event(event@ e) { t_events::seen("lcx:" + e.data.get_string("key") + ":" + e.op); })");
  auto trigger = pc.post("/apps/lcx/triggers/t_events", pc.owner_key, R"({"script":"record","filter":{"collection":"c"}})");
  ASSERT_EQ(trigger.status, 201) << trigger.body;
  auto bad = pc.post("/apps/lcx/triggers/t_events", pc.owner_key, R"({"script":"record","filter":{"colour":"red"}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("unknown field 'colour'"), std::string::npos) << bad.body;

  auto greet = on(pc, "lcx.localhost", "GET", "/greet");
  ASSERT_EQ(greet.status, 200) << greet.body;
  EXPECT_EQ(greet.body.substr(0, greet.body.find(" | invalid_argument")),
            "bonjour, ann from " + app_id + " | bonjour, world from " + app_id + " | 1")
      << greet.body;
  EXPECT_NE(greet.body.find("invalid_argument: "), std::string::npos) << greet.body;
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM t_events_seen WHERE item_key = 'lcx:k1:insert'", {}, 1))
      << seen_count(pc, "lcx:k1:insert");

  // The background task's counter, through the host's metrics.
  std::this_thread::sleep_for(100ms);
  auto metrics = http_get(pc.port(), "/metrics").body;
  auto at = metrics.find("\npicloud_t_good_ticks_total ");
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_GT(std::stoll(metrics.substr(at + 28)), 0);
}

TEST(FrozenAbi, ACPluginBuiltAgainstThe20HeaderWorks) {
  Instance pc(Backend::sqlite, {{"PICLOUD_PLUGINS_ENABLED", "t_c"}, {"PICLOUD_T_C_GREETING", "salut"}});
  pc.cast_owner();
  auto hello = http_get(pc.port(), "/t_c/hello");
  EXPECT_EQ(hello.status, 200);
  EXPECT_EQ(hello.body, "salut");
  EXPECT_EQ(hello.headers["content-type"], "text/plain");
  // A streamed body from C: sent whole, then closed once; a HEAD drops it
  // unread, closed too.
  auto streamed = http_get(pc.port(), "/t_c/stream");
  EXPECT_EQ(streamed.status, 200);
  ASSERT_EQ(streamed.body.size(), 300000u);
  EXPECT_EQ(streamed.body.substr(0, 6), "abcabc");
  EXPECT_EQ(streamed.body.substr(299997), "abc");
  EXPECT_EQ(http_get(pc.port(), "/t_c/closes").body, "1");
  auto head = http("HEAD", pc.port(), "/t_c/stream");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], "300000");
  EXPECT_EQ(http_get(pc.port(), "/t_c/closes").body, "2");

  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"cee","hostnames":["cee.localhost"]})").status, 201);
  save_script(pc, "cee", "calc", R"(
void handle(request@ req, response@ res) {
  string caught;
  try { t_c::refuse(); } catch { caught = getExceptionInfo(); }
  json v = json::parse("""{"a":[1,2.5,"x",true,null],"b":{"c":"d"}}""");
  res.text(t_c::add(40) + " " + t_c::add(1, 2) + " " + t_c::echo(v).to_string() + " " + caught);
})");
  bind_route(pc, "cee", R"({"script":"calc","path":"/calc"})");
  auto calc = on(pc, "cee.localhost", "GET", "/calc");
  ASSERT_EQ(calc.status, 200) << calc.body;
  EXPECT_EQ(calc.body, R"(42 3 {"a":[1,2.5,"x",true,null],"b":{"c":"d"}} invalid_argument: the C plugin refuses)");
}
