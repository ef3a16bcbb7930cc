// Plugin-declared script functions and handle types: the generated
// registrations, argument and result conversion, the call context, errors.
#include <atomic>
#include <optional>

#include "harness.hpp"
#include "picloud/sdk/json.hpp"
#include "scripting/bindings.hpp"
#include "scripting/compile_hints.hpp"

namespace picloud::test {
namespace {

using scripting::Declarations;
using scripting::RunError;
using sdk::ScriptType;

struct Recorded {
  std::string app, principal, script, execution;
  int depth = -1;
  bool had_event = false;
};

// A small "kv"-like API: kv::collection(name) -> kv::Collection with get/set,
// plus functions exercising every type of the vocabulary.
std::unique_ptr<Declarations> sample_api(Recorded* recorded) {
  auto d = std::make_unique<Declarations>();
  auto& api = d->api_for("sample");
  auto store = std::make_shared<std::map<std::string, sdk::Value>>();
  EXPECT_TRUE(api.add_handle_type(
      {"kv",
       "Collection",
       {{"get",
         {{"key", ScriptType::string}},
         ScriptType::json,
         "",
         [store](const sdk::CallContext& call, const sdk::Value& self, std::span<const sdk::Value> args)
             -> sdk::Result<sdk::Value> {
           auto it = store->find(std::string(call.app_id) + "/" + self.as_string() + "/" + args[0].as_string());
           if (it == store->end()) return sdk::make_error(sdk::ErrorKind::not_found, "no key " + args[0].as_string());
           return it->second;
         }},
        {"set",
         {{"key", ScriptType::string}, {"value", ScriptType::json}},
         ScriptType::void_type,
         "",
         [store](const sdk::CallContext& call, const sdk::Value& self, std::span<const sdk::Value> args)
             -> sdk::Result<sdk::Value> {
           (*store)[std::string(call.app_id) + "/" + self.as_string() + "/" + args[0].as_string()] = args[1];
           return sdk::Value();
         },
         "stores the value under the key"},
        {"name", {}, ScriptType::string, "",
         [](const sdk::CallContext&, const sdk::Value& self, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
           return self;
         }},
        // Read as c.label, not called.
        {"label", {}, ScriptType::string, "",
         [](const sdk::CallContext&, const sdk::Value& self, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
           return "collection " + self.as_string();
         },
         "the collection's label", true},
        // A method may bear a script type's name, as request.json() does.
        {"json", {}, ScriptType::json, "",
         [](const sdk::CallContext&, const sdk::Value& self, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
           return sdk::Value::object({{"name", self}});
         }}}}));
  EXPECT_TRUE(api.add_function({"kv",
                                "collection",
                                {{"name", ScriptType::string}},
                                ScriptType::handle,
                                "kv::Collection",
                                [](const sdk::CallContext&, std::span<const sdk::Value> args) -> sdk::Result<sdk::Value> {
                                  if (args[0].as_string().empty())
                                    return sdk::make_error(sdk::ErrorKind::invalid_argument, "empty collection name");
                                  return args[0];
                                },
                                "the collection of that name"}));
  EXPECT_TRUE(api.add_function(
      {"kv",
       "count",
       {{"c", ScriptType::handle, "kv::Collection"}},
       ScriptType::integer,
       "",
       [store](const sdk::CallContext&, std::span<const sdk::Value> args) -> sdk::Result<sdk::Value> {
         std::int64_t n = 0;
         for (const auto& [k, v] : *store) n += k.find("/" + args[0].as_string() + "/") != std::string::npos;
         return n;
       }}));
  EXPECT_TRUE(api.add_function(
      {"sample",
       "describe",
       {{"s", ScriptType::string},
        {"i", ScriptType::integer},
        {"f", ScriptType::number},
        {"b", ScriptType::boolean},
        {"j", ScriptType::json},
        {"bytes", ScriptType::bytes},
        {"opt", ScriptType::string, "", sdk::Value("dflt \"quoted\"\n")},
        {"n", ScriptType::integer, "", sdk::Value(INT64_MIN)},
        {"x", ScriptType::number, "", sdk::Value(0.25)},
        {"cfg", ScriptType::json, "", sdk::Value::object({{"k", 1}})}},
       ScriptType::string,
       "",
       [](const sdk::CallContext&, std::span<const sdk::Value> a) -> sdk::Result<sdk::Value> {
         std::string out;
         for (const auto& v : a) out += std::string(sdk::to_string(v.type())) + "=" + sdk::to_json(v) + ";";
         return out;
       }}));
  EXPECT_TRUE(api.add_function({"sample", "context", {}, ScriptType::void_type, "",
                                [recorded](const sdk::CallContext& c, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
                                  *recorded = {std::string(c.app_id),       std::string(c.principal),
                                               std::string(c.script_id),    std::string(c.execution_id),
                                               c.trigger_depth,             c.event != nullptr};
                                  return sdk::Value();
                                }}));
  EXPECT_TRUE(api.add_function({"kv", "heavy", {{"n", ScriptType::integer}}, ScriptType::handle, "kv::Collection",
                                [](const sdk::CallContext&, std::span<const sdk::Value> a) -> sdk::Result<sdk::Value> {
                                  return sdk::Value(sdk::Bytes(static_cast<std::size_t>(a[0].as_int()), 1));
                                }}));
  EXPECT_TRUE(api.add_function({"sample", "string", {}, ScriptType::string, "",
                                [](const sdk::CallContext&, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
                                  return sdk::Value("named like a type");
                                }}));
  EXPECT_TRUE(api.add_function({"sample", "boom", {}, ScriptType::integer, "",
                                [](const sdk::CallContext&, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
                                  throw std::runtime_error("kaput");
                                }}));
  EXPECT_TRUE(api.add_function({"sample", "liar", {}, ScriptType::integer, "",
                                [](const sdk::CallContext&, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
                                  return sdk::Value("not an int");
                                }}));
  EXPECT_TRUE(api.add_function({"sample", "blob", {{"n", ScriptType::integer}}, ScriptType::bytes, "",
                                [](const sdk::CallContext&, std::span<const sdk::Value> a) -> sdk::Result<sdk::Value> {
                                  return sdk::Value(sdk::Bytes(static_cast<std::size_t>(a[0].as_int()), 7));
                                }}));
  EXPECT_TRUE(api.add_function({"sample", "echo_unless_no", {{"s", ScriptType::string}}, ScriptType::string, "",
                                [](const sdk::CallContext&, std::span<const sdk::Value> a) -> sdk::Result<sdk::Value> {
                                  if (a[0].as_string() == "no") return sdk::make_error(sdk::ErrorKind::invalid_argument, "refused");
                                  if (a[0].as_string() == "lie") return sdk::Value(42);
                                  return a[0];
                                }}));
  d->seal();
  return d;
}

struct Services : ::testing::Test {
  Recorded recorded;
  std::unique_ptr<Declarations> declarations = sample_api(&recorded);
  std::unique_ptr<scripting::Engine> engine = make_engine({}, declarations.get());
  MemorySource source;

  std::string body(const std::string& statements) { return body_of(*engine, source, statements); }
};

TEST_F(Services, HandleTypeWithMethods) {
  EXPECT_EQ(body(R"(
    kv::collection("users").set("alice", json = {{"age", 42}});
    kv::Collection@ users = kv::collection("users");
    res.text(users.name() + " " + users.get("alice").to_string() + " " + kv::count(users));)"),
            "users {\"age\":42} 1");
}

TEST_F(Services, PropertiesAreReadAndMethodsMayBearTypeNames) {
  EXPECT_EQ(body(R"(
    kv::Collection@ users = kv::collection("users");
    res.text(users.label + " " + users.json().to_string() + " " + sample::string());)"),
            "collection users {\"name\":\"users\"} named like a type");
  // A property is not a method, nor writable.
  EXPECT_EQ(body(R"(res.text(kv::collection("u").label());)").rfind("ERROR", 0), 0u);
  EXPECT_EQ(body(R"(kv::collection("u").label = "x";)").rfind("ERROR", 0), 0u);
}

TEST_F(Services, WhatAHandleHoldsCountsAgainstTheRunsMemory) {
  // Each handle holds 4 MiB the plugin made outside the budget; holding
  // more of them than the budget allows ends the run.
  auto out = body(R"(
    array<kv::Collection@> kept;
    for (int i = 0; i < 100; i++) kept.insertLast(kv::heavy(4 << 20));
    res.text("kept " + kept.length());)");
  EXPECT_EQ(out.rfind("ERROR memory_limit", 0), 0u) << out;
  // One at a time, freed as it goes, is fine.
  EXPECT_EQ(body(R"(
    for (int i = 0; i < 40; i++) kv::heavy(4 << 20);
    res.text("ok");)"), "ok");
}

TEST_F(Services, HandlesPassedAndReturnedDoNotLeak) {
  // A leaked handle per call would exceed an 8 MiB budget within these calls.
  scripting::EngineConfig config;
  config.limits.max_memory_bytes = 8 << 20;
  config.limits.max_operations = 10'000'000;
  auto small = make_engine(config, declarations.get());
  auto r = run_script(*small, source, R"(void handle(request@ req, response@ res) {
      kv::Collection@ users = kv::collection("users");
      int64 n = 0;
      for (int i = 0; i < 200000; i++) n += kv::count(users) + kv::count(kv::collection("x")) + users.name().length();
      res.text("" + n);
    })");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "1000000");
  EXPECT_LT(r.peak_memory_bytes, 1 << 20);
}

TEST_F(Services, ServiceErrorIsCatchableWithKindAndMessage) {
  EXPECT_EQ(body(R"(
    string seen;
    try { kv::collection("users").get("nobody"); } catch { seen = getExceptionInfo(); }
    res.text(seen);)"),
            "not_found: no key nobody");
  auto r = run_script(*engine, source, "void handle(request@ req, response@ res) { kv::collection(\"\"); }");
  EXPECT_EQ(r.error, RunError::script_error);
  EXPECT_NE(r.message.find("invalid_argument: empty collection name"), std::string::npos) << r.message;
}

TEST_F(Services, EveryVocabularyTypeAndDefaultsArrive) {
  EXPECT_EQ(body(R"(
    array<uint8> b = {1, 2};
    res.text(sample::describe("s", 5, 1.5, true, json = {{"a", 2.0}}, b));)"),
            "string=\"s\";int=5;float=1.5;bool=true;object={\"a\":2.0};bytes=\"AQI=\";"
            "string=\"dflt \\\"quoted\\\"\\n\";int=-9223372036854775808;float=0.25;object={\"k\":1};");
}

TEST_F(Services, BytesResult) { EXPECT_EQ(body("  array<uint8>@ b = sample::blob(3); res.text(\"\" + b.length() + \":\" + b[2]);"), "3:7"); }

TEST_F(Services, CallContextComesFromTheKernelNotTheScript) {
  source.put_script("app-1", "script-9", "void handle(request@ req, response@ res) { sample::context(); }");
  scripting::Caller caller{"user:7", "exec-1", 2};
  auto r = engine->run_http({"app-1", "script-9", 3}, source, caller, get());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(recorded.app, "app-1");
  EXPECT_EQ(recorded.principal, "user:7");
  EXPECT_EQ(recorded.script, "script-9");
  EXPECT_EQ(recorded.execution, "exec-1");
  EXPECT_EQ(recorded.depth, 2);
  EXPECT_FALSE(recorded.had_event);

  source.put_script("app-1", "trigger", "void on_event(event@ e) { sample::context(); }");
  r = engine->run_event({"app-1", "trigger", 1}, source, {}, sdk::Value::object({{"source", "kv"}}));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_TRUE(recorded.had_event);
  EXPECT_EQ(recorded.execution, r.execution_id) << "generated when the caller gives none";
}

TEST_F(Services, TenancyIsByAppId) {
  source.put_script("a", "w", "void handle(request@ req, response@ res) { kv::collection(\"c\").set(\"k\", json = {{\"v\", 1}}); }");
  source.put_script("b", "r", R"(void handle(request@ req, response@ res) {
      try { kv::collection("c").get("k"); res.text("leak"); } catch { res.text(getExceptionInfo()); } })");
  ASSERT_TRUE(engine->run_http({"a", "w", 1}, source, {}, get()).ok());
  EXPECT_EQ(engine->run_http({"b", "r", 1}, source, {}, get()).response.body, "not_found: no key k");
}

TEST_F(Services, ThrowingImplementationBecomesInternalError) {
  EXPECT_EQ(body("  try { sample::boom(); } catch { res.text(getExceptionInfo()); }"),
            "internal: sample::boom failed: kaput");
}

TEST_F(Services, WrongResultTypeIsCaught) {
  EXPECT_NE(body("  try { sample::liar(); } catch { res.text(getExceptionInfo()); }").find("internal: sample::liar returned string"),
            std::string::npos);
}

// A plugin function returning a string that fails (an error, or a result of
// the wrong type) while its result is passed on as an argument, caught and
// uncaught, after successful calls left strings on the stack: the error
// reaches the script and the run, nothing else. (The call leaves an empty
// string in its return slot, as as.hpp's wrappers do; no crash without that
// could be shown on this path, even under AddressSanitizer.)
TEST_F(Services, AStringResultThatFailsWhilePassedOnEndsOnlyTheCall) {
  for (const char* failing : {"no", "lie"}) {
    std::string script = std::string(R"(
      string seen;
      for (int i = 0; i < 50; i++) {
        res.text(sample::echo_unless_no("a long enough text to live on the heap, not inline " + i));
        try { res.text(sample::echo_unless_no(")") + failing + R"(")); } catch { seen = getExceptionInfo(); }
      }
      res.text(seen);)";
    std::string got = body(script);
    EXPECT_NE(got.find(std::string(failing) == "no" ? "invalid_argument: refused" : "returned int"), std::string::npos)
        << got;
  }
  // Uncaught, so the run unwinds to its end.
  for (const char* failing : {"no", "lie"})
    for (int i = 0; i < 20; ++i) {
      std::string code = std::string("void handle(request@ req, response@ res) {\n") +
                         "  string a = sample::echo_unless_no(\"" + std::string(40 + i, 'x') + "\");\n" +
                         "  res.text(a + sample::echo_unless_no(\"" + failing + "\"));\n" +
                         "  res.text(sample::echo_unless_no(\"" + failing + "\"));\n}\n";
      auto r = run_script(*engine, source, code, get(), "uncaught" + std::to_string(i) + failing);
      EXPECT_EQ(r.error, RunError::script_error) << r.message;
      auto s2 = run_script(*engine, source, "void handle(request@ req, response@ res) { res.text(sample::echo_unless_no(\"" + std::string(failing) + "\")); }", get(), "direct" + std::to_string(i) + failing);
      EXPECT_EQ(s2.error, RunError::script_error) << s2.message;
    }
}

TEST_F(Services, ScriptsCannotCreateHandlesThemselves) {
  auto v = engine->validate("app", scripting::ScriptKind::endpoint,
                            "void handle(request@ req, response@ res) { kv::Collection c; }", source);
  EXPECT_FALSE(v.ok());
}

TEST_F(Services, NoServicesWhileGlobalsInitialise) {
  auto r = run_script(*engine, source,
                      "const string n = kv::collection(\"x\").name();\nvoid handle(request@ req, response@ res) {}");
  EXPECT_EQ(r.error, RunError::compile_error);
  EXPECT_NE(r.message.find("initialising global variables failed"), std::string::npos) << r.message;
}

// --- compile errors and the API reference ------------------------------------------

TEST_F(Services, AWrongCallListsItsCandidatesAndPointsAtTheArgument) {
  auto v = engine->validate("app", scripting::ScriptKind::endpoint,
                            "void handle(request@ req, response@ res) {\n"
                            "  kv::collection(\"c\").set(\"k\", 1, 2);\n"
                            "  kv::collection(\"c\").set(5, \"v\");\n"
                            "  kv::collection(\"c\").set(\"k\",\n"
                            "                        res);\n"
                            "}\n",
                            source);
  ASSERT_EQ(v.errors.size(), 3u);
  const std::string set = "void kv::Collection::set(const string&in key, const json&in value)";
  for (const auto& e : v.errors) {
    ASSERT_EQ(e.candidates.size(), 1u) << e.message;
    EXPECT_EQ(e.candidates[0].declaration, set);
    EXPECT_EQ(e.candidates[0].doc, "stores the value under the key");
  }
  // Too many arguments: the call's place, and how many it takes.
  EXPECT_EQ(v.errors[0].line, 2);
  EXPECT_EQ(v.errors[0].column, 23);
  EXPECT_NE(v.errors[0].message.find("it takes 2 arguments, not 3"), std::string::npos) << v.errors[0].message;
  // A wrong argument: its own place, and what was expected there.
  EXPECT_EQ(v.errors[1].line, 3);
  EXPECT_EQ(v.errors[1].column, 27);
  EXPECT_NE(v.errors[1].message.find("argument 1 is int, where key is string"), std::string::npos)
      << v.errors[1].message;
  EXPECT_EQ(v.errors[2].line, 5);
  EXPECT_EQ(v.errors[2].column, 25);
  EXPECT_NE(v.errors[2].message.find("argument 2 is response@, where value is json"), std::string::npos)
      << v.errors[2].message;
  // A run's error (which an app's visitors may see) names no candidates.
  auto r = run_script(*engine, source, "void handle(request@ req, response@ res) { kv::collection(\"c\").set(5, \"v\"); }");
  EXPECT_EQ(r.error, RunError::compile_error);
  EXPECT_EQ(r.message.find("stores the value"), std::string::npos) << r.message;
}

TEST_F(Services, TheArgumentIsFoundPastCommentsStringsAndModuleWrapping) {
  auto v = engine->validate("app", scripting::ScriptKind::endpoint,
                            "void handle(request@ req, response@ res) {\n"
                            "  kv::collection(\"c\").set(\"a, (b\", /* the value */ res);\n"
                            "  kv::collection(\"c\").set(\"\"\"k\n,\"\"\", req);\n"
                            "}\n",
                            source);
  ASSERT_EQ(v.errors.size(), 2u);
  EXPECT_EQ(v.errors[0].line, 2);
  EXPECT_EQ(v.errors[0].column, 52) << v.errors[0].message;  // res, past the comment
  EXPECT_NE(v.errors[0].message.find("argument 2 is response@"), std::string::npos) << v.errors[0].message;
  EXPECT_EQ(v.errors[1].line, 4);  // req, after a heredoc holding a line break and a comma
  EXPECT_EQ(v.errors[1].column, 7) << v.errors[1].message;
  // In a module (wrapped in its namespace on line 1), columns are the module's own.
  source.put_module("app", "util", "void f() { kv::collection(\"c\").set(5, \"v\"); }\n");
  auto m = engine->validate("app", scripting::ScriptKind::endpoint,
                            "import \"util\";\nvoid handle(request@ req, response@ res) {}\n", source);
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].section, "util");
  EXPECT_EQ(m.errors[0].line, 1);
  EXPECT_EQ(m.errors[0].column, 36) << m.errors[0].message;
  EXPECT_NE(m.errors[0].message.find("argument 1 is int"), std::string::npos) << m.errors[0].message;
}

TEST_F(Services, DefaultsWithCommasAndParenthesesCountRight) {
  auto v = engine->validate("app", scripting::ScriptKind::endpoint,
                            "string j(string a, string sep = \", (\") { return a + sep; }\n"
                            "void handle(request@ req, response@ res) { j(); }\n",
                            source);
  ASSERT_EQ(v.errors.size(), 1u);
  EXPECT_NE(v.errors[0].message.find("it takes 1 to 2 arguments, not 0"), std::string::npos) << v.errors[0].message;
}

TEST_F(Services, TheScriptOwnFunctionsAreCandidatesToo) {
  auto v = engine->validate("app", scripting::ScriptKind::endpoint,
                            "void mine(int a, string b) {}\n"
                            "void handle(request@ req, response@ res) { mine(\"x\", 1); }\n",
                            source);
  ASSERT_EQ(v.errors.size(), 1u);
  ASSERT_EQ(v.errors[0].candidates.size(), 1u);
  EXPECT_EQ(v.errors[0].candidates[0].declaration, "void mine(int a, string b)");
  EXPECT_EQ(v.errors[0].candidates[0].doc, "");
  EXPECT_EQ(v.errors[0].column, 49);
}

// `count` overloads of f (0 to count-1 ints), called wrongly `calls` times.
std::string overloaded_calls(int count, int calls) {
  std::string code;
  for (int n = 0; n < count; ++n) {
    code += "void f(";
    for (int i = 0; i < n; ++i) code += std::string(i ? ", " : "") + "int a" + std::to_string(i);
    code += ") {}\n";
  }
  code += "void handle(request@ req, response@ res) {\n";
  for (int i = 0; i < calls; ++i) code += "  f(\"x\");\n";
  return code + "}\n";
}

TEST_F(Services, ManyOverloadsAndWrongCallsStayBounded) {
  // 200 wrong calls: 100 errors kept and one saying how many more; only
  // the first 32 read the source to point at the argument.
  auto v = engine->validate("app", scripting::ScriptKind::endpoint, overloaded_calls(10, 200), source);
  ASSERT_EQ(v.errors.size(), scripting::kMaxDiagnostics + 1);
  EXPECT_EQ(v.errors.back().message, "and 100 more errors");
  EXPECT_EQ(v.errors[0].candidates.size(), 10u);
  EXPECT_NE(v.errors[0].message.find("argument 1 is string, where a0 is int"), std::string::npos) << v.errors[0].message;
  EXPECT_EQ(v.errors[0].column, 5);
  EXPECT_EQ(v.errors[scripting::kMaxExplainedCalls].column, 3) << "past the explained ones, the call's own place";
  // 30 overloads: 16 candidates kept per error, the rest counted; with some
  // unknown, nothing is singled out.
  auto many = engine->validate("app", scripting::ScriptKind::endpoint, overloaded_calls(30, 1), source);
  ASSERT_EQ(many.errors.size(), 1u);
  EXPECT_EQ(many.errors[0].candidates.size(), scripting::kMaxCandidates);
  EXPECT_EQ(many.errors[0].more_candidates, 30 - scripting::kMaxCandidates);
  EXPECT_EQ(many.errors[0].column, 3);
}

TEST_F(Services, TheApiReferenceListsEveryDeclarationWithItsOwnerAndDoc) {
  sdk::Value all = engine->api_reference();
  static const sdk::Value none;
  auto find = [](const sdk::Value& list, const std::string& name) -> const sdk::Value& {
    for (const auto& item : list.as_array())
      if (item["name"].as_string() == name) return item;
    return none;
  };
  const sdk::Value& kv = find(all["namespaces"], "kv");
  ASSERT_TRUE(kv.is_object());
  EXPECT_EQ(kv["owner"].as_string(), "sample");
  const sdk::Value& collection = find(kv["functions"], "collection");
  EXPECT_EQ(collection["declaration"].as_string(), "kv::Collection@ kv::collection(const string&in name)");
  EXPECT_EQ(collection["doc"].as_string(), "the collection of that name");
  EXPECT_EQ(collection["params"][0]["type"].as_string(), "const string &in");
  const sdk::Value& type = find(kv["types"], "Collection");
  EXPECT_EQ(type["qualified_name"].as_string(), "kv::Collection");
  EXPECT_EQ(find(type["methods"], "set")["doc"].as_string(), "stores the value under the key");
  const sdk::Value& label = find(type["properties"], "label");
  EXPECT_EQ(label["type"].as_string(), "string");
  EXPECT_EQ(label["doc"].as_string(), "the collection's label");
  EXPECT_FALSE(label["writable"].as_bool());
  // Every declared function is there, with its parameters and defaults.
  const sdk::Value& sample = find(all["namespaces"], "sample");
  for (const auto& f : declarations->functions())
    if (f.decl.ns == "sample") EXPECT_TRUE(find(sample["functions"], f.decl.name).is_object()) << f.decl.name;
  const sdk::Value& describe = find(sample["functions"], "describe");
  EXPECT_FALSE(describe["params"][0].has("default"));
  EXPECT_EQ(describe["params"][7]["name"].as_string(), "n");
  EXPECT_TRUE(describe["params"][7].has("default"));
  // The standard library is the kernel's, documented too.
  const sdk::Value& json_ns = find(all["namespaces"], "json");
  EXPECT_EQ(json_ns["owner"].as_string(), "kernel");
  EXPECT_FALSE(find(json_ns["functions"], "parse")["doc"].as_string().empty());
  const sdk::Value& request = find(find(all["namespaces"], "")["types"], "request");
  const sdk::Value& body = find(request["properties"], "body");
  EXPECT_EQ(body["type"].as_string(), "string");
  EXPECT_FALSE(body["writable"].as_bool());
  // One namespace, or none.
  EXPECT_EQ(engine->api_reference("kv")["namespaces"].size(), 1u);
  EXPECT_EQ(engine->api_reference("nosuch")["namespaces"].size(), 0u);
  EXPECT_NE(scripting::format_api(engine->api_reference("kv")).find("    void set(const string&in key, const json&in value)\n"
                                                                       "        stores the value under the key\n"),
            std::string::npos);
}

TEST_F(Services, GeneratedSignatureReadsLikeAngelScript) {
  const auto& f = declarations->functions()[0].decl;
  EXPECT_EQ(scripting::script_signature(f), "kv::Collection@ kv::collection(const string &in name)");
}

// --- declaration checks ---------------------------------------------------------------

sdk::ScriptFunction noop() {
  return [](const sdk::CallContext&, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> { return sdk::Value(); };
}

TEST(Declarations, AreCheckedWhenMade) {
  Declarations d;
  auto& a = d.api_for("a");
  auto& b = d.api_for("b");
  EXPECT_TRUE(a.add_function({"mine", "f", {}, ScriptType::void_type, "", noop()}));
  auto twice = a.add_function({"mine", "f", {}, ScriptType::void_type, "", noop()});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, sdk::ErrorKind::conflict);
  auto taken = b.add_function({"mine", "g", {}, ScriptType::void_type, "", noop()});
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.error().message.find("already owned by plugin 'a'"), std::string::npos);
  auto reserved = a.add_function({"json", "f", {}, ScriptType::void_type, "", noop()});
  ASSERT_FALSE(reserved);
  EXPECT_NE(reserved.error().message.find("reserved"), std::string::npos);
  EXPECT_FALSE(a.add_function({"mine", "bad name", {}, ScriptType::void_type, "", noop()}));
  EXPECT_FALSE(a.add_function({"mine", "nocall", {}, ScriptType::void_type, "", {}}));
  EXPECT_FALSE(a.add_function({"mine", "p", {{"in", ScriptType::integer}}, ScriptType::void_type, "", noop()}))
      << "keyword as a parameter name";
  auto wrong_default =
      a.add_function({"mine", "d", {{"n", ScriptType::integer, "", sdk::Value("x")}}, ScriptType::void_type, "", noop()});
  ASSERT_FALSE(wrong_default);
  EXPECT_NE(wrong_default.error().message.find("default value"), std::string::npos);
  EXPECT_FALSE(a.add_function({"mine", "o",
                               {{"a", ScriptType::integer, "", sdk::Value(1)}, {"b", ScriptType::integer}},
                               ScriptType::void_type, "", noop()}))
      << "required after optional";
  auto two_lines = a.add_function({"mine", "doc", {}, ScriptType::void_type, "", noop(), "one\ntwo"});
  ASSERT_FALSE(two_lines);
  EXPECT_NE(two_lines.error().message.find("doc must be one line"), std::string::npos);
  EXPECT_FALSE(a.add_function({"mine", "long_doc", {}, ScriptType::void_type, "", noop(), std::string(301, 'x')}));
  // The run's response: a parameter, once, without a default.
  auto two_responses = a.add_function({"mine", "r2",
                                       {{"a", ScriptType::response}, {"b", ScriptType::response}},
                                       ScriptType::void_type, "", noop()});
  ASSERT_FALSE(two_responses);
  EXPECT_NE(two_responses.error().message.find("one response at most"), std::string::npos);
  EXPECT_FALSE(a.add_function({"mine", "rd", {{"r", ScriptType::response, "", sdk::Value()}}, ScriptType::void_type,
                               "", noop()}));
  auto as_result = a.add_function({"mine", "rr", {}, ScriptType::response, "", noop()});
  ASSERT_FALSE(as_result);
  EXPECT_NE(as_result.error().message.find("not a result"), std::string::npos);
  sdk::ScriptMethod method = [](const sdk::CallContext&, const sdk::Value&, std::span<const sdk::Value>)
      -> sdk::Result<sdk::Value> { return sdk::Value(); };
  auto property_with_params =
      a.add_handle_type({"mine", "P", {{"p", {{"x", ScriptType::integer}}, ScriptType::integer, "", method, "", true}}, ""});
  ASSERT_FALSE(property_with_params);
  EXPECT_NE(property_with_params.error().message.find("a property takes no parameters and has a result"),
            std::string::npos);
  EXPECT_FALSE(a.add_handle_type({"mine", "Q", {{"q", {}, ScriptType::void_type, "", method, "", true}}, ""}));
  EXPECT_FALSE(a.add_handle_type({"mine", "K", {{"class", {}, ScriptType::integer, "", method}}, ""}))
      << "a language keyword is no method name";
  EXPECT_TRUE(a.add_function({"mine", "request", {}, ScriptType::void_type, "", noop(), "a type's name, namespaced"}));
  EXPECT_FALSE(a.add_function({"mine", "while", {}, ScriptType::void_type, "", noop()}));
  auto tabbed = a.add_handle_type({"mine", "T", {{"m", {}, ScriptType::void_type, "", method, "a\tb"}}, ""});
  ASSERT_FALSE(tabbed);
  EXPECT_NE(tabbed.error().message.find("method m: doc must be one line"), std::string::npos) << tabbed.error().message;
  EXPECT_EQ(d.undocumented("a"), std::vector<std::string>{"mine::f"});
  d.seal();
  auto late = a.add_function({"mine", "late", {}, ScriptType::void_type, "", noop()});
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message.find("after configure()"), std::string::npos);
}

TEST(Declarations, ADatabaseOnlyFunctionCannotTakeTheResponse) {
  Declarations d;
  auto& api = d.api_for("p");
  sdk::ScriptFunctionDecl answers{"p", "answer", {{"res", ScriptType::response}}, ScriptType::void_type, "", noop()};
  answers.database_only = true;
  auto refused = api.add_function(answers);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("cannot take the response"), std::string::npos) << refused.error().message;
  answers.database_only = false;
  EXPECT_TRUE(api.add_function(answers));
  sdk::ScriptHandleTypeDecl type{"p", "T", {}};
  sdk::ScriptMethodDecl method{"m", {{"res", ScriptType::response}}, ScriptType::void_type, "",
                               [](const sdk::CallContext&, const sdk::Value&, std::span<const sdk::Value>)
                                   -> sdk::Result<sdk::Value> { return sdk::Value(); }};
  method.database_only = true;
  type.methods.push_back(method);
  EXPECT_FALSE(api.add_handle_type(type));
}

TEST(Declarations, UnknownHandleTypeStopsTheEngineNamingIt) {
  Declarations d;
  ASSERT_TRUE(d.api_for("p").add_function({"p", "f", {}, ScriptType::handle, "p::Missing", noop()}));
  auto engine = scripting::Engine::create({}, d);
  ASSERT_FALSE(engine);
  EXPECT_NE(engine.error().message.find("plugin 'p': function p::f names handle type 'p::Missing'"), std::string::npos)
      << engine.error().message;
}

// The kernel's DeferredWrites, recorded: what the engine opens around a
// database_only call, and settles before any other.
class RecordingWrites final : public scripting::DeferredWrites {
 public:
  std::vector<std::string> events;
  bool inside = false;
  std::optional<sdk::Error> settle_fails;
  sdk::Result<void> settle() override {
    events.push_back("settle");
    if (settle_fails) return *settle_fails;
    return {};
  }

 private:
  void enter_database_only_call() override {
    events.push_back("enter");
    inside = true;
  }
  void leave_database_only_call() override {
    events.push_back("leave");
    inside = false;
  }
};

TEST(DeferredWrites, DatabaseOnlyCallsRunInsideTheWindowAndOthersAfterASettle) {
  RecordingWrites writes;
  Declarations d;
  auto& api = d.api_for("p");
  sdk::ScriptFunctionDecl write{"p", "write", {}, ScriptType::void_type, "",
                                [&](const sdk::CallContext&, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
                                  writes.events.push_back(writes.inside ? "write inside" : "write outside");
                                  return sdk::Value();
                                }};
  write.database_only = true;
  ASSERT_TRUE(api.add_function(std::move(write)));
  sdk::ScriptHandleTypeDecl type{"p", "Box", {}};
  sdk::ScriptMethodDecl put{"put", {}, ScriptType::void_type, "",
                            [&](const sdk::CallContext&, const sdk::Value&, std::span<const sdk::Value>)
                                -> sdk::Result<sdk::Value> {
                              writes.events.push_back(writes.inside ? "put inside" : "put outside");
                              return sdk::Value();
                            }};
  put.database_only = true;
  type.methods.push_back(std::move(put));
  ASSERT_TRUE(api.add_handle_type(std::move(type)));
  ASSERT_TRUE(api.add_function({"p", "box", {}, ScriptType::handle, "p::Box",
                                [](const sdk::CallContext&, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
                                  return sdk::Value("b");
                                }}));
  ASSERT_TRUE(api.add_function({"p", "send", {}, ScriptType::void_type, "",
                                [&](const sdk::CallContext&, std::span<const sdk::Value>) -> sdk::Result<sdk::Value> {
                                  writes.events.push_back(writes.inside ? "send inside" : "send outside");
                                  return sdk::Value();
                                }}));
  auto engine = make_engine({}, &d);
  ASSERT_NE(engine, nullptr);
  MemorySource source;
  source.put_script("app", "s", R"(
void handle(request@ req, response@ res) {
  p::write();
  p::Box@ b = p::box();
  b.put();
  p::send();
  res.text("done");
})");
  scripting::Caller caller;
  caller.deferred_writes = &writes;
  auto r = engine->run_http({"app", "s", 1}, source, caller, get());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(writes.events, (std::vector<std::string>{"enter", "write inside", "leave", "settle", "enter", "put inside",
                                                     "leave", "settle", "send outside"}))
      << "p::box and p::send are not database-only: each comes after a settle";

  // A settle that fails is the script's error at the call that needed it,
  // and that call does not happen.
  writes.events.clear();
  writes.settle_fails = sdk::make_error(sdk::ErrorKind::unavailable, "the disk failed");
  source.put_script("app", "t", R"(
void handle(request@ req, response@ res) {
  p::write();
  try { p::send(); } catch { res.text(getExceptionInfo()); return; }
  res.text("sent");
})");
  auto t = engine->run_http({"app", "t", 1}, source, caller, get());
  ASSERT_TRUE(t.ok()) << t.message;
  EXPECT_EQ(t.response.body, "unavailable: the disk failed");
  EXPECT_EQ(writes.events, (std::vector<std::string>{"enter", "write inside", "leave", "settle"}));

  // Without the kernel's DeferredWrites every call is a plain call.
  writes.events.clear();
  ASSERT_TRUE(engine->run_http({"app", "s", 1}, source, {}, get()).ok());
  EXPECT_EQ(writes.events, (std::vector<std::string>{"write outside", "put outside", "send outside"}));
}

}  // namespace
}  // namespace picloud::test
