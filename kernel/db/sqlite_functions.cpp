// The SQL functions of sqlite_functions.hpp.
#include "kernel/db/sqlite_functions.hpp"

#include <sqlite3.h>

#include <chrono>
#include <new>
#include <string>
#include <string_view>

#include "picloud/sdk/regex.hpp"

namespace picloud::kernel::db {
namespace {

namespace regex = sdk::regex;

std::string_view text_of(sqlite3_value* v) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_value_bytes(v))) : std::string_view();
}

// A pattern compiled for one statement, kept as SQLite's auxiliary data on
// the pattern argument (SQLite drops it when the statement ends or the
// argument changes); the options it was compiled with are kept to notice a
// change of those alone.
struct Compiled {
  std::string options;
  regex::Program program;
};

void delete_compiled(void* p) { delete static_cast<Compiled*>(p); }

// The answer for `text`, within the statement's time for regular
// expressions: a long text times a complex pattern, row after row, would
// otherwise hold a thread for minutes past the run's own time limit.
void answer(sqlite3_context* ctx, const Compiled& compiled, std::string_view text) {
  auto* clock = static_cast<RegexClock*>(sqlite3_user_data(ctx));
  if (!clock->started) {
    clock->deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(regex::kTimeLimitMs);
    clock->started = true;
  }
  auto found = regex::search_until(compiled.program, text, clock->deadline);
  if (!found || std::chrono::steady_clock::now() >= clock->deadline)
    return sqlite3_result_error(ctx, regex::kTimeLimitError, -1);
  sqlite3_result_int(ctx, *found ? 1 : 0);
}

void regexp_body(sqlite3_context* ctx, sqlite3_value** argv) {
  for (int i = 0; i < 3; ++i)
    if (sqlite3_value_type(argv[i]) == SQLITE_NULL) return sqlite3_result_null(ctx);
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || sqlite3_value_type(argv[1]) != SQLITE_TEXT)
    return sqlite3_result_error(ctx, "picloud_regexp: the pattern and the options must be text", -1);
  if (sqlite3_value_type(argv[2]) != SQLITE_TEXT) return sqlite3_result_null(ctx);
  std::string_view options = text_of(argv[1]);
  auto* kept = static_cast<Compiled*>(sqlite3_get_auxdata(ctx, 0));
  if (kept && kept->options == options) return answer(ctx, *kept, text_of(argv[2]));
  auto program = regex::compile(text_of(argv[0]), options);
  if (!program) return sqlite3_result_error(ctx, program.error().message.c_str(), -1);
  auto* compiled = new (std::nothrow) Compiled{std::string(options), std::move(*program)};
  if (!compiled) return sqlite3_result_error_nomem(ctx);
  answer(ctx, *compiled, text_of(argv[2]));
  // Last: SQLite owns it from here and may delete it before this returns.
  sqlite3_set_auxdata(ctx, 0, compiled, delete_compiled);
}

void regexp(sqlite3_context* ctx, int, sqlite3_value** argv) {
  try {  // nothing may unwind through SQLite's C frames
    regexp_body(ctx, argv);
  } catch (...) {
    sqlite3_result_error_nomem(ctx);
  }
}

}  // namespace

int register_sqlite_functions(sqlite3* db, RegexClock* clock) {
  return sqlite3_create_function_v2(db, regex::kSqliteFunction, 3,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, clock, regexp, nullptr,
                                    nullptr, nullptr);
}

}  // namespace picloud::kernel::db
