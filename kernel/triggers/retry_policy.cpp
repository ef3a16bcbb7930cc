#include "kernel/triggers/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace picloud::kernel::triggers {
namespace {

sdk::Error bad(const std::string& field, const std::string& what) {
  return sdk::make_error(sdk::ErrorKind::invalid_argument, "retry." + field + ": " + what);
}

}  // namespace

const char* backoff_name(RetryPolicy::Backoff backoff) {
  switch (backoff) {
    case RetryPolicy::Backoff::exponential: return "exponential";
    case RetryPolicy::Backoff::linear: return "linear";
    case RetryPolicy::Backoff::constant: return "constant";
  }
  return "exponential";
}

std::chrono::milliseconds RetryPolicy::delay_after(int failed_attempts, double random) const {
  const double base = static_cast<double>(base_delay.count());
  const double n = std::max(1, failed_attempts);
  double delay = backoff == Backoff::exponential ? base * std::pow(2.0, std::min(n - 1, 40.0))
                 : backoff == Backoff::linear    ? base * n
                                                 : base;
  delay *= 1.0 + jitter * (2.0 * std::clamp(random, 0.0, 1.0) - 1.0);
  delay = std::clamp(delay, 0.0, static_cast<double>(kMaxDelay.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(delay)));
}

sdk::Result<RetryPolicy> RetryPolicy::with_overrides(const RetryPolicy& defaults, const sdk::Value& overrides) {
  RetryPolicy p = defaults;
  if (overrides.is_null()) return p;
  if (!overrides.is_object()) return sdk::make_error(sdk::ErrorKind::invalid_argument, "retry: must be an object");
  for (const auto& [field, value] : overrides.as_object()) {
    if (field == "max_attempts") {
      if (!value.is_int() || value.as_int() < 1 || value.as_int() > 100) return bad(field, "must be an integer from 1 to 100");
      p.max_attempts = static_cast<int>(value.as_int());
    } else if (field == "backoff") {
      const std::string name = value.string_or("");
      if (name == "exponential") p.backoff = Backoff::exponential;
      else if (name == "linear") p.backoff = Backoff::linear;
      else if (name == "constant") p.backoff = Backoff::constant;
      else return bad(field, "must be \"exponential\", \"linear\" or \"constant\"");
    } else if (field == "base_delay_ms") {
      if (!value.is_int() || value.as_int() < 0 || value.as_int() > kMaxDelay.count())
        return bad(field, "must be an integer from 0 to " + std::to_string(kMaxDelay.count()));
      p.base_delay = std::chrono::milliseconds(value.as_int());
    } else if (field == "jitter") {
      if (!value.is_number() || value.as_number() < 0 || value.as_number() > 1) return bad(field, "must be a number from 0 to 1");
      p.jitter = value.as_number();
    } else {
      return bad(field, "unknown field (max_attempts, backoff, base_delay_ms, jitter)");
    }
  }
  return p;
}

sdk::Value RetryPolicy::to_json() const {
  return sdk::Value::object({{"max_attempts", max_attempts},
                             {"backoff", std::string(backoff_name(backoff))},
                             {"base_delay_ms", static_cast<std::int64_t>(base_delay.count())},
                             {"jitter", jitter}});
}

}  // namespace picloud::kernel::triggers
