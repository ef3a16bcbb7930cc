// SQL text handling shared by both dialects.
#pragma once

#include <string>
#include <string_view>

namespace picloud::kernel::db {

// Rewrites `?` placeholders to `$1, $2, ...` (PostgreSQL), leaving quoted
// strings, quoted identifiers and comments untouched. Returns the number of
// placeholders through `count`.
std::string number_placeholders(std::string_view sql, std::size_t& count);

// Counts `?` placeholders with the same rules, without rewriting.
std::size_t count_placeholders(std::string_view sql);

}  // namespace picloud::kernel::db
