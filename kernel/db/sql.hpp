// SQL text handling shared by both dialects.
#pragma once

#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::db {

// Rewrites `?` placeholders to `$1, $2, ...` (PostgreSQL), leaving quoted
// strings, quoted identifiers and comments untouched. Returns the number of
// placeholders through `count`.
std::string number_placeholders(std::string_view sql, std::size_t& count);

// Counts `?` placeholders with the same rules, without rewriting.
std::size_t count_placeholders(std::string_view sql);

// An invalid_argument error unless `placeholders` equals `parameters`.
sdk::Result<void> check_parameter_count(std::size_t placeholders, std::size_t parameters);

}  // namespace picloud::kernel::db
