// The smallest useful PiCloud plugin: one config key, one HTTP route, one
// script function and a view in the admin dashboard.
//
//   [hello]
//   greeting = hello          ; or PICLOUD_HELLO_GREETING
//
//   GET /hello/greet?name=ann  ->  {"greeting":"hello, ann","plugin":"hello"}
//   in a script: hello::greet("ann")  ->  "hello, ann"  (name defaults to "world")
//   in the dashboard: a "Hello" page under each app, drawn by an ES module
//   the plugin serves (GET /api/v1/admin/hello/view.js), calling the
//   plugin's admin route GET /api/v1/admin/apps/{app}/hello/greeting
#include <picloud/sdk.hpp>

#include <string>

namespace {

using namespace picloud::sdk;

// The value of `key` in a query string like "a=1&name=ann", or "".
std::string query_param(const std::string& query, const std::string& key) {
  std::size_t pos = 0;
  while (pos <= query.size()) {
    std::size_t end = query.find('&', pos);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(pos, end - pos);
    if (pair.rfind(key + "=", 0) == 0) return pair.substr(key.size() + 1);
    pos = end + 1;
  }
  return "";
}

// The dashboard view's code. The dashboard imports it and calls
// mount(element, host): host.app is the app on screen, host.request() calls
// the admin API as the signed-in user. Built with DOM calls, not HTML
// strings, so nothing the API answers can become markup.
constexpr const char* kViewModule = R"js(export default function mount(element, host) {
  const heading = document.createElement("h2");
  heading.textContent = "Hello from a plugin";
  const text = document.createElement("p");
  text.textContent = "This view is an ES module the hello plugin serves.";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Greet";
  const output = document.createElement("output");
  output.setAttribute("aria-live", "polite");
  button.addEventListener("click", async () => {
    try {
      const answer = await host.request("GET", "/api/v1/admin/apps/" + encodeURIComponent(host.app.id) + "/hello/greeting");
      output.textContent = answer.greeting;
    } catch (error) {
      output.textContent = "failed: " + error.message;
    }
  });
  element.append(heading, text, button, " ", output);
  return () => element.replaceChildren();
}
)js";

class HelloPlugin final : public Plugin {
 public:
  Result<void> configure(PluginContext& ctx) override {
    auto greeting = ctx.config().get_string("greeting", "hello");
    if (!greeting) return greeting.error();
    greeting_ = *greeting;
    auto declared = ctx.script_api()->add_function(
        {"hello", "greet", {{"name", ScriptType::string, "", Value("world")}}, ScriptType::string, "",
         [this](const CallContext&, std::span<const Value> args) -> Result<Value> {
           if (args[0].as_string().empty()) return make_error(ErrorKind::invalid_argument, "name must not be empty");
           return greeting_ + ", " + args[0].as_string();
         },
         "Greets `name` with the configured greeting."});
    if (!declared) return declared;
    auto route = ctx.add_route({"GET", "/hello/greet", std::string(kPublic), [this](const HttpRequest& req) {
                                  std::string name = query_param(req.query, "name");
                                  Value body = Value::object({{"greeting", greeting_ + ", " + (name.empty() ? "world" : name)},
                                                              {"plugin", "hello"}});
                                  return HttpResponse::json(200, to_json(body));
                                }});
    if (!route) return route;
    return add_dashboard_view(ctx);
  }

  // A capability, the two admin routes the view uses, then the view.
  Result<void> add_dashboard_view(PluginContext& ctx) {
    if (auto r = ctx.add_capability({"hello.read", Access::app_viewer, "app:read", "see the hello plugin's greeting"}); !r)
      return r;
    if (auto r = ctx.add_route({"GET", "/api/v1/admin/apps/{app}/hello/greeting", "hello.read",
                                [this](const HttpRequest& req) {
                                  Value body = Value::object({{"greeting", greeting_ + ", " + req.params.at("app")}});
                                  return HttpResponse::json(200, to_json(body));
                                }});
        !r)
      return r;
    if (auto r = ctx.add_capability({"hello.view", Access::signed_in, "", "load the hello plugin's dashboard view"}); !r)
      return r;
    if (auto r = ctx.add_route({"GET", "/api/v1/admin/hello/view.js", "hello.view",
                                [](const HttpRequest&) {
                                  return HttpResponse{200,
                                                      {{"content-type", "text/javascript; charset=utf-8"},
                                                       {"cache-control", "no-cache"}},
                                                      kViewModule};
                                }});
        !r)
      return r;
    return ctx.add_admin_view(Value::object({{"id", "greeting"},
                                             {"title", "Hello"},
                                             {"icon", "puzzle"},
                                             {"scope", "app"},
                                             {"description", "The example plugin's own view."},
                                             {"module", "GET /api/v1/admin/hello/view.js"}}));
  }

  Result<void> start(PluginContext& ctx) override {
    ctx.logger().info("hello plugin ready", {{"greeting", greeting_}});
    return {};
  }

  void stop() override {}

 private:
  std::string greeting_;
};

}  // namespace

PICLOUD_PLUGIN(HelloPlugin, "hello", "1.0.0", "", "")
