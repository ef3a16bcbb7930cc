// The HTTP server: Poco::Net::HTTPServer in front of the Router.
//
// It turns a Poco request into an SDK request (bounded body, request id),
// checks the route's capability with the Authorizer, calls the handler,
// records metrics and writes the response. Errors use one JSON shape:
//   {"error": {"code": "...", "message": "...", "details": {...}}}
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "kernel/http/router.hpp"
#include "picloud/sdk/http.hpp"

namespace Poco::Net {
class HTTPServer;
}
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

// Decides whether a request may use a route that requires a capability.
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Returns nothing when allowed, or the error response (401/403) to send.
  virtual std::optional<sdk::HttpResponse> check(const sdk::HttpRequest& request, const std::string& capability) = 0;
};

// Until identities exist, every non-public route answers 401.
class NoIdentityAuthorizer final : public Authorizer {
 public:
  std::optional<sdk::HttpResponse> check(const sdk::HttpRequest& request, const std::string& capability) override;
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
  std::int64_t in_flight() const { return in_flight_.load(); }

 private:
  class Handler;
  class Factory;

  Router& router_;
  Authorizer& authorizer_;
  ServerOptions options_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::atomic<std::int64_t> in_flight_{0};
  int bound_port_ = 0;
  CounterMetric& not_found_;
};

}  // namespace picloud::kernel::http
