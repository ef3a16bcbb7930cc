// $regex operands: a pattern of PiCloud's regular-expression subset
// (picloud/sdk/regex.hpp), checked once and spelled for each database —
// SQLite's picloud_regexp() function, which the kernel registers, and
// PostgreSQL's ~ (run COLLATE "C", so classes and case folding are ASCII).
#pragma once

#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"

namespace picloud::docs {

struct RegexOperand {
  std::string sqlite_pattern, sqlite_flags;  // picloud_regexp(pattern, flags, text)
  std::string postgres;                      // the pattern PostgreSQL's ~ runs the same way
};

// The operand, or invalid_argument saying what in the pattern or the flags
// is outside the subset.
sdk::Result<RegexOperand> check_regex(std::string_view pattern, std::string_view flags);

}  // namespace picloud::docs
