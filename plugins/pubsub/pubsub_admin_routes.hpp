// The pubsub admin API, under /api/v1/admin/apps/{app}/pubsub:
//   POST /topics/{topic}/messages   {"message": json} or {"messages": [json, ...]}:
//                                   publishes (as the signed-in user) → 202
//                                   {topic, message_ids, subscribers, published_at}
//   GET  /topics                    topics published to lately, by name, paged
//                                   (?cursor= &limit=): counts, subscribers, backlog
//   GET  /topics/{topic}            one topic, with each subscriber whose pattern
//                                   matches it and that subscriber's backlog and
//                                   dead letters of this topic
//   GET  /subscribers               every pubsub trigger with its backlog, in all
//                                   and per topic
// Reads need pubsub.read (app viewers), publishing pubsub.publish (app
// editors). The dead letters themselves are the kernel's:
// /api/v1/admin/apps/{app}/dead_letters?source=pubsub&trigger={id}, or
// ...&event_field=topic&event_value={topic}.
#pragma once

#include "picloud/sdk/plugin.hpp"
#include "picloud/sdk/triggers.hpp"
#include "publisher.hpp"
#include "topic_stats.hpp"

namespace picloud::pubsub {

// The plugin's view in the admin dashboard, as JSON (declared with
// sdk::add_admin_view_json), over the routes add_admin_routes registered.
std::string_view admin_view_json();

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, Publisher& publisher, TopicStats& stats,
                                   sdk::EventSink& events);

}  // namespace picloud::pubsub
