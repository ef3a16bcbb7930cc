#include "kernel/triggers/retry_policy.hpp"

#include <gtest/gtest.h>

using picloud::kernel::triggers::RetryPolicy;
using picloud::sdk::Value;
using namespace std::chrono_literals;

TEST(RetryPolicy, DefaultsAreThreeAttemptsExponentialFromOneSecond) {
  RetryPolicy p;
  EXPECT_EQ(p.max_attempts, 3);
  EXPECT_FALSE(p.exhausted(2));
  EXPECT_TRUE(p.exhausted(3));
  // Without jitter (random = 0.5 is the middle of the spread).
  EXPECT_EQ(p.delay_after(1, 0.5), 1000ms);
  EXPECT_EQ(p.delay_after(2, 0.5), 2000ms);
  EXPECT_EQ(p.delay_after(3, 0.5), 4000ms);
  // ±20 % at the ends of the random range.
  EXPECT_EQ(p.delay_after(1, 0.0), 800ms);
  EXPECT_EQ(p.delay_after(2, 1.0), 2400ms);
}

TEST(RetryPolicy, LinearConstantAndTheCap) {
  auto linear = RetryPolicy::with_overrides({}, Value::object({{"backoff", "linear"}, {"base_delay_ms", 500}, {"jitter", 0}}));
  ASSERT_TRUE(linear);
  EXPECT_EQ(linear->delay_after(1, 0.9), 500ms);
  EXPECT_EQ(linear->delay_after(4, 0.1), 2000ms);
  auto constant = RetryPolicy::with_overrides({}, Value::object({{"backoff", "constant"}, {"jitter", 0.0}}));
  ASSERT_TRUE(constant);
  EXPECT_EQ(constant->delay_after(7, 0.3), 1000ms);
  RetryPolicy p;
  EXPECT_EQ(p.delay_after(90, 1.0), RetryPolicy::kMaxDelay) << "no overflow, capped at a day";
}

TEST(RetryPolicy, OverridesAreValidatedByField) {
  RetryPolicy defaults;
  defaults.max_attempts = 5;
  auto same = RetryPolicy::with_overrides(defaults, Value());
  ASSERT_TRUE(same);
  EXPECT_EQ(same->max_attempts, 5);
  auto merged = RetryPolicy::with_overrides(defaults, Value::object({{"jitter", 0.5}}));
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->max_attempts, 5);
  EXPECT_EQ(merged->jitter, 0.5);
  EXPECT_EQ(merged->to_json(), Value::object({{"max_attempts", 5}, {"backoff", "exponential"}, {"base_delay_ms", 1000}, {"jitter", 0.5}}));

  struct Case {
    Value overrides;
    const char* message;
  };
  const Case cases[] = {
      {Value("fast"), "retry: must be an object"},
      {Value::object({{"max_attempts", 0}}), "retry.max_attempts: must be an integer from 1 to 100"},
      {Value::object({{"max_attempts", "3"}}), "retry.max_attempts"},
      {Value::object({{"max_attempts", 2.5}}), "retry.max_attempts"},
      {Value::object({{"backoff", "fibonacci"}}), "retry.backoff: must be"},
      {Value::object({{"base_delay_ms", -1}}), "retry.base_delay_ms"},
      {Value::object({{"base_delay_ms", 86400001}}), "retry.base_delay_ms"},
      {Value::object({{"jitter", 1.5}}), "retry.jitter: must be a number from 0 to 1"},
      {Value::object({{"jitter", true}}), "retry.jitter"},
      {Value::object({{"attempts", 3}}), "retry.attempts: unknown field"},
  };
  for (const auto& c : cases) {
    auto r = RetryPolicy::with_overrides(defaults, c.overrides);
    ASSERT_FALSE(r) << c.message;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
  }
}
