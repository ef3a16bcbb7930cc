// What the dashboard reads about the instance: the loaded plugins with their
// versions and views (checked when declared), the trigger kinds with their
// filters' schemas, and the metrics as JSON — with the real plugins and the
// example third-party plugin loaded through the real loader.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "fixture.hpp"
#include "kernel/admin/admin_views.hpp"
#include "kernel/admin/capabilities.hpp"
#include "kernel/http/router.hpp"
#include "kernel/metrics.hpp"
#include "picloud/sdk/json.hpp"
#include "kernel/json_text.hpp"

using namespace picloud;
using namespace picloud::test;

namespace {

// Every built-in plugin and the example "hello" plugin.
Instance& plugins_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(
        backend, std::map<std::string, std::string>{
                     {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir() + "/../examples"},
                     {"PICLOUD_PLUGINS_ENABLED", "*"}});
    slot->cast_owner();
    slot->cast();
  }
  return *slot;
}

const sdk::Value* find_named(const sdk::Value& items, const std::string& field, const std::string& name) {
  for (const auto& item : items.as_array())
    if (item[field].string_or("") == name) return &item;
  return nullptr;
}

sdk::Value json(std::string_view text) {
  auto v = kernel::parse_json(text, 64, kernel::JsonStrictness::request);
  if (!v) throw std::runtime_error(v.error().message);
  return *v;
}

}  // namespace

// ---- views, checked when declared ------------------------------------------------

class AdminViewRules : public ::testing::Test {
 protected:
  AdminViewRules() : router_(metrics_), views_(router_, capabilities_) {
    EXPECT_TRUE(capabilities_.declare({"demo.read", sdk::Access::app_viewer, "app:read", "read"}, "demo"));
    EXPECT_TRUE(capabilities_.declare({"demo.write", sdk::Access::app_editor, "app:write", "write"}, "demo"));
    auto ok = [](const sdk::HttpRequest&) { return sdk::HttpResponse::text(200, "ok"); };
    EXPECT_TRUE(router_.add({"GET", "/api/v1/admin/apps/{app}/demo", "demo.read", ok}, "demo"));
    EXPECT_TRUE(router_.add({"DELETE", "/api/v1/admin/apps/{app}/demo/{id}", "demo.write", ok}, "demo"));
    EXPECT_TRUE(router_.add({"GET", "/api/v1/admin/demo/view.js", "demo.read", ok}, "demo"));
    EXPECT_TRUE(router_.add({"GET", "/api/v1/admin/other/view.js", "demo.read", ok}, "other"));
    EXPECT_TRUE(router_.add({"DELETE", "/api/v1/admin/other/{id}", "demo.read", ok}, "other"));
    EXPECT_TRUE(router_.add({"GET", "/api/v1/admin/apps/{app}", "app.read", ok}, "kernel"));
    EXPECT_TRUE(router_.add({"DELETE", "/api/v1/admin/apps/{app}", "app.delete", ok}, "kernel"));
  }
  std::string refused(const std::string& view_json) {
    auto r = views_.add("demo", json(view_json));
    return r ? "" : r.error().message;
  }

  kernel::MetricsRegistry metrics_;
  kernel::admin::CapabilityRegistry capabilities_;
  kernel::http::Router router_;
  kernel::admin::AdminViews views_;
};

TEST_F(AdminViewRules, AGoodViewIsKeptWithItsRoutesLevelsAndDefaults) {
  ASSERT_EQ(refused(R"({"id": "items", "title": "Items", "sections": [
      {"kind": "table", "id": "list", "title": "List", "list": "GET /api/v1/admin/apps/{app}/demo",
       "row_actions": [{"id": "del", "title": "Delete", "route": "DELETE /api/v1/admin/apps/{app}/demo/{name}?force={force}",
                        "danger": true, "confirm": "Delete {id}?"}]}]})"),
            "");
  auto views = views_.views_of("demo");
  ASSERT_EQ(views.size(), 1u);
  const auto& v = views[0];
  EXPECT_EQ(v["icon"].as_string(), "puzzle");
  EXPECT_EQ(v["scope"].as_string(), "app");
  EXPECT_TRUE(v["module"].is_null());
  EXPECT_EQ(v["routes"]["GET /api/v1/admin/apps/{app}/demo"]["level"].as_string(), "app_viewer");
  // Placeholders are named after the row's fields, not the route's.
  EXPECT_EQ(v["routes"]["DELETE /api/v1/admin/apps/{app}/demo/{name}?force={force}"]["level"].as_string(), "app_editor");
  EXPECT_EQ(v["routes"]["DELETE /api/v1/admin/apps/{app}/demo/{name}?force={force}"]["capability"].as_string(), "demo.write");
  EXPECT_EQ(views_.views_of("nobody").size(), 0u);
}

TEST_F(AdminViewRules, BadViewsAreRefusedNamingTheField) {
  struct Case {
    const char* view;
    const char* expected;
  };
  const Case cases[] = {
      {R"([1])", "must be a JSON object"},
      {R"({"title": "T", "sections": []})", "'id' is required"},
      {R"({"id": "Bad Id", "title": "T", "module": "GET /api/v1/admin/demo/view.js"})", "'id' must start with a-z"},
      {R"({"id": "a", "title": "T", "colour": "red", "module": "GET /api/v1/admin/demo/view.js"})",
       "'colour' is not a field here"},
      {R"({"id": "a", "title": "T"})", "'sections' is required"},
      {R"({"id": "a", "title": "T", "scope": "global", "module": "GET /api/v1/admin/demo/view.js"})", "'scope'"},
      {R"({"id": "a", "title": "T", "sections": [{"kind": "chart", "id": "c", "title": "C"}]})",
       "'sections[0].kind' must be"},
      {R"({"id": "a", "title": "T", "sections": [{"kind": "table", "id": "c", "title": "C"}]})",
       "'sections[0].list' is required"},
      {R"({"id": "a", "title": "T", "sections": [{"kind": "json", "id": "c", "title": "C",
          "source": "GET /api/v1/admin/apps/{app}/nothing"}]})",
       "is not registered"},
      {R"({"id": "a", "title": "T", "sections": [{"kind": "form", "id": "c", "title": "C",
          "route": "POST /api/v1/admin/apps/{app}/demo"}]})",
       "is not registered"},
      {R"({"id": "a", "title": "T", "sections": [{"kind": "json", "id": "c", "title": "C", "source": "GET /metrics"}]})",
       "not under /api/v1/admin/"},
      {R"({"id": "a", "title": "T", "sections": [{"kind": "form", "id": "f", "title": "F",
          "route": "DELETE /api/v1/admin/apps/{app}/demo/{id}", "schema": {"type": "array"}}]})",
       "'sections[0].schema' must be a JSON Schema of an object"},
      {R"({"id": "a", "title": "T", "sections": [
          {"kind": "json", "id": "c", "title": "C", "source": "GET /api/v1/admin/apps/{app}/demo"},
          {"kind": "json", "id": "c", "title": "D", "source": "GET /api/v1/admin/apps/{app}/demo"}]})",
       "repeats another section's id"},
      {R"({"id": "a", "title": "T", "module": "GET /api/v1/admin/other/view.js"})", "belongs to plugin 'other'"},
      {R"({"id": "a", "title": "T", "module": "GET /api/v1/admin/apps/{app}"})",
       "the module must be served by one of the plugin's own GET routes"},
      {R"({"id": "a", "title": "T", "module": "GET /api/v1/admin/demo/view.js?v=2"})", "without a query"},
      // The dashboard reads lists, details and panels with GET.
      {R"({"id": "a", "title": "T", "sections": [{"kind": "table", "id": "c", "title": "C",
          "list": "DELETE /api/v1/admin/apps/{app}/demo/{id}"}]})",
       "'sections[0].list' must be a GET route"},
      // A view acts through its own routes; of the kernel's it only reads.
      {R"({"id": "a", "title": "T", "sections": [{"kind": "form", "id": "f", "title": "Clear the cache",
          "route": "DELETE /api/v1/admin/apps/{app}"}]})",
       "belongs to the kernel"},
      {R"({"id": "a", "title": "T", "sections": [{"kind": "form", "id": "f", "title": "F",
          "route": "DELETE /api/v1/admin/other/{id}"}]})",
       "belongs to plugin 'other'"},
      {R"({"id": "a", "title": "T", "sections": [{"kind": "form", "id": "f", "title": "F",
          "route": "DELETE /api/v1/admin/apps/{app}/demo/{the id}"}]})",
       "not a plain name"},
  };
  for (const auto& c : cases) {
    const std::string message = refused(c.view);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.view << "\n  -> " << message;
    EXPECT_NE(message.find("plugin 'demo'"), std::string::npos) << message;
  }
  EXPECT_EQ(views_.views_of("demo").size(), 0u) << "nothing refused was kept";


  ASSERT_EQ(refused(R"({"id": "k", "title": "K", "sections": [{"kind": "json", "id": "app", "title": "The app",
      "source": "GET /api/v1/admin/apps/{app}"}]})"),
            "")
      << "the kernel's GET routes may be read";
  ASSERT_EQ(refused(R"({"id": "m", "title": "M", "module": "GET /api/v1/admin/demo/view.js"})"), "");
  EXPECT_NE(refused(R"({"id": "m", "title": "Again", "module": "GET /api/v1/admin/demo/view.js"})").find("declared twice"),
            std::string::npos);
  std::string huge = R"({"id": "h", "title": "H", "description": ")" + std::string(70 * 1024, 'x') +
                     R"(", "module": "GET /api/v1/admin/demo/view.js"})";
  EXPECT_NE(refused(huge).find("at most 64 KiB"), std::string::npos);
}

TEST(MetricsSnapshot, CountersGaugesAndHistogramsAsJson) {
  kernel::MetricsRegistry metrics;
  metrics.counter("t_requests_total", "requests", {{"route", "/a"}}).inc(3);
  metrics.gauge("t_queue", "queued", [] { return 2.5; });
  auto& h = metrics.histogram("t_seconds", "latency");
  h.observe(0.002);
  h.observe(0.2);
  auto snap = metrics.snapshot();
  const auto* counter = find_named(snap["metrics"], "name", "t_requests_total");
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ((*counter)["type"].as_string(), "counter");
  EXPECT_EQ((*counter)["samples"][0]["labels"]["route"].as_string(), "/a");
  EXPECT_EQ((*counter)["samples"][0]["value"].as_int(), 3);
  const auto* gauge = find_named(snap["metrics"], "name", "t_queue");
  ASSERT_NE(gauge, nullptr);
  EXPECT_DOUBLE_EQ((*gauge)["samples"][0]["value"].as_number(), 2.5);
  const auto* hist = find_named(snap["metrics"], "name", "t_seconds");
  ASSERT_NE(hist, nullptr);
  EXPECT_EQ((*hist)["samples"][0]["count"].as_int(), 2);
  EXPECT_NEAR((*hist)["samples"][0]["sum"].as_number(), 0.202, 1e-6);
  const auto& buckets = (*hist)["samples"][0]["buckets"];
  EXPECT_EQ(buckets[buckets.size() - 1]["le"].as_string(), "+Inf");
  EXPECT_EQ(buckets[buckets.size() - 1]["count"].as_int(), 2);
}

// ---- through the admin API, on both databases -------------------------------------

class InstanceInfo : public ::testing::TestWithParam<Backend> {};

TEST_P(InstanceInfo, PluginsWithTheirVersionsAndViews) {
  Instance& pc = plugins_instance(GetParam());
  auto r = pc.get("/plugins", pc.vera_session);  // any signed-in user
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json["kernel"]["version"].string_or("").empty());
  EXPECT_EQ(r.json["kernel"]["abi"].as_string(), "2.0");
  const auto* kv = find_named(r.json["items"], "name", "kv");
  ASSERT_NE(kv, nullptr) << r.body;
  EXPECT_FALSE((*kv)["version"].string_or("").empty());
  EXPECT_FALSE((*kv)["sdk_version"].string_or("").empty());
  const auto& view = (*kv)["views"][0];
  EXPECT_EQ(view["id"].as_string(), "keys");
  EXPECT_EQ(view["routes"]["GET /api/v1/admin/apps/{app}/kv/{collection}"]["level"].as_string(), "app_viewer");
  EXPECT_EQ(view["routes"]["PUT /api/v1/admin/apps/{app}/kv/{collection}/entry?key={key}"]["level"].as_string(),
            "app_editor");
  // Every built-in plugin with data to show declares its view (a view that
  // failed its checks would have stopped start-up).
  for (const auto& [plugin, id] : std::map<std::string, std::string>{
           {"docs", "collections"}, {"files", "files"}, {"pubsub", "topics"}, {"secrets", "secrets"}, {"realtime", "topics"}}) {
    const auto* p = find_named(r.json["items"], "name", plugin);
    ASSERT_NE(p, nullptr) << plugin;
    EXPECT_EQ((*p)["views"][0]["id"].string_or(""), id) << plugin;
    EXPECT_FALSE((*p)["views"][0]["routes"].as_object().empty()) << plugin;
  }
  // The example third-party plugin's view is a module it serves itself.
  const auto* hello = find_named(r.json["items"], "name", "hello");
  ASSERT_NE(hello, nullptr) << r.body;
  EXPECT_EQ((*hello)["version"].as_string(), "1.0.0");
  const std::string module = (*hello)["views"][0]["module"].string_or("");
  ASSERT_EQ(module, "GET /api/v1/admin/hello/view.js");
  auto js = pc.get("/hello/view.js", pc.vera_session);
  EXPECT_EQ(js.status, 200);
  EXPECT_NE(js.headers["content-type"].find("text/javascript"), std::string::npos);
  EXPECT_NE(js.body.find("export default function mount"), std::string::npos);
  auto greeting = pc.get("/apps/alpha/hello/greeting", pc.vera_session);
  EXPECT_EQ(greeting.status, 200) << greeting.body;
  EXPECT_EQ(pc.get("/apps/alpha/hello/greeting", pc.oscar).status, 404) << "not a member of alpha";

  EXPECT_EQ(pc.get("/plugins", {}).status, 401);
  EXPECT_EQ(pc.call("GET", "/plugins?x=1", pc.owner_key).status, 400) << "unknown parameters are refused";
}

TEST_P(InstanceInfo, TriggerKindsWithTheirFilterSchemas) {
  Instance& pc = plugins_instance(GetParam());
  auto r = pc.get("/trigger-kinds", pc.vera);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto* cron = find_named(r.json["items"], "name", "cron");
  ASSERT_NE(cron, nullptr);
  EXPECT_TRUE((*cron)["plugin"].is_null());
  EXPECT_EQ((*cron)["ops"][0].as_string(), "tick");
  EXPECT_EQ((*cron)["filter_schema"]["properties"]["timezone"]["format"].as_string(), "timezone");
  EXPECT_EQ((*cron)["filter_schema"]["required"][0].as_string(), "schedule");
  ASSERT_NE(find_named(r.json["items"], "name", "dead_letter"), nullptr);
  const auto* kv = find_named(r.json["items"], "name", "kv");
  ASSERT_NE(kv, nullptr);
  EXPECT_EQ((*kv)["plugin"].as_string(), "kv");
  EXPECT_EQ(sdk::to_json((*kv)["filter_schema"]["properties"]["ops"]["items"]["enum"]), R"(["insert","update","delete"])");
  EXPECT_FALSE((*kv)["event_fields"][0]["meaning"].string_or("").empty());
  const auto* pubsub = find_named(r.json["items"], "name", "pubsub");
  ASSERT_NE(pubsub, nullptr);
  EXPECT_EQ((*pubsub)["filter_schema"]["required"][0].as_string(), "topic");
}

TEST_P(InstanceInfo, MetricsAsJsonForOwnersOnly) {
  Instance& pc = plugins_instance(GetParam());
  ASSERT_EQ(pc.get("/apps", pc.owner_key).status, 200);
  auto r = pc.get("/metrics", pc.owner_key);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto* loaded = find_named(r.json["metrics"], "name", "picloud_plugins_loaded");
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ((*loaded)["type"].as_string(), "gauge");
  EXPECT_EQ((*loaded)["samples"][0]["value"].as_number(), 9.0) << "eight built-in plugins and hello";
  bool histogram = false;
  for (const auto& m : r.json["metrics"].as_array()) histogram = histogram || m["type"].as_string() == "histogram";
  EXPECT_TRUE(histogram);
  EXPECT_EQ(pc.get("/metrics", pc.alice).status, 403) << "an app admin is not the owner";
  EXPECT_EQ(pc.get("/metrics", {}).status, 401);
}

// The nodes serving the database: the owner's to see (addresses, host
// names and pids are the operator's business), nobody else's.
TEST_P(InstanceInfo, NodesForOwnersOnly) {
  Instance& pc = plugins_instance(GetParam());
  auto r = pc.get("/nodes", pc.owner_key);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_FALSE(r.json["items"].as_array().empty());
  EXPECT_TRUE(r.json["items"][0]["this_node"].as_bool());
  EXPECT_TRUE(r.json["items"][0]["alive"].as_bool());
  EXPECT_EQ(pc.get("/nodes", pc.alice).status, 403) << "an app admin is not the owner";
  EXPECT_EQ(pc.get("/nodes", {}).status, 401);
  EXPECT_EQ(pc.get("/nodes?x=1", pc.owner_key).status, 400) << "no query parameters";
}

INSTANTIATE_TEST_SUITE_P(Backends, InstanceInfo, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });
