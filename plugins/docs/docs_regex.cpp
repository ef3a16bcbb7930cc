#include "docs_regex.hpp"

#include "picloud/sdk/regex.hpp"

namespace picloud::docs {

sdk::Result<RegexOperand> check_regex(std::string_view pattern, std::string_view flags) {
  auto program = sdk::regex::compile(pattern, flags);
  if (!program) return program.error();
  return RegexOperand{std::string(pattern), std::string(flags), sdk::regex::to_postgres(*program)};
}

}  // namespace picloud::docs
