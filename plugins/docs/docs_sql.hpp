// How documents are spelled in each database's SQL: the value and JSON type
// at a path, an array's elements, sort keys. The filter compiler and the
// index definitions both use these, so a query names a path exactly as the
// index on it does (both databases match expression indexes structurally).
//
// Values come out typed the same way on both databases, as far as queries
// can tell: SQL NULL for a missing field and for JSON null; numbers compare
// numerically (int and float alike); strings compare bytewise (SQLite's
// BINARY, PostgreSQL's "C"); the type name tells the rest apart.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "docs_paths.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::docs {

// SQL text with its bound parameters, built up in order.
struct Sql {
  std::string text;
  sdk::Params params;
  bool regex = false;     // runs a regular expression (PostgreSQL: under a statement time limit)
  bool or_chain = false;  // terms joined by OR at the top, unparenthesized (AND around it needs parentheses)

  Sql() = default;
  explicit Sql(std::string t) : text(std::move(t)) {}
  Sql& operator+=(const std::string& t) { return *this += std::string_view(t); }
  Sql& operator+=(const char* t) { return *this += std::string_view(t); }
  Sql& operator+=(std::string_view t) {
    text += t;
    return *this;
  }
  Sql& operator+=(const Sql& other) {
    text += other.text;
    regex = regex || other.regex;
    params.insert(params.end(), other.params.begin(), other.params.end());
    return *this;
  }
  // Appends a placeholder (with `cast` after it) bound to `value`.
  Sql& bind(sdk::Value value, std::string_view cast = "") {
    text += "?";
    text += cast;
    params.push_back(std::move(value));
    return *this;
  }
};

// A place in a document that SQL reads: a document's field (base empty,
// suffix the path) or, inside a subquery over an array's elements, an
// element (base its alias) or a field below it. Rendered per database by
// DocSql; the document's own fields render exactly as index definitions do.
struct Loc {
  std::string element;  // the alias of the array element this is at or below; empty: the document
  std::string suffix;   // the JSON path below it: SQLite '."a"."b"[0]', PostgreSQL ->'a'::text->'b'::text->0
};

class DocSql {
 public:
  explicit DocSql(sdk::Dialect dialect) : dialect_(dialect) {}
  sdk::Dialect dialect() const { return dialect_; }
  bool sqlite() const { return dialect_ == sdk::Dialect::sqlite; }

  // `column` is "d.data" in queries and "data" in index definitions.
  // The value at the path: SQLite json_extract (ints, reals, text; true and
  // false as 1 and 0; arrays and objects as JSON text), PostgreSQL jsonb.
  std::string value(const Path& path, std::string_view column) const;
  // The JSON type at the path, NULL when the field is missing. SQLite names:
  // null true false integer real text array object; PostgreSQL: null boolean
  // number string array object.
  std::string type(const Path& path, std::string_view column) const;
  // Places: a field or an array position below a place, and the element of
  // an array a subquery iterates.
  Loc field(const Loc& loc, std::string_view segment) const;
  Loc position(const Loc& loc, std::size_t index) const;
  static Loc element(std::string alias) { return Loc{std::move(alias), ""}; }
  // The value and JSON type at a place, spelled as value() and type() are.
  std::string value(const Loc& loc) const;
  std::string type(const Loc& loc) const;
  // A FROM item over the elements of the array at the place (no rows when it
  // holds no array), its rows at element(alias).
  std::string elements(const Loc& loc, const std::string& alias) const;
  // PostgreSQL: the text of the string at the place (compare it COLLATE "C").
  std::string text(const Loc& loc) const;
  // The length of the array at the place, the number of fields of the object
  // there (NULL, never an error, when it holds something else).
  std::string array_length(const Loc& loc) const;
  std::string object_size(const Loc& loc) const;

  // The ORDER BY terms of one sort key, without a direction (column d.data):
  // null and missing first, then numbers, strings (bytewise), objects,
  // arrays, booleans (MongoDB's order). The first is the bracket's rank (0 null or missing, 1 numbers, 2 strings,
  // 3 objects, 4 arrays, 5 booleans, as docs_filter.hpp's Bracket); each
  // later one is NULL for every document of some brackets and never NULL
  // for any of the others, so documents of one rank agree on which are NULL.
  struct SortTerm {
    std::string expression;
    std::string cast;  // what a value read from this term needs to bind back as one ("::jsonb")
  };
  std::vector<SortTerm> sort_expressions(const Path& path) const;

  // PostgreSQL: the string at the path as text in bytewise ("C") order, as
  // the strings index holds it: (col->'a'::text #>> '{}') COLLATE "C".
  std::string bytewise_text(const Path& path, std::string_view column) const;

  // A JSON text parameter as the data column takes it.
  std::string json_param() const { return sqlite() ? "?" : "?::jsonb"; }

 private:
  std::string json_path(const Path& path) const;                          // SQLite: '$."a"."b"'
  std::string jsonb_at(const Path& path, std::string_view column) const;  // PostgreSQL: col->'a'::text->...

  sdk::Dialect dialect_;
};

}  // namespace picloud::docs
