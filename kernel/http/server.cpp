#include "kernel/http/server.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPChunkedStream.h>
#include <Poco/Net/HTTPFixedLengthStream.h>
#include <Poco/Net/HTTPHeaderStream.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "kernel/http/wire.hpp"
#include "kernel/log.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::http {
namespace {

// Request ids: a random per-process prefix and a counter; cheap and unique.
std::string next_request_id() {
  static const std::uint32_t prefix = std::random_device{}();
  static std::atomic<std::uint64_t> counter{0};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08x%08llx", prefix, static_cast<unsigned long long>(++counter));
  return buf;
}

bool acceptable_request_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

const std::string kNoRequestId;

int status_class(int status) { return status >= 500 ? 2 : status >= 400 ? 1 : 0; }

// Poco's HTTPSession buffers reads from the socket; its constructor is
// protected, so the connection owns one through this subclass.
class Session final : public Poco::Net::HTTPSession {
 public:
  explicit Session(const Poco::Net::StreamSocket& socket) : HTTPSession(socket, true) {}
};

}  // namespace

sdk::HttpResponse error_response(int status, std::string_view code, std::string_view message) {
  sdk::Value body = sdk::Value::object({{"error", sdk::Value::object({{"code", std::string(code)},
                                                                      {"message", std::string(message)},
                                                                      {"details", sdk::Value::object()}})}});
  return sdk::HttpResponse::json(status, sdk::to_json(body));
}

// One request being served: what was parsed, and what the connection must
// know afterwards.
struct Server::Exchange {
  Poco::Net::HTTPRequest& head;
  Session& session;
  Poco::Net::StreamSocket& socket;
  sdk::HttpRequest request;
  const RouteEntry* route = nullptr;
  bool close_after = false;  // the body was not read to its end
};

sdk::HttpResponse Server::serve(Exchange& x) {
  auto& req = x.request;
  req.method = x.head.getMethod();
  const std::string& uri = x.head.getURI();
  auto q = uri.find('?');
  try {
    Poco::URI::decode(uri.substr(0, q), req.path);
  } catch (const Poco::Exception&) {
    x.close_after = true;
    return error_response(400, "bad_request", "the request path is not valid");
  }
  if (q != std::string::npos) req.query = uri.substr(q + 1);

  auto match = router_.match(req.method, req.path);
  bool has_body = x.head.getChunkedTransferEncoding() || (x.head.hasContentLength() && x.head.getContentLength64() > 0);
  if (!match.route) {
    x.close_after = has_body;  // never read a body nobody will use
    if (!match.allowed_methods.empty()) {
      std::string allow;
      for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
      auto r = error_response(405, "method_not_allowed", "method " + req.method + " is not allowed on " + req.path);
      r.headers.emplace_back("Allow", allow);
      return r;
    }
    not_found_.inc();
    return error_response(404, "not_found", "no route for " + req.method + " " + req.path);
  }
  x.route = match.route;
  req.params = std::move(match.params);
  req.headers.reserve(x.head.size());
  for (const auto& [name, value] : x.head) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(lower), value);
  }

  if (x.route->capability != sdk::kPublic) {
    if (auto denied = authorizer_.check(req, x.route->capability)) {
      x.close_after = has_body;  // the body stays unread
      return std::move(*denied);
    }
  }

  // Bounded body: refuse a declared oversize body unread, and stop reading
  // an undeclared (chunked) one as soon as it passes the limit. Either way
  // the rest is unread, so the connection closes after the answer.
  const auto limit = options_.max_body_bytes;
  auto too_large = [&] {
    x.close_after = true;
    return error_response(413, "payload_too_large",
                          "the request body is larger than " + std::to_string(limit) + " bytes");
  };
  if (x.head.hasContentLength() && x.head.getContentLength64() > limit) return too_large();
  if (has_body) {
    if (x.head.get("Expect", kNoRequestId) == "100-continue") {
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      x.socket.sendBytes(kContinue, sizeof kContinue - 1);
    }
    std::unique_ptr<std::istream> body;
    if (x.head.getChunkedTransferEncoding())
      body = std::make_unique<Poco::Net::HTTPChunkedInputStream>(x.session);
    else
      body = std::make_unique<Poco::Net::HTTPFixedLengthInputStream>(x.session, x.head.getContentLength64());
    char buf[8192];
    while (body->read(buf, sizeof buf) || body->gcount() > 0) {
      req.body.append(buf, static_cast<std::size_t>(body->gcount()));
      if (static_cast<std::int64_t>(req.body.size()) > limit) return too_large();
    }
    if (body->bad()) {
      x.close_after = true;
      return error_response(400, "bad_request", "the request body could not be read");
    }
    if (x.head.hasContentLength() && static_cast<std::int64_t>(req.body.size()) != x.head.getContentLength64()) {
      x.close_after = true;
      return error_response(400, "bad_request", "the request body is shorter than its Content-Length");
    }
  }

  return x.route->handler(req);
}

class Server::Connection final : public Poco::Net::TCPServerConnection {
 public:
  Connection(const Poco::Net::StreamSocket& socket, Server& server) : TCPServerConnection(socket), server_(server) {}

  // Held while a request is being answered: shutdown closes only the
  // connections whose lock it can take (the idle ones).
  std::mutex busy;

  void shutdown(bool both) {
    try {
      if (both) socket().shutdown();
      else socket().shutdownReceive();
    } catch (const Poco::Exception&) {
    }
  }

  void run() override {
    auto& sock = socket();
    std::string peer;
    try {
      peer = sock.peerAddress().host().toString();
      // Idle keep-alive connections end after the timeout; a client that
      // stops reading cannot hold a thread for ever.
      sock.setReceiveTimeout(Poco::Timespan(server_.options_.keep_alive_timeout_s, 0));
      sock.setSendTimeout(Poco::Timespan(30, 0));
    } catch (const Poco::Exception&) {
      return;
    }
    server_.track(this);
    struct Untrack {
      Server& s;
      Connection* c;
      ~Untrack() { s.untrack(c); }
    } untrack{server_, this};

    Session session(sock);
    while (!server_.stopping_.load()) {
      Poco::Net::HTTPRequest head;
      try {
        Poco::Net::HTTPHeaderInputStream header_stream(session);
        head.read(header_stream);
      } catch (const Poco::Net::NoMessageException&) {
        return;  // the client closed between requests
      } catch (const Poco::Net::MessageException& e) {
        send_bad_request(sock, e.displayText());
        return;
      } catch (const Poco::Exception&) {
        return;  // idle timeout, reset, or shut down by stop()
      }
      if (head.getVersion() != Poco::Net::HTTPMessage::HTTP_1_1 && head.getVersion() != Poco::Net::HTTPMessage::HTTP_1_0) {
        send_bad_request(sock, "unsupported protocol version '" + head.getVersion().substr(0, 16) + "'");
        return;
      }
      std::lock_guard lock(busy);
      if (!answer(head, session, sock, peer)) return;
    }
  }

 private:
  static void send_bad_request(Poco::Net::StreamSocket& sock, const std::string& why) {
    std::string bytes;
    serialize_response(error_response(400, "bad_request", "malformed request: " + why), {false, false, false, ""}, bytes);
    try {
      sock.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    } catch (const Poco::Exception&) {
    }
  }

  // A response sent before the request body was read (413, 401, ...): closing
  // at once would make the kernel reset the connection while the client is
  // still sending, and the client would never read the answer. Half-close,
  // then read and drop what still arrives for a short while (as nginx's
  // lingering close does).
  static void linger(Poco::Net::StreamSocket& sock) {
    try {
      sock.shutdownSend();
      sock.setReceiveTimeout(Poco::Timespan(0, 500'000));
      char sink[16384];
      std::int64_t drained = 0;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (drained < (std::int64_t{64} << 20) && std::chrono::steady_clock::now() < deadline) {
        int n = sock.receiveBytes(sink, sizeof sink);
        if (n <= 0) break;
        drained += n;
      }
    } catch (const Poco::Exception&) {
    }
  }

  // Serves one request; returns whether the connection stays open.
  bool answer(Poco::Net::HTTPRequest& head, Session& session, Poco::Net::StreamSocket& sock, const std::string& peer) {
    auto started = std::chrono::steady_clock::now();
    server_.in_flight_.fetch_add(1);
    struct Done {
      std::atomic<std::int64_t>& n;
      ~Done() { n.fetch_sub(1); }
    } done{server_.in_flight_};

    Exchange x{head, session, sock, {}, nullptr, false};
    const std::string& incoming_id = head.get("X-Request-Id", kNoRequestId);
    x.request.request_id = acceptable_request_id(incoming_id) ? incoming_id : next_request_id();
    x.request.remote_address = peer;
    RequestIdScope scope(x.request.request_id);

    sdk::HttpResponse res;
    try {
      res = server_.serve(x);
    } catch (const std::exception& e) {
      write_log(LogLevel::error, "http", "handler failed", {{"path", x.request.path}, {"error", e.what()}});
      res = error_response(500, "internal", "internal error");
      x.close_after = true;  // how much of the request was read is unknown
    } catch (...) {
      write_log(LogLevel::error, "http", "handler failed", {{"path", x.request.path}});
      res = error_response(500, "internal", "internal error");
      x.close_after = true;
    }

    bool keep_alive = head.getKeepAlive() && !x.close_after && !server_.stopping_.load();
    WireOptions wire{head.getMethod() == "HEAD", keep_alive, head.getVersion() == Poco::Net::HTTPMessage::HTTP_1_0,
                     x.request.request_id};
    std::string bytes;
    if (!serialize_response(res, wire, bytes)) {
      write_log(LogLevel::error, "http", "handler produced an invalid response header",
                {{"path", x.request.path}, {"owner", x.route ? x.route->owner : "kernel"}});
      res = error_response(500, "internal", "internal error");
      serialize_response(res, wire, bytes);
    }
    try {
      sock.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    } catch (const Poco::Exception&) {
      keep_alive = false;  // the client went away
    }
    if (x.close_after) linger(sock);

    if (x.route) {
      x.route->responses[status_class(res.status)]->inc();
      x.route->latency->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    if (log_level() <= LogLevel::debug)
      write_log(LogLevel::debug, "http", "request",
                {{"method", x.request.method}, {"path", x.request.path}, {"status", std::to_string(res.status)}});
    return keep_alive;
  }

  Server& server_;
};

class Server::Factory final : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit Factory(Server& server) : server_(server) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new Connection(socket, server_);
  }

 private:
  Server& server_;
};

Server::Server(Router& router, Authorizer& authorizer, MetricsRegistry& metrics, ServerOptions options)
    : router_(router),
      authorizer_(authorizer),
      options_(std::move(options)),
      not_found_(metrics.counter("picloud_http_not_found_total", "HTTP requests that matched no route")) {
  metrics.gauge("picloud_http_requests_in_flight", "HTTP requests being served",
                [this] { return static_cast<double>(in_flight_.load()); });
  metrics.gauge("picloud_http_connections_refused", "connections refused because every server thread was busy",
                [this] { return server_ ? static_cast<double>(server_->refusedConnections()) : 0.0; });
  metrics.gauge("picloud_http_connections_open", "HTTP connections open", [this] {
    std::lock_guard lock(live_mutex_);
    return static_cast<double>(live_.size());
  });
}

Server::~Server() {
  if (server_) stop(0);
}

void Server::track(Connection* c) {
  std::lock_guard lock(live_mutex_);
  live_.insert(c);
}

void Server::untrack(Connection* c) {
  std::lock_guard lock(live_mutex_);
  live_.erase(c);
}

sdk::Result<void> Server::start() {
  try {
    Poco::Net::SocketAddress address(options_.host, static_cast<Poco::UInt16>(options_.port));
    Poco::Net::ServerSocket socket;
    socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(1024);
    socket.setNoDelay(true);  // inherited by accepted sockets
    bound_port_ = socket.address().port();
    auto* params = new Poco::Net::TCPServerParams;
    params->setMaxThreads(options_.threads);
    params->setMaxQueued(options_.max_queued);
    pool_ = std::make_unique<Poco::ThreadPool>(2, options_.threads, 60);
    server_ = std::make_unique<Poco::Net::TCPServer>(new Factory(*this), *pool_, socket, params);
    server_->start();
  } catch (const Poco::Exception& e) {
    server_.reset();
    return sdk::make_error(sdk::ErrorKind::unavailable, "cannot listen on " + options_.host + ":" +
                                                            std::to_string(options_.port) + ": " + e.displayText());
  }
  return {};
}

int Server::stop(int grace_ms) {
  if (!server_) return 0;
  server_->stop();  // no new connections
  stopping_ = true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  for (;;) {
    {
      // Idle connections (waiting for their next request) close now; busy
      // ones finish their request and then see `stopping_`.
      std::lock_guard lock(live_mutex_);
      if (live_.empty()) break;
      for (auto* c : live_) {
        std::unique_lock busy(c->busy, std::try_to_lock);
        if (busy.owns_lock()) c->shutdown(false);
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int cut = static_cast<int>(in_flight_.load());
  {
    std::lock_guard lock(live_mutex_);
    for (auto* c : live_) c->shutdown(true);
  }
  if (cut == 0) pool_->joinAll();
  return cut;
}

}  // namespace picloud::kernel::http
