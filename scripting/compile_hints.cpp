#include "scripting/compile_hints.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

namespace picloud::scripting {
namespace {

constexpr std::string_view kNoMatch = "No matching signatures to '";
constexpr std::string_view kSeveral = "Multiple matching signatures to '";
constexpr std::string_view kListExpected = "Expected a list enclosed by { } to match pattern";
// Then the type: 'json' for a literal's outermost list, 'const json@' for
// one nested in it.
constexpr std::string_view kJsonListFailed =
    "Previous error occurred while attempting to compile initialization list for type '";

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// The index just past the string literal starting at text[i] (a quote),
// or text.size() when it does not end.
std::size_t skip_string(std::string_view text, std::size_t i) {
  char quote = text[i];
  for (++i; i < text.size() && text[i] != quote; ++i)
    if (text[i] == '\\') ++i;
  return std::min(i + 1, text.size());
}

// Splits at commas outside <>, (), [], {} and string literals (defaults
// such as `sep = ", "` are part of a declaration).
std::vector<std::string_view> split_top_level(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"' || c == '\'') {
      i = skip_string(text, i) - 1;
      continue;
    }
    if (c == '<' || c == '(' || c == '[' || c == '{') ++depth;
    else if (c == '>' || c == ')' || c == ']' || c == '}') --depth;
    else if (c == ',' && depth == 0) {
      parts.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (!trim(text.substr(start)).empty() || !parts.empty()) parts.push_back(trim(text.substr(start)));
  return parts;
}

// What is between the parentheses of "name(a, b)": the last top-level
// pair outside string literals.
std::optional<std::string_view> parameter_text(std::string_view declaration) {
  std::optional<std::string_view> found;
  int depth = 0;
  std::size_t open = 0;
  for (std::size_t i = 0; i < declaration.size(); ++i) {
    char c = declaration[i];
    if (c == '"' || c == '\'') {
      i = skip_string(declaration, i) - 1;
    } else if (c == '(') {
      if (depth++ == 0) open = i;
    } else if (c == ')' && depth > 0 && --depth == 0) {
      found = declaration.substr(open + 1, i - open - 1);
    }
  }
  return found;
}

bool is_json_list_failure(std::string_view message) {
  if (message.rfind(kJsonListFailed, 0) != 0) return false;
  std::string_view type = message.substr(kJsonListFailed.size());
  return type == "json'" || type == "const json@'" || type == "json@'";
}

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// A type as compared here: no const, no reference kind, no spaces;
// array<T> written T[] as the engine prints it.
std::string normalize_type(std::string_view type) {
  std::string t(trim(type));
  if (t.rfind("const ", 0) == 0) t.erase(0, 6);
  for (std::string_view ref : {"&inout", "&in", "&out", "&"}) {
    auto at = t.rfind(ref);
    if (at != std::string::npos && at + ref.size() == t.size()) {
      t.erase(at);
      break;
    }
  }
  t.erase(std::remove(t.begin(), t.end(), ' '), t.end());
  while (t.rfind("array<", 0) == 0 && !t.empty() && t.back() == '>') t = t.substr(6, t.size() - 7) + "[]";
  return t;
}

struct Param {
  std::string type;  // normalised
  std::string name;
  bool optional = false;
};

// "const string&in key", "int64 ttl = 0", "float": type, name, default.
Param parse_param(std::string_view text) {
  Param p;
  if (auto eq = text.find('='); eq != std::string_view::npos) {
    p.optional = true;
    text = trim(text.substr(0, eq));
  }
  auto space = text.rfind(' ');
  if (space != std::string_view::npos) {
    std::string_view last = text.substr(space + 1);
    std::string_view before = trim(text.substr(0, space));
    bool is_name = !last.empty() && std::all_of(last.begin(), last.end(), is_word_char) && before != "const";
    if (is_name) {
      p.name = std::string(last);
      text = before;
    }
  }
  p.type = normalize_type(text);
  return p;
}

bool is_number(const std::string& t) {
  static const std::string_view numbers[] = {"int8",  "int16",  "int",    "int32", "int64", "uint8",
                                             "uint16", "uint",  "uint32", "uint64", "float", "double"};
  return std::find(std::begin(numbers), std::end(numbers), t) != std::end(numbers);
}

// Whether an argument of type `arg` can be passed where `param` is declared,
// as far as can be told from the types' names. Unknown cases fit: a wrong
// guess would point the user at an argument that is fine.
bool fits(const std::string& arg, const std::string& param) {
  std::string a = arg, p = param;
  auto strip_handle = [](std::string& t) {
    if (!t.empty() && t.back() == '@') t.pop_back();
  };
  if (a == "<nullhandle>") return (!param.empty() && param.back() == '@') || param == "json";
  strip_handle(a);
  strip_handle(p);
  if (a == p) return true;
  if (is_number(a) && is_number(p)) return true;
  // json takes every primitive, string and array kind through a factory,
  // and a literal: only a handle of another registered type (request,
  // response, a plugin's handle) is known not to fit.
  if (p == "json") return !(arg.size() > 1 && arg.back() == '@' && a != "json" && a.find('[') == std::string::npos);
  // Primitive against a named type, or two different named types: known
  // not to fit only for the engine's value kinds.
  auto known = [](const std::string& t) {
    return is_number(t) || t == "bool" || t == "string" || t == "json" ||
           (t.size() > 2 && t.compare(t.size() - 2, 2, "[]") == 0);
  };
  return !(known(a) && known(p));
}

// Where each argument of the call at (line, column) starts in `code`: the
// call is a name (possibly qualified) followed by its argument list.
struct Position {
  int line;
  int column;
};
std::optional<std::vector<Position>> argument_positions(std::string_view code, int line, int column) {
  std::size_t at = 0;
  for (int l = 1; l < line; ++l) {
    at = code.find('\n', at);
    if (at == std::string_view::npos) return std::nullopt;
    ++at;
  }
  at += static_cast<std::size_t>(std::max(0, column - 1));
  std::size_t call_at = at;
  int call_line = line;
  auto skip_space = [&] {
    while (at < code.size() && (code[at] == ' ' || code[at] == '\t' || code[at] == '\n' || code[at] == '\r')) ++at;
  };
  while (at < code.size() && (is_word_char(code[at]) || code[at] == ':')) ++at;
  skip_space();
  if (at >= code.size() || code[at] != '(') return std::nullopt;
  ++at;
  // Counted from the call onwards (offset > call_at), so each call costs
  // only the length of its own argument list.
  std::size_t line_start = code.rfind('\n', call_at == 0 ? 0 : call_at - 1);
  line_start = line_start == std::string_view::npos || call_at == 0 ? 0 : line_start + 1;
  std::size_t counted = call_at;
  auto position_of = [&](std::size_t offset) {
    for (; counted < offset; ++counted)
      if (code[counted] == '\n') {
        ++call_line;
        line_start = counted + 1;
      }
    return Position{call_line, static_cast<int>(offset - line_start) + 1};
  };
  std::vector<Position> args;
  int depth = 0;
  bool expect_start = true;
  while (at < code.size()) {
    char c = code[at];
    const bool comment = code.compare(at, 2, "//") == 0 || code.compare(at, 2, "/*") == 0;
    if (expect_start && !comment && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      if (c == ')' && depth == 0 && args.empty()) return args;  // no arguments
      args.push_back(position_of(at));
      expect_start = false;
    }
    if (code.compare(at, 3, "\"\"\"") == 0) {  // heredoc: up to the next """
      auto end = code.find("\"\"\"", at + 3);
      if (end == std::string_view::npos) return std::nullopt;
      at = end + 3;
      continue;
    }
    if (c == '"' || c == '\'') {
      for (++at; at < code.size() && code[at] != c; ++at)
        if (code[at] == '\\') ++at;
      ++at;
      continue;
    }
    if (code.compare(at, 2, "//") == 0) {
      at = code.find('\n', at);
      if (at == std::string_view::npos) return std::nullopt;
      continue;
    }
    if (code.compare(at, 2, "/*") == 0) {
      at = code.find("*/", at + 2);
      if (at == std::string_view::npos) return std::nullopt;
      at += 2;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    else if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) return c == ')' ? std::optional(args) : std::nullopt;
      --depth;
    } else if (c == ',' && depth == 0) {
      expect_start = true;
    }
    ++at;
  }
  return std::nullopt;
}

// The argument no candidate of the right arity accepts, when they agree on
// one: its index and the parameter it was meant for.
struct Misfit {
  std::size_t index;
  Param param;
  bool same_param = true;  // every candidate expects the same type there
};
std::optional<Misfit> find_misfit(const std::vector<std::string>& args, const std::vector<Candidate>& candidates,
                                  std::string& arity_note) {
  std::optional<Misfit> found;
  bool any_arity = false;
  std::size_t fewest = SIZE_MAX, most = 0;
  for (const auto& candidate : candidates) {
    auto text = parameter_text(candidate.declaration);
    if (!text) return std::nullopt;
    std::vector<Param> params;
    for (auto part : split_top_level(*text))
      if (!part.empty() && part != "void") params.push_back(parse_param(part));
    std::size_t required = 0;
    for (const auto& p : params) required += p.optional ? 0 : 1;
    fewest = std::min(fewest, required);
    most = std::max(most, params.size());
    if (args.size() < required || args.size() > params.size()) continue;
    any_arity = true;
    std::optional<std::size_t> first;
    for (std::size_t i = 0; i < args.size() && !first; ++i)
      if (!fits(args[i], params[i].type)) first = i;
    if (!first) return std::nullopt;  // this one looks callable: nothing to single out
    if (found && found->index != *first) return std::nullopt;
    if (!found) found = Misfit{*first, params[*first]};
    else if (found->param.type != params[*first].type) found->same_param = false;
  }
  if (!any_arity && !candidates.empty()) {
    arity_note = fewest == most ? std::to_string(most) : std::to_string(fewest) + " to " + std::to_string(most);
    arity_note = "it takes " + arity_note + (most == 1 && fewest == most ? " argument" : " arguments") + ", not " +
                 std::to_string(args.size());
  }
  return found;
}

}  // namespace

bool lists_candidates(const std::string& message) {
  return message.rfind(kNoMatch, 0) == 0 || message.rfind(kSeveral, 0) == 0;
}

CompileHints::CompileHints(const asIScriptEngine* engine, const ApiDocs& docs) {
  auto add = [&](const asIScriptFunction* fn) {
    const ApiDoc* doc = docs.find(fn);
    known_[fn->GetDeclaration(true, false, true)].push_back(
        {fn->GetDeclaration(true, true, true), doc ? doc->text : std::string()});
  };
  for (asUINT i = 0; i < engine->GetGlobalFunctionCount(); ++i) add(engine->GetGlobalFunctionByIndex(i));
  for (asUINT i = 0; i < engine->GetObjectTypeCount(); ++i) {
    const asITypeInfo* type = engine->GetObjectTypeByIndex(i);
    for (asUINT m = 0; m < type->GetMethodCount(); ++m) add(type->GetMethodByIndex(m, false));
    for (asUINT f = 0; f < type->GetFactoryCount(); ++f) add(type->GetFactoryByIndex(f));
  }
}

void CompileHints::complete_candidates(Diagnostic& error) const {
  for (auto& candidate : error.candidates) {
    auto it = known_.find(candidate.declaration);
    if (it != known_.end() && it->second.size() == 1) candidate = it->second.front();
  }
}

void CompileHints::explain(std::vector<Diagnostic>& errors, const std::vector<SourceSection>& sections,
                           const std::map<std::string, int>& column_shift) const {
  // One pass that also drops the follow-up of each json-literal error.
  std::size_t explained = 0, kept = 0;
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (kept != i) errors[kept] = std::move(errors[i]);
    Diagnostic& error = errors[kept++];
    if (error.message == kListExpected && i + 1 < errors.size() && is_json_list_failure(errors[i + 1].message)) {
      error.message =
          "a json literal is a list of {key, value} pairs; write an array as array<json@> = {1, \"two\", "
          "{{\"three\", 3}}} (any values) or with its element type, array<string> = {\"a\", \"b\"}";
      ++i;
      continue;
    }
    if (!lists_candidates(error.message) || error.candidates.empty()) continue;
    complete_candidates(error);
    // Pointing at an argument reads the source around the call: only the
    // first few calls, and only with every candidate known.
    if (error.message.rfind(kNoMatch, 0) != 0 || error.more_candidates > 0) continue;
    if (explained++ >= kMaxExplainedCalls) continue;
    // The argument types the compiler saw: "'Collection::set(const string, const int)'".
    std::string_view quoted = std::string_view(error.message).substr(kNoMatch.size());
    if (quoted.empty() || quoted.back() != '\'') continue;
    auto arg_text = parameter_text(quoted.substr(0, quoted.size() - 1));
    if (!arg_text) continue;
    std::vector<std::string> args;
    for (auto part : split_top_level(*arg_text)) args.push_back(normalize_type(part));
    std::string arity_note;
    auto misfit = find_misfit(args, error.candidates, arity_note);
    if (!arity_note.empty()) error.message += ": " + arity_note;
    if (!misfit) continue;
    auto section = std::find_if(sections.begin(), sections.end(), [&](const auto& s) { return s.name == error.section; });
    if (section == sections.end()) continue;
    int shift = 0;
    if (auto it = column_shift.find(error.section); it != column_shift.end()) shift = it->second;
    int raw_column = error.line == 1 ? error.column + shift : error.column;
    auto positions = argument_positions(section->code, error.line, raw_column);
    if (!positions || positions->size() != args.size()) continue;
    Position p = (*positions)[misfit->index];
    error.line = p.line;
    error.column = p.line == 1 ? std::max(1, p.column - shift) : p.column;
    error.message += ": argument " + std::to_string(misfit->index + 1) + " is " + args[misfit->index];
    if (misfit->same_param)
      error.message += ", where " + (misfit->param.name.empty() ? std::string("the parameter") : misfit->param.name) +
                       " is " + misfit->param.type;
    else
      error.message += ", which no candidate takes there";
  }
  errors.resize(kept);
}

}  // namespace picloud::scripting
