#include "scripting/engine.hpp"
#include "scripting/scope_hint.hpp"

#include <angelscript/scriptarray.h>
#include <angelscript/scriptmath.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <unordered_map>

#include "scripting/bindings.hpp"
#include "scripting/bytes.hpp"
#include "scripting/compile_hints.hpp"
#include "scripting/json.hpp"
#include "scripting/memory.hpp"
#include "scripting/stdlib/stdlib.hpp"

namespace picloud::scripting {
namespace {

using Clock = std::chrono::steady_clock;

// --- process-wide set-up -----------------------------------------------------

void prepare_process() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Before any engine exists: every engine allocation is then countable.
    asSetGlobalMemoryFunctions(memory::engine_alloc, memory::engine_free);
    asPrepareMultithread();
  });
}


// --- callbacks -----------------------------------------------------------------

// Diagnostics of the build in progress (builds are serialised).
thread_local std::vector<Diagnostic>* t_errors = nullptr;
thread_local std::vector<Diagnostic>* t_warnings = nullptr;
thread_local const std::map<std::string, int>* t_column_shift = nullptr;
thread_local std::size_t t_dropped_errors = 0;  // past kMaxDiagnostics
thread_local std::size_t t_dropped_warnings = 0;
thread_local bool t_taking_candidates = false;  // after "Candidates are:"

// Where a build's messages go while it runs (and nowhere after, even when
// the build throws).
class CollectMessages {
 public:
  CollectMessages(std::vector<Diagnostic>& errors, std::vector<Diagnostic>& warnings,
                  const std::map<std::string, int>& column_shift) {
    t_errors = &errors;
    t_warnings = &warnings;
    t_column_shift = &column_shift;
    t_dropped_errors = t_dropped_warnings = 0;
    t_taking_candidates = false;
  }
  ~CollectMessages() {
    // A script with thousands of errors keeps the first ones, and says so.
    if (t_dropped_errors > 0) t_errors->push_back({"main", 0, 0, "and " + std::to_string(t_dropped_errors) + " more errors"});
    if (t_dropped_warnings > 0)
      t_warnings->push_back({"main", 0, 0, "and " + std::to_string(t_dropped_warnings) + " more warnings"});
    t_errors = t_warnings = nullptr;
    t_column_shift = nullptr;
  }
  CollectMessages(const CollectMessages&) = delete;
  CollectMessages& operator=(const CollectMessages&) = delete;
};

void on_message(const asSMessageInfo* msg, void*) {
  if (!t_errors) return;
  std::string section = msg->section ? msg->section : "";
  std::string_view text = msg->message ? msg->message : "";
  if (msg->type == asMSGTYPE_INFORMATION) {
    // A call that matched no function (or several) is followed by a heading
    // and one declaration per message; anything else informational ("Compiling
    // ...", "Where 'T' is ...") is not a candidate.
    if (t_errors->empty()) return;
    Diagnostic& last = t_errors->back();
    if (text == "Candidates are:") {
      t_taking_candidates = lists_candidates(last.message) && last.section == section && last.line == msg->row;
    } else if (t_taking_candidates && text.rfind("Where '", 0) != 0) {
      // Kept to a few: a script could declare thousands of overloads and
      // call them wrongly thousands of times.
      if (last.candidates.size() < kMaxCandidates) last.candidates.push_back({std::string(text), ""});
      else ++last.more_candidates;
    }
    return;
  }
  t_taking_candidates = false;
  std::vector<Diagnostic>* into = msg->type == asMSGTYPE_ERROR ? t_errors : msg->type == asMSGTYPE_WARNING ? t_warnings : nullptr;
  if (!into) return;
  if (into->size() >= kMaxDiagnostics) {
    ++(into == t_errors ? t_dropped_errors : t_dropped_warnings);
    return;
  }
  int column = msg->col;
  if (t_column_shift && msg->row == 1) {
    auto it = t_column_shift->find(section);
    if (it != t_column_shift->end()) column = std::max(1, column - it->second);
  }
  into->push_back({section, msg->row, column, std::string(text)});
}

// Runs on every statement: the operation budget, the wall clock (every 64
// statements, to keep the common path to an increment and a compare) and the
// memory budget.
// What a limit's error says.
std::string limit_message(RunError error, const Limits& limits, const memory::Budget& budget) {
  switch (error) {
    case RunError::memory_limit:
      return budget.single_too_large
                 ? "script tried to create a value larger than " + std::to_string(limits.max_value_bytes) + " bytes"
                 : "script used more than " + std::to_string(limits.max_memory_bytes) + " bytes of memory";
    case RunError::stack_limit: return "script calls nested deeper than " + std::to_string(limits.max_call_depth);
    case RunError::operation_limit:
      return "script exceeded its budget of " + std::to_string(limits.max_operations) + " operations";
    case RunError::timeout: return "script ran longer than " + std::to_string(limits.timeout_ms) + " ms";
    default: return std::string(to_string(error));
  }
}

// Runs on every statement: the memory budget, the call depth (checked here
// rather than left to the engine's own limit, whose "Stack overflow" a script
// could catch and carry on), the operation budget and the wall clock (every
// 64 statements, to keep the common path to an increment and a compare).
void line_callback(asIScriptContext* ctx, void*) {
  auto* run = static_cast<RunState*>(ctx->GetUserData(kRunStateSlot));
  if (!run) return;
  const Limits& limits = *run->limits;
  RunError error = RunError::none;
  if (run->budget.exceeded) error = RunError::memory_limit;
  else if (ctx->GetCallstackSize() > static_cast<asUINT>(limits.max_call_depth)) error = RunError::stack_limit;
  else if (++run->operations > limits.max_operations) error = RunError::operation_limit;
  else if ((run->operations & 63) == 0 && Clock::now() > run->deadline) error = RunError::timeout;
  if (error == RunError::none) return;
  // Our own bookkeeping: never charged to the script (an exhausted budget
  // would otherwise throw out of this callback, which the engine cannot take).
  memory::Unaccounted ours;
  run->fail(error, limit_message(error, limits, run->budget));
}

// A C++ exception escaped a binding: keep its message for the script.
void translate_exception(asIScriptContext* ctx, void*) {
  memory::Unaccounted ours;
  try {
    throw;
  } catch (const ScriptException& e) {
    ctx->SetException(e.what());
  } catch (const std::bad_alloc&) {
    ctx->SetException("out of memory", false);
  } catch (const std::exception& e) {
    ctx->SetException((std::string("internal: ") + e.what()).c_str());
  } catch (...) {
    ctx->SetException("internal: unknown exception");
  }
}

// Every exception a run raises, caught or not, engine-made or thrown.
void exception_callback(asIScriptContext* ctx, void*) {
  if (auto* run = static_cast<RunState*>(ctx->GetUserData(kRunStateSlot))) run->raised_exception = true;
}

// throw(message) and getExceptionInfo(), as generic functions.
void script_throw(const std::string& message) {
  if (asIScriptContext* ctx = asGetActiveContext()) ctx->SetException(message.c_str());
}
// The context keeps the text of the last exception it saw, which may be an
// earlier run's (of another app): answered only once this run raised one.
std::string exception_info() {
  asIScriptContext* ctx = asGetActiveContext();
  auto* run = ctx ? static_cast<RunState*>(ctx->GetUserData(kRunStateSlot)) : nullptr;
  if (!run || !run->raised_exception) return "";
  const char* text = ctx->GetExceptionString();
  return text ? text : "";
}

// Every context gets the same callbacks.
void prepare_context(asIScriptContext* ctx) {
  ctx->SetLineCallback(asFUNCTION(line_callback), nullptr, asCALL_CDECL);
  ctx->SetExceptionCallback(asFUNCTION(exception_callback), nullptr, asCALL_CDECL);
}
void register_exception_routines(asIScriptEngine* e) {
  check_registration(e->RegisterGlobalFunction("void throw(const string &in message)", WRAP_FN(script_throw), asCALL_GENERIC),
                     "throw");
  check_registration(e->RegisterGlobalFunction("string getExceptionInfo()", WRAP_FN(exception_info), asCALL_GENERIC),
                     "getExceptionInfo");
}

// --- source checks -------------------------------------------------------------

constexpr std::size_t kMaxSourceBytes = 512 * 1024;
constexpr int kMaxNesting = 256;
// Template types inside template types (array<array<...>>): AngelScript
// 2.35's parser tries each level two ways, so its time doubles every level
// or two (20 levels took seconds, 25 most of a minute, all under the lock
// every compile takes).
constexpr int kMaxTemplateNesting = 8;
// What else the parser and compiler recurse on, per level: statements
// in statements (`if (a) if (b) ...`, and `else if` ladders, braces or not)
// and assignments or ?: in assignments (`a = b = c = ...`). Bounded where a
// source within kMaxSourceBytes would otherwise need hundreds of MiB of
// stack; a legitimate script stays far below both.
constexpr int kMaxStatementsPerBlock = 4096;    // if/else/for/while/do/switch in one { } block
constexpr int kMaxAssignmentsPerStatement = 1024;  // = += ... and ? between two ; { }

// Why `shared` and `external` are refused, in every message about them.
constexpr std::string_view kSharedRule =
    "scripts may not use `shared` or `external`: the engine links such entities by name across the scripts of "
    "every app, so one app could run another's code; share code within an app with modules (import \"name\";)";

// Walks the tokens once: size, bracket nesting (the parser recurses on it),
// template types nested in template types (its time doubles per level),
// shared funcdefs (which the module API does not list; `shared`/`external`
// right before the keyword `funcdef` can mean nothing else), and a `?:`
// standing directly in an initialization list, `{b ? 1.5 : 3}`: AngelScript
// 2.35's compiler fails an assertion on one whose operands differ in type,
// and the assertion aborts the whole process. Comments and strings are
// tokens of their own, so their content is never mistaken for code.
void check_source(const asIScriptEngine* engine, const std::string& code, const std::string& section,
                  std::vector<Diagnostic>& errors) {
  if (code.size() > kMaxSourceBytes) {
    errors.push_back({section, 0, 0,
                      "source is " + std::to_string(code.size()) + " bytes; the limit is " +
                          std::to_string(kMaxSourceBytes)});
    return;
  }
  int depth = 0, line = 1, column = 1;
  std::size_t pos = 0;
  std::string_view previous;        // the last token that is not blank or a comment
  std::string_view before_previous;  // and the one before it
  bool previous_is_identifier = false;
  int previous_line = 0, previous_column = 0;
  int template_depth = 0;  // of `name<` `name<` ... in a row
  std::vector<int> statements{0};  // control statements per open block
  int assignments = 0;             // since the statement began
  std::optional<Diagnostic> shared_funcdef;  // waiting for the funcdef's name
  std::string_view last_identifier;
  // The open brackets: '(', '[', 'L' for the brace of an initialization list
  // (one that follows '=', ',', '(' or another list's brace), 'B' for a
  // block's.
  std::vector<char> open;
  while (pos < code.size()) {
    asUINT length = 0;
    asETokenClass cls = engine->ParseToken(code.data() + pos, code.size() - pos, &length);
    if (length == 0) length = 1;
    std::string_view token(code.data() + pos, length);
    if (cls == asTC_KEYWORD && token == "funcdef" && (previous == "shared" || previous == "external"))
      shared_funcdef = Diagnostic{section, previous_line, previous_column, ""};
    if (cls == asTC_KEYWORD && length == 1) {
      char c = token[0];
      if (c == '(' && shared_funcdef) {
        shared_funcdef->message = "funcdef '" + std::string(last_identifier) + "' is declared shared: " + std::string(kSharedRule);
        errors.push_back(*shared_funcdef);
        shared_funcdef.reset();
      }
      if (c == ';' || c == '{' || c == '}') assignments = 0;
      if (c == '{') statements.push_back(0);
      if (c == '}' && statements.size() > 1) statements.pop_back();
      if (c == '(' || c == '[' || c == '{') {
        if (++depth > kMaxNesting) {
          errors.push_back({section, line, column, "brackets nested deeper than " + std::to_string(kMaxNesting)});
          return;
        }
        bool list = c == '{' && (previous == "=" || previous == "," || previous == "(" ||
                                 (previous == "{" && !open.empty() && open.back() == 'L'));
        open.push_back(c == '{' ? (list ? 'L' : 'B') : c);
      } else if (c == ')' || c == ']' || c == '}') {
        --depth;
        if (!open.empty()) open.pop_back();
      } else if (c == '<' && previous_is_identifier) {
        template_depth = before_previous == "<" ? template_depth + 1 : 1;
        if (template_depth > kMaxTemplateNesting) {
          errors.push_back({section, line, column,
                            "template types nested deeper than " + std::to_string(kMaxTemplateNesting) +
                                " (array<array<...>>)"});
          return;
        }
      } else if (c == '?' && !open.empty() && open.back() == 'L') {
        errors.push_back({section, line, column,
                          "a ?: cannot stand directly in an initialization list (the script compiler would fail on "
                          "it): put it in parentheses, or compute the value into a variable first"});
      }
    } else if (cls == asTC_IDENTIFIER) {
      last_identifier = token;
    }
    if (cls == asTC_KEYWORD) {
      static const std::set<std::string_view> kControl{"if", "else", "for", "while", "do", "switch"};
      static const std::set<std::string_view> kAssigning{"=",  "+=", "-=", "*=", "/=",  "%=",  "**=", "&=",
                                                         "|=", "^=", "<<=", ">>=", ">>>=", "?"};
      if (kControl.count(token) && ++statements.back() > kMaxStatementsPerBlock) {
        errors.push_back({section, line, column,
                          "more than " + std::to_string(kMaxStatementsPerBlock) +
                              " if/else/for/while/do/switch statements in one block: split it into functions"});
        return;
      }
      if (kAssigning.count(token) && ++assignments > kMaxAssignmentsPerStatement) {
        errors.push_back({section, line, column,
                          "more than " + std::to_string(kMaxAssignmentsPerStatement) +
                              " assignments or ?: in one statement"});
        return;
      }
    }
    if (cls != asTC_WHITESPACE && cls != asTC_COMMENT) {
      before_previous = previous;
      previous_is_identifier = cls == asTC_IDENTIFIER;
      previous = token;
      previous_line = line;
      previous_column = column;
    }
    for (char c : token) {
      if (c == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    pos += length;
  }
}

// Runs `work` on a thread of its own with a stack of kCompileStackBytes, and
// waits for it. AngelScript's parser and compiler recurse once per level of
// nesting: check_source bounds each kind, and the bounds need a few MiB at
// most, but the 8 MiB of a request's thread is shared with what called the
// compiler (and a sanitizer's frames are larger): a source with nesting
// past those bounds overflowed it and took the process down. The pages are
// only reserved until the recursion reaches them, and go back when the
// thread ends. False when no thread could be made.
constexpr std::size_t kCompileStackBytes = std::size_t{64} << 20;

bool run_with_deep_stack(const std::function<void()>& work) {
  struct Call {
    const std::function<void()>* work;
    std::exception_ptr failure;
  } call{&work, nullptr};
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  pthread_attr_setstacksize(&attr, kCompileStackBytes);
  pthread_t thread;
  const int rc = pthread_create(
      &thread, &attr,
      [](void* p) -> void* {
        auto* c = static_cast<Call*>(p);
        try {
          (*c->work)();
        } catch (...) {
          c->failure = std::current_exception();
        }
        asThreadCleanup();  // AngelScript's thread-local data for this thread
        return nullptr;
      },
      &call);
  pthread_attr_destroy(&attr);
  if (rc != 0) return false;
  pthread_join(thread, nullptr);
  if (call.failure) std::rethrow_exception(call.failure);
  return true;
}

// --- isolation ---------------------------------------------------------------

// Every app's scripts are modules of one engine. AngelScript links `shared`
// entities (and `external` declarations of them) by name across all modules,
// and binds `import ... from "module"` declarations to another module's
// functions: either would let one app run another's code with its data. All
// three are refused after the build, through the module itself rather than
// the text (`shared` and `external` are ordinary names elsewhere). Until the
// check, nothing of the module has run (global initialisers run after it),
// and a refused module is discarded before the next build starts, so no
// shared entity ever outlives the build that declared it.
std::string qualified(const char* ns, const char* name) {
  return ns && *ns ? std::string(ns) + "::" + name : std::string(name);
}

void check_isolation(asIScriptModule* mod, const std::vector<std::string>& modules, std::vector<Diagnostic>& errors) {
  // Types carry no section: a module's entities live in its namespace.
  auto section_of_namespace = [&](const char* ns) {
    std::string_view first = ns ? std::string_view(ns).substr(0, std::string_view(ns).find("::")) : "";
    for (const auto& m : modules)
      if (m == first) return m;
    return std::string("main");
  };
  auto refuse_type = [&](asITypeInfo* type, const char* kind) {
    if (!type || !(type->GetFlags() & asOBJ_SHARED)) return;
    errors.push_back({section_of_namespace(type->GetNamespace()), 0, 0,
                      std::string(kind) + " '" + qualified(type->GetNamespace(), type->GetName()) +
                          "' is declared shared: " + std::string(kSharedRule)});
  };
  for (asUINT i = 0; i < mod->GetFunctionCount(); ++i) {
    asIScriptFunction* fn = mod->GetFunctionByIndex(i);
    if (!fn || !fn->IsShared()) continue;
    const char* section = fn->GetScriptSectionName();
    errors.push_back({section && *section ? section : "main", 0, 0,
                      "function '" + std::string(fn->GetDeclaration(true, true, false)) + "' is declared shared: " +
                          std::string(kSharedRule)});
  }
  for (asUINT i = 0; i < mod->GetObjectTypeCount(); ++i) {
    asITypeInfo* type = mod->GetObjectTypeByIndex(i);
    refuse_type(type, type && type->GetSize() == 0 ? "interface" : "class");  // interfaces have no instances
  }
  for (asUINT i = 0; i < mod->GetEnumCount(); ++i) refuse_type(mod->GetEnumByIndex(i), "enum");
  for (asUINT i = 0; i < mod->GetTypedefCount(); ++i) refuse_type(mod->GetTypedefByIndex(i), "typedef");
  for (asUINT i = 0; i < mod->GetImportedFunctionCount(); ++i) {
    const char* decl = mod->GetImportedFunctionDeclaration(i);
    const char* from = mod->GetImportedFunctionSourceModule(i);
    errors.push_back({"main", 0, 0,
                      std::string("'import ") + (decl ? decl : "?") + " from \"" + (from ? from : "") +
                          "\"' reaches into another compiled script, which scripts may not do; import a module of "
                          "this app with: import \"module_name\";"});
  }
}

// --- imports -----------------------------------------------------------------

struct Section {
  std::string name;  // "main" or the module's name
  std::string code;
};

struct Prepared {
  std::vector<Section> sections;
  std::map<std::string, int> column_shift;  // per module section, on line 1
  std::vector<std::string> direct_imports;
  std::vector<std::string> modules;  // every module included
  std::vector<Diagnostic> errors;
};

struct ImportLine {
  std::string name;
  int line;
};

// Finds `import "name";` lines and blanks them (line numbers stay right).
std::vector<ImportLine> take_imports(std::string& code, const std::string& section, std::vector<Diagnostic>& errors) {
  static const std::regex import_line(R"re(^[ \t]*import[ \t]+"([^"]*)"[ \t]*;[ \t]*(//.*)?\r?$)re");
  static const std::regex starts_with_import(R"(^[ \t]*import\b.*)");
  std::vector<ImportLine> found;
  std::size_t pos = 0;
  int line = 1;
  while (pos <= code.size()) {
    std::size_t end = code.find('\n', pos);
    if (end == std::string::npos) end = code.size();
    std::string text = code.substr(pos, end - pos);
    std::smatch m;
    if (text.size() < 512 && std::regex_match(text, m, import_line)) {
      found.push_back({m[1].str(), line});
      std::fill(code.begin() + static_cast<std::ptrdiff_t>(pos), code.begin() + static_cast<std::ptrdiff_t>(end), ' ');
    } else if (text.size() < 512 && std::regex_match(text, starts_with_import)) {
      errors.push_back({section, line, 1, "write imports as: import \"module_name\";"});
    }
    pos = end + 1;
    ++line;
  }
  return found;
}

// --- the compiled-script cache -----------------------------------------------

struct Compiled {
  std::string app_id;
  asIScriptModule* module = nullptr;
  asIScriptFunction* handle = nullptr;
  asIScriptFunction* on_event = nullptr;
  std::vector<std::string> modules;
  std::string error;  // first compile error, when it did not compile
  bool transient = false;
  std::mutex* build_mutex = nullptr;
  ~Compiled() {
    if (module) {
      std::lock_guard lock(*build_mutex);
      module->Discard();
    }
  }
};

struct ThreadContexts {
  std::uint64_t engine_id = 0;
  std::vector<asIScriptContext*> idle;
};

// Idle contexts of this thread, per engine. The engine owns every context it
// created and releases them all when it goes; an entry of a destroyed engine
// is never used again, since engine ids are not reused.
struct ThreadPools {
  std::vector<ThreadContexts> pools;
  ~ThreadPools() { asThreadCleanup(); }
};
thread_local ThreadPools t_pools;

constexpr std::size_t kIdleContextsPerThread = 4;
std::atomic<std::uint64_t> g_engine_ids{0};

std::string cache_key(const ScriptRef& ref) {
  return ref.app_id + '\x1f' + ref.script_id + '\x1f' + std::to_string(ref.version);
}

}  // namespace

struct Engine::Impl {
  EngineConfig config;
  asIScriptEngine* engine = nullptr;
  std::deque<BoundCall> calls;
  ApiDocs docs;  // who registered each function and type, and its doc line
  std::optional<CompileHints> hints;  // under build_mutex
  std::once_flag reference_once;
  sdk::Value reference;  // the whole script API, made on first use
  std::set<std::string, std::less<>> reserved_names;
  std::set<std::string, std::less<>> scopes;  // what scripts may qualify with `name::`
  std::uint64_t id = ++g_engine_ids;
  std::mutex build_mutex;
  std::atomic<std::uint64_t> module_counter{0};

  mutable std::mutex cache_mutex;
  std::list<std::shared_ptr<Compiled>> lru;  // front = most recent
  std::unordered_map<std::string, std::list<std::shared_ptr<Compiled>>::iterator> index;
  std::unordered_map<const Compiled*, std::string> keys;
  CacheStats stats;

  std::mutex contexts_mutex;
  std::set<asIScriptContext*> contexts;

  ~Impl() {
    {
      std::lock_guard lock(cache_mutex);
      index.clear();
      keys.clear();
      lru.clear();
    }
    {
      std::lock_guard lock(contexts_mutex);
      for (auto* ctx : contexts) ctx->Release();
      contexts.clear();
    }
    if (engine) engine->ShutDownAndRelease();
  }

  // --- contexts ---
  asIScriptContext* acquire_context() {
    for (auto& pool : t_pools.pools) {
      if (pool.engine_id != id || pool.idle.empty()) continue;
      asIScriptContext* ctx = pool.idle.back();
      pool.idle.pop_back();
      return ctx;
    }
    asIScriptContext* ctx = engine->CreateContext();
    prepare_context(ctx);
    std::lock_guard lock(contexts_mutex);
    contexts.insert(ctx);
    return ctx;
  }

  void release_context(asIScriptContext* ctx) {
    ctx->Unprepare();
    ctx->SetUserData(nullptr, kRunStateSlot);
    for (auto& pool : t_pools.pools) {
      if (pool.engine_id != id) continue;
      if (pool.idle.size() < kIdleContextsPerThread) {
        pool.idle.push_back(ctx);
        return;
      }
      break;
    }
    bool have_pool = std::any_of(t_pools.pools.begin(), t_pools.pools.end(), [&](auto& p) { return p.engine_id == id; });
    if (!have_pool) {
      t_pools.pools.push_back({id, {ctx}});
      return;
    }
    std::lock_guard lock(contexts_mutex);
    contexts.erase(ctx);
    ctx->Release();
  }

  // --- compiling ---
  bool is_reserved(const std::string& name) const { return reserved_names.count(name) > 0; }

  void include_module(const std::string& app_id, const ImportLine& import, const std::string& from,
                      std::vector<std::string>& chain, ScriptSource& source, Prepared& out) {
    auto chain_text = [&](const std::string& last) {
      std::string text;
      for (const auto& c : chain) text += c + " → ";
      return text + last;
    };
    if (!is_identifier(import.name)) {
      out.errors.push_back({from, import.line, 1, "\"" + import.name + "\" is not a module name"});
      return;
    }
    if (is_reserved(import.name)) {
      out.errors.push_back({from, import.line, 1, "\"" + import.name + "\" is a reserved name, not a module"});
      return;
    }
    if (std::find(chain.begin(), chain.end(), import.name) != chain.end()) {
      out.errors.push_back({from, import.line, 1, "import cycle: " + chain_text(import.name)});
      return;
    }
    if (static_cast<int>(chain.size()) > config.max_import_depth) {
      out.errors.push_back({from, import.line, 1,
                            "imports nested deeper than " + std::to_string(config.max_import_depth) + ": " +
                                chain_text(import.name)});
      return;
    }
    if (std::find(out.modules.begin(), out.modules.end(), import.name) != out.modules.end()) return;  // diamond
    auto found = source.module_code(app_id, import.name);
    if (!found) {
      std::string message = found.error().kind == sdk::ErrorKind::not_found
                                ? "module \"" + import.name + "\" not found in this app"
                                : "module \"" + import.name + "\" could not be loaded: " + found.error().message;
      out.errors.push_back({from, import.line, 1, message});
      return;
    }
    out.modules.push_back(import.name);
    std::string code = found->code;
    check_source(engine, code, import.name, out.errors);
    auto nested = take_imports(code, import.name, out.errors);
    chain.push_back(import.name);
    for (const auto& n : nested) include_module(app_id, n, import.name, chain, source, out);
    chain.pop_back();
    std::string prefix = "namespace " + import.name + " { ";
    out.column_shift[import.name] = static_cast<int>(prefix.size());
    out.sections.push_back({import.name, prefix + code + "\n}\n"});
  }

  Prepared prepare(std::string_view app_id, const std::string& code, ScriptSource& source) {
    Prepared out;
    check_source(engine, code, "main", out.errors);
    std::string main = code;
    auto imports = take_imports(main, "main", out.errors);
    out.sections.push_back({"main", std::move(main)});
    std::vector<std::string> chain{"main"};
    for (const auto& i : imports) {
      out.direct_imports.push_back(i.name);
      include_module(std::string(app_id), i, "main", chain, source, out);
    }
    return out;
  }

  struct BuildResult {
    asIScriptModule* module = nullptr;
    std::vector<Diagnostic> errors, warnings;
  };

  // Builds the sections into a fresh module and checks the rules every
  // script follows. On error the module is discarded.
  BuildResult build(const Prepared& prepared) {
    BuildResult result{nullptr, prepared.errors, {}};
    if (!result.errors.empty()) return result;
    std::lock_guard lock(build_mutex);
    std::string name = "script-" + std::to_string(++module_counter);
    asIScriptModule* mod = engine->GetModule(name.c_str(), asGM_ALWAYS_CREATE);
    for (const auto& s : prepared.sections)
      mod->AddScriptSection(s.name.c_str(), s.code.data(), s.code.size());
    int r = asERROR;
    const bool ran = run_with_deep_stack([&] {
      CollectMessages collect(result.errors, result.warnings, prepared.column_shift);  // the thread's messages
      r = mod->Build();
    });
    if (!ran)
      result.errors.push_back({"main", 0, 0, "the script could not be compiled now (no thread for the compiler); try again"});
    if (r < 0 && result.errors.empty()) result.errors.push_back({"main", 0, 0, "the script does not compile"});
    if (r < 0) {
      std::vector<SourceSection> sections;
      for (const auto& s : prepared.sections) sections.push_back({s.name, s.code});
      if (!hints) hints.emplace(engine, docs);  // made on the first failed build: most servers never need it
      hints->explain(result.errors, sections, prepared.column_shift);
      // AngelScript blames what follows an unknown `ns::`, not `ns`: say it first.
      if (auto hint = unknown_scope(engine, sections, scopes)) result.errors.insert(result.errors.begin(), *hint);
    }
    if (result.errors.empty()) check_isolation(mod, prepared.modules, result.errors);
    if (result.errors.empty()) {
      for (asUINT i = 0; i < mod->GetGlobalVarCount(); ++i) {
        const char* var = nullptr;
        const char* ns = nullptr;
        bool is_const = false;
        int type_id = 0;
        mod->GetGlobalVar(i, &var, &ns, &type_id, &is_const);
        std::string section = ns && *ns ? std::string(ns) : "main";
        if (!is_const) {
          result.errors.push_back({section, 0, 0,
                                   "global variable '" + std::string(var) +
                                       "' must be const: runs share a compiled script and keep no state between them"});
        } else if (!shareable(type_id)) {
          result.errors.push_back({section, 0, 0,
                                   "global constant '" + std::string(var) + "' has type " +
                                       engine->GetTypeDeclaration(type_id, true) +
                                       ": constants may only be numbers, bools, enums, strings, json and arrays of "
                                       "those (a handle or an object could still be changed through)"});
        }
      }
      for (asUINT i = 0; i < mod->GetObjectTypeCount(); ++i) {
        asITypeInfo* type = mod->GetObjectTypeByIndex(i);
        for (asUINT b = 0; b < type->GetBehaviourCount(); ++b) {
          asEBehaviours kind;
          asIScriptFunction* fn = type->GetBehaviourByIndex(b, &kind);
          if (kind == asBEHAVE_DESTRUCT && fn && fn->GetFuncType() == asFUNC_SCRIPT) {
            const char* section = fn->GetScriptSectionName();
            result.errors.push_back({section ? section : "main", 0, 0,
                                     std::string("class ") + type->GetName() +
                                         " has a destructor: scripts may not declare destructors (they would run "
                                         "whenever the object is collected, outside any run's limits)"});
          }
        }
      }
    }
    if (result.errors.empty()) initialise_globals(mod, result.errors);
    if (!result.errors.empty()) {
      mod->Discard();
      return result;
    }
    result.module = mod;
    return result;
  }

  // Whether a constant of this type can be shared by concurrent runs: values
  // that cannot be changed through a const reference.
  bool shareable(int type_id) const {
    if (type_id & asTYPEID_OBJHANDLE) return false;
    if (type_id <= asTYPEID_DOUBLE) return true;  // primitives (and void)
    asITypeInfo* type = engine->GetTypeInfoById(type_id);
    if (!type) return false;
    if (type->GetFlags() & asOBJ_ENUM) return true;
    std::string_view name = type->GetName();
    if (name == "string" || name == "json") return true;
    if (name == "array") return shareable(type->GetSubTypeId());
    return false;
  }

  // Global initialisers run once per compile, under limits, without services.
  void initialise_globals(asIScriptModule* mod, std::vector<Diagnostic>& errors) {
    Limits limits = config.limits;
    limits.max_operations = std::min<std::int64_t>(limits.max_operations, 1'000'000);
    limits.timeout_ms = std::min<std::int64_t>(limits.timeout_ms, 1'000);
    RunState run;
    run.limits = &limits;
    run.services_allowed = false;
    // Constants stay in memory as long as the script is cached: keep them small.
    run.budget.limit = std::min<std::int64_t>(limits.max_memory_bytes, 4 << 20);
    run.budget.max_single = std::min<std::int64_t>(limits.max_value_bytes, 1 << 20);
    run.deadline = Clock::now() + std::chrono::milliseconds(limits.timeout_ms);
    asIScriptContext* ctx = engine->CreateContext();
    prepare_context(ctx);
    ctx->SetUserData(&run, kRunStateSlot);
    int r;
    {
      memory::BudgetScope scope(&run.budget);
      r = mod->ResetGlobalVars(ctx);
    }
    if (r < 0) {
      std::string why = run.failure != RunError::none ? std::string(to_string(run.failure))
                        : ctx->GetState() == asEXECUTION_EXCEPTION ? std::string(ctx->GetExceptionString())
                                                                   : "error " + std::to_string(r);
      errors.push_back({"main", 0, 0, "initialising global variables failed: " + why});
    }
    ctx->Release();
  }

  std::shared_ptr<Compiled> compile(const ScriptRef& ref, ScriptSource& source) {
    auto compiled = std::make_shared<Compiled>();
    compiled->app_id = ref.app_id;
    compiled->build_mutex = &build_mutex;
    auto code = source.script_code(ref);
    if (!code) {
      compiled->error = "script could not be loaded: " + code.error().message;
      compiled->transient = true;  // not cached: the next run tries again
      return compiled;
    }
    Prepared prepared = prepare(ref.app_id, *code, source);
    compiled->modules = prepared.modules;
    BuildResult built = build(prepared);
    if (!built.errors.empty()) {
      const auto& e = built.errors.front();
      compiled->error = e.section + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message;
      if (built.errors.size() > 1) compiled->error += " (and " + std::to_string(built.errors.size() - 1) + " more)";
      return compiled;
    }
    compiled->module = built.module;
    compiled->handle = built.module->GetFunctionByDecl("void handle(request@, response@)");
    compiled->on_event = built.module->GetFunctionByDecl("void on_event(event@)");
    return compiled;
  }

  std::shared_ptr<Compiled> lookup(const ScriptRef& ref, ScriptSource& source) {
    std::string key = cache_key(ref);
    {
      std::lock_guard lock(cache_mutex);
      auto it = index.find(key);
      if (it != index.end()) {
        lru.splice(lru.begin(), lru, it->second);
        ++stats.hits;
        return *it->second;
      }
    }
    auto compiled = compile(ref, source);
    if (compiled->transient) return compiled;
    std::lock_guard lock(cache_mutex);
    auto it = index.find(key);
    if (it != index.end()) return *it->second;  // another thread compiled it meanwhile
    ++stats.compiles;
    lru.push_front(compiled);
    index[key] = lru.begin();
    keys[compiled.get()] = key;
    while (lru.size() > std::max<std::size_t>(1, config.cache_size)) {
      erase(std::prev(lru.end()));
      ++stats.evictions;
    }
    return compiled;
  }

  void erase(std::list<std::shared_ptr<Compiled>>::iterator it) {
    auto k = keys.find(it->get());
    if (k != keys.end()) {
      index.erase(k->second);
      keys.erase(k);
    }
    lru.erase(it);  // the module is discarded once no run holds it
  }

  // --- running ---
  template <typename Setup>
  RunResult run(const ScriptRef& ref, ScriptSource& source, const Caller& caller, const sdk::Value* event,
                bool http, Setup&& setup) {
    auto started = Clock::now();
    RunResult result;
    result.execution_id = caller.execution_id.empty() ? random_uuid() : caller.execution_id;
    auto finish = [&] {
      result.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
      return std::move(result);
    };
    auto compiled = lookup(ref, source);
    if (!compiled->module) {
      result.error = RunError::compile_error;
      result.message = compiled->error;
      return finish();
    }
    asIScriptFunction* entry = http ? compiled->handle : compiled->on_event;
    if (!entry) {
      result.error = RunError::no_entry_point;
      result.message = http ? "the script has no entry point `void handle(request@ req, response@ res)`"
                            : "the script has no entry point `void on_event(event@ e)`";
      return finish();
    }

    const Limits& limits = config.limits;
    RunState state;
    state.call = sdk::CallContext{ref.app_id, caller.principal, ref.script_id, result.execution_id, caller.trigger_depth,
                                  event};
    state.limits = &limits;
    state.deferred_writes = caller.deferred_writes;
    state.budget.limit = limits.max_memory_bytes;
    state.budget.max_single = limits.max_value_bytes;
    state.deadline = started + std::chrono::milliseconds(limits.timeout_ms);
    // The same deadline, on the clock plugins read (sdk::monotonic_ms).
    state.call.deadline_ms = sdk::monotonic_ms() + limits.timeout_ms;

    asIScriptContext* ctx = acquire_context();
    ctx->SetUserData(&state, kRunStateSlot);
    int r = asERROR;
    {
      memory::BudgetScope scope(&state.budget);
      if (ctx->Prepare(entry) >= 0) {
        setup(ctx);
        r = ctx->Execute();
      }
    }
    classify(ctx, r, state, result);
    ctx->Unprepare();  // the run's own objects go now
    {
      memory::BudgetScope scope(&state.budget);
      asUINT tracked = 0;
      engine->GetGCStatistics(&tracked);
      if (tracked > 0) engine->GarbageCollect(asGC_FULL_CYCLE);
    }
    result.logs = std::move(state.logs);
    result.dropped_logs = state.dropped_logs;
    result.operations = state.operations;
    result.peak_memory_bytes = state.budget.peak;
    release_context(ctx);
    return finish();
  }

  void classify(asIScriptContext* ctx, int r, RunState& state, RunResult& result) {
    if (r == asEXECUTION_FINISHED && state.failure == RunError::none && !state.budget.exceeded) return;
    if (state.budget.exceeded && state.failure == RunError::none) state.failure = RunError::memory_limit;
    if (state.failure != RunError::none) {
      result.error = state.failure;
      // The memory message is made now: which way the budget ran out is
      // known only at the end.
      result.message = state.failure == RunError::memory_limit ? limit_message(state.failure, config.limits, state.budget)
                                                               : state.failure_message;
      return;
    }
    if (r == asEXECUTION_EXCEPTION) {
      std::string what = ctx->GetExceptionString() ? ctx->GetExceptionString() : "exception";
      if (what == "Stack overflow") {  // the engine's own limit, as a backstop
        result.error = RunError::stack_limit;
        result.message = limit_message(RunError::stack_limit, config.limits, state.budget);
        return;
      }
      result.error = RunError::script_error;
      const char* section = nullptr;
      int column = 0;
      int line = ctx->GetExceptionLineNumber(&column, &section);
      const asIScriptFunction* fn = ctx->GetExceptionFunction();
      result.message = what + " (" + (section ? section : "main") + ":" + std::to_string(line) + ":" +
                       std::to_string(column) + (fn ? std::string(", in ") + fn->GetName() : "") + ")";
      return;
    }
    result.error = RunError::internal;
    result.message = "the script could not be run (AngelScript error " + std::to_string(r) + ")";
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

sdk::Result<std::unique_ptr<Engine>> Engine::create(EngineConfig config, const Declarations& declarations) {
  prepare_process();
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  asIScriptEngine* e = asCreateScriptEngine();
  if (!e) return sdk::make_error(sdk::ErrorKind::internal, "cannot create the AngelScript engine");
  impl->engine = e;
  try {
    check_registration(e->SetMessageCallback(asFUNCTION(on_message), nullptr, asCALL_CDECL), "message callback");
    check_registration(e->SetTranslateAppExceptionCallback(asFUNCTION(translate_exception), nullptr, asCALL_CDECL),
                       "exception translation");
    // A backstop above the limit the line callback enforces.
    e->SetEngineProperty(asEP_MAX_CALL_STACK_SIZE, static_cast<asPWORD>(config.limits.max_call_depth + 64));
    e->SetEngineProperty(asEP_INIT_GLOBAL_VARS_AFTER_BUILD, false);
    e->SetEngineProperty(asEP_DISALLOW_EMPTY_LIST_ELEMENTS, true);
    // Collected at the end of each run instead, on that run's thread and
    // budget, rather than in the middle of some other app's run.
    e->SetEngineProperty(asEP_AUTO_GARBAGE_COLLECT, false);
    // Our own string type (stdlib/string.cpp says why not the add-on's);
    // the array and math add-ons' generic registrations.
    register_string(e);
    RegisterScriptArray(e, true);
    CScriptArray::SetMemoryFunctions(memory::array_alloc, memory::engine_free);
    register_string_utils(e);
    RegisterScriptMath_Generic(e);
    register_exception_routines(e);
    register_json(e);
    register_entry_types(e);
    register_log(e);
    register_codecs(e);
    register_crypto(e);
    register_time(e);
    register_regex(e);
    register_declarations(e, declarations, impl->calls, impl->docs);
    remember_array_types(e);
    document_builtins(e, impl->docs);
  } catch (const std::exception& ex) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument, std::string("script engine: ") + ex.what());
  }
  for (auto n : reserved_namespaces()) impl->reserved_names.emplace(n);
  for (const auto& f : declarations.functions()) impl->reserved_names.insert(f.decl.ns);
  for (const auto& t : declarations.handle_types()) impl->reserved_names.insert(t.decl.ns);
  for (const char* n : {"main", "request", "response", "event"}) impl->reserved_names.emplace(n);
  impl->scopes = registered_scopes(impl->engine);
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Validation Engine::validate(std::string_view app_id, ScriptKind kind, const std::string& code, ScriptSource& source) {
  Validation out;
  Prepared prepared = impl_->prepare(app_id, code, source);
  out.imports = prepared.direct_imports;
  auto built = impl_->build(prepared);
  out.errors = std::move(built.errors);
  out.warnings = std::move(built.warnings);
  if (!built.module) return out;
  asIScriptModule* mod = built.module;
  bool has_handle = mod->GetFunctionByDecl("void handle(request@, response@)") != nullptr;
  bool has_event = mod->GetFunctionByDecl("void on_event(event@)") != nullptr;
  if (kind == ScriptKind::endpoint) {
    if (mod->GetFunctionByName("handle") && !has_handle)
      out.errors.push_back({"main", 0, 0, "handle must be declared `void handle(request@ req, response@ res)`"});
    else if (mod->GetFunctionByName("on_event") && !has_event)
      out.errors.push_back({"main", 0, 0, "on_event must be declared `void on_event(event@ e)`"});
    else if (!has_handle && !has_event)
      out.errors.push_back({"main", 0, 0,
                            "an endpoint script needs `void handle(request@ req, response@ res)` (HTTP) or "
                            "`void on_event(event@ e)` (triggers)"});
  } else if (has_handle || has_event) {
    out.errors.push_back({"main", 0, 0, "a module is a library: it cannot have handle() or on_event()"});
  }
  std::lock_guard lock(impl_->build_mutex);
  mod->Discard();
  return out;
}

RunResult Engine::run_http(const ScriptRef& ref, ScriptSource& source, const Caller& caller,
                           const sdk::HttpRequest& request) {
  ScriptRequest* req = nullptr;
  ScriptResponse* res = nullptr;
  auto result = impl_->run(ref, source, caller, nullptr, true, [&](asIScriptContext* ctx) {
    req = make_request(request);
    res = make_response(request, impl_->config.limits.max_response_bytes);
    ctx->SetArgObject(0, req);  // the context takes its own references
    ctx->SetArgObject(1, res);
  });
  if (res && result.ok()) result.response = take_response(*res);
  if (req) release(req);
  if (res) release(res);
  return result;
}

RunResult Engine::run_event(const ScriptRef& ref, ScriptSource& source, const Caller& caller, const sdk::Value& event) {
  ScriptEvent* ev = nullptr;
  auto result = impl_->run(ref, source, caller, &event, false, [&](asIScriptContext* ctx) {
    ev = make_event(event);
    ctx->SetArgObject(0, ev);
  });
  if (ev) release(ev);
  return result;
}

bool Engine::reserved_name(std::string_view name) const { return impl_->is_reserved(std::string(name)); }

void Engine::invalidate_module(std::string_view app_id, std::string_view module_name) {
  std::lock_guard lock(impl_->cache_mutex);
  for (auto it = impl_->lru.begin(); it != impl_->lru.end();) {
    const auto& c = **it;
    bool uses = c.app_id == app_id && std::find(c.modules.begin(), c.modules.end(), module_name) != c.modules.end();
    auto next = std::next(it);
    if (uses) impl_->erase(it);
    it = next;
  }
}

void Engine::forget_script(std::string_view app_id, std::string_view script_id) {
  std::lock_guard lock(impl_->cache_mutex);
  std::string prefix = std::string(app_id) + '\x1f' + std::string(script_id) + '\x1f';
  for (auto it = impl_->lru.begin(); it != impl_->lru.end();) {
    auto next = std::next(it);
    auto k = impl_->keys.find(it->get());
    if (k != impl_->keys.end() && k->second.rfind(prefix, 0) == 0) impl_->erase(it);
    it = next;
  }
}

sdk::Value Engine::api_reference(std::optional<std::string_view> only_namespace) const {
  // What is registered never changes once the engine is built: made once.
  std::call_once(impl_->reference_once, [&] { impl_->reference = describe_api(impl_->engine, impl_->docs, std::nullopt); });
  if (!only_namespace) return impl_->reference;
  sdk::Array kept;
  for (const auto& ns : impl_->reference["namespaces"].as_array())
    if (ns["name"].as_string() == *only_namespace) kept.push_back(ns);
  return sdk::Value::object({{"namespaces", sdk::Value(std::move(kept))}});
}

CacheStats Engine::cache_stats() const {
  std::lock_guard lock(impl_->cache_mutex);
  CacheStats s = impl_->stats;
  s.size = impl_->lru.size();
  return s;
}

const EngineConfig& Engine::config() const { return impl_->config; }

}  // namespace picloud::scripting
