// Outbound HTTP/1.1 for scripts: one request, its redirects, and the
// response read whole, guarded at every hop.
//
// For each hop: parse the URL (target_url.hpp), check the host and port,
// take a pooled connection to the origin or resolve the host, check every
// address it resolved to, and connect to a checked address (never looking
// the name up again, so DNS rebinding cannot swap it); TLS with the
// system's CA store (plus [http] ca_file) and the host name verified. The
// response body is capped while it streams in. The whole request, redirects
// included, ends by its deadline: the deadline watch shuts a connection
// down when time is up, whatever the server does.
//
// Errors (sdk::Error kind, [code]; the message starts with the category,
// "blocked: ", "invalid URL: ", "timeout: ", ...):
//   forbidden   [blocked]   the guard refused the URL, a hop or an address
//   invalid_argument [invalid_url, invalid_request, too_large]  the request
//   unavailable [network, timeout, tls, too_large, redirect]  the exchange
// No message names a resolved address.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <picloud/sdk/error.hpp>
#include <picloud/sdk/log.hpp>

#include "address_guard.hpp"
#include "connection_pool.hpp"
#include "deadline_watch.hpp"
#include "resolver.hpp"
#include "target_url.hpp"
#include "tls_connector.hpp"

namespace picloud::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ClientLimits {
  std::int64_t max_request_bytes = 10 << 20;
  std::int64_t max_response_bytes = 10 << 20;
  std::int64_t connect_timeout_ms = 10000;
  std::string user_agent;
  std::string ca_file;     // PEM, trusted besides the system's store; may be empty
  std::string tls_module;  // the TLS module's path (tls_module.hpp)
};

struct OutboundRequest {
  std::string method = "GET";  // upper case
  std::string url;
  HeaderList headers;              // checked by check_header()
  std::optional<std::string> body;  // none: no body
  std::string content_type;         // sent with a body unless headers name one
  std::int64_t deadline_ms = 0;     // monotonic; the whole request ends by then
  std::int64_t timeout_ms = 0;      // what that deadline allowed (for messages)
  std::string app_id;               // whose request (a share of name lookups)
  std::int64_t connect_timeout_ms = 0;  // 0: the limit's
  bool follow_redirects = true;
  int max_redirects = 5;
};

struct InboundResponse {
  int status = 0;
  HeaderList headers;  // names in lower case, in the order received
  std::string body;
  std::string url;     // the last hop's
  int redirects = 0;
};

// A header a script may send: a token name, a value without CR, LF or NUL,
// and not one PiCloud sets itself (Host, Content-Length, Transfer-Encoding,
// Connection, ...).
sdk::Result<void> check_header(const std::string& name, const std::string& value);

class HttpClient {
 public:
  // `log` (may be null) gets what scripts are not told, at debug level.
  HttpClient(AddressGuard guard, ClientLimits limits, PoolLimits pool, sdk::Logger* log);
  ~HttpClient();

  sdk::Result<InboundResponse> send(OutboundRequest request);

  ConnectionPool& pool() { return pool_; }
  TlsConnector& tls() { return tls_; }
  AddressGuard& guard() { return guard_; }

 private:
  sdk::Result<InboundResponse> exchange(const TargetUrl& url, const OutboundRequest& request);
  sdk::Result<std::unique_ptr<Connection>> connect(const TargetUrl& url, const OutboundRequest& request);
  sdk::Result<InboundResponse> round_trip(Connection& connection, const TargetUrl& url,
                                          const OutboundRequest& request, bool& reusable, bool& answered);

  AddressGuard guard_;
  const ClientLimits limits_;
  ConnectionPool pool_;
  Resolver resolver_;
  DeadlineWatch watch_;
  TlsConnector tls_;
  sdk::Logger* log_;
};

}  // namespace picloud::http
