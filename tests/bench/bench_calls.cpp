// The benchmark's plugin: two script functions, called from a script
// through the C boundary exactly as any plugin's are.
//   int    bench::add(int a, int b)
//   string bench::key(string name)    returns name
#include <picloud/sdk.hpp>

namespace {

using namespace picloud::sdk;

class BenchCalls final : public Plugin {
 public:
  Result<void> configure(PluginContext& ctx) override {
    auto* api = ctx.script_api();
    if (auto r = api->add_function({"bench", "add", {{"a", ScriptType::integer}, {"b", ScriptType::integer}},
                                    ScriptType::integer, "",
                                    [](const CallContext&, std::span<const Value> args) -> Result<Value> {
                                      return args[0].as_int() + args[1].as_int();
                                    }});
        !r)
      return r;
    return api->add_function({"bench", "key", {{"name", ScriptType::string}}, ScriptType::string, "",
                              [](const CallContext&, std::span<const Value> args) -> Result<Value> { return args[0]; }});
  }
  Result<void> start(PluginContext&) override { return {}; }
  void stop() override {}
};

}  // namespace

PICLOUD_PLUGIN(BenchCalls, "bench", "1.0.0", "", "")
