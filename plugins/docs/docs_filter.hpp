// The query language: filters and find options, compiled to SQL with every
// operand bound as a parameter. Nothing is filtered in memory: the database
// returns exactly the matching documents.
//
// A filter is an object of conditions that must all hold:
//   {"status": "open"}                       implicit equality
//   {"age": {"$gte": 18, "$lt": 65}}        operator objects
//   {"user.email": "a@b.c"}                  dotted paths (up to 5 levels)
//   {"$or": [{...}, {...}], "$and": [...]}   non-empty arrays of filters
// Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists. Operands are
// strings, numbers, booleans and null (arrays only for $in/$nin, of those).
//
// Comparison follows MongoDB's type brackets: $gt/$gte/$lt/$lte match only
// values of the operand's type (numbers, int or float, compare numerically;
// strings bytewise; false < true); {"f": null} matches null and missing
// fields; $ne and $nin match values of any other type, and missing fields.
// When the field holds an array, a comparison matches if any element does.
// Arrays are looked into at the last segment of a path only.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "docs_paths.hpp"
#include "docs_sql.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::docs {

inline constexpr int kMaxFilterDepth = 8;              // nested $and/$or
inline constexpr int kMaxFilterConditions = 200;       // comparisons in one filter
inline constexpr std::size_t kMaxInValues = 1000;      // operands of one $in/$nin
inline constexpr std::size_t kMaxFilterValues = 5000;  // operands in one filter (each is bound twice)
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
// of `app` that match `filter` (null or {} match all), table alias d. Errors
// are invalid_argument naming the operator or the path.
sdk::Result<Sql> compile_filter(const DocSql& sql, const sdk::Value& filter, std::string_view app,
                                std::string_view collection, const KnownBracket* known = nullptr);

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

// ORDER BY text for the options (ending in the id, so the order is total).
std::string order_by(const DocSql& sql, const FindOptions& options);

}  // namespace picloud::docs
