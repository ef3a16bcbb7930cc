// The script API reference through the admin API: what the enabled plugins
// and the standard library offer, with docs; who may read it.
#include "fixture.hpp"

using namespace picloud;
using namespace picloud::test;

namespace {

const sdk::Value& named(const sdk::Value& list, const std::string& name) {
  static const sdk::Value none;
  for (const auto& item : list.as_array())
    if (item["name"].as_string() == name) return item;
  return none;
}

class ScriptApi : public ::testing::TestWithParam<Backend> {};

TEST_P(ScriptApi, ListsTheStandardLibraryAndEveryEnabledPluginsFunctions) {
  Instance& pc = shared_instance(GetParam(), false);
  auto all = pc.get("/script-api", pc.owner);
  ASSERT_EQ(all.status, 200) << all.body;
  const sdk::Value& t_good = named(all.json["namespaces"], "t_good");
  ASSERT_TRUE(t_good.is_object()) << all.body;
  EXPECT_EQ(t_good["owner"].as_string(), "t_good");
  // Every function the plugin declared, as scripts call it.
  for (const auto& f : pc.kernel().plugins().declarations().functions()) {
    if (f.owner != "t_good") continue;
    EXPECT_TRUE(named(t_good["functions"], f.decl.name).is_object()) << f.decl.name;
  }
  const sdk::Value& greet = named(t_good["functions"], "greet");
  EXPECT_EQ(greet["declaration"].as_string(), "string t_good::greet(const string&in name = \"world\")");
  EXPECT_EQ(greet["doc"].as_string(), "the greeting for name, from the calling app");
  EXPECT_EQ(greet["params"][0]["default"].as_string(), "\"world\"");
  EXPECT_EQ(named(all.json["namespaces"], "json")["owner"].as_string(), "kernel");

  auto one = pc.get("/script-api?namespace=t_good", pc.owner);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json["namespaces"].size(), 1u);
  EXPECT_EQ(one.json, sdk::Value::object({{"namespaces", sdk::Value(sdk::Array{t_good})}}));
  auto missing = pc.get("/script-api?namespace=nosuch", pc.owner);
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(pc.get("/script-api?nope=1", pc.owner).status, 400) << "unknown query parameters are refused";
}

TEST_P(ScriptApi, AnySignedInCallerMayReadItAndNoOneElse) {
  Instance& pc = shared_instance(GetParam(), false);
  EXPECT_EQ(pc.get("/script-api", {}).status, 401);
  Creds key = pc.make_key(pc.owner, "app:read");
  EXPECT_EQ(pc.get("/script-api?namespace=t_good", key).status, 200);
}

INSTANTIATE_TEST_SUITE_P(Backends, ScriptApi, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

TEST(ScriptApiPlugins, ADisabledPluginsFunctionsAreGone) {
  Instance pc(Backend::sqlite, {{"PICLOUD_PLUGINS_ENABLED", ""}});
  pc.cast_owner();
  auto all = pc.get("/script-api", pc.owner);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_FALSE(named(all.json["namespaces"], "t_good").is_object()) << all.body;
  EXPECT_TRUE(named(all.json["namespaces"], "json").is_object());
  EXPECT_EQ(pc.get("/script-api?namespace=t_good", pc.owner).status, 404);
}

}  // namespace
