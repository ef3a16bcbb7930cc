// The HTTP server: Poco::Net::TCPServer (accepting, thread pool) with our
// own HTTP/1.1 connection loop in front of the Router.
//
// Why not Poco::Net::HTTPServer: between two keep-alive requests it polls
// the socket through a fresh epoll instance (four system calls), and asks
// the kernel for both socket addresses on every request; measured, that was
// most of the cost of a small request. This loop blocks in recv() with the
// keep-alive timeout instead, reads the peer address once per connection,
// and sends each response in one write. Request parsing and body framing
// stay Poco's (HTTPRequest, fixed-length and chunked streams).
//
// Per request it builds the SDK request (request id), checks the route's
// capability with the Authorizer, reads the bounded body, calls the handler, records
// metrics and writes the response. Errors use one JSON shape:
//   {"error": {"code": "...", "message": "...", "details": {...}}}
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "kernel/http/router.hpp"
#include "picloud/sdk/http.hpp"

namespace Poco::Net {
class TCPServer;
class StreamSocket;
}  // namespace Poco::Net
namespace Poco {
class ThreadPool;
}

namespace picloud::kernel::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 64;  // connections served at once (one thread each)
  int max_queued = 256;
  std::int64_t max_body_bytes = 1 << 20;
  int keep_alive_timeout_s = 10;
};

// Decides whether a request may use a route that requires a capability. It
// runs after the route matched and before the body is read, so a refused
// request never costs a body upload. It may fill in the request (the
// principal, canonical path parameters).
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Returns nothing when allowed, or the error response (401/403/404) to send.
  virtual std::optional<sdk::HttpResponse> check(sdk::HttpRequest& request, const std::string& capability) = 0;
};

sdk::HttpResponse error_response(int status, std::string_view code, std::string_view message);

class Server {
 public:
  Server(Router& router, Authorizer& authorizer, MetricsRegistry& metrics, ServerOptions options);
  ~Server();

  // Binds and starts accepting. Fails with a message naming the address.
  sdk::Result<void> start();
  // Stops accepting, lets in-flight requests finish for up to `grace_ms`,
  // then closes every connection. Returns the number of requests cut off.
  int stop(int grace_ms);
  int port() const { return bound_port_; }

 private:
  class Connection;
  class Factory;
  struct Exchange;

  // Runs one request through router, authorizer and handler.
  sdk::HttpResponse serve(Exchange& exchange);

  // Live connections, so shutdown can close the idle ones at once.
  void track(Connection* c);
  void untrack(Connection* c);

  Router& router_;
  Authorizer& authorizer_;
  ServerOptions options_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<bool> stopping_{false};
  std::mutex live_mutex_;
  std::set<Connection*> live_;
  int bound_port_ = 0;
  CounterMetric& not_found_;
};

}  // namespace picloud::kernel::http
