// Fuzzes the regular expressions SQLite and PostgreSQL share
// (picloud/sdk/regex.hpp): patterns come from queries, so any text may
// arrive, and the matcher runs inside SQLite on stored texts.
//
// Invariants, any breach of which aborts:
//   - nothing crashes or trips ASan/UBSan, and nothing takes long (a search
//     is linear in the text; run.sh's -timeout catches a hang);
//   - a refusal's message names the field ("$regex: " or "$options: ");
//   - an accepted pattern is at most 1024 bytes and compiles to at most
//     kMaxSteps steps (plus the final one), and its ARE is valid UTF-8
//     without U+0000 (PostgreSQL refuses anything else);
//   - compiling the same pattern again gives the same answers.
//
// Input: the first byte's low bits choose the options (i, m, s); the rest is
// the pattern, then a 0 byte, then the text searched (any bytes).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "picloud/sdk/regex.hpp"
#include "picloud/sdk/text.hpp"

namespace regex = picloud::sdk::regex;

namespace {

void check(bool ok, const char* what, std::string_view pattern) {
  if (!ok) {
    std::fprintf(stderr, "regex invariant broken: %s (pattern %.*s)\n", what, static_cast<int>(pattern.size()),
                 pattern.data());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string options;
  if (data[0] & 1) options += 'i';
  if (data[0] & 2) options += 'm';
  if (data[0] & 4) options += 's';
  if (data[0] & 8) options += static_cast<char>(data[0]);  // now and then an option that is refused
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  auto zero = rest.find('\0');
  std::string_view pattern = rest.substr(0, zero);
  std::string_view text = zero == std::string_view::npos ? std::string_view() : rest.substr(zero + 1);

  auto program = regex::compile(pattern, options);
  if (!program) {
    const std::string& m = program.error().message;
    check(m.rfind("$regex: ", 0) == 0 || m.rfind("$options: ", 0) == 0, "a refusal that names no field", pattern);
    return 0;
  }
  check(pattern.size() <= regex::kMaxPatternBytes, "a pattern past the size cap accepted", pattern);
  check(program->steps.size() <= regex::kMaxSteps + 1, "a program past the step cap", pattern);
  const std::string& are = regex::to_postgres(*program);
  check(picloud::sdk::is_utf8(are) && are.find('\0') == std::string::npos, "an ARE PostgreSQL cannot take", pattern);
  bool found = regex::search(*program, text);
  bool in_empty = regex::search(*program, "");
  auto again = regex::compile(pattern, options);
  check(again && regex::to_postgres(*again) == are, "a second compile differs", pattern);
  check(regex::search(*again, text) == found && regex::search(*again, "") == in_empty, "a second search differs",
        pattern);
  // A pattern that matches the empty text matches every text (unanchored
  // search) unless it is anchored or asserts something about the text.
  if (in_empty && are.find_first_of("^$") == std::string::npos)
    check(found, "matches the empty text but not another, without an anchor", pattern);
  return 0;
}
