// The HTTP server: HTTP/1.1 over epoll, served by a pool of worker threads.
//
// Sockets are non-blocking and registered one-shot in a single epoll
// instance; each worker waits on it, takes one ready connection, and does
// everything that connection can do now: read, parse, run the handler,
// write. Then it re-arms the socket and waits again. So
//   - an idle keep-alive connection holds no thread (thousands may be open);
//   - under load a worker finds the next ready connection without sleeping,
//     instead of each connection's thread waking for its own request (the
//     context switch per request dominated a small request's cost before);
//   - a slow handler (a script waiting on the network) holds one worker,
//     never a loop other connections depend on.
// Only `active_workers` (about the core count) take part at once: more
// would just sleep in epoll and be woken one per event, the very cost this
// design avoids. A worker held by a handler for longer than a few
// milliseconds no longer counts (nor, at once, one whose handler sleeps in a
// BlockingWait: kernel/blocking_wait.hpp), and a parked one joins in its
// place, up to `threads` in all.
// Timeouts (idle keep-alive, slow requests, slow readers, lingering close)
// are enforced by a housekeeping thread that shuts the socket's read side,
// which wakes the connection's owner to end it.
//
// Per request it builds the SDK request (request id), checks the route's
// capability with the Authorizer before the body is read, reads the bounded
// body (into memory, or for a spooling route into an unlinked file as it
// arrives), calls the handler, records metrics and writes the response in
// one send. A streamed response body (sdk::BodyStream) is sent as the
// client takes it: the worker fills the socket, then re-arms it for
// writing and goes on with other connections; a file range goes by
// sendfile. So neither a large upload nor a large download costs more than
// a few buffers of memory, and a slow client holds no worker (only its
// connection, until the send timeout). A response that takes its
// connection over (server-sent events) leaves the server after its head:
// the stream loop (stream_loop.hpp) holds it from then on. Errors use one JSON shape:
//   {"error": {"code": "...", "message": "...", "details": {...}}}
#pragma once

#include <any>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "kernel/http/cors.hpp"
#include "kernel/http/router.hpp"
#include "kernel/http/spool.hpp"
#include "kernel/http/stream_loop.hpp"
#include "kernel/http/tls.hpp"
#include "picloud/sdk/http.hpp"

namespace Poco::Net {
class ServerSocket;
}

namespace picloud::kernel::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 64;               // requests served at once (worker threads)
  int active_workers = 0;         // workers waiting for connections at once; 0: 2 × cores
  int slow_handler_ms = 10;       // a handler busy this long lets a parked worker in
  int max_connections = 10000;    // open connections; more are closed at accept
  std::size_t max_header_bytes = 64 << 10;
  std::int64_t max_body_bytes = 1 << 20;  // a route may set its own
  // Where request bodies of spooling routes are written (unlinked files),
  // as they arrive; empty: the system's temporary directory. All of them at
  // once may take spool_max_bytes (0: no budget), and they leave
  // spool_reserve_bytes of the disk free.
  std::string spool_dir;
  std::int64_t spool_max_bytes = 0;
  std::int64_t spool_reserve_bytes = 512 << 20;
  int keep_alive_timeout_s = 10;  // idle connections, and stalled requests
  int send_timeout_s = 30;        // a client that stops reading
  int max_streams = 10000;        // connections taken over for streams (SSE), apart from max_connections
  // PEM files; both set: the listener speaks TLS only (the kernel loads
  // them into a TlsContext and hands it to set_tls()).
  std::string tls_cert;
  std::string tls_key;
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
  // What check() established for the handler on the calling thread, taken
  // away to travel with its request: the body may arrive later and the
  // handler run on another worker. restore_state() puts it back on the
  // handler's thread just before the handler runs (an empty state: nothing
  // established, as for a public route).
  virtual std::any take_state() { return {}; }
  virtual void restore_state(std::any /*state*/) {}
  // Whether a Host header names one of the admin API's hosts.
  virtual bool admin_host(std::string_view host_header) const = 0;
};

sdk::HttpResponse error_response(int status, std::string_view code, std::string_view message);

class Server {
 public:
  Server(Router& router, Authorizer& authorizer, MetricsRegistry& metrics, ServerOptions options);
  ~Server();

  // Binds and starts accepting. Fails with a message naming the address.
  sdk::Result<void> start();
  // Stops accepting, closes idle connections, lets in-flight requests finish
  // for up to `grace_ms`, then closes every connection. Returns the number of
  // requests cut off; their handlers are waited for (scripts are bounded by
  // their wall-clock limit), so nothing runs once this returns.
  int stop(int grace_ms);
  int port() const { return bound_port_; }
  // Where apps' allowed origins are found (cors.hpp); set before start().
  // Null: no cross-origin access to any app.
  void set_cors(const CorsLookup* cors) { cors_ = cors; }
  // Makes the listener speak TLS only, with this context's certificate at
  // the time of each accept; set before start(), kept by the caller until
  // stop() returned. Null: plain HTTP.
  void set_tls(TlsContext* tls);

 private:
  struct Connection;
  struct Exchange;
  // What a connection waits for next.
  enum class Next { read, write, close, proceed /* response done: go on with buffered input */,
                    taken /* the connection went to the stream loop, and c is gone */,
                    held /* the answer waits for its hold (answer_hold.hpp) */ };
  struct HeldLink;

  struct WorkerSlot;
  void add_worker();            // with park_mutex_ held
  // A worker's place lent during a BlockingWait, and taken back after.
  bool lend_worker(WorkerSlot& slot);
  void take_back_worker(WorkerSlot& slot);
  void work(WorkerSlot& slot);  // a worker thread
  // Serves events until this worker is one too many; false once exiting.
  bool serve_events(WorkerSlot& slot);
  void housekeep();  // the timeout thread
  void accept_ready();
  void on_ready(Connection& c);
  Next receive(Connection& c);
  Next handshake(Connection& c);  // a TLS connection's, before its first request
  Next process(Connection& c);
  Next guarded(Connection& c, Next (Server::*step)(Connection&));
  Next begin_request(Connection& c);  // head parsed: route, authorize, frame the body
  // For a request with an Origin on an app's host: notes the app's grant
  // on the exchange, and answers a preflight.
  std::optional<sdk::HttpResponse> cross_origin(Exchange& x, const std::string& origin);
  Next read_body(Connection& c);
  Next complete_request(Connection& c);  // body read: run the handler
  Next respond(Connection& c, sdk::HttpResponse response);
  Next send_held(Connection& c);  // the hold is ready: finish it, then respond
  Next take_over(Connection& c, sdk::HttpResponse response);
  Next flush(Connection& c);
  Next next_stream_part(Connection& c);
  Next read_file_part(Connection& c);  // a file's next part into `out`, for TLS (no sendfile)
  Next abort_stream(Connection& c);
  Next after_response(Connection& c);
  void end_exchange(Connection& c);
  void arm(Connection& c, Next next);
  void close_connection(Connection* c);

  Router& router_;
  Authorizer& authorizer_;
  const CorsLookup* cors_ = nullptr;
  TlsContext* tls_ = nullptr;
  CounterMetric* tls_failures_ = nullptr;  // handshakes that failed; with TLS only
  MetricsRegistry& metrics_;
  ServerOptions options_;
  std::unique_ptr<Poco::Net::ServerSocket> listener_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: readable once the workers must exit
  std::vector<std::thread> workers_;                 // guarded by park_mutex_ until stop()
  std::vector<std::unique_ptr<WorkerSlot>> slots_;   // likewise
  int parked_ = 0;                                   // guarded by park_mutex_
  int active_target_ = 2;
  std::atomic<int> blocked_{0};       // workers held by a slow handler
  std::atomic<int> participants_{0};  // workers not parked (changed under park_mutex_)
  std::mutex park_mutex_;
  std::condition_variable park_cv_;
  std::thread housekeeper_;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> refused_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exiting_{false};
  std::mutex live_mutex_;  // guards live_; a listed connection's socket is open
  std::condition_variable housekeeping_;
  std::unordered_set<Connection*> live_;
  int bound_port_ = 0;
  CounterMetric& not_found_;
  CounterMetric& stream_failures_;
  Spool spool_;
  StreamLoop streams_;
};

}  // namespace picloud::kernel::http
