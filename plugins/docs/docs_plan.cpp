#include "docs_plan.hpp"

#include <cstdio>
#include <span>

#include "docs_rules.hpp"
#include "picloud/sdk/admin_routes.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/json_parse.hpp"
#include "picloud/sdk/text.hpp"

namespace picloud::docs {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;
using sdk::ValueType;

constexpr unsigned bit(Bracket b) { return 1u << static_cast<unsigned>(b); }
constexpr unsigned kEveryBracket = 0x3F;
// In the order of their ranks (the first sort term).
constexpr Bracket kBrackets[] = {Bracket::null_or_missing, Bracket::numbers, Bracket::strings,
                                 Bracket::objects,         Bracket::arrays,  Bracket::booleans};

// Each branch binds the filter's values again, and both databases cap the
// parameters of one statement (SQLite at 32,766): a filter binding more
// than this runs as one query, in the same order, only slower.
constexpr std::size_t kMaxSplitParameters = 16000;

// ---- what a filter allows at the sort path ---------------------------------

bool same_path(std::string_view key, const Path& path) {
  auto parsed = parse_path(key);
  return parsed && parsed->segments == path.segments;
}

// The brackets of the values an equality with `v` can match: v's own, or an
// array holding v (null also matches a missing field).
unsigned equal_brackets(const Value& v) {
  switch (v.type()) {
    case ValueType::null:
      return bit(Bracket::null_or_missing) | bit(Bracket::arrays);
    case ValueType::boolean:
      return bit(Bracket::booleans) | bit(Bracket::arrays);
    case ValueType::integer:
    case ValueType::number:
      return bit(Bracket::numbers) | bit(Bracket::arrays);
    case ValueType::string:
      return bit(Bracket::strings) | bit(Bracket::arrays);
    default:
      return kEveryBracket;
  }
}

unsigned operator_brackets(const std::string& op, const Value& operand) {
  if (op == "$eq" || op == "$gte" || op == "$lte") return equal_brackets(operand);
  if (op == "$gt" || op == "$lt") return operand.is_null() ? 0 : equal_brackets(operand);
  if (op == "$in") {
    if (!operand.is_array()) return kEveryBracket;
    unsigned out = 0;
    for (const auto& v : operand.as_array()) out |= equal_brackets(v);
    return out;
  }
  if (op == "$exists" && operand.is_bool() && !operand.as_bool()) return bit(Bracket::null_or_missing);
  return kEveryBracket;  // $ne, $nin, $exists true, and anything newer
}

unsigned condition_brackets(const Value& condition) {
  if (!condition.is_object()) return equal_brackets(condition);
  unsigned out = kEveryBracket;
  for (const auto& [op, operand] : condition.as_object()) {
    if (op.empty() || op[0] != '$') return kEveryBracket;  // not a condition: the compiler refuses it
    out &= operator_brackets(op, operand);
  }
  return out;
}

bool in_bracket(const Value& v, Bracket bracket) {
  if (bracket == Bracket::numbers) return v.is_int() || v.is_float();
  if (bracket == Bracket::strings) return v.is_string();
  return false;
}

// The comparisons with an operand of `bracket` that every match must meet
// at `path` (conditions side by side and under $and).
void collect_bounds(const Value& filter, const Path& path, Bracket bracket,
                    std::vector<std::pair<std::string, Value>>& out) {
  if (!filter.is_object()) return;
  for (const auto& [key, condition] : filter.as_object()) {
    if (key == "$and" && condition.is_array()) {
      for (const auto& f : condition.as_array()) collect_bounds(f, path, bracket, out);
    } else if (!key.empty() && key[0] != '$' && same_path(key, path)) {
      if (!condition.is_object()) {
        if (in_bracket(condition, bracket)) out.emplace_back("$eq", condition);
        continue;
      }
      for (const auto& [op, operand] : condition.as_object())
        if ((op == "$eq" || op == "$gt" || op == "$gte" || op == "$lt" || op == "$lte") && in_bracket(operand, bracket))
          out.emplace_back(op, operand);
    }
  }
}

std::string_view spelled(const std::string& op) {
  if (op == "$gt") return " > ";
  if (op == "$gte") return " >= ";
  if (op == "$lt") return " < ";
  if (op == "$lte") return " <= ";
  return " = ";
}

// ---- the SQL ------------------------------------------------------------------

struct Term {
  std::string expression;
  std::string cast;
  bool descending = false;
  std::size_t index = 0;  // which of the row's sort terms holds its value
};

// Every sort term of the options, key after key.
std::vector<Term> full_terms(const DocSql& sql, const FindOptions& options) {
  std::vector<Term> out;
  for (const auto& key : options.sort)
    for (auto& t : sql.sort_expressions(key.path))
      out.push_back({std::move(t.expression), std::move(t.cast), key.descending, out.size()});
  return out;
}

// The rows after `values` and `id` in the order of `terms` then id:
// (t1 > v1) OR (t1 = v1 AND t2 > v2) OR ... OR (all equal AND id > the id),
// each > a < for a descending key. A term whose value is NULL is NULL for
// every row still in question (those equal on the terms before it, rank
// included), so it is left out as equal. The first term's bound is
// repeated on its own, for an index to seek to.
Sql after_condition(const std::vector<Term>& terms, const Keyset& after) {
  std::vector<Sql> alternatives;
  Sql equal, seek;
  for (const auto& t : terms) {
    const Value& v = after.terms[t.index];
    if (v.is_null()) continue;
    Sql beyond = equal;
    if (!beyond.text.empty()) beyond += " AND ";
    beyond += t.expression + (t.descending ? " < " : " > ");
    beyond.bind(v, t.cast);
    alternatives.push_back(std::move(beyond));
    if (seek.text.empty()) {
      seek += t.expression + (t.descending ? " <= " : " >= ");
      seek.bind(v, t.cast);
    }
    if (!equal.text.empty()) equal += " AND ";
    equal += t.expression + " = ";
    equal.bind(v, t.cast);
  }
  Sql last = equal;
  if (!last.text.empty()) last += " AND ";
  last += "d.id > ";
  last.bind(Value(after.id));
  if (alternatives.empty()) return last;
  Sql out("(");
  out += seek;
  out += " AND (";
  for (auto& a : alternatives) {
    out += a;
    out += " OR ";
  }
  out += last;
  out += "))";
  return out;
}

std::string order_of(const std::vector<Term>& terms) {
  std::string out = " ORDER BY ";
  for (const auto& t : terms) out += t.expression + (t.descending ? " DESC, " : ", ");
  return out + "d.id";
}

// d.id, data, created_at, updated_at and the sort terms as k0, k1, ...
std::string columns(const DocSql& sql, const std::vector<Term>& terms) {
  std::string out = std::string("d.id, ") + (sql.sqlite() ? "d.data" : "d.data::text AS data") +
                    ", d.created_at, d.updated_at";
  for (const auto& t : terms) out += ", " + t.expression + " AS k" + std::to_string(t.index);
  return out;
}

// Within one bracket, the first key's terms that are not NULL and order it,
// spelled as the path's indexes are: the value (SQLite: json_extract, whose
// order within each bracket is the bracket's; PostgreSQL: jsonb), and on
// PostgreSQL the bytewise text for strings.
std::vector<Term> bracket_terms(const DocSql& sql, const SortKey& key, Bracket bracket) {
  if (bracket == Bracket::null_or_missing) return {};
  if (sql.sqlite()) return {{sql.value(key.path, "d.data"), "", key.descending, 1}};
  if (bracket == Bracket::strings) return {{sql.bytewise_text(key.path, "d.data"), "", key.descending, 1}};
  return {{sql.value(key.path, "d.data"), "::jsonb", key.descending, 2}};
}

// What keeps a branch to its bracket, written so that an index on the path
// can range over exactly the bracket. SQLite orders NULL < numbers < text
// (json_extract gives booleans as 0 and 1, objects and arrays as JSON
// text); jsonb orders [] < strings < numbers < booleans < arrays < objects
// (JSON null is NULL here, after everything). A number stored in a
// document is a finite double or a 64-bit integer, so -1e309 is below
// every one of them.
std::string bracket_condition(const DocSql& sql, const Path& path, Bracket bracket) {
  const std::string t = sql.type(path, "d.data"), v = sql.value(path, "d.data");
  switch (bracket) {
    case Bracket::null_or_missing:
      return "(" + t + " IS NULL OR " + t + " = 'null')";
    case Bracket::numbers:
      return sql.sqlite() ? "+" + t + " IN ('integer', 'real') AND " + v + " < ''"
                          : t + " = 'number' AND " + v + " >= '-1e309'::jsonb AND " + v + " < 'false'::jsonb";
    case Bracket::strings:
      return sql.sqlite() ? "+" + t + " = 'text' AND " + v + " >= ''" : t + " = 'string'";
    case Bracket::objects:
      return sql.sqlite() ? t + " = 'object'" : t + " = 'object' AND " + v + " >= '{}'::jsonb";
    case Bracket::arrays:
      return t + " = 'array'";
    case Bracket::booleans:
      return sql.sqlite() ? t + " IN ('true', 'false')"
                          : t + " = 'boolean' AND " + v + " >= 'false'::jsonb AND " + v + " <= 'true'::jsonb";
  }
  return "FALSE";
}

// The filter's own bounds on the path, repeated in the bracket's index
// spelling so that the branch seeks to them whatever the compiled filter
// looks like.
Sql bracket_bounds(const DocSql& sql, const sdk::Value& filter, const Path& path, Bracket bracket) {
  Sql out;
  if (bracket != Bracket::numbers && bracket != Bracket::strings) return out;
  std::vector<std::pair<std::string, Value>> bounds;
  collect_bounds(filter, path, bracket, bounds);
  for (const auto& [op, operand] : bounds) {
    out += " AND ";
    if (sql.sqlite()) {
      out += sql.value(path, "d.data") + std::string(spelled(op));
      out.bind(operand);
    } else if (bracket == Bracket::strings) {
      out += sql.bytewise_text(path, "d.data") + std::string(spelled(op));
      out.bind(operand);
    } else {
      out += sql.value(path, "d.data") + std::string(spelled(op));
      out.bind(Value(sdk::to_json(operand)), "::jsonb");
    }
  }
  return out;
}

Sql bound_limit(std::int64_t rows, std::int64_t skip) {
  Sql out(" LIMIT ");
  out.bind(Value(rows));
  out += " OFFSET ";
  out.bind(Value(skip));
  return out;
}

// One query, no split: the plan for unsorted finds and for filters too
// large to bind once per branch.
Sql single_query(const DocSql& sql, const Sql& where, const FindOptions& options, const std::vector<Term>& terms,
                 const Keyset* after, std::int64_t rows) {
  Sql out("SELECT " + columns(sql, terms) + " FROM docs_documents d WHERE ");
  out += where;
  if (after) {
    out += " AND ";
    out += after_condition(terms, *after);
  }
  out += order_of(terms);
  out += bound_limit(rows, options.skip);
  return out;
}

}  // namespace

unsigned possible_brackets(const Value& filter, const Path& path) {
  if (!filter.is_object()) return kEveryBracket;
  unsigned out = kEveryBracket;
  for (const auto& [key, condition] : filter.as_object()) {
    if (key == "$and" && condition.is_array()) {
      for (const auto& f : condition.as_array()) out &= possible_brackets(f, path);
    } else if (key == "$or" && condition.is_array() && condition.size() > 0) {
      unsigned any = 0;
      for (const auto& f : condition.as_array()) any |= possible_brackets(f, path);
      out &= any;
    } else if (!key.empty() && key[0] != '$' && same_path(key, path)) {
      unsigned allowed = condition_brackets(condition);
      // Through a path of several segments a condition may match inside an
      // array along the way, where the value read straight at the path is
      // missing.
      if (path.segments.size() > 1) allowed |= bit(Bracket::null_or_missing);
      out &= allowed;
    }
  }
  return out;
}

std::size_t sort_term_count(const DocSql& sql, const FindOptions& options) {
  std::size_t n = 0;
  for (const auto& key : options.sort) n += sql.sort_expressions(key.path).size();
  return n;
}

sdk::Result<Sql> find_query(const DocSql& sql, const Value& filter, std::string_view app, std::string_view collection,
                            const FindOptions& options, const Keyset* after, std::int64_t rows) {
  auto where = compile_filter(sql, filter, app, collection);
  if (!where) return where.error();
  const std::vector<Term> terms = full_terms(sql, options);
  if (options.sort.empty()) return single_query(sql, *where, options, terms, after, rows);

  const SortKey& first = options.sort.front();
  const unsigned possible = possible_brackets(filter, first.path);
  std::vector<Term> later(terms.begin() + static_cast<std::ptrdiff_t>(sql.sort_expressions(first.path).size()),
                          terms.end());
  const std::int64_t after_rank = after ? after->terms[0].as_int() : -1;
  std::vector<Sql> branches;
  std::size_t parameters = 0;
  for (Bracket bracket : kBrackets) {
    const auto rank = static_cast<std::int64_t>(bracket);
    if (!(possible & bit(bracket))) continue;
    // A page after a row of this rank: ranks before it in the sort are done.
    if (after && (first.descending ? rank > after_rank : rank < after_rank)) continue;
    Sql branch_where = *where;
    if (bracket != Bracket::null_or_missing && bracket != Bracket::arrays) {
      const KnownBracket known{first.path, bracket};
      auto specialised = compile_filter(sql, filter, app, collection, &known);
      if (!specialised) return specialised.error();
      // The filter compiler answers exactly FALSE (no scope, no parameters)
      // when no document whose value is in the known bracket can match.
      if (specialised->text == "FALSE") continue;
      branch_where = std::move(*specialised);
    }
    std::vector<Term> order = bracket_terms(sql, first, bracket);
    order.insert(order.end(), later.begin(), later.end());
    Sql branch("SELECT " + columns(sql, terms) + " FROM docs_documents d WHERE ");
    branch += branch_where;
    branch += " AND " + bracket_condition(sql, first.path, bracket);
    branch += bracket_bounds(sql, filter, first.path, bracket);
    if (after && rank == after_rank) {
      branch += " AND ";
      branch += after_condition(order, *after);
    }
    branch += order_of(order) + " LIMIT ";
    branch.bind(Value(options.skip + rows));
    parameters += branch.params.size();
    branches.push_back(std::move(branch));
  }
  if (parameters > kMaxSplitParameters) return single_query(sql, *where, options, terms, after, rows);
  if (branches.empty()) return Sql("SELECT " + columns(sql, terms) + " FROM docs_documents d WHERE FALSE");

  // The compound's ORDER BY and LIMIT apply to all of it: no subquery
  // around it, one level of nesting less for SQLite's parser.
  Sql out;
  for (std::size_t i = 0; i < branches.size(); ++i) {
    if (i) out += " UNION ALL ";
    out += "SELECT * FROM (";
    out += branches[i];
    out += ") AS b" + std::to_string(i);
  }
  out += " ORDER BY ";
  for (const auto& t : terms) out += "k" + std::to_string(t.index) + (t.descending ? " DESC, " : ", ");
  out += "id";
  out += bound_limit(rows, options.skip);
  return out;
}

std::string query_fingerprint(std::string_view collection, const Value& filter, const FindOptions& options) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  auto mix = [&](std::string_view part) {
    for (unsigned char c : part) h = (h ^ c) * 0x100000001b3ULL;
    h = (h ^ 0xFF) * 0x100000001b3ULL;
  };
  mix(collection);
  mix(sdk::to_json(filter));  // objects hold their fields sorted: one text per filter
  for (const auto& key : options.sort) mix((key.descending ? "-" : "") + key.path.text);
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string encode_page_cursor(std::string_view fingerprint, const Keyset& position) {
  return sdk::to_json(Value::object(
      {{"q", std::string(fingerprint)}, {"k", Value(sdk::Array(position.terms))}, {"id", position.id}}));
}

sdk::Result<Keyset> decode_page_cursor(const DocSql& sql, std::string_view cursor, std::string_view fingerprint,
                                       const FindOptions& options) {
  auto malformed = [] {
    return make_error(ErrorKind::invalid_argument,
                      "malformed cursor (pass back the next_cursor of an earlier page of the same query)");
  };
  auto text = sdk::decode_cursor(cursor);
  if (!text) return malformed();
  auto parsed = sdk::parse_json(*text, 4);
  if (!parsed || !parsed->is_object() || parsed->size() != 3 || !(*parsed)["q"].is_string() ||
      !(*parsed)["k"].is_array() || !(*parsed)["id"].is_string())
    return malformed();
  if ((*parsed)["q"].as_string() != fingerprint)
    return make_error(ErrorKind::invalid_argument,
                      "cursor belongs to another query (its collection, filter or sort differ from this one's)");
  Keyset out{(*parsed)["k"].as_array(), (*parsed)["id"].as_string()};
  if (!check_id(out.id)) return malformed();
  // The terms as this query's rows carry them: the rank (0-5) first for each
  // key, and nothing a statement could not bind.
  std::vector<std::string> casts;
  for (const auto& key : options.sort)
    for (const auto& t : sql.sort_expressions(key.path)) casts.push_back(t.cast);
  if (out.terms.size() != casts.size()) return malformed();
  std::size_t at = 0;
  for (const auto& key : options.sort) {
    const Value& rank = out.terms[at];
    if (!rank.is_int() || rank.as_int() < 0 || rank.as_int() > 5) return malformed();
    at += sql.sort_expressions(key.path).size();
  }
  for (std::size_t i = 0; i < out.terms.size(); ++i) {
    const Value& v = out.terms[i];
    if (v.is_string()) {
      if (!sdk::is_utf8(v.as_string()) || v.as_string().find('\0') != std::string::npos) return malformed();
      if (!casts[i].empty() && !sdk::parse_json(v.as_string(), 512)) return malformed();
    } else if (!v.is_null() && !v.is_int() && !v.is_float()) {
      return malformed();
    } else if (!casts[i].empty() && !v.is_null()) {
      return malformed();  // a jsonb term comes back as its JSON text
    }
  }
  return out;
}

}  // namespace picloud::docs
