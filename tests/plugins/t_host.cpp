// A test plugin for the host functions the next service plugins build on:
// routes on app hosts, app lookup, a run's deadline, JSON parsing by the
// kernel, after-commit work, a one-node task, and the plugin's directories.
//
// Config ([t_host]):
//   tick_ms   the one-node task's interval (default 50)
//   node      the name its ticks record (default "a")
//
// Routes:
//   GET  /_picloud/t_host/whoami/{name}   (app hosts, public) {app_id, name, path}
//   GET  /t_host/ping                     (admin hosts, public) "pong"
//   GET  /t_host/ping                     is also what an app may route on its own host
// Script functions:
//   json   t_host::find_app(key)            the app, or not_found
//   int    t_host::remaining()              the run's milliseconds left
//   int    t_host::wait_out(ms)             sleeps up to ms, never past the run's end; how long it slept
//   json   t_host::parse(text, strict = false)
//   string t_host::data_dir()    string t_host::install_dir()
//   int    t_host::write(commit)            inserts a tick row "written" in a transaction
//                                           with after-commit work; rolled back unless commit
//   json   t_host::after_commits()          {"ran": n, "freed": n, "queried": n}
//   void   t_host::seal_put(name, value)    json t_host::seal_get(name)   (the keyring, this app)
//   bytes  t_host::sign(data)               bool t_host::verify(data, signature, app = this app)
#include <picloud/sdk.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace {

using namespace picloud::sdk;

std::atomic<int> g_ran{0};
std::atomic<int> g_freed{0};
std::atomic<int> g_queried{0};  // after-commit work that could use the database

// Counts its own destruction: the after-commit closure holds one, so a
// closure the kernel dropped (rolled back) is seen to be freed.
struct FreeCounter {
  ~FreeCounter() { ++g_freed; }
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class HostPlugin final : public Plugin {
 public:
  Result<void> configure(PluginContext& ctx) override {
    auto tick = ctx.config().get_int("tick_ms", 50, 10, 60000);
    if (!tick) return tick.error();
    tick_ms_ = *tick;
    auto node = ctx.config().get_string("node", "a");
    if (!node) return node.error();
    node_ = *node;

    HttpRoute whoami{"GET", "/whoami/{name}", std::string(kPublic), [](const HttpRequest& req) {
                       return HttpResponse::json(200, to_json(Value::object({{"app_id", req.app_id},
                                                                             {"name", req.params.at("name")},
                                                                             {"path", req.path}})));
                     }};
    whoami.hosts = RouteHosts::apps;
    if (auto r = ctx.add_route(std::move(whoami)); !r) return r;
    if (auto r = ctx.add_route({"GET", "/t_host/ping", std::string(kPublic),
                                [](const HttpRequest&) { return HttpResponse::text(200, "pong"); }});
        !r)
      return r;

    ScriptApi& api = *ctx.script_api();
    PluginContext* c = &ctx;
    auto add = [&](ScriptFunctionDecl d) { return api.add_function(std::move(d)); };
    if (auto r = add({"t_host", "find_app", {{"key", ScriptType::string}}, ScriptType::json, "",
                      [c](const CallContext&, std::span<const Value> a) -> Result<Value> {
                        auto app = c->find_app(a[0].as_string());
                        if (!app) return app.error();
                        Array hosts(app->hostnames.begin(), app->hostnames.end());
                        return Value::object({{"id", app->id},
                                              {"slug", app->slug},
                                              {"name", app->name},
                                              {"hostnames", Value(std::move(hosts))}});
                      }});
        !r)
      return r;
    // A handle whose state has a large member that only one method reads:
    // the others get self without it.
    if (auto r = api.add_handle_type(
            {"t_host",
             "Parcel",
             {{"members", {}, ScriptType::json, "",
               [](const CallContext&, const Value& self, std::span<const Value>) -> Result<Value> {
                 Array names;
                 for (const auto& [name, _] : self.as_object()) names.push_back(Value(name));
                 return Value(std::move(names));
               },
               "the members of the state this method was given", true, {"label"}},
              {"size", {}, ScriptType::integer, "",
               [](const CallContext&, const Value& self, std::span<const Value>) -> Result<Value> {
                 return Value(static_cast<std::int64_t>(self["payload"].as_bytes().size()));
               },
               "the payload's size", false, {"payload"}},
              {"all", {}, ScriptType::json, "",
               [](const CallContext&, const Value& self, std::span<const Value>) -> Result<Value> {
                 Array names;
                 for (const auto& [name, _] : self.as_object()) names.push_back(Value(name));
                 return Value(std::move(names));
               },
               "the members of the whole state"}},
             "a state with a large payload"});
        !r)
      return r;
    if (auto r = add({"t_host", "parcel", {{"bytes", ScriptType::integer}}, ScriptType::handle, "t_host::Parcel",
                      [](const CallContext&, std::span<const Value> a) -> Result<Value> {
                        return Value::object({{"label", "box"},
                                              {"payload", Value(Bytes(static_cast<std::size_t>(a[0].as_int()), 7))}});
                      },
                      "a parcel with a payload of that many bytes"});
        !r)
      return r;
    if (auto r = add({"t_host", "remaining", {}, ScriptType::integer, "",
                      [](const CallContext& call, std::span<const Value>) -> Result<Value> {
                        return Value(std::min<std::int64_t>(call.remaining_ms(), INT64_MAX));
                      }});
        !r)
      return r;
    if (auto r = add({"t_host", "wait_out", {{"ms", ScriptType::integer}}, ScriptType::integer, "",
                      [](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        auto started = std::chrono::steady_clock::now();
                        std::int64_t want = std::min(a[0].as_int(), call.remaining_ms());
                        std::this_thread::sleep_for(std::chrono::milliseconds(want));
                        return Value(static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                   std::chrono::steady_clock::now() - started)
                                                                   .count()));
                      }});
        !r)
      return r;
    if (auto r = add({"t_host", "parse", {{"text", ScriptType::string}, {"strict", ScriptType::boolean, "", Value(false)}},
                      ScriptType::json, "",
                      [](const CallContext&, std::span<const Value> a) -> Result<Value> {
                        return parse_json(a[0].as_string(), kMaxJsonDepth,
                                          a[1].as_bool() ? JsonStrictness::request : JsonStrictness::stored);
                      }});
        !r)
      return r;
    if (auto r = add({"t_host", "data_dir", {}, ScriptType::string, "",
                      [c](const CallContext&, std::span<const Value>) -> Result<Value> {
                        auto d = c->data_dir();
                        if (!d) return d.error();
                        return Value(*d);
                      }});
        !r)
      return r;
    if (auto r = add({"t_host", "install_dir", {}, ScriptType::string, "",
                      [c](const CallContext&, std::span<const Value>) -> Result<Value> {
                        return Value(std::string(c->install_dir()));
                      }});
        !r)
      return r;
    if (auto r = add({"t_host", "write", {{"commit", ScriptType::boolean}}, ScriptType::integer, "",
                      [c](const CallContext&, std::span<const Value> a) -> Result<Value> {
                        const bool commit = a[0].as_bool();
                        auto done = c->database().transaction([&](Transaction& tx) -> Result<void> {
                          if (auto w = tx.execute("INSERT INTO t_host_ticks (node, at) VALUES ('written', ?)", {now_ms()});
                              !w)
                            return w.error();
                          auto counter = std::make_shared<FreeCounter>();
                          // The work reads the database: it runs once the
                          // transaction's connection is back in the pool.
                          auto ac = tx.after_commit([counter, c] {
                            ++g_ran;
                            if (c->database().query("SELECT count(*) FROM t_host_ticks")) ++g_queried;
                          });
                          if (!ac) return ac;
                          if (!commit) return make_error(ErrorKind::conflict, "told_to_roll_back", "rolled back as asked");
                          return {};
                        });
                        if (!done && commit) return done.error();
                        return Value(std::int64_t{done ? 1 : 0});
                      }});
        !r)
      return r;
    // The keyring, for this plugin and the run's app.
    if (auto r = add({"t_host", "seal_put", {{"name", ScriptType::string}, {"value", ScriptType::string}},
                      ScriptType::void_type, "",
                      [c](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        if (auto r = c->keyring()->put(nullptr, call.app_id, a[0].as_string(), a[1].as_string()); !r)
                          return r.error();
                        return Value();
                      }});
        !r)
      return r;
    if (auto r = add({"t_host", "seal_get", {{"name", ScriptType::string}}, ScriptType::json, "",
                      [c](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        auto v = c->keyring()->get(nullptr, call.app_id, a[0].as_string());
                        if (!v) return v.error();
                        return *v ? Value(**v) : Value();
                      }});
        !r)
      return r;
    if (auto r = add({"t_host", "sign", {{"data", ScriptType::string}}, ScriptType::bytes, "",
                      [c](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        auto sig = c->keyring()->sign(call.app_id, a[0].as_string());
                        if (!sig) return sig.error();
                        return Value(Bytes(sig->begin(), sig->end()));
                      }});
        !r)
      return r;
    if (auto r = add({"t_host", "verify", {{"data", ScriptType::string}, {"signature", ScriptType::bytes}, {"app", ScriptType::string, "", Value("")}},
                      ScriptType::boolean, "",
                      [c](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        const auto& b = a[1].as_bytes();
                        std::string app = a[2].as_string().empty() ? std::string(call.app_id) : a[2].as_string();
                        return Value(c->keyring()->verify(app, a[0].as_string(), std::string(b.begin(), b.end())));
                      }});
        !r)
      return r;
    return add({"t_host", "after_commits", {}, ScriptType::json, "",
                [](const CallContext&, std::span<const Value>) -> Result<Value> {
                  return Value::object({{"ran", std::int64_t{g_ran}},
                                        {"freed", std::int64_t{g_freed}},
                                        {"queried", std::int64_t{g_queried}}});
                }});
  }

  Result<void> start(PluginContext& ctx) override {
    std::string node = node_;
    ctx.tasks().every_on_one_node("tick", tick_ms_, [node](Transaction& tx) -> Result<void> {
      auto r = tx.execute("INSERT INTO t_host_ticks (node, at) VALUES (?, ?)", {node, now_ms()});
      if (!r) return r.error();
      return {};
    });
    return {};
  }

  void stop() override {}

 private:
  std::int64_t tick_ms_ = 50;
  std::string node_;
};

}  // namespace

PICLOUD_PLUGIN(HostPlugin, "t_host", "1.0.0", "", "")
