// Running scripts in tests: an in-memory script source and a fixture that
// builds a real engine (optionally with declarations) and runs code.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "scripting/engine.hpp"

namespace picloud::test {

// Scripts and modules kept in memory, per app. Counts code lookups so tests
// can tell a cache hit from a compile.
class MemorySource : public scripting::ScriptSource {
 public:
  void put_script(const std::string& app, const std::string& id, std::string code) {
    std::lock_guard lock(mutex_);
    scripts_[app + "/" + id] = std::move(code);
  }
  void put_module(const std::string& app, const std::string& name, std::string code) {
    std::lock_guard lock(mutex_);
    modules_[app + "/" + name] = std::move(code);
  }
  void remove_module(const std::string& app, const std::string& name) {
    std::lock_guard lock(mutex_);
    modules_.erase(app + "/" + name);
  }
  int script_loads() const {
    std::lock_guard lock(mutex_);
    return script_loads_;
  }

  sdk::Result<std::string> script_code(const scripting::ScriptRef& ref) override {
    std::lock_guard lock(mutex_);
    ++script_loads_;
    auto it = scripts_.find(ref.app_id + "/" + ref.script_id);
    if (it == scripts_.end()) return sdk::make_error(sdk::ErrorKind::not_found, "no script " + ref.script_id);
    return it->second;
  }
  sdk::Result<scripting::ModuleCode> module_code(std::string_view app, std::string_view name) override {
    std::lock_guard lock(mutex_);
    auto it = modules_.find(std::string(app) + "/" + std::string(name));
    if (it == modules_.end()) return sdk::make_error(sdk::ErrorKind::not_found, "no module");
    return scripting::ModuleCode{std::string(name), it->second};
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> scripts_, modules_;
  int script_loads_ = 0;
};

inline std::unique_ptr<scripting::Engine> make_engine(scripting::EngineConfig config = {},
                                                      const scripting::Declarations* declarations = nullptr) {
  static scripting::Declarations none;
  auto engine = scripting::Engine::create(config, declarations ? *declarations : none);
  if (!engine) ADD_FAILURE() << engine.error().message;
  return engine ? std::move(*engine) : nullptr;
}

inline sdk::HttpRequest get(std::string path = "/", std::string query = "") {
  sdk::HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = std::move(query);
  r.remote_address = "127.0.0.1";
  r.request_id = "test";
  return r;
}

// Runs `code` as script `id` (version 1) of app "app" with `request`.
inline scripting::RunResult run_script(scripting::Engine& engine, MemorySource& source, const std::string& code,
                                       const sdk::HttpRequest& request = get(), const std::string& id = "s") {
  source.put_script("app", id, code);
  return engine.run_http({"app", id, 1}, source, {}, request);
}

// Wraps statements in a handle() that answers with `result` as text:
//   expect_text(engine, "string result = \"a\" + \"b\";", "ab")
inline std::string body_of(scripting::Engine& engine, MemorySource& source, const std::string& statements) {
  static int counter = 0;
  std::string code = "void handle(request@ req, response@ res) {\n" + statements + "\n}\n";
  auto r = run_script(engine, source, code, get(), "body" + std::to_string(++counter));
  if (!r.ok()) return "ERROR " + std::string(scripting::to_string(r.error)) + ": " + r.message;
  return r.response.body;
}

// A fixture with a default engine: run() answers a handle() body's response
// text, caught() a statement's exception message.
class ScriptTest : public ::testing::Test {
 protected:
  // The response body of a handle() made of `statements`.
  std::string run(const std::string& statements) { return body_of(*engine_, source_, statements); }

  // Runs `statement` inside try/catch and answers "caught: <message>", or
  // "no exception" when it did not throw.
  std::string caught(const std::string& statement) {
    return run("string result = \"no exception\";\n"
               "try {\n" +
               statement +
               "\n} catch {\n"
               "  result = \"caught: \" + getExceptionInfo();\n"
               "}\n"
               "res.text(result);");
  }

  std::unique_ptr<scripting::Engine> engine_ = make_engine();
  MemorySource source_;
};

}  // namespace picloud::test
