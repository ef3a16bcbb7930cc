// The query language: filters and find options, compiled to SQL with every
// operand bound as a parameter. Nothing is filtered in memory: the database
// returns exactly the matching documents. docs/docs.md is the user's page;
// what follows is the semantics the SQL implements on both databases.
//
// A filter is an object of conditions that must all hold:
//   {"status": "open"}                       equality (scalars by type bracket)
//   {"tags": ["a", "b"]}, {"a": {"b": 3}}    a value compared whole
//   {"age": {"$gte": 18, "$lt": 65}}        operator objects
//   {"items.price": 5}                       dotted paths (up to 5 levels)
//   {"$or": [...], "$and": [...], "$nor": [...]}  non-empty arrays of filters
// Field operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $type $size
// $all $elemMatch $not $regex (+$options).
//
// Paths: each segment names an object's field; where a segment before the
// last holds an array, the rest of the path is read in each of its elements
// that is an object (arrays in arrays are not looked into). A condition
// holds when any value so reached passes it; a value that is an array also
// passes when one of its elements does (except $size, $exists and
// $elemMatch, which look at the array itself). {"f": null} matches null and
// a field missing along any way the path is read.
//
// Comparison follows MongoDB's type brackets: $gt/$gte/$lt/$lte match only
// scalars of the operand's type (numbers, int or float, compare numerically;
// strings bytewise; false < true); $ne, $nin and $not match what their
// positive form does not, missing fields included. Arrays compare whole in
// order, objects whole regardless of key order (jsonb keeps no key order).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "docs_paths.hpp"
#include "docs_sql.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::docs {

inline constexpr int kMaxFilterDepth = 8;              // nested $and/$or/$nor/$elemMatch
inline constexpr int kMaxValueDepth = 16;              // nesting of a value compared whole
inline constexpr int kMaxRegexConditions = 16;         // $regex in one filter (each reads every string it reaches)
inline constexpr int kMaxFilterConditions = 200;       // comparisons in one filter
inline constexpr std::size_t kMaxInValues = 1000;      // operands of one $in/$nin
inline constexpr std::size_t kMaxFilterValues = 5000;  // operands (scalars in values) in one filter
inline constexpr std::size_t kMaxFilterSqlBytes = 512 * 1024;  // the SQL a filter compiles to (SQLite's)
inline constexpr std::size_t kMaxFilterParameters = 20000;     // its parameters (PostgreSQL takes 65,535)
inline constexpr std::size_t kMaxFilterBoundBytes = 4 << 20;   // the text its parameters bind (SQLite's)
inline constexpr int kMaxParserDepth = 130;  // parser_depth() of a filter's SQLite SQL (see parser_depth)
inline constexpr std::int64_t kDefaultFindLimit = 100;
inline constexpr std::int64_t kMaxFindLimit = 1000;
inline constexpr std::int64_t kMaxSkip = 100000;
inline constexpr std::size_t kMaxSortKeys = 8;

// MongoDB's sort brackets of a single value (arrays sort as a whole, after
// objects): the first ORDER BY term of a sort key is the bracket's rank.
enum class Bracket { null_or_missing = 0, numbers = 1, strings = 2, objects = 3, arrays = 4, booleans = 5 };

// What the caller knows of every document a query will see: the value read
// straight at `path` (each segment an object's field) is in `bracket`, one
// of numbers, strings, objects or booleans. Conditions on that path then
// compile to the one comparison that can hold (no array alternatives), so a
// query split by bracket can range-scan and read in the index's order.
struct KnownBracket {
  Path path;
  Bracket bracket;
};

// The condition (to follow WHERE) selecting the documents of `collection`
// of `app` that match `filter` (null or {} match all), table alias d; exactly
// "FALSE" (no scope) when, under `known`, no document can match. Errors are
// invalid_argument naming the operator or the path. The bounds on the query
// (size, parameters, nesting) are checked only without `known`: compile the
// filter without it first.
sdk::Result<Sql> compile_filter(const DocSql& sql, const sdk::Value& filter, std::string_view app,
                                std::string_view collection, const KnownBracket* known = nullptr);

// An estimate of the parser stack SQLite needs for a query's nesting (its
// parser's stack has a fixed 100 entries): parentheses, subqueries and
// function calls weighted by what each holds open. Measured on random deep
// filters, SQLite failed from about 100 up (inside a sorted find's branch
// subquery) for some shapes and parsed others up to 117. Filters above
// kMaxParserDepth are refused on both databases; between, SQLite's own
// parser decides (DocStore answers its failure as kNestedTooDeeply).
int parser_depth(std::string_view sql);
inline constexpr const char* kNestedTooDeeply =
    "filter is nested too deeply for the database to parse (each segment of a path, $elemMatch, $not, $nor and $or "
    "add a level); simplify it";

struct SortKey {
  Path path;
  bool descending = false;
};

// {"sort": "-score" | ["-score", "name"], "limit": 1–1000 (100), "skip": n}
struct FindOptions {
  std::vector<SortKey> sort;  // none: in id order (creation order for generated ids)
  std::int64_t limit = kDefaultFindLimit;
  std::int64_t skip = 0;
};

sdk::Result<FindOptions> parse_find_options(const sdk::Value& options);


}  // namespace picloud::docs
