#include "kernel/http/server.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
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

}  // namespace

sdk::HttpResponse error_response(int status, std::string_view code, std::string_view message) {
  sdk::Value body = sdk::Value::object(
      {{"error", sdk::Value::object({{"code", std::string(code)}, {"message", std::string(message)}, {"details", sdk::Value::object()}})}});
  return sdk::HttpResponse::json(status, sdk::to_json(body));
}

std::optional<sdk::HttpResponse> NoIdentityAuthorizer::check(const sdk::HttpRequest&, const std::string& capability) {
  return error_response(401, "unauthorized",
                        "this route requires the capability '" + capability + "' and no credentials were accepted");
}

class Server::Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(Server& server) : server_(server) {}

  void handleRequest(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) override {
    auto started = std::chrono::steady_clock::now();
    server_.in_flight_.fetch_add(1);
    struct Done {
      std::atomic<std::int64_t>& n;
      ~Done() { n.fetch_sub(1); }
    } done{server_.in_flight_};

    sdk::HttpRequest req;
    const std::string& incoming_id = in.get("X-Request-Id", kNoRequestId);
    req.request_id = acceptable_request_id(incoming_id) ? incoming_id : next_request_id();
    RequestIdScope scope(req.request_id);

    sdk::HttpResponse res;
    const RouteEntry* route = nullptr;
    try {
      res = serve(in, req, route);
    } catch (const std::exception& e) {
      write_log(LogLevel::error, "http", "handler failed", {{"path", req.path}, {"error", e.what()}});
      res = error_response(500, "internal", "internal error");
    } catch (...) {
      write_log(LogLevel::error, "http", "handler failed", {{"path", req.path}});
      res = error_response(500, "internal", "internal error");
    }

    // One buffer, one send. The Poco response object only carries the
    // keep-alive decision back to the connection loop.
    bool keep_alive = out.getKeepAlive() && !close_after_;
    out.setKeepAlive(keep_alive);
    WireOptions wire{req.method == "HEAD", keep_alive, in.getVersion() == Poco::Net::HTTPMessage::HTTP_1_0,
                     req.request_id};
    std::string bytes;
    if (!serialize_response(res, wire, bytes)) {
      write_log(LogLevel::error, "http", "handler produced an invalid response header",
                {{"path", req.path}, {"owner", route ? route->owner : "kernel"}});
      res = error_response(500, "internal", "internal error");
      serialize_response(res, wire, bytes);
    }
    try {
      auto& socket = static_cast<Poco::Net::HTTPServerRequestImpl&>(in).socket();
      socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    } catch (const Poco::Exception&) {
      out.setKeepAlive(false);  // the client went away
    }

    if (route) {
      route->responses[status_class(res.status)]->inc();
      route->latency->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    if (log_level() <= LogLevel::debug)
      write_log(LogLevel::debug, "http", "request",
                {{"method", req.method}, {"path", req.path}, {"status", std::to_string(res.status)}});
  }

 private:
  sdk::HttpResponse serve(Poco::Net::HTTPServerRequest& in, sdk::HttpRequest& req, const RouteEntry*& route) {
    req.method = in.getMethod();
    const std::string& uri = in.getURI();
    auto q = uri.find('?');
    try {
      Poco::URI::decode(uri.substr(0, q), req.path);
    } catch (const Poco::Exception&) {
      return error_response(400, "bad_request", "the request path is not valid");
    }
    if (q != std::string::npos) req.query = uri.substr(q + 1);
    req.remote_address = in.clientAddress().host().toString();

    auto match = server_.router_.match(req.method, req.path);
    if (!match.route) {
      if (!match.allowed_methods.empty()) {
        std::string allow;
        for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        auto r = error_response(405, "method_not_allowed", "method " + req.method + " is not allowed on " + req.path);
        r.headers.emplace_back("Allow", allow);
        return r;
      }
      server_.not_found_.inc();
      return error_response(404, "not_found", "no route for " + req.method + " " + req.path);
    }
    route = match.route;
    req.params = std::move(match.params);

    for (const auto& [name, value] : in) {
      std::string lower = name;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(lower), value);
    }

    // Bounded body: refuse a declared oversize body unread, and stop reading
    // an undeclared (chunked) one as soon as it passes the limit.
    const auto limit = server_.options_.max_body_bytes;
    if (in.hasContentLength() && in.getContentLength64() > limit)
      return too_large(limit);
    auto& stream = in.stream();
    char buf[8192];
    while (stream.read(buf, sizeof buf) || stream.gcount() > 0) {
      req.body.append(buf, static_cast<std::size_t>(stream.gcount()));
      if (static_cast<std::int64_t>(req.body.size()) > limit) return too_large(limit);
    }

    if (route->capability != sdk::kPublic) {
      if (auto denied = server_.authorizer_.check(req, route->capability)) return std::move(*denied);
    }
    return route->handler(req);
  }

  // The unread rest of an oversize body would be taken for the next request:
  // answer and close the connection.
  sdk::HttpResponse too_large(std::int64_t limit) {
    close_after_ = true;
    return error_response(413, "payload_too_large", "the request body is larger than " + std::to_string(limit) + " bytes");
  }

  Server& server_;
  bool close_after_ = false;
};

class Server::Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Server& server) : server_(server) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(server_);
  }

 private:
  Server& server_;
};

Server::Server(Router& router, Authorizer& authorizer, MetricsRegistry& metrics, ServerOptions options)
    : router_(router),
      authorizer_(authorizer),
      options_(std::move(options)),
      not_found_(metrics.counter("picloud_http_not_found_total", "HTTP requests that matched no route")) {
  metrics.gauge("picloud_http_requests_in_flight", "HTTP requests being served", [this] { return static_cast<double>(in_flight_.load()); });
  metrics.gauge("picloud_http_connections_refused", "connections refused because every server thread was busy",
                [this] { return server_ ? static_cast<double>(server_->refusedConnections()) : 0.0; });
}

Server::~Server() {
  if (server_) stop(0);
}

sdk::Result<void> Server::start() {
  try {
    Poco::Net::SocketAddress address(options_.host, static_cast<Poco::UInt16>(options_.port));
    Poco::Net::ServerSocket socket;
    socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(1024);
    socket.setNoDelay(true);  // inherited by accepted sockets: no Nagle delay between header and body writes
    bound_port_ = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(options_.threads);
    params->setMaxQueued(options_.max_queued);
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(options_.keep_alive_timeout_s, 0));
    params->setMaxKeepAliveRequests(0);  // unlimited
    params->setServerName("PiCloud");
    pool_ = std::make_unique<Poco::ThreadPool>(2, options_.threads, 60);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), *pool_, socket, params);
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
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  int cut = static_cast<int>(in_flight_.load());
  server_->stopAll(true);  // close idle keep-alive connections (and any overdue request)
  if (cut == 0) pool_->joinAll();
  return cut;
}

}  // namespace picloud::kernel::http
