#include "kernel/db/sql.hpp"

namespace picloud::kernel::db {
namespace {

// Walks the SQL text and calls `on_placeholder` for every `?` outside quotes
// and comments; everything else is passed to `on_text` unchanged.
template <typename Text, typename Placeholder>
void scan(std::string_view sql, Text on_text, Placeholder on_placeholder) {
  std::size_t i = 0, n = sql.size();
  while (i < n) {
    char c = sql[i];
    if (c == '\'' || c == '"') {  // quoted literal or identifier; doubled quote escapes
      std::size_t j = i + 1;
      while (j < n) {
        if (sql[j] == c) {
          if (j + 1 < n && sql[j + 1] == c) {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      j = j < n ? j + 1 : n;
      on_text(sql.substr(i, j - i));
      i = j;
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      std::size_t j = sql.find('\n', i);
      j = j == std::string_view::npos ? n : j;
      on_text(sql.substr(i, j - i));
      i = j;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      std::size_t j = sql.find("*/", i + 2);
      j = j == std::string_view::npos ? n : j + 2;
      on_text(sql.substr(i, j - i));
      i = j;
    } else if (c == '?') {
      on_placeholder();
      ++i;
    } else {
      std::size_t j = i + 1;
      while (j < n && sql[j] != '\'' && sql[j] != '"' && sql[j] != '-' && sql[j] != '/' && sql[j] != '?') ++j;
      on_text(sql.substr(i, j - i));
      i = j;
    }
  }
}

}  // namespace

std::string number_placeholders(std::string_view sql, std::size_t& count) {
  std::string out;
  out.reserve(sql.size() + 8);
  count = 0;
  scan(
      sql, [&](std::string_view text) { out += text; },
      [&] {
        out += '$';
        out += std::to_string(++count);
      });
  return out;
}

sdk::Result<void> check_parameter_count(std::size_t placeholders, std::size_t parameters) {
  if (placeholders == parameters) return {};
  return sdk::make_error(sdk::ErrorKind::invalid_argument, "statement has " + std::to_string(placeholders) +
                                                               " placeholders but " + std::to_string(parameters) +
                                                               " parameters were given");
}

std::size_t count_placeholders(std::string_view sql) {
  std::size_t count = 0;
  scan(sql, [](std::string_view) {}, [&] { ++count; });
  return count;
}

}  // namespace picloud::kernel::db
