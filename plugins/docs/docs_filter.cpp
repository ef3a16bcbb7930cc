#include "docs_filter.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <optional>

#include "picloud/sdk/json.hpp"
#include "docs_regex.hpp"
#include "picloud/sdk/json_parse.hpp"
#include "picloud/sdk/text.hpp"

namespace picloud::docs {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;
using sdk::ValueType;

enum class Cmp { gt, gte, lt, lte };

// What a bound parameter weighs, for kMaxFilterBoundBytes: its text.
std::size_t bound_weight(const Value& v) {
  if (v.is_string()) return v.as_string().size();
  if (v.is_array() || v.is_object()) return sdk::to_json(v).size();
  return 8;
}

constexpr std::size_t kPostgresMaxParameters = 65535;

const std::string kBindsTooMuch =
    "filter is too complex: paths through arrays and $elemMatch repeat its operands, which would bind over " +
    std::to_string(kMaxFilterParameters) + " query parameters or " + std::to_string(kMaxFilterBoundBytes >> 20) +
    " MiB of values; use fewer or shorter values, or shorter paths";

const char* const kOperators =
    "$eq $ne $gt $gte $lt $lte $in $nin $exists $type $size $all $elemMatch $not $regex";

std::string_view spelled(Cmp c) {
  switch (c) {
    case Cmp::gt:
      return " > ";
    case Cmp::gte:
      return " >= ";
    case Cmp::lt:
      return " < ";
    case Cmp::lte:
      return " <= ";
  }
  return "";
}

bool holds(Cmp c, int order) {  // whether `x c operand` holds when x compares as `order` (-1, 0, 1)
  switch (c) {
    case Cmp::gt:
      return order > 0;
    case Cmp::gte:
      return order >= 0;
    case Cmp::lt:
      return order < 0;
    case Cmp::lte:
      return order <= 0;
  }
  return false;
}

Bracket bracket_of(const Value& v) {
  if (v.is_null()) return Bracket::null_or_missing;
  if (v.is_number()) return Bracket::numbers;
  if (v.is_string()) return Bracket::strings;
  if (v.is_bool()) return Bracket::booleans;
  if (v.is_array()) return Bracket::arrays;
  return Bracket::objects;
}

bool is_false(const Sql& s) { return s.text == "FALSE"; }
bool is_true(const Sql& s) { return s.text == "TRUE"; }

// Parts joined with AND or OR, constants folded away (a condition that
// cannot hold under a KnownBracket compiles to FALSE, which callers see).
// Parentheses only where an OR chain goes into an AND: SQLite's parser has
// a fixed stack, so every level of nesting saved is a filter accepted.
Sql joined(std::vector<Sql>& parts, bool all) {
  std::vector<Sql*> kept;
  for (auto& p : parts) {
    if (is_false(p) || is_true(p)) {
      if (is_false(p) == all) return Sql(all ? "FALSE" : "TRUE");
      continue;
    }
    kept.push_back(&p);
  }
  if (kept.empty()) return Sql(all ? "TRUE" : "FALSE");
  if (kept.size() == 1) return std::move(*kept[0]);
  Sql out;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i) out += all ? " AND " : " OR ";
    if (all && kept[i]->or_chain) {
      out += "(";
      out += *kept[i];
      out += ")";
    } else {
      out += *kept[i];
    }
  }
  out.or_chain = !all;
  return out;
}
Sql all_of(std::vector<Sql> parts) { return joined(parts, true); }
Sql any_of(std::vector<Sql> parts) { return joined(parts, false); }

Sql negated(const Sql& positive) {
  if (is_true(positive)) return Sql("FALSE");
  if (is_false(positive)) return Sql("TRUE");
  // The positive form may be NULL (unknown) where it does not match; NOT
  // of that would still be NULL, while IS NOT TRUE is true for it (and
  // costs SQLite's parser less nesting than NOT COALESCE(..., FALSE)).
  Sql out("(");
  out += positive;
  out += ") IS NOT TRUE";
  return out;
}

// Where a filter's paths start: the document, or an array's element that an
// $elemMatch or a path through an array iterates.
struct Root {
  std::string element;  // empty: the document
};

// A test of the value at one place: the SQL alternatives (any may match)
// for the place `loc`; `known` is the place's bracket when the caller knows
// it (never arrays), so alternatives of other brackets are left out.
using ValueTest = std::function<std::vector<Sql>(const Loc& loc, std::optional<Bracket> known)>;

class Compiler {
 public:
  Compiler(const DocSql& sql, std::string_view app, std::string_view collection, const KnownBracket* known)
      : sql_(sql), app_(app), collection_(collection), known_(known) {}

  sdk::Result<Sql> filter(const Value& f, const Root& root, const std::string& where, int depth) {
    if (!f.is_object())
      return fail(where + " must be an object of conditions, got " + std::string(sdk::to_string(f.type())));
    if (depth > kMaxFilterDepth)
      return fail(where + ": $and/$or/$nor/$elemMatch are nested deeper than " + std::to_string(kMaxFilterDepth) +
                  " levels");
    std::vector<Sql> parts;
    for (const auto& [key, condition] : f.as_object()) {
      sdk::Result<Sql> part = make_error(ErrorKind::internal, "");
      if (key == "$and" || key == "$or" || key == "$nor")
        part = combination(key, condition, root, where, depth);
      else if (!key.empty() && key[0] == '$')
        return fail(where + ": unknown operator '" + key +
                    "' (filters combine with $and, $or and $nor; field operators " + kOperators +
                    " go inside a field's object)");
      else
        part = field(key, condition, root, where, depth);
      if (!part) return part.error();
      if (binds_too_much()) return fail(kBindsTooMuch);
      parts.push_back(std::move(*part));
    }
    return all_of(std::move(parts));
  }

  bool uses_regex() const { return regex_; }
  // Whether what it binds went far past the bounds (check_bounds has the
  // exact ones, on SQLite's spelling): compiling stops there. Paths through
  // arrays and $elemMatch bind an operand once per place they reach, so a
  // filter of a few KiB could otherwise bind gigabytes before being refused.
  // Counted alike on both databases: the operands' own weight (PostgreSQL
  // binds their JSON text), and parameters past what PostgreSQL takes at all.
  bool binds_too_much() const {
    return bound_params_ > kPostgresMaxParameters || bound_bytes_ > 2 * kMaxFilterBoundBytes;
  }

 private:
  static sdk::Error fail(std::string message) { return make_error(ErrorKind::invalid_argument, std::move(message)); }

  // Every parameter the compiled filter binds goes through here, counted
  // (as `operand` weighs, when given: what it is the spelling of).
  void bound(Sql& s, Value v, std::string_view cast = "", const Value* operand = nullptr) const {
    ++bound_params_;
    bound_bytes_ += bound_weight(operand ? *operand : v);
    s.bind(std::move(v), cast);
  }

  sdk::Result<Sql> combination(const std::string& op, const Value& list, const Root& root, const std::string& where,
                               int depth) {
    if (!list.is_array() || list.size() == 0) return fail(where + "." + op + " takes a non-empty array of filters");
    std::vector<Sql> parts;
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto part = filter(list[i], root, where + "." + op + "[" + std::to_string(i) + "]", depth + 1);
      if (!part) return part.error();
      parts.push_back(std::move(*part));
    }
    if (op == "$and") return all_of(std::move(parts));
    Sql any = any_of(std::move(parts));
    return op == "$or" ? any : negated(any);
  }

  // ---- places ------------------------------------------------------------

  // The document scope, repeated in every alternative so each can use an
  // index of its own (SQLite plans OR terms separately).
  Sql scope() const {
    Sql s("d.app_id = ");
    bound(s, Value(std::string(app_)));
    s += " AND d.collection = ";
    bound(s, Value(std::string(collection_)));
    return s;
  }

  std::string fresh_alias() { return "e" + std::to_string(++aliases_); }

  std::string type_is(const Loc& loc, const char* sqlite_name, const char* postgres_name) const {
    return sql_.type(loc) + " = '" + (sql_.sqlite() ? sqlite_name : postgres_name) + "'";
  }
  std::string is_array(const Loc& loc) const { return type_is(loc, "array", "array"); }
  std::string is_object(const Loc& loc) const { return type_is(loc, "object", "object"); }
  std::string not_array(const Loc& loc) const {
    return sql_.sqlite() ? sql_.type(loc) + " IS NOT 'array'" : sql_.type(loc) + " IS DISTINCT FROM 'array'";
  }

  // Whether `path` below `root` is the path whose bracket the caller knows.
  std::optional<Bracket> known_at(const Root& root, const Path& path) const {
    if (!known_ || !root.element.empty() || path.segments != known_->path.segments) return std::nullopt;
    return known_->bracket;
  }

  // The alternatives for "some value reached by `path` from `root` passes
  // `test`": the path read straight (no array on the way), or, for each
  // segment before the last that holds an array, every object element of it
  // followed by the rest of the path (MongoDB's reach into arrays of
  // objects; arrays in arrays are not looked into).
  std::vector<Sql> reach(const Loc& base, const Path& path, std::size_t from, const ValueTest& test,
                         std::optional<Bracket> known) {
    std::vector<Sql> out;
    // Read straight: no segment before the last holds an array.
    Loc loc = base;
    std::vector<Sql> guards;
    for (std::size_t i = from; i < path.segments.size(); ++i) {
      if (i > from && !known) guards.emplace_back(not_array(loc));
      loc = sql_.field(loc, path.segments[i]);
    }
    for (auto& alternative : test(loc, known)) {
      std::vector<Sql> parts = guards;
      parts.push_back(std::move(alternative));
      out.push_back(all_of(std::move(parts)));
    }
    if (known) return out;  // a value of a known bracket is read straight
    // Through the first segment before the last that holds an array.
    Loc prefix = base;
    for (std::size_t k = from; k + 1 < path.segments.size(); ++k) {
      prefix = sql_.field(prefix, path.segments[k]);
      const std::string alias = fresh_alias();
      const Loc element = DocSql::element(alias);
      Sql inner = any_of(reach(element, path, k + 1, test, std::nullopt));
      if (is_false(inner)) continue;
      // The prefixes shorter than this one hold no array.
      std::vector<Sql> parts(guards.begin(), guards.begin() + static_cast<std::ptrdiff_t>(k - from));
      parts.emplace_back(is_array(prefix));
      // Implied (the path read straight meets the array and finds nothing),
      // and what lets an index on the path find these documents too: its
      // type index has them under NULL.
      if (base.element.empty()) parts.emplace_back(sql_.type(loc) + " IS NULL");
      parts.push_back(exists(prefix, alias, all_of({Sql(is_object(element)), std::move(inner)})));
      out.push_back(all_of(std::move(parts)));
    }
    return out;
  }

  // EXISTS over the elements of the array at `loc` (alias `alias`) where `condition` holds.
  Sql exists(const Loc& loc, const std::string& alias, const Sql& condition) const {
    Sql out("EXISTS (SELECT 1 FROM " + sql_.elements(loc, alias) + " WHERE ");
    out += condition;
    out += ")";
    return out;
  }

  // The condition that some value at `path` passes `test`, as one SQL term.
  Sql at_path(const Root& root, const Path& path, const ValueTest& test) {
    const auto known = known_at(root, path);
    const Loc base = root.element.empty() ? Loc{} : DocSql::element(root.element);
    auto alternatives = reach(base, path, 0, test, known);
    if (root.element.empty())
      for (auto& a : alternatives) a = all_of({scope(), std::move(a)});
    return any_of(std::move(alternatives));
  }

  // A value test that also passes for an array whose element passes it
  // (MongoDB's rule for a field holding an array).
  ValueTest with_elements(ValueTest test) {
    return [this, test = std::move(test)](const Loc& loc, std::optional<Bracket> known) {
      auto out = test(loc, known);
      if (known) return out;  // not an array
      const std::string alias = fresh_alias();
      Sql inside = any_of(test(DocSql::element(alias), std::nullopt));
      if (!is_false(inside)) out.push_back(all_of({Sql(is_array(loc)), exists(loc, alias, inside)}));
      return out;
    };
  }

  // ---- fields and operators ------------------------------------------------

  sdk::Result<Sql> field(const std::string& key, const Value& condition, const Root& root, const std::string& where,
                         int depth) {
    auto path = parse_path(key);
    if (!path) return fail(where + ": " + path.error().message);
    const std::string at = "'" + key + "'";
    if (!condition.is_object() || condition.size() == 0 || condition.as_object().begin()->first.empty() ||
        condition.as_object().begin()->first[0] != '$')
      return equals(root, *path, at, condition, false);  // a value, compared whole
    return operators(root, &*path, Loc{}, at, condition, where, depth);
  }

  // The operator object `ops` applied at `path` below `root` or, when path
  // is null, to the single place `node` (an $elemMatch's element).
  sdk::Result<Sql> operators(const Root& root, const Path* path, const Loc& node, const std::string& at,
                             const Value& ops, const std::string& where, int depth) {
    std::vector<Sql> parts;
    const Value* options = nullptr;
    if (auto it = ops.as_object().find("$options"); it != ops.as_object().end()) {
      if (!ops.has("$regex")) return fail("at " + at + ": $options goes with $regex");
      options = &it->second;
    }
    for (const auto& [op, operand] : ops.as_object()) {
      if (op.empty() || op[0] != '$')
        return fail("at " + at + ": '" + op +
                    "' mixes a field with operators; use dotted paths for fields, or compare the whole value "
                    "without operators");
      sdk::Result<Sql> part = make_error(ErrorKind::internal, "");
      if (op == "$options") continue;
      if (op == "$eq" || op == "$ne")
        part = path ? equals(root, *path, at, operand, op == "$ne") : equals_node(node, at, operand, op == "$ne");
      else if (op == "$in" || op == "$nin")
        part = in_list(root, path, node, at, op, operand);
      else if (op == "$gt" || op == "$gte" || op == "$lt" || op == "$lte")
        part = order(root, path, node, at, op, operand);
      else if (op == "$exists")
        part = exists(root, path, node, at, operand);
      else if (op == "$type")
        part = type_of(root, path, node, at, operand);
      else if (op == "$size")
        part = size(root, path, node, at, operand);
      else if (op == "$all")
        part = all(root, path, node, at, operand, where, depth);
      else if (op == "$elemMatch")
        part = elem_match(root, path, node, at, operand, where, depth);
      else if (op == "$not")
        part = not_(root, path, node, at, operand, where, depth);
      else if (op == "$regex")
        part = regex(root, path, node, at, operand, options);
      else
        return fail("at " + at + ": unknown operator '" + op + "' (supported: " + kOperators + ")");
      if (!part) return part.error();
      parts.push_back(std::move(*part));
    }
    return all_of(std::move(parts));
  }

  // `test` at the path (every place it reaches, an array there also passing
  // when an element of it does, if `elements`) or at the single node (an
  // element $elemMatch tests, never looked into further).
  Sql applied(const Root& root, const Path* path, const Loc& node, const ValueTest& test, bool elements) {
    if (path) return at_path(root, *path, elements ? with_elements(test) : test);
    return any_of(test(node, std::nullopt));
  }

  sdk::Result<void> counted() {
    if (binds_too_much()) return fail(kBindsTooMuch);
    if (++conditions_ > kMaxFilterConditions)
      return fail("filter has more than " + std::to_string(kMaxFilterConditions) + " conditions");
    return {};
  }

  sdk::Result<void> count_values(std::size_t n) {
    values_ += n;
    if (values_ > kMaxFilterValues)
      return fail("filter has more than " + std::to_string(kMaxFilterValues) + " values in its operands");
    return {};
  }

  static sdk::Result<void> check_scalar(const Value& v, const std::string& at, const std::string& op) {
    switch (v.type()) {
      case ValueType::null:
      case ValueType::boolean:
      case ValueType::integer:
      case ValueType::string:
        if (v.is_string() && !sdk::is_utf8(v.as_string()))
          return fail("at " + at + ": " + op + " operand is not valid UTF-8");
        // No stored string can hold U+0000 (PostgreSQL cannot store it).
        if (v.is_string() && v.as_string().find('\0') != std::string::npos)
          return fail("at " + at + ": " + op + " operand holds the NUL character (U+0000), which no document holds");
        return {};
      case ValueType::number:
        if (!std::isfinite(v.as_float())) return fail("at " + at + ": " + op + " operand is not a finite number");
        return {};
      default:
        return fail("at " + at + ": " + op + " takes a string, number, bool or null, not " +
                    std::string(sdk::to_string(v.type())));
    }
  }

  // A value compared whole: a scalar, or an array or object whose every
  // part is checked (keys as path segments are: they are spelled in SQL).
  sdk::Result<std::size_t> check_value(const Value& v, const std::string& at, const std::string& op, int depth = 0) {
    if (depth > kMaxValueDepth)
      return fail("at " + at + ": " + op + " operand is nested deeper than " + std::to_string(kMaxValueDepth) +
                  " levels");
    if (v.is_array()) {
      std::size_t leaves = 1;
      for (const auto& e : v.as_array()) {
        auto n = check_value(e, at, op, depth + 1);
        if (!n) return n.error();
        leaves += *n;
      }
      return leaves;
    }
    if (v.is_object()) {
      std::size_t leaves = 1;
      for (const auto& [k, e] : v.as_object()) {
        if (!k.empty() && k[0] == '$')
          return fail("at " + at + ": " + op + " operand holds the field '" + k +
                      "'; operators go right under a path (\"a.b\": {\"$gt\": 1}), not inside a value compared whole");
        auto segment = parse_path(k);
        if (!segment || segment->segments.size() != 1)
          return fail("at " + at + ": " + op + " operand holds the field name '" + k +
                      "', which a value compared whole may not (no . ' \" \\ [ ] or control characters)");
        auto n = check_value(e, at, op, depth + 1);
        if (!n) return n.error();
        leaves += *n;
      }
      return leaves;
    }
    if (auto ok = check_scalar(v, at, op); !ok) return ok.error();
    return std::size_t{1};
  }

  std::string null_or_missing(const Loc& loc) const {
    const std::string t = sql_.type(loc);
    return "(" + t + " IS NULL OR " + t + " = 'null')";
  }

  // The type checks that follow a comparison of the value. On SQLite they
  // are written +type so that the planner seeks the value's index with the
  // comparison instead of the type's index with the check (which would
  // match most of the collection).
  std::string numbers(const Loc& loc) const {
    return sql_.sqlite() ? "+" + sql_.type(loc) + " IN ('integer', 'real')" : sql_.type(loc) + " = 'number'";
  }
  std::string strings(const Loc& loc) const {
    return sql_.sqlite() ? "+" + sql_.type(loc) + " = 'text'" : sql_.type(loc) + " = 'string'";
  }

  // Binds an operand as the value expression compares with it.
  void bind(Sql& s, const Value& operand) const {
    if (sql_.sqlite())
      bound(s, operand);
    else
      bound(s, Value(sdk::to_json(operand)), "::jsonb", &operand);
  }

  // Whether alternatives for values of bracket `b` can match a place of
  // bracket `known`.
  static bool possible(std::optional<Bracket> known, Bracket b) { return !known || *known == b; }

  // The value at `loc` equals `v` exactly, whole (SQLite: part by part, so
  // that 1 equals 1.0 and objects' key order does not matter; PostgreSQL's
  // jsonb equality is that already).
  Sql equal_whole(const Loc& loc, const Value& v) const {
    if (!sql_.sqlite()) {
      Sql s("(" + sql_.value(loc) + " = ");
      bind(s, v);
      s += ")";
      return s;
    }
    if (v.is_null()) return Sql("(" + sql_.type(loc) + " = 'null')");
    if (v.is_bool()) return Sql("(" + sql_.type(loc) + (v.as_bool() ? " = 'true')" : " = 'false')"));
    if (v.is_number() || v.is_string()) {
      Sql s("(" + sql_.value(loc) + " = ");
      bound(s, v);
      s += " AND " + (v.is_string() ? strings(loc) : numbers(loc)) + ")";
      return s;
    }
    std::vector<Sql> parts;
    if (v.is_array()) {
      parts.emplace_back("(" + sql_.type(loc) + " = 'array' AND " + sql_.array_length(loc) + " = " +
                         std::to_string(v.size()) + ")");
      for (std::size_t i = 0; i < v.size(); ++i) parts.push_back(equal_whole(sql_.position(loc, i), v[i]));
    } else {
      parts.emplace_back("(" + sql_.type(loc) + " = 'object' AND " + sql_.object_size(loc) + " = " +
                         std::to_string(v.size()) + ")");
      for (const auto& [k, e] : v.as_object()) parts.push_back(equal_whole(sql_.field(loc, k), e));
    }
    return all_of(std::move(parts));
  }

  // Equality with any of `operands`: scalars by type bracket, arrays and
  // objects whole; null also matches a missing field.
  ValueTest equality(std::vector<Value> operands) const {
    return [this, operands = std::move(operands)](const Loc& loc, std::optional<Bracket> known) {
      std::vector<Sql> out;
      bool null = false;
      std::vector<const Value*> nums, strs, bools;
      for (const auto& v : operands) {
        const Bracket b = bracket_of(v);
        if (!possible(known, b)) continue;
        if (v.is_null())
          null = true;
        else if (v.is_number())
          nums.push_back(&v);
        else if (v.is_string())
          strs.push_back(&v);
        else if (v.is_bool())
          bools.push_back(&v);
        else
          out.push_back(equal_whole(loc, v));
      }
      const std::string value = sql_.value(loc), type = sql_.type(loc);
      auto in_list = [&](const std::vector<const Value*>& values, const std::string& guard) {
        Sql s("(" + value + (values.size() == 1 ? " = " : " IN ("));
        for (std::size_t i = 0; i < values.size(); ++i) {
          if (i) s += ", ";
          bind(s, *values[i]);
        }
        s += values.size() == 1 ? "" : ")";
        s += guard.empty() ? ")" : " AND " + guard + ")";
        out.push_back(std::move(s));
      };
      if (sql_.sqlite()) {
        if (!nums.empty()) in_list(nums, numbers(loc));
        if (!strs.empty()) in_list(strs, strings(loc));
        if (!bools.empty()) {
          std::string names;
          for (const auto* b : bools)
            names += std::string(names.empty() ? "" : ", ") + (b->as_bool() ? "'true'" : "'false'");
          out.emplace_back("(" + type + " IN (" + names + "))");
        }
      } else {
        // jsonb equality is typed: 1 = 1.0, "1" <> 1, true <> 1.
        std::vector<const Value*> all = nums;
        all.insert(all.end(), strs.begin(), strs.end());
        all.insert(all.end(), bools.begin(), bools.end());
        if (!all.empty()) in_list(all, "");
      }
      if (null) out.emplace_back(null_or_missing(loc));
      return out;
    };
  }

  ValueTest ordering(Cmp cmp, Value operand) const {
    return [this, cmp, operand = std::move(operand)](const Loc& loc, std::optional<Bracket> known) {
      std::vector<Sql> out;
      if (!possible(known, bracket_of(operand))) return out;
      const std::string value = sql_.value(loc), type = sql_.type(loc);
      if (operand.is_null()) {
        // null's bracket holds only null: $gte/$lte null mean equal to null.
        if (cmp == Cmp::gte || cmp == Cmp::lte) out.emplace_back(null_or_missing(loc));
      } else if (operand.is_bool()) {
        std::vector<bool> allowed;
        for (bool b : {false, true})
          if (holds(cmp, static_cast<int>(b) - static_cast<int>(operand.as_bool()))) allowed.push_back(b);
        if (allowed.size() == 2)
          out.emplace_back("(" + type + (sql_.sqlite() ? " IN ('false', 'true'))" : " = 'boolean')"));
        else if (allowed.size() == 1) {
          const char* name = allowed[0] ? "true" : "false";
          out.emplace_back(sql_.sqlite() ? "(" + type + " = '" + name + "')"
                                         : "(" + value + " = '" + name + "'::jsonb)");
        }
      } else if (operand.is_string()) {
        Sql s("(");
        if (sql_.sqlite()) {
          s += value + std::string(spelled(cmp));
          bound(s, operand);
        } else {
          s += "(" + sql_.text(loc) + ") COLLATE \"C\"" + std::string(spelled(cmp));
          bound(s, operand);
        }
        s += " AND " + strings(loc) + ")";
        out.push_back(std::move(s));
      } else {
        Sql s("(" + value + std::string(spelled(cmp)));
        bind(s, operand);
        // On SQLite every number sorts below every text: bounding the range
        // keeps an index scan on numbers alone.
        if (sql_.sqlite() && (cmp == Cmp::gt || cmp == Cmp::gte)) s += " AND " + value + " < ''";
        s += " AND " + numbers(loc) + ")";
        out.push_back(std::move(s));
      }
      return out;
    };
  }

  sdk::Result<Sql> equals(const Root& root, const Path& path, const std::string& at, const Value& operand,
                          bool negate) {
    if (auto r = counted(); !r) return r.error();
    auto leaves = check_value(operand, at, negate ? "$ne" : "$eq");
    if (!leaves) return leaves.error();
    if (auto r = count_values(*leaves); !r) return r.error();
    Sql positive = at_path(root, path, with_elements(equality({operand})));
    return negate ? negated(positive) : positive;
  }

  sdk::Result<Sql> equals_node(const Loc& node, const std::string& at, const Value& operand, bool negate) {
    if (auto r = counted(); !r) return r.error();
    auto leaves = check_value(operand, at, negate ? "$ne" : "$eq");
    if (!leaves) return leaves.error();
    if (auto r = count_values(*leaves); !r) return r.error();
    Sql positive = any_of(equality({operand})(node, std::nullopt));
    return negate ? negated(positive) : positive;
  }

  sdk::Result<Sql> in_list(const Root& root, const Path* path, const Loc& node, const std::string& at,
                           const std::string& op, const Value& list) {
    if (auto r = counted(); !r) return r.error();
    if (!list.is_array()) return fail("at " + at + ": " + op + " takes an array of values");
    if (list.size() > kMaxInValues)
      return fail("at " + at + ": " + op + " takes at most " + std::to_string(kMaxInValues) + " values");
    for (const auto& v : list.as_array()) {
      auto leaves = check_value(v, at, op + " element");
      if (!leaves) return leaves.error();
      if (auto r = count_values(*leaves); !r) return r.error();
    }
    if (list.size() == 0) return Sql(op == "$in" ? "FALSE" : "TRUE");
    Sql positive = applied(root, path, node, equality(list.as_array()), true);
    return op == "$nin" ? negated(positive) : positive;
  }

  sdk::Result<Sql> order(const Root& root, const Path* path, const Loc& node, const std::string& at,
                         const std::string& op, const Value& operand) {
    if (auto r = counted(); !r) return r.error();
    if (auto ok = check_scalar(operand, at, op); !ok)
      return fail(ok.error().message + (operand.is_array() || operand.is_object()
                                            ? " (arrays and objects are compared whole with $eq only)"
                                            : ""));
    const Cmp cmp = op == "$gt" ? Cmp::gt : op == "$gte" ? Cmp::gte : op == "$lt" ? Cmp::lt : Cmp::lte;
    return applied(root, path, node, ordering(cmp, operand), true);
  }

  sdk::Result<Sql> exists(const Root& root, const Path* path, const Loc& node, const std::string& at,
                          const Value& operand) {
    if (auto r = counted(); !r) return r.error();
    if (!operand.is_bool()) return fail("at " + at + ": $exists takes true or false");
    ValueTest present = [this](const Loc& loc, std::optional<Bracket> known) {
      std::vector<Sql> out;
      out.emplace_back(known ? "TRUE" : "(" + sql_.type(loc) + " IS NOT NULL)");
      return out;
    };
    Sql positive = applied(root, path, node, present, false);
    return operand.as_bool() ? positive : negated(positive);
  }

  sdk::Result<Sql> type_of(const Root& root, const Path* path, const Loc& node, const std::string& at,
                           const Value& operand) {
    if (auto r = counted(); !r) return r.error();
    std::vector<Value> names = operand.is_array() ? operand.as_array() : std::vector<Value>{operand};
    if (names.empty()) return fail("at " + at + ": $type takes a type name or a non-empty array of them");
    std::vector<Bracket> wanted;
    bool arrays = false;
    for (const auto& n : names) {
      const std::string name = n.string_or("");
      if (name == "null")
        wanted.push_back(Bracket::null_or_missing);
      else if (name == "bool")
        wanted.push_back(Bracket::booleans);
      else if (name == "number")
        wanted.push_back(Bracket::numbers);
      else if (name == "string")
        wanted.push_back(Bracket::strings);
      else if (name == "object")
        wanted.push_back(Bracket::objects);
      else if (name == "array")
        arrays = true;
      else
        return fail("at " + at + ": $type takes null, bool, number, string, object or array" +
                    (n.is_string() ? ", not '" + name + "'" : "") +
                    (name == "int" || name == "double" || name == "long" || name == "decimal"
                         ? " (documents hold JSON numbers: use \"number\")"
                         : ""));
    }
    ValueTest scalar = [this, wanted](const Loc& loc, std::optional<Bracket> known) {
      std::vector<Sql> out;
      const std::string t = sql_.type(loc);
      for (Bracket b : wanted) {
        if (known) {
          if (*known == b) out.emplace_back("TRUE");
          continue;
        }
        switch (b) {
          case Bracket::null_or_missing:
            out.emplace_back("(" + t + " = 'null')");
            break;
          case Bracket::booleans:
            out.emplace_back("(" + t + (sql_.sqlite() ? " IN ('true', 'false'))" : " = 'boolean')"));
            break;
          case Bracket::numbers:
            out.emplace_back("(" + t + (sql_.sqlite() ? " IN ('integer', 'real'))" : " = 'number')"));
            break;
          case Bracket::strings:
            out.emplace_back("(" + t + (sql_.sqlite() ? " = 'text')" : " = 'string')"));
            break;
          default:
            out.emplace_back("(" + t + " = 'object')");
        }
      }
      return out;
    };
    Sql positive = applied(root, path, node, scalar, true);
    if (!arrays) return positive;
    ValueTest array = [this](const Loc& loc, std::optional<Bracket> known) {
      std::vector<Sql> out;
      if (!known) out.emplace_back("(" + is_array(loc) + ")");
      return out;
    };
    return any_of({std::move(positive), applied(root, path, node, array, false)});
  }

  sdk::Result<Sql> size(const Root& root, const Path* path, const Loc& node, const std::string& at,
                        const Value& operand) {
    if (auto r = counted(); !r) return r.error();
    if (!operand.is_int() || operand.as_int() < 0) return fail("at " + at + ": $size takes a whole number, 0 or more");
    const std::int64_t n = operand.as_int();
    ValueTest test = [this, n](const Loc& loc, std::optional<Bracket> known) {
      std::vector<Sql> out;
      if (!known)
        out.emplace_back("(" + is_array(loc) + " AND " + sql_.array_length(loc) + " = " + std::to_string(n) + ")");
      return out;
    };
    return applied(root, path, node, test, false);
  }

  sdk::Result<Sql> all(const Root& root, const Path* path, const Loc& node, const std::string& at,
                       const Value& operand, const std::string& where, int depth) {
    if (!operand.is_array()) return fail("at " + at + ": $all takes an array of values");
    if (operand.size() == 0) return Sql("FALSE");  // as MongoDB: $all of nothing matches nothing
    if (operand.size() > kMaxInValues)
      return fail("at " + at + ": $all takes at most " + std::to_string(kMaxInValues) + " values");
    std::vector<Sql> parts;
    for (const auto& v : operand.as_array()) {
      sdk::Result<Sql> part = make_error(ErrorKind::internal, "");
      if (v.is_object() && v.size() == 1 && v.has("$elemMatch"))
        part = elem_match(root, path, node, at, v["$elemMatch"], where, depth);
      else if (path)
        part = equals(root, *path, at, v, false);
      else
        part = equals_node(node, at, v, false);
      if (!part) return part.error();
      parts.push_back(std::move(*part));
    }
    return all_of(std::move(parts));
  }

  sdk::Result<Sql> elem_match(const Root& root, const Path* path, const Loc& node, const std::string& at,
                              const Value& operand, const std::string& where, int depth) {
    if (auto r = counted(); !r) return r.error();
    if (!operand.is_object() || operand.size() == 0)
      return fail("at " + at + ": $elemMatch takes a non-empty object: a filter on each element's fields, or "
                  "operators on each element ({\"$gte\": 80, \"$lt\": 85})");
    if (depth + 1 > kMaxFilterDepth)
      return fail(where + ": $and/$or/$nor/$elemMatch are nested deeper than " + std::to_string(kMaxFilterDepth) +
                  " levels");
    const auto& first = operand.as_object().begin()->first;
    const bool on_values = !first.empty() && first[0] == '$' && first != "$and" && first != "$or" && first != "$nor";
    // The element condition is compiled once per place the path reaches, each
    // with an alias of its own.
    sdk::Error failed = make_error(ErrorKind::internal, "");
    bool ok = true;
    ValueTest test = [&, this](const Loc& loc, std::optional<Bracket> known) {
      std::vector<Sql> out;
      if (known || !ok) return out;
      const std::string alias = fresh_alias();
      const Loc element = DocSql::element(alias);
      sdk::Result<Sql> inner = on_values ? operators(Root{}, nullptr, element, at + ".$elemMatch", operand, where,
                                                     depth + 1)
                                         : filter(operand, Root{alias}, where + ".$elemMatch", depth + 1);
      if (!inner) {
        failed = inner.error();
        ok = false;
        return out;
      }
      if (is_false(*inner)) return out;
      Sql condition = on_values ? std::move(*inner) : all_of({Sql(is_object(element)), std::move(*inner)});
      out.push_back(all_of({Sql(is_array(loc)), exists(loc, alias, condition)}));
      return out;
    };
    Sql out = applied(root, path, node, test, false);
    if (!ok) return failed;
    return out;
  }

  sdk::Result<Sql> not_(const Root& root, const Path* path, const Loc& node, const std::string& at,
                        const Value& operand, const std::string& where, int depth) {
    if (!operand.is_object() || operand.size() == 0 || operand.as_object().begin()->first.empty() ||
        operand.as_object().begin()->first[0] != '$')
      return fail("at " + at + ": $not takes an object of operators ({\"$gt\": 5})");
    auto positive = operators(root, path, node, at, operand, where, depth);
    if (!positive) return positive.error();
    return negated(*positive);
  }

  sdk::Result<Sql> regex(const Root& root, const Path* path, const Loc& node, const std::string& at,
                         const Value& operand, const Value* options) {
    if (auto r = counted(); !r) return r.error();
    if (!operand.is_string()) return fail("at " + at + ": $regex takes a pattern string");
    std::string flags;
    if (options) {
      if (!options->is_string()) return fail("at " + at + ": $options takes a string of flags (i, m, s)");
      flags = options->as_string();
    }
    if (++regexes_ > kMaxRegexConditions)
      return fail("filter has more than " + std::to_string(kMaxRegexConditions) + " $regex conditions");
    auto pattern = check_regex(operand.as_string(), flags);
    if (!pattern) return fail("at " + at + ": " + pattern.error().message);
    regex_ = true;
    ValueTest test = [this, pattern = *pattern, flags](const Loc& loc, std::optional<Bracket> known) {
      std::vector<Sql> out;
      if (!possible(known, Bracket::strings)) return out;
      Sql s("(");
      if (sql_.sqlite()) {
        s += "picloud_regexp(";
        bound(s, Value(pattern.sqlite_pattern));
        s += ", ";
        bound(s, Value(pattern.sqlite_flags));
        s += ", " + sql_.value(loc) + ")";
      } else {
        s += "(" + sql_.text(loc) + ") COLLATE \"C\" ~ ";
        bound(s, Value(pattern.postgres));
      }
      s += " AND " + strings(loc) + ")";
      out.push_back(std::move(s));
      return out;
    };
    return applied(root, path, node, test, true);
  }

  const DocSql& sql_;
  std::string_view app_, collection_;
  const KnownBracket* known_;
  int conditions_ = 0;
  std::size_t values_ = 0;
  int aliases_ = 0;
  int regexes_ = 0;
  bool regex_ = false;
  mutable std::size_t bound_params_ = 0;
  mutable std::size_t bound_bytes_ = 0;
};

}  // namespace

int parser_depth(std::string_view sql) {
  // What each open parenthesis costs SQLite's parser, measured on its
  // grammar with some margin: a subquery holds its SELECT ... WHERE (and
  // the AND/OR around it) on the stack, a function call its name and
  // arguments so far, a plain group the operator before it.
  std::vector<int> open;
  int depth = 0, deepest = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'') {
      quoted = !quoted;
    } else if (quoted) {
      continue;
    } else if (c == '(') {
      std::string_view before = sql.substr(0, i);
      while (!before.empty() && before.back() == ' ') before.remove_suffix(1);
      int cost = 3;
      if (before.ends_with("EXISTS"))
        cost = 14;
      else if (!before.empty() && (std::isalnum(static_cast<unsigned char>(before.back())) || before.back() == '_'))
        cost = before.ends_with("AND") || before.ends_with("OR") || before.ends_with("NOT") ? 3 : 6;
      open.push_back(cost);
      depth += cost;
      deepest = std::max(deepest, depth);
    } else if (c == ')' && !open.empty()) {
      depth -= open.back();
      open.pop_back();
    }
  }
  return deepest;
}

namespace {

// The filter's query within what both databases take: its parameters, its
// size and its nesting, all as SQLite spells it (`condition` is that
// spelling when `sql` is SQLite's).
sdk::Result<void> check_bounds(const DocSql& sql, const Sql& condition, const Value& filter, std::string_view app,
                               std::string_view collection) {
  Sql sqlite_spelling;
  if (!sql.sqlite()) {
    const DocSql sqlite(sdk::Dialect::sqlite);
    Compiler measure(sqlite, app, collection, nullptr);
    auto spelled = measure.filter(filter, Root{}, "filter", 0);
    if (!spelled) return spelled.error();  // binding too much as SQLite spells it
    sqlite_spelling = std::move(*spelled);
  }
  const Sql& measured = sql.sqlite() ? condition : sqlite_spelling;
  // Every way a path is read binds its operands again.
  std::size_t bytes = 0;
  for (const auto& p : measured.params) bytes += bound_weight(p);
  if (measured.params.size() > kMaxFilterParameters || bytes > kMaxFilterBoundBytes)
    return make_error(ErrorKind::invalid_argument, kBindsTooMuch);
  if (measured.text.size() > kMaxFilterSqlBytes)
    return make_error(ErrorKind::invalid_argument,
                      "filter is too complex: paths through arrays and nested operators would make a query of over " +
                          std::to_string(kMaxFilterSqlBytes / 1024) + " KiB; simplify it");
  if (parser_depth(measured.text) > kMaxParserDepth) return make_error(ErrorKind::invalid_argument, kNestedTooDeeply);
  return {};
}

}  // namespace

sdk::Result<Sql> compile_filter(const DocSql& sql, const Value& filter, std::string_view app,
                                std::string_view collection, const KnownBracket* known) {
  Compiler compiler(sql, app, collection, known);
  Sql out("d.app_id = ");
  out.bind(Value(std::string(app)));
  out += " AND d.collection = ";
  out.bind(Value(std::string(collection)));
  if (filter.is_null()) return out;
  auto condition = compiler.filter(filter, Root{}, "filter", 0);
  if (!condition) return condition.error();
  if (is_false(*condition)) return Sql("FALSE");
  // The bounds are measured on SQLite's spelling on both databases, so that
  // a filter is refused on both or on neither; under `known` not at all:
  // that compile is a smaller form of one the caller made first.
  if (!known)
    if (auto bounded = check_bounds(sql, *condition, filter, app, collection); !bounded) return bounded.error();
  if (!is_true(*condition)) {
    out += " AND ";
    if (condition->or_chain) out += "(";
    out += *condition;
    if (condition->or_chain) out += ")";
  }
  out.regex = compiler.uses_regex();
  return out;
}

sdk::Result<FindOptions> parse_find_options(const Value& options) {
  FindOptions out;
  if (options.is_null()) return out;
  auto fail = [](const std::string& m) { return make_error(ErrorKind::invalid_argument, "options: " + m); };
  if (!options.is_object()) return fail("must be an object {sort, limit, skip}");
  for (const auto& [key, v] : options.as_object()) {
    if (key == "limit") {
      if (!v.is_int() || v.as_int() < 1 || v.as_int() > kMaxFindLimit)
        return fail("limit must be a whole number from 1 to " + std::to_string(kMaxFindLimit));
      out.limit = v.as_int();
    } else if (key == "skip") {
      if (!v.is_int() || v.as_int() < 0 || v.as_int() > kMaxSkip)
        return fail("skip must be a whole number from 0 to " + std::to_string(kMaxSkip) +
                    " (page further with a filter on the sort field)");
      out.skip = v.as_int();
    } else if (key == "sort") {
      std::vector<Value> keys;
      if (v.is_string())
        keys.push_back(v);
      else if (v.is_array())
        keys = v.as_array();
      else
        return fail(R"(sort is a path or an array of paths, each "-" first for descending: ["-score", "name"])");
      if (keys.empty() || keys.size() > kMaxSortKeys)
        return fail("sort takes 1 to " + std::to_string(kMaxSortKeys) + " paths");
      for (const auto& k : keys) {
        if (!k.is_string()) return fail("sort: each key is a path string, \"-\" first for descending");
        std::string_view text = k.as_string();
        bool descending = !text.empty() && text[0] == '-';
        if (descending) text.remove_prefix(1);
        auto path = parse_path(text);
        if (!path) return fail("sort: " + path.error().message);
        out.sort.push_back({std::move(*path), descending});
      }
    } else {
      return fail("unknown option '" + key + "' (sort, limit, skip)");
    }
  }
  return out;
}


}  // namespace picloud::docs
