#include "docs_filter.hpp"

#include <cmath>
#include <functional>

#include "picloud/sdk/json.hpp"
#include "picloud/sdk/json_parse.hpp"

namespace picloud::docs {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;
using sdk::ValueType;

enum class Cmp { gt, gte, lt, lte };

const char* const kOperators = "$eq $ne $gt $gte $lt $lte $in $nin $exists";

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

// One comparison's SQL for a value spelled (type, value): a list of
// alternatives, any of which matches. An empty list matches nothing.
using Test = std::function<std::vector<Sql>(const std::string& type, const std::string& value)>;

class Compiler {
 public:
  Compiler(const DocSql& sql, std::string_view app, std::string_view collection)
      : sql_(sql), app_(app), collection_(collection) {}

  sdk::Result<Sql> filter(const Value& f, const std::string& where, int depth) {
    if (!f.is_object())
      return fail(where + " must be an object of conditions, got " + std::string(sdk::to_string(f.type())));
    if (depth > kMaxFilterDepth)
      return fail(where + ": $and/$or are nested deeper than " + std::to_string(kMaxFilterDepth) + " levels");
    std::vector<Sql> parts;
    for (const auto& [key, condition] : f.as_object()) {
      sdk::Result<Sql> part = make_error(ErrorKind::internal, "");
      if (key == "$and" || key == "$or")
        part = combination(key, condition, where, depth);
      else if (!key.empty() && key[0] == '$')
        return fail(where + ": unknown operator '" + key + "' (filters combine with $and and $or; field operators " +
                    kOperators + " go inside a field's object)");
      else
        part = field(key, condition, where);
      if (!part) return part.error();
      parts.push_back(std::move(*part));
    }
    return joined(parts, " AND ", "TRUE");
  }

 private:
  static sdk::Error fail(std::string message) { return make_error(ErrorKind::invalid_argument, std::move(message)); }

  static Sql joined(std::vector<Sql>& parts, std::string_view glue, std::string_view when_empty) {
    if (parts.empty()) return Sql(std::string(when_empty));
    if (parts.size() == 1) return std::move(parts[0]);
    Sql out("(");
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i) out += glue;
      out += parts[i];
    }
    out += ")";
    return out;
  }

  sdk::Result<Sql> combination(const std::string& op, const Value& list, const std::string& where, int depth) {
    if (!list.is_array() || list.size() == 0) return fail(where + "." + op + " takes a non-empty array of filters");
    std::vector<Sql> parts;
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto part = filter(list[i], where + "." + op + "[" + std::to_string(i) + "]", depth + 1);
      if (!part) return part.error();
      parts.push_back(std::move(*part));
    }
    return joined(parts, op == "$and" ? " AND " : " OR ", "TRUE");
  }

  sdk::Result<Sql> field(const std::string& key, const Value& condition, const std::string& where) {
    auto path = parse_path(key);
    if (!path) return fail(where + ": " + path.error().message);
    const std::string at = "'" + key + "'";
    if (!condition.is_object()) return compare_eq(*path, at, {condition}, false);
    const auto& ops = condition.as_object();
    if (ops.empty() || ops.begin()->first.empty() || ops.begin()->first[0] != '$')
      return fail("at " + at +
                  ": comparing with an object is not supported; compare its fields with dotted paths "
                  "(\"" +
                  key + ".field\": value) or use an operator object ({\"$gt\": 5})");
    std::vector<Sql> parts;
    for (const auto& [op, operand] : ops) {
      sdk::Result<Sql> part = make_error(ErrorKind::internal, "");
      if (op.empty() || op[0] != '$')
        return fail("at " + at + ": '" + op + "' mixes a field with operators; use dotted paths for fields");
      if (op == "$eq")
        part = compare_eq(*path, at, {operand}, false);
      else if (op == "$ne")
        part = compare_eq(*path, at, {operand}, true);
      else if (op == "$in" || op == "$nin")
        part = compare_in(*path, at, op, operand);
      else if (op == "$gt")
        part = compare_order(*path, at, op, Cmp::gt, operand);
      else if (op == "$gte")
        part = compare_order(*path, at, op, Cmp::gte, operand);
      else if (op == "$lt")
        part = compare_order(*path, at, op, Cmp::lt, operand);
      else if (op == "$lte")
        part = compare_order(*path, at, op, Cmp::lte, operand);
      else if (op == "$exists")
        part = exists(*path, at, operand);
      else
        return fail("at " + at + ": unknown operator '" + op + "' (supported: " + kOperators + ")");
      if (!part) return part.error();
      parts.push_back(std::move(*part));
    }
    return joined(parts, " AND ", "TRUE");
  }

  sdk::Result<void> counted() {
    if (++conditions_ > kMaxFilterConditions)
      return fail("filter has more than " + std::to_string(kMaxFilterConditions) + " conditions");
    return {};
  }

  static sdk::Result<void> check_operand(const Value& v, const std::string& at, const std::string& op) {
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
                    std::string(sdk::to_string(v.type())) +
                    (v.is_array() && op != "$in" && op != "$nin" ? " (for any of several values use $in)" : ""));
    }
  }

  // The document scope, repeated in every alternative so each can use an
  // index of its own (SQLite plans OR terms separately).
  Sql scope() const {
    Sql s("d.app_id = ");
    s.bind(Value(std::string(app_)));
    s += " AND d.collection = ";
    s.bind(Value(std::string(collection_)));
    return s;
  }

  // The field matches `test` itself, or is an array with an element that does.
  Sql any(const Path& path, const Test& test) {
    const std::string type = sql_.type(path, "d.data"), value = sql_.value(path, "d.data");
    std::vector<Sql> alternatives;
    for (auto& direct : test(type, value)) {
      Sql one("(");
      one += scope();
      one += " AND ";
      one += direct;
      one += ")";
      alternatives.push_back(std::move(one));
    }
    auto inside = test(sql_.element_type(), sql_.element_value());
    if (!inside.empty()) {
      Sql one("(");
      one += scope();
      one += " AND " + type + " = 'array' AND EXISTS (SELECT 1 FROM " + sql_.elements(path, "d.data") + " WHERE ";
      one += joined(inside, " OR ", "FALSE");
      one += "))";
      alternatives.push_back(std::move(one));
    }
    return joined(alternatives, " OR ", "FALSE");
  }

  static Sql negated(const Sql& positive) {
    // The positive form may be NULL (unknown) where it does not match; NOT
    // of that is still NULL, so it is made false first.
    Sql out("(NOT COALESCE(");
    out += positive;
    out += ", FALSE))";
    return out;
  }

  // The type checks that follow a comparison of the value. On SQLite they
  // are written +type so that the planner seeks the value's index with the
  // comparison instead of the type's index with the check (which would
  // match most of the collection).
  std::string numbers(const std::string& type) const {
    return sql_.sqlite() ? "+" + type + " IN ('integer', 'real')" : type + " = 'number'";
  }
  std::string strings(const std::string& type) const {
    return sql_.sqlite() ? "+" + type + " = 'text'" : type + " = 'string'";
  }
  std::string null_or_missing(const std::string& type) const {
    return "(" + type + " IS NULL OR " + type +
           " = 'null'"
           ")";
  }

  // Binds an operand as the value expression compares with it.
  void bind(Sql& s, const Value& operand) const {
    if (sql_.sqlite())
      s.bind(operand);
    else
      s.bind(Value(sdk::to_json(operand)), "::jsonb");
  }

  // Equality with any of `operands` (one for $eq, several for $in).
  Test equality(std::vector<Value> operands) const {
    return [this, operands = std::move(operands)](const std::string& type, const std::string& value) {
      std::vector<Sql> out;
      bool null = false;
      std::vector<const Value*> nums, strs, bools;
      for (const auto& v : operands) {
        if (v.is_null())
          null = true;
        else if (v.is_int() || v.is_float())
          nums.push_back(&v);
        else if (v.is_string())
          strs.push_back(&v);
        else
          bools.push_back(&v);
      }
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
        if (!nums.empty()) in_list(nums, numbers(type));
        if (!strs.empty()) in_list(strs, strings(type));
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
      if (null) out.emplace_back(null_or_missing(type));
      return out;
    };
  }

  Test ordering(Cmp cmp, Value operand) const {
    return [this, cmp, operand = std::move(operand)](const std::string& type, const std::string& value) {
      std::vector<Sql> out;
      if (operand.is_null()) {
        // null's bracket holds only null: $gte/$lte null mean equal to null.
        if (cmp == Cmp::gte || cmp == Cmp::lte) out.emplace_back(null_or_missing(type));
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
          s.bind(operand);
          s += " AND " + strings(type) + ")";
        } else {
          s += "(" + value + " #>> '{}') COLLATE \"C\"" + std::string(spelled(cmp));
          s.bind(operand);
          s += " AND " + strings(type) + ")";
        }
        out.push_back(std::move(s));
      } else {
        Sql s("(" + value + std::string(spelled(cmp)));
        bind(s, operand);
        // On SQLite every number sorts below every text: bounding the range
        // keeps an index scan on numbers alone.
        if (sql_.sqlite() && (cmp == Cmp::gt || cmp == Cmp::gte)) s += " AND " + value + " < ''";
        s += " AND " + numbers(type) + ")";
        out.push_back(std::move(s));
      }
      return out;
    };
  }

  sdk::Result<Sql> compare_eq(const Path& path, const std::string& at, const Value& operand, bool negate) {
    if (auto r = counted(); !r) return r.error();
    if (auto ok = check_operand(operand, at, negate ? "$ne" : "$eq"); !ok) return ok.error();
    Sql positive = any(path, equality({operand}));
    return negate ? negated(positive) : positive;
  }

  sdk::Result<Sql> compare_in(const Path& path, const std::string& at, const std::string& op, const Value& list) {
    if (auto r = counted(); !r) return r.error();
    if (!list.is_array()) return fail("at " + at + ": " + op + " takes an array of values");
    if (list.size() > kMaxInValues)
      return fail("at " + at + ": " + op + " takes at most " + std::to_string(kMaxInValues) + " values");
    for (const auto& v : list.as_array())
      if (auto ok = check_operand(v, at, op + " element"); !ok) return ok.error();
    values_ += list.size();
    if (values_ > kMaxFilterValues)
      return fail("filter has more than " + std::to_string(kMaxFilterValues) + " values in its $in/$nin lists");
    if (list.size() == 0) return Sql(op == "$in" ? "FALSE" : "TRUE");
    Sql positive = any(path, equality(list.as_array()));
    return op == "$nin" ? negated(positive) : positive;
  }

  sdk::Result<Sql> compare_order(const Path& path, const std::string& at, const std::string& op, Cmp cmp,
                                 const Value& operand) {
    if (auto r = counted(); !r) return r.error();
    if (auto ok = check_operand(operand, at, op); !ok) return ok.error();
    return any(path, ordering(cmp, operand));
  }

  sdk::Result<Sql> exists(const Path& path, const std::string& at, const Value& operand) {
    if (auto r = counted(); !r) return r.error();
    if (!operand.is_bool()) return fail("at " + at + ": $exists takes true or false");
    return Sql("(" + sql_.type(path, "d.data") + (operand.as_bool() ? " IS NOT NULL)" : " IS NULL)"));
  }

  const DocSql& sql_;
  std::string_view app_, collection_;
  int conditions_ = 0;
  std::size_t values_ = 0;
};

}  // namespace

sdk::Result<Sql> compile_filter(const DocSql& sql, const Value& filter, std::string_view app,
                                std::string_view collection, const KnownBracket* known) {
  (void)known;  // not used yet: every condition compiles in full
  Compiler compiler(sql, app, collection);
  Sql out("d.app_id = ");
  out.bind(Value(std::string(app)));
  out += " AND d.collection = ";
  out.bind(Value(std::string(collection)));
  if (filter.is_null()) return out;
  auto condition = compiler.filter(filter, "filter", 0);
  if (!condition) return condition.error();
  out += " AND ";
  out += *condition;
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

std::string order_by(const DocSql& sql, const FindOptions& options) {
  std::string out = " ORDER BY ";
  for (const auto& key : options.sort) out += sql.sort_terms(key.path, key.descending) + ", ";
  return out + "d.id";
}

}  // namespace picloud::docs
