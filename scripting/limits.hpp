// Per-run limits and the ways a run can fail.
#pragma once

#include <cstdint>
#include <string_view>

namespace picloud::scripting {

// Every limit applies to one run; exceeding one ends only that run.
struct Limits {
  std::int64_t timeout_ms = 30'000;            // wall clock
  std::int64_t max_operations = 50'000'000;    // statements executed
  std::int64_t max_memory_bytes = 64 << 20;    // live bytes allocated by the run
  std::int64_t max_value_bytes = 16 << 20;     // one string, array or buffer
  int max_call_depth = 1'000;                  // nested script calls
  int max_json_depth = 64;                     // json nesting
  int max_log_lines = 100;                     // further lines are counted, not kept
  int max_log_line_bytes = 4'096;              // longer lines are cut
  std::int64_t max_response_bytes = 10 << 20;  // HTTP response body
};

// Why a run failed. Each has its own HTTP status (DESIGN.md).
enum class RunError {
  none,
  compile_error,     // 422: the script (or a module it imports) does not compile
  no_entry_point,    // 422: the script lacks the entry point this run needs
  script_error,      // 502: the script threw, or an uncaught service error
  timeout,           // 504: wall-clock limit
  operation_limit,   // 507: operation budget
  memory_limit,      // 507: memory budget or one value too large
  stack_limit,       // 507: call depth
  output_limit,      // 507: response larger than allowed
  internal,          // 500: a platform fault
};

std::string_view to_string(RunError error);
int http_status(RunError error);

}  // namespace picloud::scripting
