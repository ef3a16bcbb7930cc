#include "pubsub_script_api.hpp"

namespace picloud::pubsub {

using sdk::ErrorKind;
using sdk::ScriptType;
using sdk::Value;

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, Publisher& publisher_ref, sdk::AccessControl& access_ref) {
  Publisher* publisher = &publisher_ref;  // the plugin owns both for as long as the engine can call these
  sdk::AccessControl* access = &access_ref;
  const sdk::ScriptParam topic{"topic", ScriptType::string};

  if (auto r = api.add_function(
          {"pubsub",
           "publish",
           {topic, {"message", ScriptType::json}},
           ScriptType::integer,
           "",
           [publisher, access](const sdk::CallContext& call, std::span<const Value> a) -> sdk::Result<Value> {
             if (auto ok = access->require(call, kPublishCapability); !ok) return ok.error();
             auto done = publisher->publish(call, a[0].as_string(), a.subspan(1, 1));
             if (!done) return done.error();
             return Value(done->subscribers);
           },
           "publishes the message (any JSON) to the topic: it is queued, in one transaction, for every "
           "subscriber whose pattern matches; returns how many (0 when none: not an error)"});
      !r)
    return r;

  return api.add_function(
      {"pubsub",
       "publish_many",
       {topic, {"messages", ScriptType::json}},
       ScriptType::integer,
       "",
       [publisher, access](const sdk::CallContext& call, std::span<const Value> a) -> sdk::Result<Value> {
         if (auto ok = access->require(call, kPublishCapability); !ok) return ok.error();
         if (!a[1].is_array())
           return sdk::make_error(ErrorKind::invalid_argument, "publish_many takes an array of messages, got " +
                                                                   std::string(sdk::to_string(a[1].type())));
         const sdk::Array& messages = a[1].as_array();
         auto done = publisher->publish(call, a[0].as_string(), messages);
         if (!done) return done.error();
         return Value(done->subscribers);
       },
       "publishes each message of the array to the topic, all in one transaction (all or none); returns how many "
       "subscribers each was queued for"});
}

}  // namespace picloud::pubsub
