// Apps share one script engine, so nothing a script compiles or leaves behind
// may reach a script of another app: AngelScript's `shared` and `external`
// entities (which the engine links across modules by name), its own
// `import ... from "module"` declarations, and what a reused execution
// context still holds from an earlier run. Every test here runs the attack
// with two apps, in both orders.
#include "harness.hpp"

namespace picloud::test {
namespace {

using scripting::RunError;
using scripting::ScriptKind;

std::string handler(const std::string& before, const std::string& body) {
  return before + "\nvoid handle(request@ req, response@ res) {\n" + body + "\n}\n";
}

scripting::RunResult run_as(scripting::Engine& engine, MemorySource& source, const std::string& app,
                            const std::string& code) {
  source.put_script(app, "s", code);
  return engine.run_http({app, "s", 1}, source, {}, get());
}

// What a run showed: its body, or its error and message.
std::string seen(const scripting::RunResult& r) {
  return r.ok() ? r.response.body : std::string(scripting::to_string(r.error)) + ": " + r.message;
}

void expect_refused(const scripting::RunResult& r, const std::string& entity, const std::string& what = "shared") {
  EXPECT_EQ(r.error, RunError::compile_error) << seen(r);
  EXPECT_NE(r.message.find(entity), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(what), std::string::npos) << r.message;
}

// App B keeps its token in a shared function; app A declares it `external`
// and would call B's code.
TEST(AppIsolation, ExternalSharedFunctionCannotReachAnotherAppsFunction) {
  auto engine = make_engine();
  MemorySource source;
  auto b = run_as(*engine, source, "app-b",
                  handler("shared string api_token() { return \"B-secret\"; }", "res.text(api_token());"));
  expect_refused(b, "api_token");
  auto a = run_as(*engine, source, "app-a", handler("external shared string api_token();", "res.text(api_token());"));
  EXPECT_EQ(seen(a).find("B-secret"), std::string::npos) << seen(a);
  EXPECT_EQ(a.error, RunError::compile_error) << seen(a);
}

// App A defined a shared function first; app B declares the same one with
// its own body: AngelScript would run A's body with B's data.
TEST(AppIsolation, SameSharedFunctionInTwoAppsNeverRunsTheOtherBody) {
  auto engine = make_engine();
  MemorySource source;
  auto a = run_as(*engine, source, "app-a",
                  handler("shared string greet(const string &in who) { return \"A saw \" + who; }",
                          "res.text(greet(\"a-data\"));"));
  expect_refused(a, "greet");
  auto b = run_as(*engine, source, "app-b",
                  handler("shared string greet(const string &in who) { return \"B: \" + who; }",
                          "res.text(greet(\"B-data\"));"));
  EXPECT_EQ(seen(b).find("A saw"), std::string::npos) << seen(b);
  expect_refused(b, "greet");
}

// The same with the roles swapped in time: B's shared function is compiled
// while A's script, which names it `external`, is already cached.
TEST(AppIsolation, ExternalDeclaredFirstNeverBindsToALaterDefinition) {
  auto engine = make_engine();
  MemorySource source;
  auto a = run_as(*engine, source, "app-a", handler("external shared string api_token();", "res.text(api_token());"));
  EXPECT_EQ(a.error, RunError::compile_error) << seen(a);
  run_as(*engine, source, "app-b",
         handler("shared string api_token() { return \"B-secret\"; }", "res.text(api_token());"));
  source.put_script("app-a", "s", handler("external shared string api_token();", "res.text(api_token());"));
  auto again = engine->run_http({"app-a", "s", 2}, source, {}, get());
  EXPECT_EQ(seen(again).find("B-secret"), std::string::npos) << seen(again);
  EXPECT_EQ(again.error, RunError::compile_error) << seen(again);
}

// Shared classes carry code (methods, member initialisers) and so would
// shared interfaces and enums carry another app's names: all refused.
TEST(AppIsolation, SharedClassOfAnotherAppIsRefused) {
  auto engine = make_engine();
  MemorySource source;
  auto b = run_as(*engine, source, "app-b",
                  handler("shared class Vault { string token = \"B-secret\"; string open() { return token; } }",
                          "Vault v; res.text(v.open());"));
  expect_refused(b, "Vault");
  auto a = run_as(*engine, source, "app-a", handler("external shared class Vault;", "Vault v; res.text(v.open());"));
  EXPECT_EQ(seen(a).find("B-secret"), std::string::npos) << seen(a);
  EXPECT_EQ(a.error, RunError::compile_error) << seen(a);
  // Declared again in full by A: it would get B's member initialiser.
  auto a2 = run_as(*engine, source, "app-a2",
                   handler("shared class Vault { string token = \"A\"; string open() { return token; } }",
                           "Vault v; res.text(v.open());"));
  EXPECT_EQ(seen(a2).find("B-secret"), std::string::npos) << seen(a2);
  expect_refused(a2, "Vault");
}

TEST(AppIsolation, EverySharedKindIsRefusedWithItsName) {
  auto engine = make_engine();
  MemorySource source;
  expect_refused(run_as(*engine, source, "x1", handler("shared interface IThing { int n(); }", "")), "IThing");
  expect_refused(run_as(*engine, source, "x2", handler("shared enum Colour { red, green }", "")), "Colour");
  expect_refused(run_as(*engine, source, "x3", handler("shared funcdef void Callback();", "")), "Callback");
  expect_refused(run_as(*engine, source, "x4", handler("namespace inner { shared int f() { return 1; } }", "")), "f");
  // `shared` stays an ordinary name elsewhere.
  auto ok = run_as(*engine, source, "x5", handler("", "int shared = 2; int external = 3; res.text(\"\" + (shared + external));"));
  EXPECT_TRUE(ok.ok()) << seen(ok);
  EXPECT_EQ(ok.response.body, "5");
}

TEST(AppIsolation, SharedInAModuleIsRefusedAndNamesTheModule) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("app-b", "tokens", "shared string api_token() { return \"B-secret\"; }");
  source.put_script("app-b", "s", handler("import \"tokens\";", "res.text(tokens::api_token());"));
  auto r = engine->run_http({"app-b", "s", 1}, source, {}, get());
  expect_refused(r, "api_token");
  EXPECT_NE(r.message.find("tokens"), std::string::npos) << r.message;
  auto v = engine->validate("app-b", ScriptKind::module, "shared string api_token() { return \"B-secret\"; }", source);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.errors.front().message.find("api_token"), std::string::npos) << v.errors.front().message;
}

TEST(AppIsolation, ValidationRefusesSharedAndExternal) {
  auto engine = make_engine();
  MemorySource source;
  auto v = engine->validate("app", ScriptKind::endpoint,
                            handler("shared string api_token() { return \"x\"; }", "res.text(api_token());"), source);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.errors.front().message.find("shared"), std::string::npos) << v.errors.front().message;
}

// AngelScript's own imports name another compiled module ("script-N"); they
// are never bound, and are refused so that no script reaches for one.
TEST(AppIsolation, AngelScriptImportDeclarationsAreRefused) {
  auto engine = make_engine();
  MemorySource source;
  run_as(*engine, source, "app-b", handler("string api_token() { return \"B-secret\"; }", "res.text(api_token());"));
  // On the same line as other code, so no line-based check sees it.
  auto a = run_as(*engine, source, "app-a",
                  handler("void nothing() {} import string api_token() from \"script-1\";", "res.text(api_token());"));
  EXPECT_EQ(seen(a).find("B-secret"), std::string::npos) << seen(a);
  EXPECT_EQ(a.error, RunError::compile_error) << seen(a);
  EXPECT_NE(a.message.find("api_token"), std::string::npos) << a.message;
  EXPECT_NE(a.message.find("import \"module_name\""), std::string::npos) << a.message;
}

// Contexts are pooled per thread and reused by whichever app runs next: an
// exception another app caught (or did not) must not show through
// getExceptionInfo() in the next run.
TEST(AppIsolation, ReusedContextCarriesNoExceptionInfo) {
  auto engine = make_engine();
  MemorySource source;
  const std::string peek = handler("", "res.text(\"[\" + getExceptionInfo() + \"]\");");
  auto caught = run_as(*engine, source, "app-b", handler("", "try { throw(\"B-secret\"); } catch {} res.text(\"ok\");"));
  ASSERT_TRUE(caught.ok()) << seen(caught);
  auto a = run_as(*engine, source, "app-a", peek);
  ASSERT_TRUE(a.ok()) << seen(a);
  EXPECT_EQ(a.response.body, "[]");

  auto uncaught = run_as(*engine, source, "app-c", handler("", "throw(\"C-secret\");"));
  ASSERT_EQ(uncaught.error, RunError::script_error);
  auto a2 = engine->run_http({"app-a", "s", 1}, source, {}, get());
  ASSERT_TRUE(a2.ok()) << seen(a2);
  EXPECT_EQ(a2.response.body, "[]");
}

// The compiled-script cache is keyed by app: the same script id and version
// in two apps are two scripts.
TEST(AppIsolation, CacheKeepsAppsApart) {
  auto engine = make_engine();
  MemorySource source;
  auto b = run_as(*engine, source, "app-b", handler("", "res.text(\"B-secret\");"));
  ASSERT_TRUE(b.ok()) << seen(b);
  auto a = run_as(*engine, source, "app-a", handler("", "res.text(\"A\");"));
  ASSERT_TRUE(a.ok()) << seen(a);
  EXPECT_EQ(a.response.body, "A");
}

}  // namespace
}  // namespace picloud::test
