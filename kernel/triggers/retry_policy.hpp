// How a failed event delivery is tried again: how many attempts in all, and
// the delay before each next one.
//
//   exponential  base, 2 × base, 4 × base, ...   (the default: 1 s, 2 s, 4 s)
//   linear       base, 2 × base, 3 × base, ...
//   constant     base every time
//
// Each delay is spread by ±jitter (a fraction; 0.2 by default) so a burst of
// failures does not come back as a burst, and capped at one day.
// Trigger definitions carry overrides as JSON:
//   {"max_attempts": 5, "backoff": "linear", "base_delay_ms": 500, "jitter": 0.1}
#pragma once

#include <chrono>
#include <string>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel::triggers {

struct RetryPolicy {
  enum class Backoff { exponential, linear, constant };

  int max_attempts = 3;  // 1: never retried
  Backoff backoff = Backoff::exponential;
  std::chrono::milliseconds base_delay{1000};
  double jitter = 0.2;

  static constexpr std::chrono::milliseconds kMaxDelay = std::chrono::hours(24);

  // The delay after `failed_attempts` (1 or more) have failed, with `random`
  // drawn uniformly from [0, 1).
  std::chrono::milliseconds delay_after(int failed_attempts, double random) const;
  bool exhausted(int failed_attempts) const { return failed_attempts >= max_attempts; }

  // `defaults` with the fields of `overrides` (a JSON object, or null for
  // none) applied. Unknown fields, wrong types and out-of-range values are
  // errors naming the field.
  static sdk::Result<RetryPolicy> with_overrides(const RetryPolicy& defaults, const sdk::Value& overrides);
  sdk::Value to_json() const;
};

const char* backoff_name(RetryPolicy::Backoff backoff);

}  // namespace picloud::kernel::triggers
