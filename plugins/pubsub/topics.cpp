#include "topics.hpp"

#include <algorithm>
#include <string>

namespace picloud::pubsub {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

bool segment_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == ':';
}

// `what` names the text in errors: "topic", "filter.topic".
sdk::Result<void> check_segments(std::string_view text, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::invalid_argument, std::string(what) + " '" + std::string(text.substr(0, 80)) +
                                                       (text.size() > 80 ? "...'" : "'") + ": " + why);
  };
  if (text.empty()) return make_error(ErrorKind::invalid_argument, std::string(what) + " is empty");
  if (text.size() > kMaxTopicLength) return bad("longer than " + std::to_string(kMaxTopicLength) + " characters");
  std::size_t segments = 0;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = text.find('.', start);
    std::string_view segment = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    ++segments;
    if (segment.empty()) return bad("has an empty segment (segments are joined by single dots)");
    if (segment.size() > kMaxSegmentLength)
      return bad("a segment is longer than " + std::to_string(kMaxSegmentLength) + " characters");
    if (segment.find('*') != std::string_view::npos)
      return bad(what == "topic" ? "'*' is for subscribers' patterns, not for topics"
                                 : "'*' may only be the whole pattern or its last segment ('orders.*')");
    if (!std::all_of(segment.begin(), segment.end(), segment_char))
      return bad("segments may hold only letters, digits and _ - :");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (segments > kMaxSegments) return bad("more than " + std::to_string(kMaxSegments) + " segments");
  return {};
}

}  // namespace

sdk::Result<void> check_topic(std::string_view topic) { return check_segments(topic, "topic"); }

sdk::Result<void> check_pattern(std::string_view pattern) {
  if (pattern == "*") return {};
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ".*")
    return check_segments(pattern.substr(0, pattern.size() - 2), "filter.topic's prefix");
  return check_segments(pattern, "filter.topic");
}

bool pattern_matches(std::string_view pattern, std::string_view topic) {
  if (pattern == "*") return true;
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ".*") {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // with its dot
    return topic.size() > prefix.size() && topic.substr(0, prefix.size()) == prefix;
  }
  return pattern == topic;
}

sdk::TriggerKind trigger_kind() {
  sdk::TriggerKind kind;
  kind.name = "pubsub";
  kind.description = "runs a script for each message published to a topic its pattern matches";
  kind.ops = {"publish"};
  kind.event_fields = {{"topic", "the topic the message was published to"},
                       {"message", "the message (any JSON)"},
                       {"message_id", "the message's id, the same for every subscriber and every retry: deduplicate "
                                      "with it (delivery is at least once)"},
                       {"published_at", "when it was published, in ms since the epoch"}};
  kind.filter_schema = Value::object(
      {{"type", "object"},
       {"required", Value::array({"topic"})},
       {"properties", Value::object({{"topic", Value::object({{"type", "string"},
                                                              {"title", "Topic"},
                                                              {"description", "a topic (orders.created), a topic and '.*' "
                                                                              "(orders.*: every topic below it), or '*'"}})}})}});
  kind.validate_filter = [](const Value& filter) -> sdk::Result<Value> {
    if (!filter.is_object())
      return make_error(ErrorKind::invalid_argument,
                        R"(filter must be an object: {"topic": "orders.created" | "orders.*" | "*"})");
    for (const auto& [k, v] : filter.as_object())
      if (k != "topic")
        return make_error(ErrorKind::invalid_argument, "filter." + k + ": unknown field (a pubsub filter has topic)");
    const Value& topic = filter["topic"];
    if (!topic.is_string())
      return make_error(ErrorKind::invalid_argument,
                        "filter.topic is required: a topic, a topic followed by '.*', or '*'");
    if (auto ok = check_pattern(topic.as_string()); !ok) return ok.error();
    return Value::object({{"topic", topic.as_string()}});
  };
  kind.matches = [](const Value& filter, const sdk::Event& event) {
    return pattern_matches(filter["topic"].string_or(""), event.payload["topic"].string_or(""));
  };
  return kind;
}

}  // namespace picloud::pubsub
