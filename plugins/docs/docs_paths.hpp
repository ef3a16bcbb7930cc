// Dotted paths into documents ("user.email"), as filters, sorts, patches and
// indexes name fields.
//
// A path has 1 to 5 segments. A segment is 1–128 bytes of UTF-8 with no
// control characters, does not start with '$' (operators do), and holds none
// of . ' " \ [ ] (so that a validated path can be spelled inside a quoted SQL
// literal, which both databases need to match a query to an expression
// index). A segment of digits names an object field, never an array index.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"

namespace picloud::docs {

inline constexpr std::size_t kMaxPathDepth = 5;
inline constexpr std::size_t kMaxSegmentBytes = 128;

struct Path {
  std::vector<std::string> segments;
  std::string text;  // as written: "user.email"
};

// The path, or invalid_argument naming it and what is wrong.
sdk::Result<Path> parse_path(std::string_view text);

}  // namespace picloud::docs
