// How a find becomes one SQL query, and how a page of it names the next.
//
// Unsorted, a find reads the matching documents in id order. Sorted, the
// query is split by the bracket of the first sort key's value (null or
// missing, numbers, strings, objects, arrays, booleans): each bracket the
// filter leaves possible is a branch that reads in its own order (the order
// of an index on the path, when there is one) and stops after skip + limit
// rows, and an outer query merges the branches' few rows in the full sort
// order. Comparing values of several types in one ORDER BY is what kept a
// single query from reading an index in order; within one bracket the value
// alone is the order.
//
// A page's position is a keyset: the last row's ORDER BY terms and its id.
// The next page starts strictly after it, so documents written between two
// pages never make an item repeat or go missing (those whose sort values
// stay put). Cursors carry a fingerprint of the query (collection, filter,
// sort) and are refused by another query.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "docs_filter.hpp"
#include "docs_sql.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::docs {

// Where a page ends: the values of its last row's sort terms (those of
// DocSql::sort_expressions, key after key) and its id.
struct Keyset {
  std::vector<sdk::Value> terms;
  std::string id;
};

// The brackets a filter leaves possible for the value read straight at
// `path`: bit (1 << Bracket) set for each. Only conditions every match must
// meet count (those side by side and under $and; an $or the union of its
// branches); whatever the analysis does not know leaves every bracket.
unsigned possible_brackets(const sdk::Value& filter, const Path& path);

// How many sort terms the options' rows carry (0 without a sort).
std::size_t sort_term_count(const DocSql& sql, const FindOptions& options);

// SELECT d.id, data (as text), d.created_at, d.updated_at, then the sort
// terms, of the documents matching `filter`, in the options' order, after
// `after` when given, skipping options.skip and returning at most `rows`.
sdk::Result<Sql> find_query(const DocSql& sql, const sdk::Value& filter, std::string_view app,
                            std::string_view collection, const FindOptions& options, const Keyset* after,
                            std::int64_t rows);

// A page's position: the keyset and the query's fingerprint as JSON text,
// which sdk::next_cursor wraps into the opaque cursor (base64url).
std::string query_fingerprint(std::string_view collection, const sdk::Value& filter, const FindOptions& options);
std::string encode_page_cursor(std::string_view fingerprint, const Keyset& position);
// The keyset a cursor (as sdk::next_cursor made it) holds; invalid_argument
// when it is not one of this query's ("malformed cursor", "cursor belongs
// to another query").
sdk::Result<Keyset> decode_page_cursor(const DocSql& sql, std::string_view cursor, std::string_view fingerprint,
                                       const FindOptions& options);

}  // namespace picloud::docs
