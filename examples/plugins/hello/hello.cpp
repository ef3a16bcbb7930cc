// The smallest useful PiCloud plugin: one config key, one HTTP route and one
// script function.
//
//   [hello]
//   greeting = hello          ; or PICLOUD_HELLO_GREETING
//
//   GET /hello/greet?name=ann  ->  {"greeting":"hello, ann","plugin":"hello"}
//   in a script: hello::greet("ann")  ->  "hello, ann"  (name defaults to "world")
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
    return ctx.add_route({"GET", "/hello/greet", std::string(kPublic), [this](const HttpRequest& req) {
                            std::string name = query_param(req.query, "name");
                            Value body = Value::object({{"greeting", greeting_ + ", " + (name.empty() ? "world" : name)},
                                                        {"plugin", "hello"}});
                            return HttpResponse::json(200, to_json(body));
                          }});
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
