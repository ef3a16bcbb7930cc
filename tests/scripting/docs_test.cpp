// Every example in docs/scripting.md runs here, through the real engine, so
// the guide cannot drift from what scripts actually do.
//
// In the guide, a code fence whose info string is exactly `angelscript` is an
// example. It may carry these line comments (anywhere on a line):
//
//   // expect: <status> <text>
//       the run succeeds with <status> and a body containing <text>; or, for
//       an example meant to fail, the run fails with <status> (422, 500, 502,
//       504 or 507) and its error message contains <text>. Without an expect
//       line the run must succeed.
//   // request: <METHOD> <path?query> [<body>]
//       the HTTP request handle() receives (default: GET /).
//   // event: <json object>
//       run on_event() with this event instead of handle().
//
// A fence with info string `angelscript module=NAME` is not run: it becomes
// module NAME of the app for every later example. Fences with any other info
// string (text, ini, sh, none, ...) are prose.
//
// The guide's plugin section uses an illustrative plugin, declared below: a
// `shelf` namespace with `shelf::open(name)` returning a `shelf::Shelf`
// whose `get(key)` and `put(key, value)` keep json values in memory.
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "scripting/declarations.hpp"
#include "scripting/json.hpp"

namespace picloud::test {
namespace {

using sdk::ScriptType;

struct Example {
  int line = 0;          // of the opening fence, for messages
  std::string module;    // set for `angelscript module=NAME`
  std::string code;
};

std::string trim(std::string s) {
  auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

std::string read_guide() {
  std::ifstream in(PICLOUD_TEST_SOURCE_DIR "/docs/scripting.md", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Fenced code blocks with info string `angelscript` or `angelscript module=NAME`.
std::vector<Example> extract(const std::string& markdown) {
  std::vector<Example> out;
  std::istringstream in(markdown);
  std::string line;
  int number = 0;
  bool inside = false;
  bool keep = false;
  Example current;
  while (std::getline(in, line)) {
    ++number;
    std::string t = trim(line);
    if (!inside) {
      if (t.rfind("```", 0) != 0) continue;
      inside = true;
      std::string info = trim(t.substr(3));
      current = Example{number, "", ""};
      keep = false;
      if (info == "angelscript") {
        keep = true;
      } else if (info.rfind("angelscript module=", 0) == 0) {
        keep = true;
        current.module = trim(info.substr(std::string("angelscript module=").size()));
      }
    } else if (t == "```") {
      inside = false;
      if (keep) out.push_back(current);
    } else if (keep) {
      current.code += line + "\n";
    }
  }
  EXPECT_FALSE(inside) << "docs/scripting.md: the code fence opened at line " << current.line << " is never closed";
  return out;
}

// The text after `// <name>:` on some line of `code`, or nothing.
std::optional<std::string> directive(const std::string& code, const std::string& name) {
  std::string marker = "// " + name + ":";
  auto at = code.find(marker);
  if (at == std::string::npos) return std::nullopt;
  auto end = code.find('\n', at);
  return trim(code.substr(at + marker.size(), end == std::string::npos ? std::string::npos : end - at - marker.size()));
}

sdk::HttpRequest request_from(const std::string& spec) {
  std::istringstream in(spec);
  std::string method, target;
  in >> method >> target;
  std::string body;
  std::getline(in, body);
  auto request = get();
  request.method = method;
  auto q = target.find('?');
  request.path = target.substr(0, q);
  request.query = q == std::string::npos ? "" : target.substr(q + 1);
  request.body = trim(body);
  return request;
}

// The illustrative `shelf` plugin of the guide's plugin section.
class ShelfFixture {
 public:
  ShelfFixture() {
    auto& api = declarations_.api_for("shelf");
    auto name_of = [](const sdk::Value& self) { return self.as_string(); };
    sdk::ScriptHandleTypeDecl collection{"shelf", "Shelf", {}};
    collection.methods.push_back(
        {"get", {{"key", ScriptType::string}}, ScriptType::json, "",
         [this, name_of](const sdk::CallContext&, const sdk::Value& self, std::span<const sdk::Value> args)
             -> sdk::Result<sdk::Value> {
           std::lock_guard lock(mutex_);
           auto it = data_.find(name_of(self) + "/" + args[0].as_string());
           if (it == data_.end())
             return sdk::make_error(sdk::ErrorKind::not_found,
                                    "no key \"" + args[0].as_string() + "\" in " + name_of(self));
           return it->second;
         }});
    collection.methods.push_back(
        {"put", {{"key", ScriptType::string}, {"value", ScriptType::json}}, ScriptType::void_type, "",
         [this, name_of](const sdk::CallContext&, const sdk::Value& self, std::span<const sdk::Value> args)
             -> sdk::Result<sdk::Value> {
           std::lock_guard lock(mutex_);
           data_[name_of(self) + "/" + args[0].as_string()] = args[1];
           return sdk::Value();
         }});
    auto added = api.add_handle_type(std::move(collection));
    EXPECT_TRUE(added) << added.error().message;
    added = api.add_function({"shelf", "open", {{"name", ScriptType::string}}, ScriptType::handle, "shelf::Shelf",
                              [](const sdk::CallContext&, std::span<const sdk::Value> args) -> sdk::Result<sdk::Value> {
                                if (args[0].as_string().empty())
                                  return sdk::make_error(sdk::ErrorKind::invalid_argument, "a shelf needs a name");
                                return args[0];
                              }});
    EXPECT_TRUE(added) << added.error().message;
    declarations_.seal();
  }
  const scripting::Declarations& declarations() const { return declarations_; }

 private:
  scripting::Declarations declarations_;
  std::mutex mutex_;
  std::map<std::string, sdk::Value> data_;
};

// Whether some failed run answers `status`.
bool is_failure_status(int status) {
  using scripting::RunError;
  for (auto e : {RunError::compile_error, RunError::no_entry_point, RunError::script_error, RunError::timeout,
                 RunError::operation_limit, RunError::memory_limit, RunError::stack_limit, RunError::output_limit,
                 RunError::internal})
    if (scripting::http_status(e) == status) return true;
  return false;
}

TEST(DocsScripting, EveryExampleRuns) {
  auto examples = extract(read_guide());
  int runnable = 0;
  for (const auto& e : examples)
    if (e.module.empty()) ++runnable;
  // Fewer would mean the guide lost its examples or extraction broke.
  ASSERT_GE(runnable, 10) << "docs/scripting.md: expected at least 10 `angelscript` examples";

  ShelfFixture shelf;
  auto engine = make_engine({}, &shelf.declarations());
  ASSERT_TRUE(engine);
  MemorySource source;

  for (const auto& e : examples) {
    std::string where = "docs/scripting.md:" + std::to_string(e.line);
    if (!e.module.empty()) {
      source.put_module("app", e.module, e.code);
      engine->invalidate_module("app", e.module);
      continue;
    }
    SCOPED_TRACE(where + "\n" + e.code);
    std::string id = "docs-" + std::to_string(e.line);
    source.put_script("app", id, e.code);
    scripting::RunResult r;
    if (auto event = directive(e.code, "event")) {
      sdk::Value value;
      try {
        value = scripting::json_to_value(*scripting::parse_json(*event));
      } catch (const std::exception& ex) {
        ADD_FAILURE() << where << ": `// event:` is not valid JSON: " << ex.what();
        continue;
      }
      r = engine->run_event({"app", id, 1}, source, {}, value);
    } else {
      auto spec = directive(e.code, "request");
      r = engine->run_http({"app", id, 1}, source, {}, spec ? request_from(*spec) : get());
    }

    auto expect = directive(e.code, "expect");
    if (!expect) {
      EXPECT_TRUE(r.ok()) << where << ": " << scripting::to_string(r.error) << ": " << r.message;
      continue;
    }
    std::istringstream in(*expect);
    int status = 0;
    in >> status;
    std::string text;
    std::getline(in, text);
    text = trim(text);
    ASSERT_GT(status, 0) << where << ": `// expect:` needs a status";
    EXPECT_EQ(r.status(), status) << where << ": " << (r.ok() ? "body: " + r.response.body : r.message);
    if (r.ok()) {
      EXPECT_NE(r.response.body.find(text), std::string::npos)
          << where << ": the body does not contain \"" << text << "\"; it is:\n" << r.response.body;
    } else {
      EXPECT_TRUE(is_failure_status(status)) << where << ": the run failed: " << r.message;
      EXPECT_NE(r.message.find(text), std::string::npos)
          << where << ": the error does not contain \"" << text << "\"; it is:\n" << r.message;
    }
  }
}

}  // namespace
}  // namespace picloud::test
