// Depends on t_good and uses its service during configure: works only when
// the host configures dependencies first.
#include <picloud/sdk.hpp>

#include <fstream>

#include "greeter.hpp"

namespace {
using namespace picloud::sdk;

class DependentPlugin final : public Plugin {
 public:
  Result<void> configure(PluginContext& ctx) override {
    const GreeterV1* greeter = ctx.services().get<GreeterV1>("greeter", 1);
    if (!greeter) return make_error(ErrorKind::not_found, "service greeter is not available");
    if (ctx.services().find("greeter", 2, sizeof(GreeterV1))) return make_error(ErrorKind::internal, "version check failed");
    if (ctx.services().find("greeter", 1, sizeof(GreeterV1) + 1))
      return make_error(ErrorKind::internal, "a table smaller than asked for was found");
    auto trace = ctx.config().get_string("trace_file", "");
    if (!trace) return trace.error();
    trace_ = *trace;
    std::string greeting = greeter->greeting;
    if (auto r = ctx.services().provide("undeclared", 1, *greeter); r.ok())
      return make_error(ErrorKind::internal, "providing an undeclared service should fail");
    return ctx.add_route({"GET", "/t_dependent/greet", std::string(kPublic),
                          [greeting](const HttpRequest&) { return HttpResponse::text(200, greeting + " via dependent"); }});
  }
  Result<void> start(PluginContext&) override {
    if (!trace_.empty()) std::ofstream(trace_, std::ios::app) << "start t_dependent\n";
    return {};
  }
  void stop() override {
    if (!trace_.empty()) std::ofstream(trace_, std::ios::app) << "stop t_dependent\n";
  }

 private:
  std::string trace_;
};

}  // namespace

PICLOUD_PLUGIN(DependentPlugin, "t_dependent", "0.1.0", "", "t_good")
