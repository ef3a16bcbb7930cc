// The realtime plugin end to end: real server-sent-event streams over
// loopback (a client reading the wire as an EventSource does), topics
// registered through the admin API, tokens minted by scripts, events
// published by scripts, the admin API and pub/sub; resuming with
// Last-Event-ID, heartbeats, slow consumers, topic changes, shutdown, the
// stream cap, and two nodes on one PostgreSQL database.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;
using V = sdk::Value;

namespace {

// One event as an EventSource dispatches it (a comment is kept as event
// "comment" so heartbeats can be seen).
struct SseEvent {
  std::string event = "message";
  std::string id;
  std::string data;
  V json() const { return kernel::admin::parse_stored_json(data); }
};

// A subscriber: GET over a socket of its own, the head parsed, then events
// read as they come.
class SseClient {
 public:
  SseClient(int port, const std::string& host, const std::string& path, std::map<std::string, std::string> headers = {},
            int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: text/event-stream\r\n";
    for (auto& [k, v] : headers) request += k + ": " + v + "\r\n";
    request += "\r\n";
    ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
    // The head.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (buffer_.find("\r\n\r\n") == std::string::npos && fill(deadline)) {
    }
    auto end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) return;
    head_ = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    status = std::atoi(head_.c_str() + 9);
    if (status != 200) {
      // A plain answer: its body is the rest (Content-Length bounded; read what comes).
      while (fill(std::chrono::steady_clock::now() + 300ms)) {
      }
      body = buffer_;
    }
  }
  ~SseClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  std::string header(const std::string& name) const {
    auto lower = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    std::string h = lower(head_);
    auto at = h.find("\r\n" + lower(name) + ":");
    if (at == std::string::npos) return "";
    at += name.size() + 3;
    auto end = head_.find("\r\n", at);
    std::string v = head_.substr(at, end - at);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    return v;
  }

  // The next event (or comment); nothing when none came in time or the stream ended.
  std::optional<SseEvent> next(std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto e = parse()) return e;
      if (!fill(deadline)) return std::nullopt;
    }
  }
  // The next event that is not a comment.
  std::optional<SseEvent> next_event(std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto e = next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (!e) return e;
      if (e->event != "comment" && !(e->event == "message" && e->data.empty())) return e;
    }
    return std::nullopt;
  }
  // Whether the server closed the stream (after what is buffered).
  bool closed(std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_;
  }

  int status = 0;
  std::string body;
  std::string retry;

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (eof_ || fd_ < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  // One event from the buffer, per the EventSource parsing rules (LF line ends here).
  std::optional<SseEvent> parse() {
    for (;;) {
      auto end = buffer_.find("\n\n");
      if (end == std::string::npos) return std::nullopt;
      std::string block = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      SseEvent e;
      bool any = false, comment = false;
      std::size_t at = 0;
      while (at <= block.size()) {
        auto nl = block.find('\n', at);
        std::string line = block.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        at = nl == std::string::npos ? block.size() + 1 : nl + 1;
        if (line.empty()) continue;
        if (line[0] == ':') {
          comment = true;
          e.data = line;
          continue;
        }
        auto colon = line.find(':');
        std::string field = line.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        if (field == "data") {
          e.data += (any ? "\n" : "") + value;
          any = true;
        } else if (field == "event") {
          e.event = value;
        } else if (field == "id") {
          e.id = value;
        } else if (field == "retry") {
          retry = value;
        }
      }
      if (comment && !any) {
        e.event = "comment";
        return e;
      }
      if (any) return e;
      // retry-only blocks dispatch nothing
    }
  }

  int fd_ = -1;
  std::string head_;
  std::string buffer_;
  bool eof_ = false;
};

std::map<std::string, std::string> realtime_env(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env{
      {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir()},
      {"PICLOUD_PLUGINS_ENABLED", "realtime,pubsub"},
      {"PICLOUD_REALTIME_BUFFER_SIZE", "5"},
      {"PICLOUD_REALTIME_TOKEN_TTL_MIN_S", "1"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

const char* kDriver = R"(
void handle(request@ req, response@ res) {
  json a = json::parse(req.body);
  string op = a.get_string("op");
  if (op == "publish") res.text("" + realtime::publish(a.get_string("topic"), a["message"]));
  else if (op == "token") res.text(realtime::token(a["topics"], a.get_int("ttl", 3600)));
  else if (op == "pubsub") res.text("" + pubsub::publish(a.get_string("topic"), a["message"]));
  else throw("unknown op " + op);
})";

struct RealtimeApp {
  Instance& pc;
  std::string slug;
  std::string id;
  DriverReply drive(const V& args) { return drive_at(pc, slug, "/rt", args); }
  std::string publish(const std::string& topic, const V& message) {
    auto r = drive(V::object({{"op", "publish"}, {"topic", topic}, {"message", message}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  std::string token(const V& topics, std::int64_t ttl = 3600) {
    auto r = drive(V::object({{"op", "token"}, {"topics", topics}, {"ttl", ttl}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  Reply topics(const std::string& method, const std::string& rest = "", const std::string& body = "") {
    return pc.call(method, "/apps/" + slug + "/realtime/topics" + rest, pc.owner_key, body);
  }
  void add_topic(const std::string& name, const std::string& mode, bool external = true) {
    auto body = sdk::to_json(V::object(
        {{"name", name}, {"external", external}, {"auth_mode", mode}, {"confirm_external", external}}));
    auto r = topics("POST", "", body);
    ASSERT_EQ(r.status, 201) << r.body;
  }
  std::unique_ptr<SseClient> subscribe(const std::string& topic, std::map<std::string, std::string> headers = {},
                                       const std::string& query = "", int receive_buffer = 0) {
    return std::make_unique<SseClient>(pc.port(), slug + ".localhost",
                                       "/_picloud/realtime/topics/" + topic + query, std::move(headers), receive_buffer);
  }
};

RealtimeApp realtime_app(Instance& pc, const std::string& slug) {
  std::string id = make_app(pc, slug);
  save_script(pc, slug, "rt", kDriver);
  bind_route(pc, slug, R"({"script":"rt","path":"/rt","methods":["POST"]})");
  return {pc, slug, id};
}

class RealtimeBackends : public ::testing::TestWithParam<Backend> {};

TEST_P(RealtimeBackends, APublicTopicStreamsEachEventOnceAndAResumeGetsWhatWasMissed) {
  Instance pc(GetParam(), realtime_env());
  pc.cast_owner();
  auto app = realtime_app(pc, "live");
  app.add_topic("scores", "public");

  auto first = app.subscribe("scores");
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(first->header("cache-control"), "no-store");
  EXPECT_EQ(first->header("content-length"), "");
  EXPECT_EQ(first->header("transfer-encoding"), "");

  std::string id1 = app.publish("scores", V::object({{"home", 1}, {"text", "line one\nline two — ü"}}));
  auto e1 = first->next_event();
  ASSERT_TRUE(e1);
  EXPECT_EQ(first->retry, "2000");
  EXPECT_EQ(e1->event, "message");
  EXPECT_EQ(e1->id, id1);
  V data = e1->json();
  EXPECT_EQ(data["topic"], V("scores"));
  EXPECT_EQ(data["id"], V(id1));
  EXPECT_EQ(data["message"], V::object({{"home", 1}, {"text", "line one\nline two — ü"}}));
  EXPECT_TRUE(data["published_at"].is_int());

  // The admin API publishes too; ids follow each other.
  auto r = app.topics("POST", "/scores/events", R"({"message":[1,2,3]})");
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id2 = r.json["id"].as_string();
  EXPECT_EQ(std::stoll(id2), std::stoll(id1) + 1);
  auto e2 = first->next_event();
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->id, id2);
  EXPECT_EQ(e2->json()["message"], V::array({1, 2, 3}));
  first.reset();  // the client goes away

  std::string id3 = app.publish("scores", V("three"));
  std::string id4 = app.publish("scores", V("four"));
  auto resumed = app.subscribe("scores", {{"Last-Event-ID", id2}});
  ASSERT_EQ(resumed->status, 200);
  auto m3 = resumed->next_event();
  auto m4 = resumed->next_event();
  ASSERT_TRUE(m3 && m4);
  EXPECT_EQ(m3->id, id3);
  EXPECT_EQ(m3->json()["message"], V("three"));
  EXPECT_EQ(m4->id, id4);
  std::string id5 = app.publish("scores", V("five"));
  auto m5 = resumed->next_event();
  ASSERT_TRUE(m5);
  EXPECT_EQ(m5->id, id5) << "live after the replay, nothing twice";
  EXPECT_FALSE(resumed->next_event(300ms)) << "nothing more";

  // The query parameter works as the header does (a first connection).
  auto by_query = app.subscribe("scores", {}, "?last_event_id=" + id4);
  auto q5 = by_query->next_event();
  ASSERT_TRUE(q5);
  EXPECT_EQ(q5->id, id5);

  // Up to date: nothing replayed.
  auto current = app.subscribe("scores", {{"Last-Event-ID", id5}});
  EXPECT_FALSE(current->next_event(300ms));

  // Older than the buffer (5 events): a reset, then live.
  for (int i = 0; i < 6; ++i) app.publish("scores", V(i));
  auto stale = app.subscribe("scores", {{"Last-Event-ID", id1}});
  auto reset = stale->next_event();
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->event, "reset");
  EXPECT_EQ(reset->json()["reason"], V("too_old"));
  std::string latest = reset->json()["latest_id"].as_string();
  std::string next = app.publish("scores", V("after reset"));
  auto live = stale->next_event();
  ASSERT_TRUE(live);
  EXPECT_EQ(live->id, next) << live->event << " " << live->data;
  EXPECT_EQ(std::stoll(next), std::stoll(latest) + 1);
  // An id from the future, or not a number: a reset too.
  for (std::string bad : {std::to_string(std::stoll(next) + 10), std::string("abc")}) {
    auto odd = app.subscribe("scores", {{"Last-Event-ID", bad}});
    auto e = odd->next_event();
    ASSERT_TRUE(e) << bad;
    EXPECT_EQ(e->event, "reset");
    EXPECT_EQ(e->json()["reason"], V("unknown"));
  }
}

TEST_P(RealtimeBackends, TokenTopicsAdmitOnlyAValidTokenOfTheAppNamingTheTopic) {
  Instance pc(GetParam(), realtime_env());
  pc.cast_owner();
  auto app = realtime_app(pc, "tok");
  auto other = realtime_app(pc, "tok-other");
  app.add_topic("room", "token");
  app.add_topic("lobby", "token");
  app.add_topic("secret", "token", /*external=*/false);
  other.add_topic("room", "token");

  auto missing = app.subscribe("room");
  EXPECT_EQ(missing->status, 401);
  EXPECT_NE(missing->header("www-authenticate").find("Bearer"), std::string::npos);
  EXPECT_TRUE(contains(missing->body, "unauthorized"));

  std::string token = app.token(V::array({"room"}));
  auto ok = app.subscribe("room", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(ok->status, 200) << ok->body;
  std::string id = app.publish("room", V("hello"));
  auto e = ok->next_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, id);
  auto by_query = app.subscribe("room", {}, "?token=" + token);
  EXPECT_EQ(by_query->status, 200);

  // Another topic, another app's token, a forged or garbled one.
  EXPECT_EQ(app.subscribe("lobby", {{"Authorization", "Bearer " + token}})->status, 401);
  std::string theirs = other.token(V::array({"room"}));
  EXPECT_EQ(app.subscribe("room", {{"Authorization", "Bearer " + theirs}})->status, 401);
  std::string forged = token;
  forged[forged.find('.') - 2] ^= 1;
  EXPECT_EQ(app.subscribe("room", {{"Authorization", "Bearer " + forged}})->status, 401);
  EXPECT_EQ(app.subscribe("room", {{"Authorization", "Bearer nonsense"}})->status, 401);
  EXPECT_EQ(app.subscribe("room", {{"Authorization", "Bearer " + token + "x"}})->status, 401);

  // Expired.
  std::string brief = app.token(V::array({"room", "lobby"}), 1);
  std::this_thread::sleep_for(2100ms);
  auto late = app.subscribe("room", {{"Authorization", "Bearer " + brief}});
  EXPECT_EQ(late->status, 401);
  EXPECT_TRUE(contains(late->body, "token_expired"));

  // Internal and unknown topics, and another app's topic through this host: 404.
  EXPECT_EQ(app.subscribe("secret", {{"Authorization", "Bearer " + token}})->status, 404);
  EXPECT_EQ(app.subscribe("nope")->status, 404);
  EXPECT_EQ(app.subscribe("bad%20name")->status, 404);
  // Tokens are only for external topics; publishing needs a registered topic.
  auto refused = app.drive(V::object({{"op", "token"}, {"topics", V::array({"secret"})}}));
  EXPECT_EQ(refused.status, 502);
  EXPECT_TRUE(contains(refused.body, "not an external topic"));
  auto unknown = app.drive(V::object({{"op", "publish"}, {"topic", "nope"}, {"message", 1}}));
  EXPECT_EQ(unknown.status, 502);
  EXPECT_TRUE(contains(unknown.body, "register it first"));
}

TEST_P(RealtimeBackends, AStreamEndsWithACloseEventWhenItsTokenExpires) {
  Instance pc(GetParam(), realtime_env());
  pc.cast_owner();
  auto app = realtime_app(pc, "exp");
  app.add_topic("room", "token");
  auto s = app.subscribe("room", {{"Authorization", "Bearer " + app.token(V::array({"room"}), 2)}});
  ASSERT_EQ(s->status, 200);
  auto e = s->next_event(5s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, "close");
  EXPECT_EQ(e->json()["reason"], V("token_expired"));
  EXPECT_TRUE(s->closed());
}

TEST_P(RealtimeBackends, TopicsAreManagedThroughTheAdminApiAndChangesEndStreams) {
  Instance pc(GetParam(), realtime_env());
  pc.cast_owner();
  auto app = realtime_app(pc, "adm");
  // Making a topic external needs a confirmation.
  auto unconfirmed = app.topics("POST", "", R"({"name":"news","external":true,"auth_mode":"public"})");
  EXPECT_EQ(unconfirmed.status, 409);
  EXPECT_EQ(unconfirmed.code(), "confirmation_required");
  for (const char* bad : {R"({"name":"bad name"})", R"({"name":""})", R"({})", R"({"name":"x","colour":1})",
                          R"({"name":"x","auth_mode":"open"})", R"({"name":"x","external":"yes"})", R"([1])"}) {
    auto r = app.topics("POST", "", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
  }
  EXPECT_EQ(app.topics("GET").json["items"], V::array()) << "nothing was made";
  auto made = app.topics("POST", "", R"({"name":"news"})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.json["external"], V(false));
  EXPECT_EQ(made.json["auth_mode"], V("token"));
  EXPECT_EQ(app.topics("POST", "", R"({"name":"news"})").status, 409);
  EXPECT_EQ(app.subscribe("news")->status, 404) << "internal";

  auto flip = app.topics("PATCH", "/news", R"({"external":true,"auth_mode":"public"})");
  EXPECT_EQ(flip.status, 409);
  flip = app.topics("PATCH", "/news", R"({"external":true,"auth_mode":"public","confirm_external":true})");
  ASSERT_EQ(flip.status, 200) << flip.body;
  EXPECT_EQ(flip.json["external"], V(true));

  auto s1 = app.subscribe("news");
  ASSERT_EQ(s1->status, 200);
  std::this_thread::sleep_for(100ms);
  auto listed = app.topics("GET");
  ASSERT_EQ(listed.json["items"].as_array().size(), 1u);
  EXPECT_EQ(listed.json["items"][0]["subscribers"], V(1));
  // public -> token: open streams end, and come back under the new rule.
  ASSERT_EQ(app.topics("PATCH", "/news", R"({"auth_mode":"token"})").status, 200);
  auto changed = s1->next_event();
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->event, "close");
  EXPECT_EQ(changed->json()["reason"], V("topic_changed"));
  EXPECT_TRUE(s1->closed());
  EXPECT_EQ(app.subscribe("news")->status, 401);

  // Deleting a topic ends its streams.
  auto s2 = app.subscribe("news", {{"Authorization", "Bearer " + app.token(V::array({"news"}))}});
  ASSERT_EQ(s2->status, 200);
  EXPECT_EQ(app.topics("DELETE", "/news").status, 204);
  auto gone = s2->next_event();
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->json()["reason"], V("topic_deleted"));
  EXPECT_TRUE(s2->closed());
  EXPECT_EQ(app.topics("DELETE", "/news").status, 404);
  EXPECT_EQ(app.topics("GET", "/news").status, 404);
  // Another app's admin API does not reach this app's topics.
  auto other = realtime_app(pc, "adm-other");
  app.add_topic("mine", "public");
  EXPECT_EQ(pc.call("GET", "/apps/adm-other/realtime/topics/mine", pc.owner_key).status, 404);
}

TEST_P(RealtimeBackends, PubSubPublishesReachARealtimeTopicOfTheSameName) {
  Instance pc(GetParam(), realtime_env());
  pc.cast_owner();
  auto app = realtime_app(pc, "ps");
  app.add_topic("orders", "public");
  auto s = app.subscribe("orders");
  ASSERT_EQ(s->status, 200);
  auto r = app.drive(V::object({{"op", "pubsub"}, {"topic", "orders"}, {"message", V::object({{"n", 7}})}}));
  ASSERT_EQ(r.status, 200) << r.body;
  auto e = s->next_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->json()["message"], V::object({{"n", 7}}));
  // A pub/sub topic with no realtime topic of its name publishes as before.
  r = app.drive(V::object({{"op", "pubsub"}, {"topic", "elsewhere"}, {"message", 1}}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(s->next_event(300ms));
}

TEST_P(RealtimeBackends, ThePagesOfAnAppsCorsOriginsMaySubscribe) {
  Instance pc(GetParam(), realtime_env());
  pc.cast_owner();
  auto app = realtime_app(pc, "cors");
  app.add_topic("room", "token");
  auto patched = pc.call("PATCH", "/apps/cors", pc.owner_key, R"({"cors_origins":["https://spa.example.com"]})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  std::string token = app.token(V::array({"room"}));
  auto s = app.subscribe("room", {{"Authorization", "Bearer " + token}, {"Origin", "https://spa.example.com"}});
  ASSERT_EQ(s->status, 200);
  EXPECT_EQ(s->header("access-control-allow-origin"), "https://spa.example.com");
  auto denied = app.subscribe("room", {{"Origin", "https://spa.example.com"}});
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(denied->header("access-control-allow-origin"), "https://spa.example.com") << "the page can read why";
  auto other = app.subscribe("room", {{"Authorization", "Bearer " + token}, {"Origin", "https://evil.example"}});
  EXPECT_EQ(other->header("access-control-allow-origin"), "");
  // The preflight a browser sends before a subscription with a token header.
  auto pre = on(pc, "cors.localhost", "OPTIONS", "/_picloud/realtime/topics/room", "",
                {{"Origin", "https://spa.example.com"},
                 {"Access-Control-Request-Method", "GET"},
                 {"Access-Control-Request-Headers", "authorization, last-event-id"}});
  EXPECT_EQ(pre.status, 204);
}

TEST_P(RealtimeBackends, HeartbeatsKeepQuietStreamsAlive) {
  Instance pc(GetParam(), realtime_env({{"PICLOUD_REALTIME_HEARTBEAT_S", "1"}}));
  pc.cast_owner();
  auto app = realtime_app(pc, "hb");
  app.add_topic("quiet", "public");
  auto s = app.subscribe("quiet");
  ASSERT_EQ(s->status, 200);
  auto beat = s->next(3s);
  ASSERT_TRUE(beat);
  EXPECT_EQ(beat->event, "comment");
}

TEST_P(RealtimeBackends, AClientThatStopsReadingIsClosedAsTooSlowNotBuffered) {
  Instance pc(GetParam(), realtime_env({{"PICLOUD_REALTIME_MAX_STREAM_BUFFER_BYTES", "65536"}}));
  pc.cast_owner();
  auto app = realtime_app(pc, "slow");
  app.add_topic("firehose", "public");
  auto lazy = app.subscribe("firehose", {}, "", /*receive_buffer=*/4096);
  auto keen = app.subscribe("firehose");
  ASSERT_EQ(lazy->status, 200);
  std::string big(20000, 'x');
  int published = 0;
  // Enough to fill the lazy client's socket buffers and the server's 64 KiB for it.
  for (int i = 0; i < 300; ++i, ++published) {
    auto r = app.topics("POST", "/firehose/events", sdk::to_json(V::object({{"message", big + std::to_string(i)}})));
    ASSERT_EQ(r.status, 202) << r.body;
    ASSERT_TRUE(keen->next_event()) << "the reading client gets every event";
  }
  int got = 0;
  std::optional<SseEvent> last;
  while (auto e = lazy->next_event(2s)) {
    last = e;
    if (e->event != "message") break;
    ++got;
  }
  ASSERT_TRUE(last);
  EXPECT_EQ(last->event, "close");
  EXPECT_EQ(last->json()["reason"], V("too_slow"));
  EXPECT_LT(got, published);
  EXPECT_TRUE(lazy->closed());
  // The keen one is still served.
  std::string id = app.publish("firehose", V("still here"));
  auto e = keen->next_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, id);
}

TEST_P(RealtimeBackends, ShutdownSaysGoodbyeAndTheStreamCapAnswers503) {
  auto pc = std::make_unique<Instance>(GetParam(), realtime_env({{"PICLOUD_SERVER_MAX_STREAMS", "1"}}));
  pc->cast_owner();
  auto app = realtime_app(*pc, "bye");
  app.add_topic("t", "public");
  auto one = app.subscribe("t");
  ASSERT_EQ(one->status, 200);
  auto two = app.subscribe("t");
  EXPECT_EQ(two->status, 503);
  EXPECT_EQ(two->header("retry-after"), "5");
  // Only a GET over HTTP/1.1 becomes a stream; a HEAD gets the head alone.
  auto old = raw_exchange(pc->port(), "GET /_picloud/realtime/topics/t HTTP/1.0\r\nHost: bye.localhost\r\n\r\n", 3s);
  EXPECT_EQ(old.received.rfind("HTTP/1.1 400", 0), 0u) << old.received;
  auto head = raw_exchange(pc->port(), "HEAD /_picloud/realtime/topics/t HTTP/1.1\r\nHost: bye.localhost\r\nConnection: close\r\n\r\n", 3s);
  EXPECT_EQ(head.received.rfind("HTTP/1.1 200", 0), 0u) << head.received;
  EXPECT_TRUE(head.closed);
  // Script routes still answer: streams do not take request connections.
  EXPECT_EQ(app.drive(V::object({{"op", "publish"}, {"topic", "t"}, {"message", 1}})).status, 200);
  ASSERT_TRUE(one->next_event());
  pc.reset();
  auto bye = one->next_event();
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->event, "close");
  EXPECT_EQ(bye->json()["reason"], V("shutdown"));
  EXPECT_TRUE(one->closed());
}

TEST_P(RealtimeBackends, TwoNodesDeliverEachEventOnceToEverySubscriberAndResumeAnywhere) {
  if (GetParam() == Backend::sqlite) GTEST_SKIP() << "one node per SQLite database";
  Instance a(GetParam(), realtime_env());
  a.cast_owner();
  Instance b(GetParam(), realtime_env({{"PICLOUD_DATABASE_URL", a.database_url()}, {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"}}));
  auto app = realtime_app(a, "two");
  app.add_topic("feed", "token");
  std::string token = app.token(V::array({"feed"}));
  auto on_a = app.subscribe("feed", {{"Authorization", "Bearer " + token}});
  // Node b learns of the app at its next routing poll.
  std::unique_ptr<SseClient> on_b;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    on_b = std::make_unique<SseClient>(b.port(), "two.localhost", "/_picloud/realtime/topics/feed",
                                       std::map<std::string, std::string>{{"Authorization", "Bearer " + token}});
    if (on_b->status != 404) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(on_a->status, 200);
  ASSERT_EQ(on_b->status, 200) << on_b->body;
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    // Alternate the publishing node.
    Instance& via = i % 2 ? b : a;
    auto r = via.call("POST", "/apps/two/realtime/topics/feed/events", a.owner_key,
                      sdk::to_json(V::object({{"message", i}})));
    ASSERT_EQ(r.status, 202) << r.body;
    ids.push_back(r.json["id"].as_string());
  }
  for (auto* s : {on_a.get(), on_b.get()}) {
    for (int i = 0; i < 20; ++i) {
      auto e = s->next_event();
      ASSERT_TRUE(e) << i;
      EXPECT_EQ(e->id, ids[i]);
      EXPECT_EQ(e->json()["message"], V(i));
    }
    EXPECT_FALSE(s->next_event(500ms)) << "each event once";
  }
  // A message too big for one NOTIFY still arrives (read from the buffer).
  std::string big(20000, 'y');
  auto r = a.call("POST", "/apps/two/realtime/topics/feed/events", a.owner_key, sdk::to_json(V::object({{"message", big}})));
  ASSERT_EQ(r.status, 202);
  auto eb = on_b->next_event();
  ASSERT_TRUE(eb);
  EXPECT_EQ(eb->json()["message"], V(big));
  // A client of node a resumes on node b.
  on_a.reset();
  std::string missed = a.call("POST", "/apps/two/realtime/topics/feed/events", a.owner_key, R"({"message":"missed"})")
                           .json["id"]
                           .as_string();
  SseClient again(b.port(), "two.localhost", "/_picloud/realtime/topics/feed",
                  {{"Authorization", "Bearer " + token}, {"Last-Event-ID", ids.back()}});
  auto first = again.next_event();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->json()["message"], V(big));
  auto second = again.next_event();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, missed);
  auto also = on_b->next_event();
  ASSERT_TRUE(also);
  EXPECT_EQ(also->id, missed);
  // Deleting the topic on one node ends the streams on the other.
  ASSERT_EQ(a.call("DELETE", "/apps/two/realtime/topics/feed", a.owner_key).status, 204);
  auto end = on_b->next_event();
  ASSERT_TRUE(end);
  EXPECT_EQ(end->json()["reason"], V("topic_deleted"));
}

INSTANTIATE_TEST_SUITE_P(Backends, RealtimeBackends, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
