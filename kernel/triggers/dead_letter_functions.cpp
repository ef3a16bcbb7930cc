#include "kernel/triggers/dead_letter_functions.hpp"

namespace picloud::kernel::triggers {
namespace {

using sdk::ScriptType;
using sdk::Value;

sdk::Error bad(const std::string& why) { return sdk::make_error(sdk::ErrorKind::invalid_argument, why); }

sdk::Result<DeadLetterQuery> query_from(const Value& filter) {
  DeadLetterQuery q;
  if (filter.is_null()) return q;
  if (!filter.is_object()) return bad("dead_letters::list: the filter must be an object or null");
  for (const auto& [key, value] : filter.as_object()) {
    if (key == "limit") {
      if (!value.is_int() || value.as_int() < 1 || value.as_int() > 500)
        return bad("dead_letters::list: limit must be a whole number from 1 to 500");
      q.limit = static_cast<int>(value.as_int());
      continue;
    }
    if (!value.is_string()) return bad("dead_letters::list: " + key + " must be a string");
    const std::string& text = value.as_string();
    if (key == "state") {
      if (text == "unresolved") q.state = DeadLetterQuery::State::unresolved;
      else if (text == "resolved") q.state = DeadLetterQuery::State::resolved;
      else if (text == "all") q.state = DeadLetterQuery::State::all;
      else return bad("dead_letters::list: state must be unresolved, resolved or all");
    } else if (key == "source") {
      q.source = text;
    } else if (key == "trigger") {
      q.trigger_id = text;
    } else if (key == "script") {
      q.script_id = text;
    } else if (key == "cursor") {
      q.cursor = text;
    } else {
      return bad("dead_letters::list: unknown filter field '" + key + "' (state, source, trigger, script, limit, cursor)");
    }
  }
  return q;
}

}  // namespace

sdk::Result<void> declare_dead_letter_functions(scripting::Declarations& declarations, DeadLetterStore& store,
                                               sdk::AccessControl& access) {
  const std::string owner = "kernel";
  auto app = [](const sdk::CallContext& call) { return std::string(call.app_id); };
  std::vector<sdk::ScriptFunctionDecl> functions{
      {"dead_letters", "list", {{"filter", ScriptType::json, "", Value()}}, ScriptType::json, "",
       [&store, app](const sdk::CallContext& call, std::span<const Value> args) -> sdk::Result<Value> {
         auto q = query_from(args[0]);
         if (!q) return q.error();
         auto page = store.list(app(call), *q);
         if (!page) return page.error();
         sdk::Array items;
         for (const auto& d : page->items) items.push_back(d.to_json(false));
         return Value::object({{"items", std::move(items)},
                               {"next_cursor", page->next_cursor.empty() ? Value() : Value(page->next_cursor)}});
       },
       "the app's dead letters, newest first"},
      {"dead_letters", "count", {}, ScriptType::integer, "",
       [&store, app](const sdk::CallContext& call, std::span<const Value>) -> sdk::Result<Value> {
         auto n = store.count_unresolved(app(call));
         if (!n) return n.error();
         return Value(*n);
       },
       "how many of the app's dead letters are unresolved"},
      {"dead_letters", "get", {{"id", ScriptType::string}}, ScriptType::json, "",
       [&store, app](const sdk::CallContext& call, std::span<const Value> args) -> sdk::Result<Value> {
         auto d = store.get(app(call), args[0].as_string());
         if (!d && d.error().kind == sdk::ErrorKind::not_found) return Value();
         if (!d) return d.error();
         return d->to_json(true);
       },
       "one dead letter with its event, or null"},
      {"dead_letters", "replay", {{"id", ScriptType::string}}, ScriptType::string, "",
       [&store, app](const sdk::CallContext& call, std::span<const Value> args) -> sdk::Result<Value> {
         auto id = store.replay(app(call), args[0].as_string(), std::string(call.principal));
         if (!id) return id.error();
         return Value(*id);
       },
       "queues the dead letter's event again and marks it replayed; returns the new run's id"},
      {"dead_letters", "resolve", {{"id", ScriptType::string}, {"reason", ScriptType::string, "", Value("")}},
       ScriptType::void_type, "",
       [&store, app](const sdk::CallContext& call, std::span<const Value> args) -> sdk::Result<Value> {
         if (args[1].as_string().size() > 1000) return bad("dead_letters::resolve: the reason is over 1000 characters");
         auto d = store.resolve(app(call), args[0].as_string(), args[1].as_string(), std::string(call.principal));
         if (!d) return d.error();
         return Value();
       },
       "marks the dead letter resolved, with a reason"},
  };
  for (auto& f : functions) {
    // A run on behalf of a user needs that user's dead-letter capability,
    // as the admin API would; a run as the app needs none.
    const char* capability = f.name == "replay" || f.name == "resolve" ? "dead_letter.write" : "dead_letter.read";
    f.call = [inner = std::move(f.call), &access, capability](const sdk::CallContext& call,
                                                             std::span<const Value> args) -> sdk::Result<Value> {
      if (auto allowed = access.require(call, capability); !allowed) return allowed.error();
      return inner(call, args);
    };
    if (auto r = declarations.add_function(owner, std::move(f)); !r) return r;
  }
  return {};
}

}  // namespace picloud::kernel::triggers
