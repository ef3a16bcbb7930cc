// Topics and the patterns subscribers pick them with.
//
// A topic is 1 to 16 segments joined by '.', each 1 to 64 characters of
// A–Z a–z 0–9 _ - :, at most 200 characters in all: "orders.eu.created".
// A pattern is a topic (that topic only), a topic followed by ".*" (every
// topic below it: "orders.*" matches "orders.created" and
// "orders.eu.created", one or more further segments, but not "orders"), or
// "*" (every topic). A '*' anywhere else is refused.
#pragma once

#include <cstddef>
#include <string_view>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/triggers.hpp"

namespace picloud::pubsub {

inline constexpr std::size_t kMaxTopicLength = 200;
inline constexpr std::size_t kMaxSegments = 16;
inline constexpr std::size_t kMaxSegmentLength = 64;

// OK, or invalid_argument saying what is wrong with the topic.
sdk::Result<void> check_topic(std::string_view topic);
// OK, or invalid_argument saying what is wrong with the pattern.
sdk::Result<void> check_pattern(std::string_view pattern);
// Whether a valid topic matches a valid pattern.
bool pattern_matches(std::string_view pattern, std::string_view topic);

// The `pubsub` trigger kind: filter {"topic": pattern}; one op, "publish";
// events {topic, message, message_id, published_at}.
sdk::TriggerKind trigger_kind();

}  // namespace picloud::pubsub
