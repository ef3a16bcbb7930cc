// The benchmark's plugin: two script functions, called from a script
// through the C boundary exactly as any plugin's are.
//   int    bench::add(int a, int b)
//   string bench::key(string name)    returns name
//   int    bench::kind(json value)    the value's type, as a number
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
                                    },
                                    "a + b"});
        !r)
      return r;
    if (auto r = api->add_function({"bench", "key", {{"name", ScriptType::string}}, ScriptType::string, "",
                                    [](const CallContext&, std::span<const Value> args) -> Result<Value> { return args[0]; },
                                    "the name given"});
        !r)
      return r;
    return api->add_function({"bench", "kind", {{"value", ScriptType::json}}, ScriptType::integer, "",
                              [](const CallContext&, std::span<const Value> args) -> Result<Value> {
                                return static_cast<std::int64_t>(args[0].type());
                              },
                              "the value's type, as a number"});
  }
  Result<void> start(PluginContext&) override { return {}; }
  void stop() override {}
};

}  // namespace

PICLOUD_PLUGIN(BenchCalls, "bench", "1.0.0", "", "")
