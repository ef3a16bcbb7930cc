// pubsub:: for scripts:
//
//   int pubsub::publish(string topic, json message)
//       queues the message for every subscriber (trigger) whose pattern
//       matches the topic; returns how many that was (0 is not an error)
//   int pubsub::publish_many(string topic, json messages)
//       the same for an array of messages, all or none; returns how many
//       subscribers each was queued for
//
// A run on behalf of a user needs pubsub.publish.
#pragma once

#include "picloud/sdk/access.hpp"
#include "picloud/sdk/script.hpp"
#include "publisher.hpp"

namespace picloud::pubsub {

inline constexpr const char* kPublishCapability = "pubsub.publish";
inline constexpr const char* kReadCapability = "pubsub.read";

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, Publisher& publisher, sdk::AccessControl& access);

}  // namespace picloud::pubsub
