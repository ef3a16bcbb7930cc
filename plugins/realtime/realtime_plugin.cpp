// The realtime plugin: server-sent events to browsers on an app's topics.
// docs/realtime.md says it all.
//
//   GET /_picloud/realtime/topics/{topic}   on the app's hosts: the stream
//     (token as Authorization: Bearer or ?token=, resume with Last-Event-ID
//     or ?last_event_id=)
//   /api/v1/admin/apps/{app}/realtime/topics[/{topic}[/events]]   topics
//   realtime::publish(topic, message), realtime::token(topics, ttl_s)
//   pubsub publishes to a topic registered here reach its subscribers too
//
// A publish, from any node, gives the event its topic's next id and keeps
// it in the topic's buffer inside the publishing transaction; once that
// commits, a cluster message tells every node, whose hub writes it to its
// subscribers (hub.hpp).
//
// Config ([realtime], or PICLOUD_REALTIME_<KEY>):
//   heartbeat_s           a comment to quiet streams this often (30)
//   retry_ms              the reconnection delay told to clients (2000)
//   buffer_size           events kept per topic for resuming clients (100)
//   max_message_bytes     one message as JSON (65536)
//   max_stream_buffer_bytes  how far a client may fall behind before it is
//                         closed as too slow (262144)
//   max_topics_per_app    (1000)
//   token_ttl_default_s, token_ttl_min_s, token_ttl_max_s   (3600, 10, 86400)
#include <strings.h>

#include <algorithm>
#include <memory>
#include <picloud/sdk.hpp>
#include <picloud/sdk/admin_routes.hpp>

#include "hub.hpp"
#include "store.hpp"
#include "tokens.hpp"

namespace {

using namespace picloud;
using namespace picloud::realtime;
using sdk::ErrorKind;
using sdk::fail;
using sdk::Result;
using sdk::ScriptType;
using sdk::Value;

constexpr const char* kReadCapability = "realtime.read";
constexpr const char* kManageCapability = "realtime.manage";
constexpr const char* kPublishCapability = "realtime.publish";
constexpr const char* kChannel = "events";

// A cluster message: one line per field, the message's JSON last (it may
// be long; nothing is parsed on the way).
//   e <app> <topic> <id> <published_at> <message JSON, or empty: read it>
//   c <app> <topic> <reason>     end the topic's subscriptions
//   a <app> <reason>             end the app's
std::string join_lines(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '\n';
    out += p;
  }
  return out;
}
std::vector<std::string_view> split_lines(std::string_view text, std::size_t fields) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < fields) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    out.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  out.push_back(text);
  return out;
}
std::int64_t to_int(std::string_view text) {
  if (text.size() > 18) return -1;  // ids are far below 10^18; longer is not one
  std::int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return text.empty() ? -1 : v;
}

Value topic_json(const Topic& t, std::size_t subscribers) {
  return Value::object({{"name", t.name},
                        {"external", t.external},
                        {"auth_mode", std::string(auth_mode_name(t.auth_mode))},
                        {"last_event_id", std::to_string(t.last_event_id)},
                        {"subscribers", static_cast<std::int64_t>(subscribers)},
                        {"created_at", sdk::rfc3339(t.created_at)},
                        {"updated_at", sdk::rfc3339(t.updated_at)}});
}

// The topics in the admin dashboard: internal ones (scripts only) and
// external ones (browsers), with a confirmation before one goes external.
constexpr std::string_view kAdminView = R"json({
  "id": "topics", "title": "Realtime", "icon": "radio", "scope": "app",
  "description": "Topics browsers subscribe to over server-sent events. Internal topics are for scripts only; an external one is open to browsers, publicly or with a token.",
  "sections": [
    {"kind": "table", "id": "topics", "title": "Topics",
     "list": "GET /api/v1/admin/apps/{app}/realtime/topics",
     "columns": [{"field": "name", "title": "Topic"}, {"field": "external", "title": "External", "format": "bool"},
                 {"field": "auth_mode", "title": "Access"}, {"field": "subscribers", "title": "Subscribers"},
                 {"field": "last_event_id", "title": "Last event"}, {"field": "updated_at", "title": "Updated", "format": "time"}],
     "open": "GET /api/v1/admin/apps/{app}/realtime/topics/{name}",
     "row_actions": [
       {"id": "access", "title": "Change access", "route": "PATCH /api/v1/admin/apps/{app}/realtime/topics/{name}",
        "confirm": "Change who may subscribe to {name}? Making it external lets browsers subscribe.",
        "schema": {"type": "object", "properties": {
          "external": {"type": "boolean", "title": "External (browsers may subscribe)"},
          "auth_mode": {"type": "string", "title": "Access", "enum": ["token", "public"]},
          "confirm_external": {"type": "boolean", "title": "I confirm making this topic external"}}}},
       {"id": "publish", "title": "Publish", "route": "POST /api/v1/admin/apps/{app}/realtime/topics/{name}/events",
        "result": "show",
        "schema": {"type": "object", "required": ["message"], "properties": {
          "message": {"title": "Message (JSON)", "format": "json"}}}},
       {"id": "delete", "title": "Delete", "route": "DELETE /api/v1/admin/apps/{app}/realtime/topics/{name}",
        "confirm": "Delete the topic {name}? Its subscribers are disconnected.", "danger": true}],
     "create": {"title": "Register a topic", "route": "POST /api/v1/admin/apps/{app}/realtime/topics",
        "confirm": "Register this topic? An external topic is open to browsers.",
        "schema": {"type": "object", "required": ["name"], "properties": {
          "name": {"type": "string", "title": "Name", "minLength": 1},
          "external": {"type": "boolean", "title": "External (browsers may subscribe)", "default": false},
          "auth_mode": {"type": "string", "title": "Access", "enum": ["token", "public"], "default": "token"},
          "confirm_external": {"type": "boolean", "title": "I confirm making this topic external", "default": false}}}}}
  ]
})json";

sdk::HttpResponse unauthorized(const std::string& message, std::string_view code = "unauthorized") {
  auto r = sdk::error_reply(401, code, message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"realtime\", error=\"invalid_token\"");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

class RealtimePlugin final : public sdk::Plugin {
 public:
  Result<void> configure(sdk::PluginContext& ctx) override {
    auto& config = ctx.config();
    auto heartbeat = config.get_int("heartbeat_s", 30, 1, 3600);
    auto retry = config.get_int("retry_ms", 2000, 100, 600000);
    auto buffer = config.get_int("buffer_size", 100, 1, 100000);
    auto max_message = config.get_int("max_message_bytes", 65536, 16, 4 << 20);
    auto max_behind = config.get_int("max_stream_buffer_bytes", 256 << 10, 4096, 16 << 20);
    auto max_topics = config.get_int("max_topics_per_app", 1000, 1, 1000000);
    auto max_per_app = config.get_int("max_subscribers_per_app", 5000, 0, 1000000);
    auto ttl_default = config.get_int("token_ttl_default_s", 3600, 1, 30 * 86400);
    auto ttl_min = config.get_int("token_ttl_min_s", 10, 1, 30 * 86400);
    auto ttl_max = config.get_int("token_ttl_max_s", 86400, 1, 30 * 86400);
    for (auto* r : {&heartbeat, &retry, &buffer, &max_message, &max_behind, &max_topics, &max_per_app, &ttl_default,
                    &ttl_min, &ttl_max})
      if (!*r) return r->error();
    if (*ttl_min > *ttl_max) return sdk::make_error(ErrorKind::invalid_argument, "[realtime] token_ttl_min_s > token_ttl_max_s");
    max_message_bytes_ = static_cast<std::size_t>(*max_message);
    max_per_app_ = static_cast<std::size_t>(*max_per_app);
    ttl_default_ = *ttl_default;
    if (!ctx.cluster()) return sdk::make_error(ErrorKind::unavailable, "realtime needs the kernel's cluster messages");
    if (!ctx.keyring()) return sdk::make_error(ErrorKind::unavailable, "realtime needs the kernel's keyring");
    db_ = &ctx.database();
    cluster_ = ctx.cluster();
    store_ = std::make_unique<TopicStore>(ctx.database(), static_cast<int>(*buffer), static_cast<int>(*max_topics));
    HubOptions hub;
    hub.heartbeat_ms = *heartbeat * 1000;
    hub.retry_ms = *retry;
    hub.max_buffer_bytes = static_cast<std::uint64_t>(*max_behind);
    auto* tasks = &ctx.tasks();
    hub_ = std::make_unique<Hub>(*store_, hub, [this, tasks] {
      tasks->every("heartbeat", 1000, [this] { hub_->tick(sdk::wall_clock_ms()); });
    });
    tokens_ = std::make_unique<Tokens>(*ctx.keyring(), TokenLimits{*ttl_min, *ttl_max, 100});

    for (auto c : {sdk::Capability{kReadCapability, sdk::Access::app_viewer, "app:read", "see an app's realtime topics"},
                   sdk::Capability{kManageCapability, sdk::Access::app_admin, "app:admin",
                                   "register, change and delete an app's realtime topics (who may subscribe)"},
                   sdk::Capability{kPublishCapability, sdk::Access::app_editor, "app:write",
                                   "publish to an app's realtime topics and mint subscriber tokens"}})
      if (auto r = ctx.add_capability(std::move(c)); !r) return r;
    if (auto r = cluster_->listen(kChannel, [this](std::string_view m) { heard(m); }); !r) return r;
    // Pub/sub publishes to a topic registered here reach its subscribers.
    if (auto r = ctx.observe_events("pubsub", [this](sdk::Transaction& tx, std::string_view app, const sdk::Event& e) {
          return heard_pubsub(tx, app, e);
        });
        !r)
      return r;
    if (auto r = ctx.on_app_deleted([this](sdk::Transaction& tx, std::string_view app) -> Result<void> {
          if (auto r = store_->delete_app(tx, app); !r) return r;
          return cluster_->notify(&tx, kChannel, join_lines({"a", app, "topic_deleted"}));
        });
        !r)
      return r;
    if (auto r = add_stream_route(ctx); !r) return r;
    if (auto r = add_admin_routes(ctx); !r) return r;
    if (auto r = sdk::add_admin_view_json(ctx, kAdminView); !r) return r;
    if (auto r = ctx.declare_resource_kind(topic_resources()); !r) return r;
    ctx.metrics().gauge("subscribers", "realtime subscriptions open on this node",
                        [this] { return static_cast<double>(hub_->subscribers()); });
    return declare_script_api(*ctx.script_api(), *ctx.access());
  }

  Result<void> start(sdk::PluginContext&) override { return {}; }
  void stop() override {}

 private:
  // ---- publishing ----------------------------------------------------------------

  // Inside tx: the event's id, or nothing when the topic is not registered.
  Result<std::optional<std::int64_t>> publish(sdk::Transaction& tx, std::string_view app, std::string_view topic,
                                              const std::string& message) {
    if (message.size() > max_message_bytes_)
      return sdk::make_error(ErrorKind::invalid_argument, "the message is " + std::to_string(message.size()) +
                                                              " bytes of JSON; at most " +
                                                              std::to_string(max_message_bytes_) +
                                                              " ([realtime] max_message_bytes)");
    const std::int64_t at = sdk::wall_clock_ms();
    auto id = store_->append(tx, app, topic, message, at);
    if (!id || !*id) return id;
    // Small messages travel with the notification; others are read from the
    // buffer by each node.
    const std::string ids = std::to_string(**id), ats = std::to_string(at);
    std::string note = join_lines({"e", app, topic, ids, ats, ""});
    if (note.size() + message.size() <= sdk::Cluster::kMaxPayload) note += message;
    if (auto r = cluster_->notify(&tx, kChannel, note); !r) return r.error();
    return id;
  }

  Result<std::int64_t> publish_now(std::string_view app, std::string_view topic, const Value& message) {
    if (auto ok = check_topic_name(topic); !ok) return ok.error();
    const std::string text = sdk::to_json(message);
    std::optional<std::int64_t> id;
    auto r = db_->transaction([&](sdk::Transaction& tx) -> Result<void> {
      auto made = publish(tx, app, topic, text);
      if (!made) return made.error();
      id = *made;
      return {};
    });
    if (!r) return r.error();
    if (!id)
      return sdk::make_error(ErrorKind::not_found, "no realtime topic '" + std::string(topic) +
                                                       "' in this app: register it first (admin API)");
    return *id;
  }

  Result<void> heard_pubsub(sdk::Transaction& tx, std::string_view app, const sdk::Event& e) {
    if (e.op != "publish") return {};
    const std::string topic = e.payload["topic"].string_or("");
    if (!check_topic_name(topic)) return {};
    const std::string text = sdk::to_json(e.payload["message"]);
    if (text.size() > max_message_bytes_) return {};  // best effort: too big for realtime, fine for pub/sub
    auto id = publish(tx, app, topic, text);
    if (!id) return id.error();
    return {};
  }

  // A cluster message (hub.hpp), on the kernel's delivery thread.
  void heard(std::string_view message) {
    if (message.empty()) return;
    switch (message[0]) {
      case 'e': {
        auto f = split_lines(message, 6);
        if (f.size() != 6) return;
        const std::int64_t id = to_int(f[3]), at = to_int(f[4]);
        if (id < 0 || at < 0) return;
        hub_->deliver(std::string(f[1]), std::string(f[2]), id, at, f[5]);
        return;
      }
      case 'c': {
        auto f = split_lines(message, 4);
        if (f.size() == 4) hub_->close_topic(std::string(f[1]), std::string(f[2]), f[3]);
        return;
      }
      case 'a': {
        auto f = split_lines(message, 3);
        if (f.size() == 3) hub_->close_app(std::string(f[1]), f[2]);
        return;
      }
    }
  }

  // ---- the stream ----------------------------------------------------------------------

  Result<void> add_stream_route(sdk::PluginContext& ctx) {
    sdk::HttpRoute route{"GET", "/topics/{topic}", std::string(sdk::kPublic), sdk::with_error_replies([this](const sdk::HttpRequest& req) {
                           return subscribe(req);
                         })};
    route.hosts = sdk::RouteHosts::apps;
    return ctx.add_route(std::move(route));
  }

  sdk::HttpResponse subscribe(const sdk::HttpRequest& req) {
    const std::string& app = req.app_id;
    const std::string& topic = req.params.at("topic");
    auto not_found = [&] {
      return sdk::error_reply(404, "not_found", "no topic '" + topic + "' to subscribe to here");
    };
    if (app.empty() || !check_topic_name(topic)) return not_found();
    auto query = sdk::query_params(req.query);
    // Where the client got to: the header (what EventSource sends when it
    // reconnects) or the query (what it can send the first time).
    std::optional<std::int64_t> after;
    bool after_unreadable = false;
    std::string_view last = req.header("last-event-id");
    if (last.empty() && query.count("last_event_id")) last = query["last_event_id"];
    if (!last.empty()) {
      auto v = to_int(last);
      if (v < 0) after_unreadable = true;
      else after = v;
    }
    // Who may subscribe, before anything is held or read for the client.
    auto found = store_->find(app, topic);
    if (!found) fail(found.error());
    if (!*found || !(*found)->external) return not_found();
    std::int64_t expires_at_ms = 0;
    const bool admitted_public = (*found)->auth_mode == AuthMode::public_;
    if (!admitted_public) {
      std::string token;
      std::string_view authorization = req.header("authorization");
      if (authorization.size() > 7 && strncasecmp(authorization.data(), "Bearer ", 7) == 0)
        token = std::string(authorization.substr(7));
      else if (query.count("token"))
        token = query["token"];
      if (token.empty()) return unauthorized("this topic needs a subscriber token (Authorization: Bearer, or ?token=)");
      auto grant = tokens_->verify(app, token, sdk::wall_clock_ms() / 1000);
      if (!grant)
        return unauthorized(grant.error().message, grant.error().code == "token_expired" ? "token_expired" : "unauthorized");
      if (std::find(grant->topics.begin(), grant->topics.end(), topic) == grant->topics.end())
        return unauthorized("the token does not name topic '" + topic + "'");
      expires_at_ms = grant->expires_at_s * 1000;
    }
    if (max_per_app_ > 0 && hub_->app_subscribers(app) >= max_per_app_) {
      auto busy = sdk::error_reply(503, "unavailable", "this app has as many subscribers on this server as it may");
      busy.headers.emplace_back("Retry-After", "5");
      return busy;
    }
    // Held before the topic's position is read: whatever is published
    // after that read reaches the subscription (hub.hpp).
    auto state = hub_->hold(app, topic);
    const std::uint64_t generation = state->closes.load();
    auto position = store_->find(app, topic);
    if (!position || !*position || !(*position)->external) {
      hub_->release(state);
      if (!position) fail(position.error());
      return not_found();
    }
    const std::int64_t latest = (*position)->last_event_id;
    // What the client missed, or a reset when that is gone.
    std::string head = "retry: " + std::to_string(hub_->options().retry_ms) + "\n\n";
    std::vector<std::string> replay;
    std::int64_t last_sent = latest;
    auto reset = [&](std::string_view reason) {
      head += named_frame("reset", sdk::to_json(Value::object({{"topic", topic},
                                                                 {"reason", std::string(reason)},
                                                                 {"latest_id", std::to_string(latest)}})));
    };
    if (after_unreadable) {
      reset("unknown");
    } else if (after && *after != latest) {
      if (*after > latest) {
        reset("unknown");
      } else {
        auto missed = store_->resume(app, topic, *after, latest);
        if (!missed) {
          hub_->release(state);
          fail(missed.error());
        }
        if (!missed->complete) {
          reset("too_old");
        } else {
          for (const auto& e : missed->events) replay.push_back(message_frame(topic, e.id, e.message, e.published_at));
          last_sent = missed->events.back().id;  // the rest, if any, comes live or from the hub
        }
      }
    }
    sdk::HttpResponse res;
    res.status = 200;
    res.headers = {{"Content-Type", "text/event-stream; charset=utf-8"},
                   {"Cache-Control", "no-store"},
                   {"X-Accel-Buffering", "no"}};
    res.body = std::move(head);
    res.takeover = std::make_shared<Subscriber>(*hub_, std::move(state), generation, last_sent, std::move(replay),
                                                expires_at_ms, admitted_public);
    return res;
  }

  // ---- config as code: [[realtime.topics]] {name, external, auth_mode} ---------------

  static sdk::ResourceItem topic_item(const Topic& t) {
    return {t.name, Value::object({{"name", t.name},
                                   {"external", t.external},
                                   {"auth_mode", std::string(auth_mode_name(t.auth_mode))}})};
  }

  sdk::ResourceKind topic_resources() {
    sdk::ResourceKind kind;
    kind.name = "topics";
    kind.description = "topics browsers may subscribe to: {name, external, auth_mode}";
    kind.list = [this](sdk::Transaction& tx, std::string_view app) -> Result<std::vector<sdk::ResourceItem>> {
      auto topics = store_->list(tx, app);
      if (!topics) return topics.error();
      std::vector<sdk::ResourceItem> out;
      for (const auto& t : *topics) out.push_back(topic_item(t));
      return out;
    };
    // A folder that says external = true is the confirmation the admin
    // route asks for: it is written, reviewed and deployed on purpose.
    kind.check = [](const Value& item) -> Result<sdk::ResourceItem> {
      if (!item.is_object()) return sdk::make_error(ErrorKind::invalid_argument, "a topic is a table: {name, external, auth_mode}");
      for (const auto& [field, _] : item.as_object())
        if (field != "name" && field != "external" && field != "auth_mode")
          return sdk::make_error(ErrorKind::invalid_argument, "unknown field '" + field + "' (name, external, auth_mode)");
      Topic t;
      if (!item["name"].is_string()) return sdk::make_error(ErrorKind::invalid_argument, "name: required, the topic's name");
      t.name = item["name"].as_string();
      if (auto ok = check_topic_name(t.name); !ok) return sdk::make_error(ErrorKind::invalid_argument, "name: " + ok.error().message);
      if (item.has("external") && !item["external"].is_bool())
        return sdk::make_error(ErrorKind::invalid_argument, "external: must be true or false");
      t.external = item["external"].bool_or(false);
      if (item.has("auth_mode")) {
        auto mode = parse_auth_mode(item["auth_mode"].string_or(""));
        if (!mode) return sdk::make_error(ErrorKind::invalid_argument, "auth_mode: must be \"public\" or \"token\"");
        t.auth_mode = *mode;
      }
      return topic_item(t);
    };
    kind.put = [this](sdk::Transaction& tx, std::string_view app, std::string_view name, const Value& item) -> Result<void> {
      const bool external = item["external"].bool_or(false);
      const AuthMode mode = parse_auth_mode(item["auth_mode"].string_or("")).value_or(AuthMode::token);
      auto changed = store_->update(tx, app, name, external, mode, announce_change(app, name));
      if (!changed) return changed.error();
      if (*changed) return {};
      Topic t;
      t.name = std::string(name);
      t.external = external;
      t.auth_mode = mode;
      auto made = store_->create(tx, app, t);
      if (!made) return made.error();
      return {};
    };
    kind.remove = [this](sdk::Transaction& tx, std::string_view app, std::string_view name) -> Result<void> {
      auto removed = store_->remove(tx, app, name, announce_removal(app, name));
      if (!removed) return removed.error();
      return {};
    };
    return kind;
  }

  // Streams opened under looser rules end (announced with the change
  // itself); clients come back under the new ones.
  TopicStore::Also announce_change(std::string_view app, std::string_view name) {
    return [this, app = std::string(app), name = std::string(name)](sdk::Transaction& tx, const Topic& was,
                                                                    const Topic& is) -> Result<void> {
      const bool narrowed = (was.external && !is.external) ||
                            (was.auth_mode == AuthMode::public_ && is.auth_mode == AuthMode::token);
      if (!narrowed) return {};
      return cluster_->notify(&tx, kChannel, join_lines({"c", app, name, "topic_changed"}));
    };
  }

  std::function<Result<void>(sdk::Transaction&)> announce_removal(std::string_view app, std::string_view name) {
    return [this, app = std::string(app), name = std::string(name)](sdk::Transaction& tx) {
      return cluster_->notify(&tx, kChannel, join_lines({"c", app, name, "topic_deleted"}));
    };
  }

  // ---- admin routes ----------------------------------------------------------------

  Result<void> add_admin_routes(sdk::PluginContext& ctx) {
    const std::string base = "/api/v1/admin/apps/{app}/realtime/topics";
    auto add = [&](const char* method, const std::string& path, const char* capability,
                   std::function<sdk::HttpResponse(const sdk::HttpRequest&)> handler) {
      return ctx.add_route(sdk::HttpRoute{method, path, capability, sdk::with_error_replies(std::move(handler))});
    };
    auto topic_param = [](const sdk::HttpRequest& req) -> const std::string& {
      const std::string& topic = req.params.at("topic");
      if (auto ok = check_topic_name(topic); !ok) fail(400, "invalid_field", ok.error().message);
      return topic;
    };
    // external / auth_mode / confirm_external from a body; making a topic
    // external must be confirmed (browsers anywhere may then subscribe).
    struct Access {
      std::optional<bool> external;
      std::optional<AuthMode> auth_mode;
      bool confirmed = false;
    };
    auto read_access = [](const Value& body, std::initializer_list<const char*> extra) {
      Access a;
      for (const auto& [k, v] : body.as_object()) {
        bool known = k == "external" || k == "auth_mode" || k == "confirm_external";
        for (auto e : extra) known = known || k == e;
        if (!known) fail(400, "unknown_field", k + ": unknown field");
      }
      if (body.has("external")) {
        if (!body["external"].is_bool()) fail(400, "invalid_field", "external: must be true or false");
        a.external = body["external"].as_bool();
      }
      if (body.has("auth_mode")) {
        auto mode = parse_auth_mode(body["auth_mode"].string_or(""));
        if (!mode) fail(400, "invalid_field", "auth_mode: must be \"public\" or \"token\"");
        a.auth_mode = mode;
      }
      if (body.has("confirm_external")) {
        if (!body["confirm_external"].is_bool()) fail(400, "invalid_field", "confirm_external: must be true or false");
        a.confirmed = body["confirm_external"].as_bool();
      }
      return a;
    };
    auto must_confirm = [](const Access& a, bool was_external) {
      if (a.external.value_or(was_external) && !was_external && !a.confirmed)
        fail(409, "confirmation_required",
             "making a topic external lets browsers subscribe to it (anyone, with auth_mode public): send "
             "\"confirm_external\": true to confirm");
    };

    if (auto r = add("GET", base, kReadCapability,
                     [this](const sdk::HttpRequest& req) {
                       const std::string& app = req.params.at("app");
                       sdk::Array items;
                       for (const auto& t : sdk::unwrap(store_->list(app)))
                         items.push_back(topic_json(t, hub_->subscribers(app, t.name)));
                       return sdk::json_reply(200, Value::object({{"items", Value(std::move(items))}}));
                     });
        !r)
      return r;
    if (auto r = add("POST", base, kManageCapability,
                     [this, read_access, must_confirm](const sdk::HttpRequest& req) {
                       Value body = sdk::json_object_body(req);
                       Access a = read_access(body, {"name"});
                       if (!body["name"].is_string()) fail(400, "missing_field", "name: required, a string");
                       Topic t;
                       t.name = body["name"].as_string();
                       if (auto ok = check_topic_name(t.name); !ok) fail(400, "invalid_field", "name: " + ok.error().message);
                       must_confirm(a, false);
                       t.external = a.external.value_or(false);
                       t.auth_mode = a.auth_mode.value_or(AuthMode::token);
                       auto made = store_->create(req.params.at("app"), t);
                       if (!made && made.error().kind == ErrorKind::conflict) fail(409, "conflict", made.error().message);
                       if (!made && made.error().kind == ErrorKind::invalid_argument)
                         fail(400, "limit_reached", made.error().message);
                       return sdk::json_reply(201, topic_json(sdk::unwrap(std::move(made)), 0));
                     });
        !r)
      return r;
    if (auto r = add("GET", base + "/{topic}", kReadCapability,
                     [this, topic_param](const sdk::HttpRequest& req) {
                       const std::string& app = req.params.at("app");
                       const std::string& name = topic_param(req);
                       auto t = sdk::unwrap(store_->find(app, name));
                       if (!t) fail(404, "not_found", "no topic '" + name + "'");
                       return sdk::json_reply(200, topic_json(*t, hub_->subscribers(app, name)));
                     });
        !r)
      return r;
    if (auto r = add("PATCH", base + "/{topic}", kManageCapability,
                     [this, topic_param, read_access, must_confirm](const sdk::HttpRequest& req) {
                       const std::string& app = req.params.at("app");
                       const std::string& name = topic_param(req);
                       Value body = sdk::json_object_body(req);
                       Access a = read_access(body, {});
                       auto before = sdk::unwrap(store_->find(app, name));
                       if (!before) fail(404, "not_found", "no topic '" + name + "'");
                       must_confirm(a, before->external);
                       auto after =
                           sdk::unwrap(store_->update(app, name, a.external, a.auth_mode, announce_change(app, name)));
                       if (!after) fail(404, "not_found", "no topic '" + name + "'");
                       return sdk::json_reply(200, topic_json(*after, hub_->subscribers(app, name)));
                     });
        !r)
      return r;
    if (auto r = add("DELETE", base + "/{topic}", kManageCapability,
                     [this, topic_param](const sdk::HttpRequest& req) {
                       const std::string& app = req.params.at("app");
                       const std::string& name = topic_param(req);
                       if (!sdk::unwrap(store_->remove(app, name, announce_removal(app, name))))
                         fail(404, "not_found", "no topic '" + name + "'");
                       return sdk::HttpResponse{204, {}, ""};
                     });
        !r)
      return r;
    return add("POST", base + "/{topic}/events", kPublishCapability,
               [this, topic_param](const sdk::HttpRequest& req) {
                 const std::string& name = topic_param(req);
                 Value body = sdk::json_object_body(req);
                 for (const auto& [k, v] : body.as_object())
                   if (k != "message") fail(400, "unknown_field", k + ": unknown field");
                 if (!body.has("message")) fail(400, "missing_field", "message: required (any JSON)");
                 auto id = publish_now(req.params.at("app"), name, body["message"]);
                 if (!id && id.error().kind == ErrorKind::invalid_argument) fail(400, "invalid_field", id.error().message);
                 return sdk::json_reply(202, Value::object({{"topic", name}, {"id", std::to_string(sdk::unwrap(std::move(id)))}}));
               });
  }

  // ---- scripts -----------------------------------------------------------------------

  Result<void> declare_script_api(sdk::ScriptApi& api, sdk::AccessControl& access) {
    auto* acl = &access;
    if (auto r = api.add_function(
            {"realtime", "publish", {{"topic", ScriptType::string}, {"message", ScriptType::json}}, ScriptType::integer, "",
             [this, acl](const sdk::CallContext& call, std::span<const Value> args) -> Result<Value> {
               if (auto ok = acl->require(call, kPublishCapability); !ok) return ok.error();
               auto id = publish_now(call.app_id, args[0].string_or(""), args[1]);
               if (!id) return id.error();
               return Value(*id);
             },
             "Publishes a message (any JSON) to a registered topic of the app; once it commits (before this "
             "returns) every node writes it to its subscribers. Returns the event's id."});
        !r)
      return r;
    return api.add_function(
        {"realtime", "token", {{"topics", ScriptType::json}, {"ttl_s", ScriptType::integer, {}, Value(ttl_default_)}},
         ScriptType::string, "",
         [this, acl](const sdk::CallContext& call, std::span<const Value> args) -> Result<Value> {
           if (auto ok = acl->require(call, kPublishCapability); !ok) return ok.error();
           std::vector<std::string> topics;
           if (args[0].is_string()) topics.push_back(args[0].as_string());
           else if (args[0].is_array())
             for (const auto& t : args[0].as_array()) {
               if (!t.is_string()) return sdk::make_error(ErrorKind::invalid_argument, "topics: names are strings");
               topics.push_back(t.as_string());
             }
           else
             return sdk::make_error(ErrorKind::invalid_argument, "topics: a topic name or an array of them");
           for (const auto& t : topics) {
             auto found = store_->find(call.app_id, t);
             if (!found) return found.error();
             if (!*found || !(*found)->external)
               return sdk::make_error(ErrorKind::invalid_argument,
                                      "topic '" + t + "' is not an external topic of this app: a token cannot open it");
           }
           auto token = tokens_->mint(call.app_id, topics, args[1].int_or(ttl_default_), sdk::wall_clock_ms() / 1000);
           if (!token) return token.error();
           return Value(std::move(*token));
         },
         "A subscriber token for a browser: it may subscribe to these external topics of the app (a name or an "
         "array) for ttl_s seconds (clamped to [realtime] token_ttl_min_s..token_ttl_max_s)."});
  }

  sdk::Database* db_ = nullptr;
  sdk::Cluster* cluster_ = nullptr;
  std::unique_ptr<TopicStore> store_;
  std::unique_ptr<Hub> hub_;
  std::unique_ptr<Tokens> tokens_;
  std::size_t max_message_bytes_ = 65536;
  std::size_t max_per_app_ = 5000;  // 0: no limit
  std::int64_t ttl_default_ = 3600;
};

}  // namespace

PICLOUD_PLUGIN(RealtimePlugin, "realtime", "0.1.0", "", "")
