// The engine end to end: entry points, limits, errors, caching, modules and
// validation, each through real compiled scripts.
#include <malloc.h>

#include <chrono>

#include "harness.hpp"

namespace picloud::test {
namespace {

using scripting::RunError;
using scripting::ScriptKind;

constexpr const char* kHello = "void handle(request@ req, response@ res) {\n  res.text(\"Hello, world!\");\n}\n";

std::string handler(const std::string& body) {
  return "void handle(request@ req, response@ res) {\n" + body + "\n}\n";
}

TEST(Engine, HelloWorld) {
  auto engine = make_engine();
  MemorySource source;
  auto r = run_script(*engine, source, kHello);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.response.body, "Hello, world!");
  EXPECT_FALSE(r.execution_id.empty());
  EXPECT_GT(r.operations, 0);
}

TEST(Engine, EventEntryPointReceivesTheEvent) {
  auto engine = make_engine();
  MemorySource source;
  source.put_script("app", "t", R"(
    void on_event(event@ e) {
      log::info(e.source + "/" + e.op + "/" + e.data["key"].as_string());
    })");
  auto event = sdk::Value::object({{"source", "kv"}, {"op", "insert"}, {"key", "alice"}});
  auto r = engine->run_event({"app", "t", 1}, source, {}, event);
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.logs.size(), 1u);
  EXPECT_EQ(r.logs[0].message, "kv/insert/alice");
}

TEST(Engine, MissingEntryPointIsItsOwnError) {
  auto engine = make_engine();
  MemorySource source;
  source.put_script("app", "t", "void on_event(event@ e) {}");
  auto r = engine->run_http({"app", "t", 1}, source, {}, get());
  EXPECT_EQ(r.error, RunError::no_entry_point);
  EXPECT_EQ(r.status(), 422);
  EXPECT_NE(r.message.find("handle(request@ req, response@ res)"), std::string::npos) << r.message;
  auto e = engine->run_event({"app", "s", 1}, source, {}, sdk::Value::object());
  EXPECT_EQ(e.error, RunError::compile_error) << "script s does not exist";
}

TEST(Engine, CompileErrorNamesLineAndColumn) {
  auto engine = make_engine();
  MemorySource source;
  auto r = run_script(*engine, source, "void handle(request@ req, response@ res) {\n  int x = ;\n}\n");
  EXPECT_EQ(r.error, RunError::compile_error);
  EXPECT_EQ(r.status(), 422);
  EXPECT_NE(r.message.find("main:2:"), std::string::npos) << r.message;
}

TEST(Engine, ThrowIsScriptErrorWithLocation) {
  auto engine = make_engine();
  MemorySource source;
  auto r = run_script(*engine, source, handler("  throw(\"boom\");"));
  EXPECT_EQ(r.error, RunError::script_error);
  EXPECT_EQ(r.status(), 502);
  EXPECT_NE(r.message.find("boom"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("main:2"), std::string::npos) << r.message;
}

TEST(Engine, NullHandleAndDivisionByZeroAreScriptErrors) {
  auto engine = make_engine();
  MemorySource source;
  EXPECT_EQ(run_script(*engine, source, handler("  json@ j; j.size();"), get(), "a").error, RunError::script_error);
  EXPECT_EQ(run_script(*engine, source, handler("  int z = 0; int x = 5 / z;"), get(), "b").error,
            RunError::script_error);
}

TEST(Engine, ScriptCanCatchAndContinue) {
  auto engine = make_engine();
  MemorySource source;
  auto r = run_script(*engine, source, handler(R"(
    string seen;
    try { json::parse("{broken"); } catch { seen = getExceptionInfo(); }
    res.text(seen);)"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_NE(r.response.body.find("json: invalid JSON"), std::string::npos) << r.response.body;
}

// --- limits ----------------------------------------------------------------------

scripting::EngineConfig tight() {
  scripting::EngineConfig c;
  c.limits.timeout_ms = 2'000;
  c.limits.max_operations = 2'000'000;
  c.limits.max_memory_bytes = 8 << 20;
  c.limits.max_value_bytes = 2 << 20;
  c.limits.max_call_depth = 200;
  c.limits.max_response_bytes = 1 << 16;
  return c;
}

TEST(Limits, InfiniteLoopHitsTheOperationBudget) {
  auto engine = make_engine(tight());
  MemorySource source;
  auto r = run_script(*engine, source, handler("  while (true) {}"));
  EXPECT_EQ(r.error, RunError::operation_limit) << r.message;
  EXPECT_EQ(r.status(), 507);
}

TEST(Limits, SlowLoopHitsTheWallClock) {
  auto config = tight();
  config.limits.timeout_ms = 200;
  config.limits.max_operations = std::int64_t{1} << 40;
  auto engine = make_engine(config);
  MemorySource source;
  auto started = std::chrono::steady_clock::now();
  auto r = run_script(*engine, source, handler("  for (;;) {}"));
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.error, RunError::timeout) << r.message;
  EXPECT_EQ(r.status(), 504);
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST(Limits, RecursionHitsTheCallDepth) {
  auto engine = make_engine(tight());
  MemorySource source;
  auto r = run_script(*engine, source, "int f(int n) { return f(n + 1) + 1; }\n" + handler("  f(0);"));
  EXPECT_EQ(r.error, RunError::stack_limit) << r.message;
  EXPECT_EQ(r.status(), 507);
}

TEST(Limits, CaughtRecursionStillEndsTheRun) {
  auto engine = make_engine(tight());
  MemorySource source;
  auto r = run_script(*engine, source,
                      "int f(int n) { return f(n + 1) + 1; }\n" + handler("  try { f(0); } catch {}\n  res.text(\"survived\");"));
  EXPECT_EQ(r.error, RunError::stack_limit) << r.message << " " << r.response.body;
}

TEST(Limits, StringDoublingHitsTheMemoryBudget) {
  auto engine = make_engine(tight());
  MemorySource source;
  auto r = run_script(*engine, source, handler("  string s = \"x\"; while (true) { s += s; }"));
  EXPECT_EQ(r.error, RunError::memory_limit) << r.message;
  EXPECT_EQ(r.status(), 507);
}

TEST(Limits, CaughtOutOfMemoryStillEndsTheRun) {
  auto engine = make_engine(tight());
  MemorySource source;
  auto r = run_script(*engine, source, handler(R"(
    array<string> keep;
    for (int i = 0; i < 100000; i++) {
      try { string s; s.resize(1 << 20); keep.insertLast(s); } catch {}
    }
    res.text("survived");)"));
  EXPECT_EQ(r.error, RunError::memory_limit) << r.message << " " << r.response.body;
}

TEST(Limits, ArrayGrowthHitsTheMemoryBudget) {
  auto engine = make_engine(tight());
  MemorySource source;
  auto r = run_script(*engine, source, handler("  array<int> a; a.resize(100000000);"));
  EXPECT_EQ(r.error, RunError::memory_limit) << r.message;
}

TEST(Limits, OversizeResponseIsAnOutputError) {
  auto engine = make_engine(tight());
  MemorySource source;
  auto r = run_script(*engine, source, handler(R"(
    string s; s.resize(100000);
    try { res.text(s); } catch {}
    res.text("small");)"));
  EXPECT_EQ(r.error, RunError::output_limit) << r.message;
  EXPECT_EQ(r.status(), 507);
}

TEST(Limits, LogLinesAreBoundedPerRun) {
  auto config = tight();
  config.limits.max_log_lines = 5;
  auto engine = make_engine(config);
  MemorySource source;
  auto r = run_script(*engine, source, handler("  for (int i = 0; i < 50; i++) log::info(\"line \" + i);"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.logs.size(), 5u);
  EXPECT_EQ(r.dropped_logs, 45);
}

TEST(Limits, AFailedRunLeavesTheEngineUsable) {
  auto engine = make_engine(tight());
  MemorySource source;
  EXPECT_EQ(run_script(*engine, source, handler("  while (true) {}"), get(), "bad").error, RunError::operation_limit);
  auto r = run_script(*engine, source, kHello, get(), "good");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "Hello, world!");
}

TEST(Limits, GlobalVariablesMustBeConst) {
  auto engine = make_engine();
  MemorySource source;
  auto r = run_script(*engine, source, "int counter = 0;\n" + handler("  counter++;"));
  EXPECT_EQ(r.error, RunError::compile_error);
  EXPECT_NE(r.message.find("global variable 'counter' must be const"), std::string::npos) << r.message;
  auto ok = run_script(*engine, source, "const string greeting = \"hi\";\n" + handler("  res.text(greeting);"), get(),
                       "const");
  ASSERT_TRUE(ok.ok()) << ok.message;
  EXPECT_EQ(ok.response.body, "hi");
}

TEST(Limits, GlobalInitialiserCannotLoopForever) {
  auto engine = make_engine();
  MemorySource source;
  auto r = run_script(*engine, source, "int forever() { while (true) {} return 1; }\nconst int x = forever();\n" +
                                           handler(""));
  EXPECT_EQ(r.error, RunError::compile_error);
  EXPECT_NE(r.message.find("initialising global variables failed"), std::string::npos) << r.message;
}

TEST(Limits, GlobalConstantsCannotBeChangedThroughHandles) {
  auto engine = make_engine();
  MemorySource source;
  auto handle = run_script(*engine, source, "array<string>@ const shared = array<string>();\n" +
                                                handler("  shared.insertLast(req.body);"), get(), "h");
  EXPECT_EQ(handle.error, RunError::compile_error);
  EXPECT_NE(handle.message.find("global constant 'shared' has type"), std::string::npos) << handle.message;
  auto object = run_script(*engine, source, "class Box { int n; }\nconst Box box;\n" + handler(""), get(), "o");
  EXPECT_EQ(object.error, RunError::compile_error) << "a script object could hold handles";
  auto fine = run_script(*engine, source,
                         "const array<int> primes = {2, 3, 5};\nconst json limits = {{\"max\", 3}};\nenum Color { red }\n"
                         "const Color c = red;\n" +
                             handler("  res.text(\"\" + primes[2] + limits[\"max\"].as_int());"),
                         get(), "f");
  ASSERT_TRUE(fine.ok()) << fine.message;
  EXPECT_EQ(fine.response.body, "53");
}

TEST(Limits, DestructorsAreRefused) {
  auto engine = make_engine();
  MemorySource source;
  auto r = run_script(*engine, source, "class E { E@ me; ~E() { while (true) {} } }\n" + handler("  E e; @e.me = e;"));
  EXPECT_EQ(r.error, RunError::compile_error);
  EXPECT_NE(r.message.find("class E has a destructor"), std::string::npos) << r.message;
}

TEST(Limits, CyclicGarbageIsCollectedWithinTheRun) {
  auto engine = make_engine(tight());
  MemorySource source;
  // Each iteration leaves a two-object cycle behind; collected after the run.
  auto r = run_script(*engine, source,
                      "class Node { Node@ other; }\n" +
                          handler("  for (int i = 0; i < 1000; i++) { Node a; Node b; @a.other = b; @b.other = a; }"));
  ASSERT_TRUE(r.ok()) << r.message;
  auto again = run_script(*engine, source, kHello, get(), "after");
  EXPECT_TRUE(again.ok());
}

// `script` ends with the run's memory error, and 20 more runs of it leave
// the heap (malloc's bytes in use) as it was, within one budget.
void expect_refused_runs_keep_nothing(scripting::Engine& engine, MemorySource& source, const std::string& script) {
  auto first = run_script(engine, source, script, get(), "refused");
  ASSERT_EQ(first.error, RunError::memory_limit) << first.message;
  const auto before = mallinfo2().uordblks;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(run_script(engine, source, script, get(), "refused").error, RunError::memory_limit);
  const auto grown = static_cast<long long>(mallinfo2().uordblks) - static_cast<long long>(before);
  EXPECT_LT(grown, 8LL << 20) << "the heap grew by " << grown << " bytes over 20 refused runs";
}

// An array of strings built for the script (split, find_all, keys) whose
// copies the run's memory refuses goes with the exception: 20 such runs
// once kept some 3 MiB each.
TEST(Limits, AStringArrayTheBudgetRefusesHalfWayIsGivenBack) {
  auto engine = make_engine(tight());
  MemorySource source;
  const std::string script = handler(
      "  string piece = 'abcdefghijklmnopqrstuvwxyz0123,';\n"
      "  string s = '';\n"
      "  for (int i = 0; i < 60000; i++) s += piece;\n"
      "  array<string>@ parts = s.split(',');\n"
      "  res.text('' + parts.length());");
  expect_refused_runs_keep_nothing(*engine, source, script);
}

// The array add-on copies a default value into each new element in its own
// constructor: a copy the run's memory refuses there ends the run instead
// of throwing through it, which left the half-built array unreleased
// (megabytes per refused run).
TEST(Limits, AnArrayFilledWithCopiesTheBudgetRefusesIsGivenBack) {
  auto engine = make_engine(tight());
  MemorySource source;
  const std::string script = handler(
      "  string s = 'x'; while (s.length() < 1000000) s += s;\n"
      "  array<string> copies(50, s);\n"
      "  res.text('' + copies.length());");
  expect_refused_runs_keep_nothing(*engine, source, script);
  // A copy refused in the script's own statement ends the run the same way.
  auto direct = run_script(*engine, source,
                           handler("  string s = 'x'; while (s.length() < 1000000) s += s;\n"
                                   "  string a = s; string b = s; string c = s; string d = s; string e = s;\n"
                                   "  string f = s; string g = s; string h = s; string i = s; res.text(i);"),
                           get(), "direct");
  EXPECT_EQ(direct.error, RunError::memory_limit) << direct.message;
}

// One regex:: call may make many searches, each near Boost's state limit:
// the run's clock is read between them, so the call ends with the run's
// time (about a minute of matching here otherwise).
TEST(Limits, ARegexCallWithManySlowMatchesEndsWhenTheRunsTimeDoes) {
  auto engine = make_engine(tight());
  MemorySource source;
  const std::string script = handler(
      "  string a = ''; for (int i = 0; i < 1000; i++) a += 'a';\n"
      "  string b = 'b'; while (b.length() < 400000) b += b;\n"
      "  string ahead = ''; for (int i = 0; i < 100; i++) ahead += '(?=[^!]*$)';\n"
      "  array<string>@ found = regex::find_all('a' + ahead, a + b);\n"
      "  res.text('' + found.length());");
  const auto started = std::chrono::steady_clock::now();
  auto r = run_script(*engine, source, script, get(), "slow-regex");
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.error, RunError::timeout) << r.message;
  EXPECT_LT(took, std::chrono::seconds(6));
}

TEST(Limits, SourceSizeAndNestingAreBounded) {
  auto engine = make_engine();
  MemorySource source;
  auto deep = run_script(*engine, source, handler("  int x = " + std::string(100000, '(') + "1" + std::string(100000, ')') + ";"),
                         get(), "deep");
  EXPECT_EQ(deep.error, RunError::compile_error);
  EXPECT_NE(deep.message.find("brackets nested deeper than 256"), std::string::npos) << deep.message;
  auto big = run_script(*engine, source, handler("  // " + std::string(600 * 1024, 'x')), get(), "big");
  EXPECT_EQ(big.error, RunError::compile_error);
  EXPECT_NE(big.message.find("the limit is 524288"), std::string::npos) << big.message;
}

// Nesting AngelScript's parser and compiler recurse on, level by level,
// beyond brackets: statements in statements without braces, and
// assignments in assignments. Bounded from the tokens (a source within the
// size limit needed hundreds of MiB of stack, and overflowed the request
// thread's, taking the process down), and compiled on a deep stack of its
// own: what the bounds allow compiles.
TEST(Limits, DeeplyNestedStatementsAndAssignmentsAreBoundedAndCompileWithinTheBounds) {
  auto engine = make_engine();
  MemorySource source;
  auto repeated = [](const std::string& text, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += text;
    return out;
  };
  auto ifs = [&](int n) {
    return run_script(*engine, source,
                      handler("  int x = 0; " + repeated("if(x==0)", n) + " x = 1; res.text('' + x);"), get(),
                      "ifs" + std::to_string(n));
  };
  auto within = ifs(4000);
  EXPECT_TRUE(within.ok()) << within.message;
  EXPECT_EQ(within.response.body, "1");
  auto beyond = ifs(40000);
  EXPECT_EQ(beyond.error, RunError::compile_error);
  EXPECT_NE(beyond.message.find("more than 4096 if/else/for/while/do/switch statements in one block"),
            std::string::npos)
      << beyond.message;
  auto assignments = [&](int n) {
    return run_script(*engine, source, handler("  int a; " + repeated("a=", n) + "7; res.text('' + a);"), get(),
                      "assign" + std::to_string(n));
  };
  auto chained = assignments(1000);
  EXPECT_TRUE(chained.ok()) << chained.message;
  EXPECT_EQ(chained.response.body, "7");
  auto too_many = assignments(100000);
  EXPECT_EQ(too_many.error, RunError::compile_error);
  EXPECT_NE(too_many.message.find("more than 1024 assignments or ?: in one statement"), std::string::npos)
      << too_many.message;
}

// array<array<...>>: the parser's time doubles every level or two, and
// every compile waits for the one running.
TEST(Limits, TemplateTypesNestDeeperThanEightAreRefusedBeforeTheCompiler) {
  auto engine = make_engine();
  MemorySource source;
  auto nested = [](int n) {
    std::string type = "int";
    for (int i = 0; i < n; ++i) type = "array<" + type + ">";
    return handler("  " + type + " x; res.text('ok');");
  };
  const auto started = std::chrono::steady_clock::now();
  auto deep = run_script(*engine, source, nested(5000), get(), "deep");
  EXPECT_EQ(deep.error, RunError::compile_error);
  EXPECT_NE(deep.message.find("template types nested deeper than 8"), std::string::npos) << deep.message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  auto eight = run_script(*engine, source, nested(8), get(), "eight");
  EXPECT_TRUE(eight.ok()) << eight.message;
  // Not a template: comparisons in a row are no nesting.
  auto compares = run_script(*engine, source, handler("  int a = 1, b = 2; bool c = a < b; res.text(c ? 'y' : 'n');"),
                             get(), "compare");
  EXPECT_TRUE(compares.ok()) << compares.message;
}

// AngelScript 2.35's compiler fails an assertion, aborting the process, on
// a ?: whose operands differ in type standing directly in an
// initialization list: such code is refused before it reaches the compiler.
TEST(Limits, AConditionalDirectlyInAnInitializationListIsRefusedNotCompiled) {
  auto engine = make_engine();
  MemorySource source;
  int n = 0;
  for (const char* body : {"  bool b = true; array<double> a = {b ? 1.5 : 3};",
                           "  bool b = true; json o = {{\"k\", b ? \"s\" : 3}};",
                           "  bool b = true; int64 x = 5; json o = {{\"k\", {1, b ? x : 3000}}};",
                           "  bool b = true; f({b ? 1.5 : 2}); } void f(array<double>@ a) {"}) {
    auto r = run_script(*engine, source, handler(body), get(), "cond" + std::to_string(++n));
    EXPECT_EQ(r.error, RunError::compile_error) << body;
    EXPECT_NE(r.message.find("a ?: cannot stand directly in an initialization list"), std::string::npos)
        << body << ": " << r.message;
  }
  // Elsewhere, or in parentheses, it is the compiler's to judge.
  EXPECT_EQ(run_script(*engine, source,
                       handler("  bool b = true; int x = b ? 1 : 2; array<string> a = {(b ? \"y\" : \"n\")};\n"
                               "  if (b) { x = b ? 3 : 4; }\n  res.text(\"\" + x + a[0]);"),
                       get(), "cond-ok")
                .response.body,
            "3y");
}

TEST(Limits, SplitOfALargeStringIsLinear) {
  auto engine = make_engine();
  MemorySource source;
  auto started = std::chrono::steady_clock::now();
  auto r = run_script(*engine, source, handler(R"(
    string s; s.resize(200000);
    for (uint i = 0; i < s.length(); i++) s[i] = 44;  // ','
    array<string>@ parts = s.split(",");
    res.text("" + parts.length() + " " + join(array<string> = {"a", "b"}, "-"));)"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "200001 a-b");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST(Isolation, NoFilesProcessesOrSocketsWithoutAService) {
  auto engine = make_engine();
  MemorySource source;
  // The add-ons that reach the system (file, filesystem) are not registered,
  // and nothing else offers such access.
  for (const char* body : {"  file f; f.open(\"/etc/passwd\", \"r\");", "  filesystem fs; fs.getDirs();",
                           "  system(\"id\");", "  socket s;", "  import void f() from \"other\";"}) {
    auto v = engine->validate("app", scripting::ScriptKind::endpoint, handler(body), source);
    EXPECT_FALSE(v.ok()) << body;
  }
}

// A namespace nobody declares (a plugin that is not enabled) is named in the
// first error; names the script or a module declares, the engine's own
// namespaces and types, and `ns::` inside comments and strings are not.
TEST(CompileErrors, AnUnknownNamespaceIsNamedFirst) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("app", "util", "int one() { return 1; }\n");
  auto v = engine->validate("app", ScriptKind::endpoint,
                            "import \"util\";\nenum Color { red }\nnamespace local { int two() { return 2; } }\n" +
                                handler("  // gone:: in a comment\n  string s = \"text:: in a string\";\n"
                                        "  int n = util::one() + local::two() + Color::red;\n"
                                        "  json j = json::parse(\"1\");\n  store::Box@ b = store::open(\"x\");"),
                            source);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.errors[0].message,
            "store:: is unknown: no enabled plugin declares the namespace 'store' and the script declares nothing by "
            "that name (is the plugin that provides store:: enabled on this server?)");
  EXPECT_EQ(v.errors[0].section, "main");
  EXPECT_GT(v.errors.size(), 1u);  // AngelScript's own errors follow
  // Without such a name, the errors are AngelScript's alone.
  v = engine->validate("app", ScriptKind::endpoint, handler("  json j = json::parse(\"1\") + ;"), source);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.errors[0].message.find("is unknown"), std::string::npos) << v.errors[0].message;
}

// --- cache -----------------------------------------------------------------------

TEST(Cache, UnchangedScriptCompilesOnceNewVersionRecompiles) {
  auto engine = make_engine();
  MemorySource source;
  source.put_script("app", "s", handler("  res.text(\"v1\");"));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(engine->run_http({"app", "s", 1}, source, {}, get()).response.body, "v1");
  EXPECT_EQ(source.script_loads(), 1);
  EXPECT_EQ(engine->cache_stats().compiles, 1u);
  EXPECT_EQ(engine->cache_stats().hits, 4u);
  source.put_script("app", "s", handler("  res.text(\"v2\");"));
  EXPECT_EQ(engine->run_http({"app", "s", 1}, source, {}, get()).response.body, "v1") << "same version: cached";
  EXPECT_EQ(engine->run_http({"app", "s", 2}, source, {}, get()).response.body, "v2");
  EXPECT_EQ(source.script_loads(), 2);
}

TEST(Cache, SizeIsBoundedLeastRecentlyUsedFirst) {
  scripting::EngineConfig config;
  config.cache_size = 2;
  auto engine = make_engine(config);
  MemorySource source;
  for (const char* id : {"a", "b", "c"}) source.put_script("app", id, kHello);
  auto run = [&](const char* id) { ASSERT_TRUE(engine->run_http({"app", id, 1}, source, {}, get()).ok()); };
  run("a");
  run("b");
  run("a");  // b is now least recently used
  run("c");  // evicts b
  EXPECT_EQ(engine->cache_stats().size, 2u);
  EXPECT_EQ(engine->cache_stats().evictions, 1u);
  int loads = source.script_loads();
  run("a");
  EXPECT_EQ(source.script_loads(), loads) << "a stayed cached";
  run("b");
  EXPECT_EQ(source.script_loads(), loads + 1) << "b was evicted";
}

TEST(Cache, ForgetScriptDropsIt) {
  auto engine = make_engine();
  MemorySource source;
  source.put_script("app", "s", kHello);
  ASSERT_TRUE(engine->run_http({"app", "s", 1}, source, {}, get()).ok());
  engine->forget_script("app", "s");
  EXPECT_EQ(engine->cache_stats().size, 0u);
}

TEST(Cache, SourceFailureIsNotCached) {
  auto engine = make_engine();
  MemorySource source;
  auto missing = engine->run_http({"app", "later", 1}, source, {}, get());
  EXPECT_EQ(missing.error, RunError::compile_error);
  source.put_script("app", "later", kHello);
  EXPECT_TRUE(engine->run_http({"app", "later", 1}, source, {}, get()).ok());
}

// --- modules -----------------------------------------------------------------------

TEST(Modules, ImportedFunctionsLiveInTheModulesNamespace) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("app", "text", "string shout(const string &in s) { return s + \"!\"; }\n");
  auto r = run_script(*engine, source, "import \"text\";\n" + handler("  res.text(text::shout(\"hi\"));"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "hi!");
}

TEST(Modules, NestedAndDiamondImports) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("app", "base", "int one() { return 1; }\n");
  source.put_module("app", "left", "import \"base\";\nint two() { return base::one() + 1; }\n");
  source.put_module("app", "right", "import \"base\";\nint three() { return base::one() + 2; }\n");
  auto r = run_script(*engine, source,
                      "import \"left\";\nimport \"right\";\n" + handler("  res.text(\"\" + (left::two() + right::three()));"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "5");
}

TEST(Modules, OtherAppsModulesDoNotExist) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("other", "secret", "int key() { return 42; }\n");
  auto r = run_script(*engine, source, "import \"secret\";\n" + handler("  res.text(\"\" + secret::key());"));
  EXPECT_EQ(r.error, RunError::compile_error);
  EXPECT_NE(r.message.find("module \"secret\" not found in this app"), std::string::npos) << r.message;
}

TEST(Modules, CycleIsRefusedWithTheChain) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("app", "a", "import \"b\";\nint fa() { return 1; }\n");
  source.put_module("app", "b", "import \"a\";\nint fb() { return 2; }\n");
  auto v = engine->validate("app", ScriptKind::endpoint, "import \"a\";\n" + handler(""), source);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.errors[0].message, "import cycle: main → a → b → a");
  EXPECT_EQ(v.errors[0].section, "b");
  EXPECT_EQ(v.errors[0].line, 1);
}

TEST(Modules, DepthIsLimited) {
  scripting::EngineConfig config;
  config.max_import_depth = 3;
  auto engine = make_engine(config);
  MemorySource source;
  for (int i = 0; i < 6; ++i)
    source.put_module("app", "m" + std::to_string(i),
                      (i < 5 ? "import \"m" + std::to_string(i + 1) + "\";\n" : std::string()) + "int f() { return " +
                          std::to_string(i) + "; }\n");
  auto v = engine->validate("app", ScriptKind::endpoint, "import \"m0\";\n" + handler(""), source);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.errors[0].message.find("imports nested deeper than 3: main → m0 → m1 → m2 → m3"), std::string::npos)
      << v.errors[0].message;
}

TEST(Modules, ReservedNamesAreRefused) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("app", "json", "int f() { return 1; }\n");
  auto v = engine->validate("app", ScriptKind::endpoint, "import \"json\";\n" + handler(""), source);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.errors[0].message.find("reserved"), std::string::npos) << v.errors[0].message;
}

TEST(Modules, ChangingAModuleInvalidatesItsImporters) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("app", "lib", "string v() { return \"one\"; }\n");
  source.put_module("app", "top", "import \"lib\";\nstring w() { return lib::v(); }\n");
  source.put_script("app", "uses", "import \"top\";\n" + handler("  res.text(top::w());"));
  source.put_script("app", "plain", kHello);
  ASSERT_EQ(engine->run_http({"app", "uses", 1}, source, {}, get()).response.body, "one");
  ASSERT_TRUE(engine->run_http({"app", "plain", 1}, source, {}, get()).ok());
  source.put_module("app", "lib", "string v() { return \"two\"; }\n");
  engine->invalidate_module("other-app", "lib");
  EXPECT_EQ(engine->run_http({"app", "uses", 1}, source, {}, get()).response.body, "one") << "other app: no effect";
  engine->invalidate_module("app", "lib");
  EXPECT_EQ(engine->run_http({"app", "uses", 1}, source, {}, get()).response.body, "two");
  EXPECT_EQ(engine->cache_stats().size, 2u) << "the script not importing lib stayed";
}

TEST(Modules, BadImportLineIsExplained) {
  auto engine = make_engine();
  MemorySource source;
  auto v = engine->validate("app", ScriptKind::endpoint, "import lib;\n" + handler(""), source);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.errors[0].line, 1);
  EXPECT_NE(v.errors[0].message.find("import \"module_name\";"), std::string::npos);
}

// --- validation --------------------------------------------------------------------

TEST(Validation, ReportsDiagnosticsAndImportsWithoutRunning) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("app", "util", "int f() { return 1; }\n");
  auto ok = engine->validate("app", ScriptKind::endpoint, "import \"util\";\n" + handler("  while (true) {}"), source);
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.imports, std::vector<std::string>{"util"});

  auto bad = engine->validate("app", ScriptKind::endpoint, "void handle(request@ req, response@ res) {\n  undefined();\n}",
                              source);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.errors[0].section, "main");
  EXPECT_EQ(bad.errors[0].line, 2);
  EXPECT_GT(bad.errors[0].column, 0);
  EXPECT_NE(bad.errors[0].message.find("undefined"), std::string::npos) << bad.errors[0].message;
}

TEST(Validation, EndpointNeedsAnEntryPointModuleMustNotHaveOne) {
  auto engine = make_engine();
  MemorySource source;
  auto none = engine->validate("app", ScriptKind::endpoint, "int f() { return 1; }", source);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.errors[0].message.find("needs `void handle(request@ req, response@ res)`"), std::string::npos);
  auto wrong = engine->validate("app", ScriptKind::endpoint, "void handle() {}", source);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.errors[0].message.find("handle must be declared"), std::string::npos);
  EXPECT_TRUE(engine->validate("app", ScriptKind::module, "int f() { return 1; }", source).ok());
  EXPECT_FALSE(engine->validate("app", ScriptKind::module, kHello, source).ok());
}

TEST(Validation, ErrorInAModuleNamesTheModule) {
  auto engine = make_engine();
  MemorySource source;
  source.put_module("app", "broken", "int f() {\n  return \"x\";\n}\n");
  auto v = engine->validate("app", ScriptKind::endpoint, "import \"broken\";\n" + handler(""), source);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.errors[0].section, "broken");
  EXPECT_EQ(v.errors[0].line, 2);
}

}  // namespace
}  // namespace picloud::test
