// The smallest useful PiCloud plugin: one config key and one HTTP route.
//
//   [hello]
//   greeting = hello          ; or PICLOUD_HELLO_GREETING
//
//   GET /hello/greet?name=ann  ->  {"greeting":"hello, ann","plugin":"hello"}
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
