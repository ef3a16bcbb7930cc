// The script engine: one AngelScript engine configured at start-up with the
// standard library and every plugin's declarations, a cache of compiled
// scripts, and runs under per-run limits.
//
//   auto engine = Engine::create(config, declarations);
//   RunResult r = engine->run_http(ref, source, who, request);
//
// Thread-safe: any number of threads may run scripts at once; each keeps a
// pool of reusable execution contexts.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"
#include "picloud/sdk/value.hpp"
#include "scripting/declarations.hpp"
#include "scripting/limits.hpp"
#include "scripting/run_state.hpp"

namespace picloud::scripting {

enum class ScriptKind { endpoint, module };

struct EngineConfig {
  Limits limits;
  std::size_t cache_size = 256;  // compiled scripts kept (least recently used evicted)
  int max_import_depth = 8;
};

// A function a call could have meant: its declaration with namespace and
// parameter names, and its doc line (empty for the script's own functions).
struct Candidate {
  std::string declaration;
  std::string doc;
};

// A compiler message. `section` is "main" for the script itself or the name
// of the imported module it comes from. A call that matches no function
// lists the functions of that name.
struct Diagnostic {
  std::string section;
  int line = 0;
  int column = 0;
  std::string message;
  std::vector<Candidate> candidates = {};
  std::size_t more_candidates = 0;  // past the ones listed
};

// A build keeps at most this many errors, and as many warnings (then one
// saying how many more there were): what a hostile script can make a
// compile hold.
inline constexpr std::size_t kMaxDiagnostics = 100;

struct Validation {
  bool ok() const { return errors.empty(); }
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
  std::vector<std::string> imports;  // modules the source imports directly, in order
};

// Which script to run. Scripts are cached by (app, id, version): a new
// version compiles on its next run, an unchanged one never again.
struct ScriptRef {
  std::string app_id;
  std::string script_id;
  std::int64_t version = 0;
};

struct ModuleCode {
  std::string name;
  std::string code;
};

// Where the engine gets source code; implemented by the admin layer. Every
// lookup is within one app: a module of another app does not exist.
class ScriptSource {
 public:
  virtual ~ScriptSource() = default;
  // The code of the script `ref` names (called on a cache miss).
  virtual sdk::Result<std::string> script_code(const ScriptRef& ref) = 0;
  // The module `name` of `app_id`; ErrorKind::not_found when there is none.
  virtual sdk::Result<ModuleCode> module_code(std::string_view app_id, std::string_view name) = 0;
};

// Who runs the script (the app and script come from the ScriptRef).
struct Caller {
  std::string principal;     // empty: anonymous
  std::string execution_id;  // generated when empty
  int trigger_depth = 0;
  // Where the run's database_only calls leave their writes to be made
  // durable (run_state.hpp); null: each is durable when it returns.
  DeferredWrites* deferred_writes = nullptr;
};

struct RunResult {
  RunError error = RunError::none;
  std::string message;        // what went wrong, for a failed run
  std::string execution_id;
  sdk::HttpResponse response;  // run_http: what the script produced
  std::vector<LogLine> logs;
  int dropped_logs = 0;
  std::int64_t operations = 0;
  std::int64_t peak_memory_bytes = 0;
  std::chrono::microseconds duration{0};

  bool ok() const { return error == RunError::none; }
  // The HTTP status for this outcome: the script's own on success.
  int status() const { return ok() ? response.status : http_status(error); }
};

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t compiles = 0;
  std::uint64_t evictions = 0;
  std::size_t size = 0;
};

class Engine {
 public:
  // Builds the engine: standard library, then every declaration. A bad
  // declaration (for example an unknown handle type) is an error naming it.
  static sdk::Result<std::unique_ptr<Engine>> create(EngineConfig config, const Declarations& declarations);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Compiles `code` without running it: diagnostics and direct imports.
  // Endpoint scripts must have an entry point; modules must not run code.
  Validation validate(std::string_view app_id, ScriptKind kind, const std::string& code, ScriptSource& source);

  // Runs `void handle(request@ req, response@ res)`.
  RunResult run_http(const ScriptRef& ref, ScriptSource& source, const Caller& caller, const sdk::HttpRequest& request);
  // Runs `void on_event(event@ e)` with `event` = {source, op, ...payload}.
  RunResult run_event(const ScriptRef& ref, ScriptSource& source, const Caller& caller, const sdk::Value& event);

  // A module changed or was deleted: every cached script of the app that
  // imports it (directly or not) compiles again on its next run.
  void invalidate_module(std::string_view app_id, std::string_view module_name);
  // Drops every cached version of a script (for example when it is deleted).
  void forget_script(std::string_view app_id, std::string_view script_id);

  // Whether `name` is taken by the standard library, a plugin or an entry
  // type, so a module cannot be called that.
  bool reserved_name(std::string_view name) const;

  // The script API: every namespace, function and type scripts can use,
  // with owners and doc lines (api_reference.hpp has the shape). With a
  // namespace, just that one ("" is the global namespace).
  sdk::Value api_reference(std::optional<std::string_view> only_namespace = std::nullopt) const;

  CacheStats cache_stats() const;
  const EngineConfig& config() const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace picloud::scripting
