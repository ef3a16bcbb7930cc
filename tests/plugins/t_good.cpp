// A well-behaved test plugin: config, routes, a service, a background task,
// migrations beside its .so, and a database table it writes at start.
#include <picloud/sdk.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "greeter.hpp"

namespace {

using namespace picloud::sdk;


class GoodPlugin final : public Plugin {
 public:
  Result<void> configure(PluginContext& ctx) override {
    auto greeting = ctx.config().get_string("greeting", "hello");
    if (!greeting) return greeting.error();
    auto limit = ctx.config().get_int("limit", 10, 1, 100);
    if (!limit) return limit.error();
    auto trace_file = ctx.config().get_string("trace_file", "");
    if (!trace_file) return trace_file.error();
    trace_ = *trace_file;
    greeting_ = *greeting;
    ticks_ = &ctx.metrics().counter("ticks_total", "background ticks");
    Database* db = &ctx.database();

    greeter_ = GreeterV1{sizeof(GreeterV1), greeting_.c_str()};
    if (auto r = ctx.services().provide("greeter", 1, greeter_); !r) return r;
    // A trigger kind: filter {"collection": "<name or prefix*>", "ops": [...]}.
    if (auto r = ctx.trigger_kinds()->declare(
            {"t_good", "runs a script when a test collection changes", {"insert", "delete"},
             [](const Value& filter) -> Result<Value> {
               if (!filter.is_object()) return make_error(ErrorKind::invalid_argument, "must be an object");
               for (const auto& [k, v] : filter.as_object())
                 if (k != "collection" && k != "ops") return make_error(ErrorKind::invalid_argument, "unknown field '" + k + "'");
               if (!filter["collection"].is_string() || filter["collection"].as_string().empty())
                 return make_error(ErrorKind::invalid_argument, "collection must be a non-empty string");
               Value ops = filter["ops"].is_null() ? Value::array({"insert", "delete"}) : filter["ops"];
               if (!ops.is_array() || ops.size() == 0) return make_error(ErrorKind::invalid_argument, "ops must be a non-empty list");
               for (const auto& op : ops.as_array())
                 if (op != Value("insert") && op != Value("delete"))
                   return make_error(ErrorKind::invalid_argument, "ops may hold insert and delete");
               return Value::object({{"collection", filter["collection"]}, {"ops", ops}});
             },
             [](const Value& filter, const Event& e) {
               const std::string& c = filter["collection"].as_string();
               bool collection = c.back() == '*' ? e.payload["collection"].string_or("").rfind(c.substr(0, c.size() - 1), 0) == 0
                                                 : e.payload["collection"].string_or("") == c;
               bool op = false;
               for (const auto& o : filter["ops"].as_array()) op = op || o.as_string() == e.op;
               return collection && op;
             },
             {{"collection", "the collection"}, {"key", "the key"}}});
        !r)
      return r;
    if (ctx.trigger_kinds()->declare({"cron", "", {"tick"}, [](const Value& f) -> Result<Value> { return f; },
                                      [](const Value&, const Event&) { return true; }, {}}))
      return make_error(ErrorKind::internal, "the kernel's trigger kind name was accepted");
    // An admin capability of its own; names outside "t_good." are refused.
    if (auto r = ctx.add_capability({"t_good.secret", Access::owner, "app:admin", "read the secret"}); !r) return r;
    if (ctx.add_capability({"other.secret", Access::owner, "", ""}))
      return make_error(ErrorKind::internal, "a capability outside the plugin's prefix was accepted");
    if (ctx.add_capability({"t_good.bad_scope", Access::owner, "app:everything", ""}))
      return make_error(ErrorKind::internal, "an unknown scope was accepted");
    if (ctx.add_route({"GET", "/t_good/undeclared", "t_good.nothing", [](const HttpRequest&) { return HttpResponse{}; }}))
      return make_error(ErrorKind::internal, "a route with an undeclared capability was accepted");
    if (ctx.add_route({"GET", "/t_good/no_app", "script.read", [](const HttpRequest&) { return HttpResponse{}; }}))
      return make_error(ErrorKind::internal, "an app-scoped route without {app} was accepted");
    std::vector<HttpRoute> routes{
        {"GET", "/t_good/hello", std::string(kPublic),
         [this](const HttpRequest&) { return HttpResponse::text(200, greeting_); }},
        {"GET", "/t_good/items/{id}", std::string(kPublic),
         [](const HttpRequest& r) {
           return HttpResponse::json(200, to_json(Value::object({{"id", r.params.at("id")}, {"query", r.query}})));
         }},
        {"POST", "/t_good/echo", std::string(kPublic),
         [](const HttpRequest& r) {
           return HttpResponse{201, {{"content-type", "application/octet-stream"}, {"x-echo-length", std::to_string(r.body.size())}}, r.body};
         }},
        {"GET", "/t_good/slow", std::string(kPublic),
         [](const HttpRequest&) {
           std::this_thread::sleep_for(std::chrono::milliseconds(800));
           return HttpResponse::text(200, "slow done");
         }},
        {"GET", "/t_good/throws", std::string(kPublic),
         [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("handler exploded"); }},
        {"GET", "/t_good/bad_header", std::string(kPublic),
         [](const HttpRequest&) { return HttpResponse{200, {{"x-evil", "a\r\nSet-Cookie: s=1"}}, "never sent"}; }},
        {"GET", "/t_good/secret", "t_good.secret",
         [](const HttpRequest& r) { return HttpResponse::text(200, "secret for " + r.principal); }},
        // An app-scoped admin route: the kernel resolves {app} and checks the role.
        {"GET", "/api/v1/admin/apps/{app}/t_good", "script.read",
         [](const HttpRequest& r) { return HttpResponse::text(200, "t_good of " + r.params.at("app")); }},
        {"GET", "/t_good/events", std::string(kPublic),
         [db](const HttpRequest&) {
           auto rows = db->query("SELECT count(*) FROM t_good_events");
           if (!rows) return HttpResponse::text(500, rows.error().message);
           return HttpResponse::text(200, std::to_string(rows->rows[0][0].as_int()));
         }},
    };
    for (auto& route : routes)
      if (auto r = ctx.add_route(std::move(route)); !r) return r;
    trace("configure t_good");
    // Script API: a function reading the plugin's table through the
    // kernel's database, and one with an optional parameter.
    auto* api = ctx.script_api();
    if (auto r = api->add_function({"t_good", "greet", {{"name", ScriptType::string, "", Value("world")}},
                                    ScriptType::string, "",
                                    [this](const CallContext& call, std::span<const Value> args) -> Result<Value> {
                                      return greeting_ + ", " + args[0].as_string() + " from " + std::string(call.app_id);
                                    },
                                    "the greeting for name, from the calling app"});
        !r)
      return r;
    if (auto r = api->add_function({"t_good", "events", {}, ScriptType::integer, "",
                                    [db](const CallContext&, std::span<const Value>) -> Result<Value> {
                                      auto rows = db->query("SELECT count(*) FROM t_good_events");
                                      if (!rows) return rows.error();
                                      return rows->rows[0][0];
                                    },
                                    "how many events the plugin has recorded"});
        !r)
      return r;
    return {};
  }

  Result<void> start(PluginContext& ctx) override {
    auto r = ctx.database().execute("INSERT INTO t_good_events (what) VALUES (?)", {"started"});
    if (!r) return r.error();
    // The engine is built after configure(): later declarations are refused.
    auto late = ctx.script_api()->add_function({"t_good", "late", {}, ScriptType::void_type, "",
                                                [](const CallContext&, std::span<const Value>) -> Result<Value> { return Value(); }});
    if (late) return make_error(ErrorKind::internal, "script API accepted a declaration in start()");
    ctx.tasks().every("tick", 10, [this] { ticks_->inc(); });
    ctx.logger().info("t_good started", {{"greeting", greeting_}});
    trace("start t_good");
    return {};
  }

  void stop() override { trace("stop t_good"); }

 private:
  void trace(const std::string& line) {
    if (!trace_.empty()) std::ofstream(trace_, std::ios::app) << line << "\n";
  }
  std::string greeting_, trace_;
  GreeterV1 greeter_{};
  Counter* ticks_ = nullptr;
};

}  // namespace

PICLOUD_PLUGIN(GoodPlugin, "t_good", "1.2.3", "greeter", "")
