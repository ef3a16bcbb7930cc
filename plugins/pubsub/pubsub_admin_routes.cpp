#include "pubsub_admin_routes.hpp"

#include "picloud/sdk/admin_routes.hpp"
#include "pubsub_script_api.hpp"
#include "topics.hpp"

namespace picloud::pubsub {
namespace {

using sdk::fail;
using sdk::json_reply;
using sdk::Value;

constexpr std::int64_t kDefaultPage = 100;
constexpr std::int64_t kMaxPage = 1000;

const std::string& topic_of(const sdk::HttpRequest& req) {
  const std::string& topic = req.params.at("topic");
  if (auto ok = check_topic(topic); !ok) fail(400, "invalid_field", ok.error().message);
  return topic;
}

Value counts_json(const sdk::DeliveryCounts& c, sdk::Object o = {}) {
  o.emplace("queued", c.queued);
  o.emplace("retrying", c.retrying);
  o.emplace("running", c.running);
  o.emplace("dead_letters", c.dead_letters);
  return Value(std::move(o));
}

void add_counts(sdk::DeliveryCounts& into, const sdk::DeliveryCounts& c) {
  into.queued += c.queued;
  into.retrying += c.retrying;
  into.running += c.running;
  into.dead_letters += c.dead_letters;
}

std::string pattern_of(const sdk::TriggerDeliveries& t) { return t.filter["topic"].string_or(""); }

// One subscriber's counts for one topic.
sdk::DeliveryCounts for_topic(const sdk::TriggerDeliveries& t, const std::string& topic) {
  auto it = t.by.find(topic);
  return it == t.by.end() ? sdk::DeliveryCounts{} : it->second;
}

sdk::Object summary_json(const TopicSummary& s) {
  auto time = [](std::int64_t ms) { return ms ? Value(sdk::rfc3339(ms)) : Value(); };
  return {{"topic", s.topic},
          {"published_total", s.published_total},
          {"published_last_hour", s.published_last_hour},
          {"published_last_day", s.published_last_day},
          {"first_published_at", time(s.first_published_at)},
          {"last_published_at", time(s.last_published_at)}};
}

}  // namespace

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, Publisher& publisher_ref, TopicStats& stats_ref,
                                   sdk::EventSink& events_ref) {
  if (auto r = ctx.add_capability({kReadCapability, sdk::Access::app_viewer, "app:read",
                                   "see an app's topics, subscribers and their backlogs"});
      !r)
    return r;
  if (auto r = ctx.add_capability({kPublishCapability, sdk::Access::app_editor, "app:write",
                                   "publish messages to an app's topics"});
      !r)
    return r;
  // The plugin owns these for as long as routes are served.
  Publisher* publisher = &publisher_ref;
  TopicStats* stats = &stats_ref;
  sdk::EventSink* events = &events_ref;
  const std::string base = "/api/v1/admin/apps/{app}/pubsub";
  auto add = [&](const char* method, const std::string& path, const char* capability,
                 std::function<sdk::HttpResponse(const sdk::HttpRequest&)> handler, std::int64_t max_body = 0) {
    sdk::HttpRoute route{method, path, capability, sdk::with_error_replies(std::move(handler))};
    route.max_body_bytes = max_body;
    return ctx.add_route(std::move(route));
  };
  auto subscribers_of = [events](const std::string& app) {
    return sdk::unwrap(events->deliveries(app, "pubsub", "topic"));
  };

  // Room for a batch's JSON and the body around it.
  const std::int64_t max_body = publisher->limits().max_batch_bytes + 64 * 1024;
  if (auto r = add(
          "POST", base + "/topics/{topic}/messages", kPublishCapability,
          [publisher](const sdk::HttpRequest& req) {
            const std::string& topic = topic_of(req);
            Value body = sdk::json_object_body(req);
            for (const auto& [k, v] : body.as_object())
              if (k != "message" && k != "messages")
                fail(400, "unknown_field", k + ": unknown field (give message or messages)");
            const bool one = body.as_object().count("message") > 0;
            if (one == (body.as_object().count("messages") > 0))
              fail(400, "missing_field", "give either message (any JSON) or messages (an array)");
            if (!one && !body["messages"].is_array()) fail(400, "invalid_field", "messages: must be an array");
            std::span<const Value> messages =
                one ? std::span<const Value>(&body["message"], 1) : std::span<const Value>(body["messages"].as_array());
            auto done = publisher->publish(sdk::admin_call(req), topic, messages);
            if (!done && done.error().kind == sdk::ErrorKind::invalid_argument)
              fail(400, "invalid_field", done.error().message);
            const Published& p = sdk::unwrap(std::move(done));
            sdk::Array ids;
            for (const auto& id : p.message_ids) ids.push_back(id);
            return json_reply(202, Value::object({{"topic", topic},
                                                  {"message_ids", Value(std::move(ids))},
                                                  {"subscribers", p.subscribers},
                                                  {"published_at", p.published_at ? Value(sdk::rfc3339(p.published_at)) : Value()}}));
          },
          max_body);
      !r)
    return r;

  if (auto r = add("GET", base + "/topics", kReadCapability,
                   [stats, subscribers_of](const sdk::HttpRequest& req) {
                     auto page = sdk::page_query(sdk::query_params(req.query), kDefaultPage, kMaxPage);
                     const std::string& app = req.params.at("app");
                     auto found = sdk::unwrap(stats->list(app, page.after, page.limit));
                     auto subscribers = subscribers_of(app);
                     sdk::Array items;
                     for (const auto& s : found.items) {
                       std::int64_t matching = 0;
                       sdk::DeliveryCounts backlog;
                       for (const auto& t : subscribers) {
                         if (t.enabled && pattern_matches(pattern_of(t), s.topic)) ++matching;
                         add_counts(backlog, for_topic(t, s.topic));
                       }
                       sdk::Object o = summary_json(s);
                       o.emplace("subscribers", matching);
                       o.emplace("backlog", counts_json(backlog));
                       items.push_back(Value(std::move(o)));
                     }
                     return json_reply(200, Value::object({{"items", Value(std::move(items))},
                                                           {"next_cursor", sdk::next_cursor(found.next)}}));
                   });
      !r)
    return r;

  if (auto r = add("GET", base + "/topics/{topic}", kReadCapability,
                   [stats, subscribers_of](const sdk::HttpRequest& req) {
                     const std::string& topic = topic_of(req);
                     const std::string& app = req.params.at("app");
                     auto found = sdk::unwrap(stats->get(app, topic));
                     // A topic may have subscribers before anything is published to it.
                     sdk::Object o = summary_json(found ? *found : TopicSummary{topic});
                     sdk::Array subscribers;
                     for (const auto& t : subscribers_of(app)) {
                       const std::string pattern = pattern_of(t);
                       auto counts = for_topic(t, topic);
                       // A subscriber whose pattern changed may still owe this topic messages.
                       if (!pattern_matches(pattern, topic) && counts.queued + counts.retrying + counts.running +
                                                                       counts.dead_letters == 0)
                         continue;
                       subscribers.push_back(counts_json(counts, {{"trigger_id", t.id},
                                                                  {"script", t.script},
                                                                  {"pattern", pattern},
                                                                  {"enabled", t.enabled},
                                                                  {"matches", pattern_matches(pattern, topic)}}));
                     }
                     o.emplace("subscribers", Value(std::move(subscribers)));
                     return json_reply(200, Value(std::move(o)));
                   });
      !r)
    return r;

  return add("GET", base + "/subscribers", kReadCapability, [subscribers_of](const sdk::HttpRequest& req) {
    sdk::Array items;
    for (const auto& t : subscribers_of(req.params.at("app"))) {
      sdk::Object topics;
      for (const auto& [topic, c] : t.by) topics.emplace(topic, counts_json(c));
      items.push_back(counts_json(t.counts, {{"trigger_id", t.id},
                                             {"script_id", t.script_id},
                                             {"script", t.script},
                                             {"pattern", pattern_of(t)},
                                             {"enabled", t.enabled},
                                             {"topics", Value(std::move(topics))}}));
    }
    return json_reply(200, Value::object({{"items", Value(std::move(items))}}));
  });
}

std::string_view admin_view_json() {
  return R"json({
  "id": "topics", "title": "Pub/sub", "icon": "inbox", "scope": "app",
  "description": "Topics published to lately, their subscribers, and a form to publish a test message. Subscribers are pubsub triggers (the Triggers tab).",
  "sections": [
    {"kind": "table", "id": "topics", "title": "Topics",
     "list": "GET /api/v1/admin/apps/{app}/pubsub/topics",
     "columns": [{"field": "topic", "title": "Topic"}, {"field": "published_last_hour", "title": "Last hour"},
                 {"field": "published_total", "title": "Total"}, {"field": "subscribers", "title": "Subscribers"},
                 {"field": "backlog", "title": "Backlog"}, {"field": "last_published_at", "title": "Last published", "format": "time"}],
     "open": "GET /api/v1/admin/apps/{app}/pubsub/topics/{topic}"},
    {"kind": "json", "id": "subscribers", "title": "Subscribers",
     "source": "GET /api/v1/admin/apps/{app}/pubsub/subscribers"},
    {"kind": "form", "id": "publish", "title": "Publish a message", "submit": "Publish", "result": "show",
     "route": "POST /api/v1/admin/apps/{app}/pubsub/topics/{topic}/messages",
     "schema": {"type": "object", "required": ["topic", "message"], "properties": {
       "topic": {"type": "string", "title": "Topic"},
       "message": {"title": "Message (JSON)", "format": "json"}}}}
  ]
})json";
}

}  // namespace picloud::pubsub
