#include "kernel/http/server.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "kernel/blocking_wait.hpp"
#include "kernel/http/answer_hold.hpp"
#include "kernel/http/framing.hpp"
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

const std::string kNone;

int status_class(int status) { return status >= 500 ? 2 : status >= 400 ? 1 : 0; }

constexpr std::int64_t kNever = INT64_MAX;
// A streamed body moves at most this much per step: a producer's buffer,
// and a sendfile call (so one download cannot keep a worker for long).
constexpr std::int64_t kStreamBufferStep = 64 << 10;
constexpr std::int64_t kStreamFileStep = 1 << 20;
constexpr int kStreamStepsPerTurn = 16;
constexpr auto kStreamTurn = std::chrono::milliseconds(2);  // and at most this long
constexpr std::size_t kKeptBuffer = 64 << 10;

// 507 for a full disk (or the spool budget), 500 for anything else.
sdk::HttpResponse spool_refusal(int error) {
  if (error == ENOSPC || error == EDQUOT || error == EFBIG)
    return error_response(507, "insufficient_storage", "the server cannot store the request body now");
  return error_response(500, "internal", "internal error");
}

sdk::HttpResponse too_large(std::int64_t limit) {
  return error_response(413, "payload_too_large", "the request body is larger than " + std::to_string(limit) + " bytes");
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string peer_address(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
  else if (addr.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text, sizeof text);
  return text;
}

// Markers for the two epoll registrations that are not connections.
char listener_tag;
char wake_tag;

}  // namespace

sdk::HttpResponse error_response(int status, std::string_view code, std::string_view message) {
  sdk::Value body = sdk::Value::object({{"error", sdk::Value::object({{"code", std::string(code)},
                                                                      {"message", std::string(message)},
                                                                      {"details", sdk::Value::object()}})}});
  return sdk::HttpResponse::json(status, sdk::to_json(body));
}

namespace {
thread_local bool answers_held_here = false;
thread_local std::unique_ptr<AnswerHold> answer_hold_here;
}  // namespace

bool answers_can_wait() { return answers_held_here; }
void hold_answer(std::unique_ptr<AnswerHold> hold) {
  if (answers_held_here) answer_hold_here = std::move(hold);
}
AnswerHoldScope::AnswerHoldScope() { answers_held_here = true; }
AnswerHoldScope::~AnswerHoldScope() {
  answers_held_here = false;
  answer_hold_here.reset();
}
std::unique_ptr<AnswerHold> AnswerHoldScope::take() { return std::move(answer_hold_here); }

// One request being served: what was parsed so far, and what the connection
// must know once it is answered.
struct Server::Exchange {
  Poco::Net::HTTPRequest head;
  sdk::HttpRequest request;
  const RouteEntry* route = nullptr;
  bool parsed = false;  // `head` holds a valid request (else it is Poco's default)
  BodyFraming framing;
  ChunkedDecoder chunked;
  bool close_after = false;  // the body was not read to its end
  std::int64_t max_body = 0;  // the route's limit, or the server's
  // A spooling route's body: an unlinked file, and how much is in it.
  int spool_fd = -1;
  std::int64_t spooled = 0;
  std::string decoded;  // chunked data on its way to the spool file
  std::any auth_state;  // what the authorizer established, for the handler
  // Cross-origin access (cors.hpp): whether the answer varies by Origin (the
  // app serving the Host lists origins), and what this Origin was granted.
  bool cors_varies = false;
  std::optional<CorsGrant> cors;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  ~Exchange() {
    if (spool_fd >= 0) {
      ::close(spool_fd);
      if (spool) spool->release(spooled);
    }
  }
  Spool* spool = nullptr;  // the body's bytes are charged to it
};

// A held answer's way back to its connection: the hold's callback arms the
// connection for writing unless the server let go of it first (stop()).
struct Server::HeldLink {
  std::mutex mutex;
  Connection* connection = nullptr;  // null once armed or let go of
};

// A client connection. It belongs to the worker that took its epoll event
// until that worker re-arms it (or, held, until its hold arms it); only the
// housekeeper looks at it otherwise, through the atomics.
struct Server::Connection {
  enum class Phase { handshake /* TLS, before the first request */, head, body, writing, lingering, held };

  int fd = -1;
  std::unique_ptr<TlsConnection> tls;  // null on a plain HTTP listener
  std::string peer;
  std::string in;   // received and not yet consumed
  std::string out;  // the response being written
  std::size_t out_sent = 0;
  // A streamed response body, after `out` (the head) is sent.
  std::shared_ptr<sdk::BodyStream> stream;
  std::int64_t stream_length = 0;  // read once from the stream
  std::int64_t stream_sent = 0;
  bool stream_chunked = false;  // framed chunked (its length is unknown)
  bool stream_ended = false;    // the producer said the end; `out` holds the rest
  Phase phase = Phase::head;
  bool peer_closed = false;  // no more input will come (EOF, reset, or timed out)
  bool keep_alive = true;    // for the response being written
  std::unique_ptr<Exchange> exchange;
  // Phase::held: the answer, what it waits for, and the hold's way back.
  sdk::HttpResponse held_response;
  std::shared_ptr<AnswerHold> hold;
  std::shared_ptr<HeldLink> held_link;
  // When the lingering close, or a TLS handshake, ends at the latest:
  // unlike an idle wait, neither gets a new deadline as bytes trickle in.
  std::int64_t phase_until = 0;
  std::int64_t lingered = 0;

  std::atomic<bool> busy{false};  // a request is being served (not idle)
  // When the housekeeper ends the wait, and how: shutting the read side
  // makes the owner see end of input; both sides, a failed write.
  std::atomic<std::int64_t> deadline_ms{kNever};
  std::atomic<int> timeout_shutdown{SHUT_RD};
};

// A worker's place among the active ones. busy_since: when its current
// event began (ms), negated once it counts as blocked (a slow handler, or
// one sleeping in a BlockingWait), 0 between events.
struct Server::WorkerSlot final : LendablePlace {
  explicit WorkerSlot(Server& s) : server(s) {}
  Server& server;
  std::atomic<std::int64_t> busy_since{0};
  bool lent = false;  // counted as blocked by lend(), not the housekeeper (the worker's own)
  bool lend() noexcept override { return server.lend_worker(*this); }
  void take_back() noexcept override { server.take_back_worker(*this); }
};

Server::Server(Router& router, Authorizer& authorizer, MetricsRegistry& metrics, ServerOptions options)
    : router_(router),
      authorizer_(authorizer),
      metrics_(metrics),
      options_(std::move(options)),
      not_found_(metrics.counter("picloud_http_not_found_total", "HTTP requests that matched no route")),
      stream_failures_(metrics.counter("picloud_http_stream_failures_total",
                                       "streamed response bodies that could not be completed (connection reset)")),
      spool_({options_.spool_dir, options_.spool_max_bytes, options_.spool_reserve_bytes}),
      streams_(metrics, options_.max_streams) {
  metrics.gauge("picloud_http_requests_in_flight", "HTTP requests being served",
                [this] { return static_cast<double>(in_flight_.load()); });
  metrics.gauge("picloud_http_connections_refused", "connections closed at once because http.max_connections were open",
                [this] { return static_cast<double>(refused_.load()); });
  metrics.gauge("picloud_http_connections_open", "HTTP connections open", [this] {
    std::lock_guard lock(live_mutex_);
    return static_cast<double>(live_.size());
  });
}

Server::~Server() { stop(0); }

void Server::set_tls(TlsContext* tls) {
  tls_ = tls;
  if (!tls_ || tls_failures_) return;
  tls_failures_ = &metrics_.counter("picloud_tls_handshake_failures_total",
                                    "TLS handshakes that failed (plain HTTP, no shared version or cipher, a client "
                                    "that gave up or timed out)");
  // For an alert when a renewal did not arrive.
  metrics_.gauge("picloud_tls_certificate_expiry_timestamp_seconds",
                 "when the certificate new TLS connections get expires (Unix time)",
                 [tls] { return static_cast<double>(tls->certificate().not_after_unix); });
}

sdk::Result<void> Server::start() {
  try {
    Poco::Net::SocketAddress address(options_.host, static_cast<Poco::UInt16>(options_.port));
    listener_ = std::make_unique<Poco::Net::ServerSocket>();
    listener_->bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    listener_->listen(1024);
    listener_->setBlocking(false);
    bound_port_ = listener_->address().port();
  } catch (const Poco::Exception& e) {
    listener_.reset();
    return sdk::make_error(sdk::ErrorKind::unavailable, "cannot listen on " + options_.host + ":" +
                                                            std::to_string(options_.port) + ": " + e.displayText());
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event listen_event{EPOLLIN | EPOLLONESHOT, {.ptr = &listener_tag}};
  epoll_event wake_event{EPOLLIN, {.ptr = &wake_tag}};  // level-triggered: every worker sees it
  if (epoll_fd_ < 0 || wake_fd_ < 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listener_->impl()->sockfd(), &listen_event) != 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event) != 0) {
    std::string why = std::strerror(errno);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    epoll_fd_ = wake_fd_ = -1;
    listener_.reset();
    return sdk::make_error(sdk::ErrorKind::unavailable, "cannot set up the HTTP event loop: " + why);
  }
  active_target_ = options_.active_workers > 0
                       ? options_.active_workers
                       : static_cast<int>(std::max(2u, 2 * std::thread::hardware_concurrency()));
  active_target_ = std::min(active_target_, options_.threads);
  // The active workers start now; the rest only when slow handlers hold
  // workers (an idle server stays small).
  std::lock_guard park(park_mutex_);
  for (int i = 0; i < active_target_; ++i) add_worker();
  housekeeper_ = std::thread([this] { housekeep(); });
  return {};
}

void Server::add_worker() {
  slots_.push_back(std::make_unique<WorkerSlot>(*this));
  workers_.emplace_back([this, s = slots_.back().get()] { work(*s); });
}

void Server::work(WorkerSlot& slot) {
  pthread_setname_np(pthread_self(), "picloud-http");
  std::unique_lock lock(park_mutex_);
  for (;;) {
    ++parked_;
    park_cv_.wait(lock, [&] { return exiting_.load() || participants_.load() < active_target_ + blocked_.load(); });
    --parked_;
    if (exiting_.load()) return;
    participants_.fetch_add(1);
    lock.unlock();
    bool more = serve_events(slot);
    lock.lock();
    participants_.fetch_sub(1);
    if (!more) return;
  }
}

bool Server::lend_worker(WorkerSlot& slot) {
  auto since = slot.busy_since.load(std::memory_order_relaxed);
  // Counted as blocked already (a slow handler): nothing more to lend.
  if (since <= 0 || !slot.busy_since.compare_exchange_strong(since, -since)) return true;
  slot.lent = true;
  std::lock_guard park(park_mutex_);
  blocked_.fetch_add(1);
  if (parked_ > 0) park_cv_.notify_one();
  else housekeeping_.notify_one();  // it starts another worker
  return true;
}

void Server::take_back_worker(WorkerSlot& slot) {
  if (!slot.lent) return;  // a slow handler the housekeeper counted stays counted
  slot.lent = false;
  auto since = slot.busy_since.load(std::memory_order_relaxed);
  if (since >= 0 || !slot.busy_since.compare_exchange_strong(since, -since)) return;
  // Active again; one worker too many now parks after its current event.
  blocked_.fetch_sub(1);
}

bool Server::serve_events(WorkerSlot& slot) {
  while (participants_.load(std::memory_order_relaxed) <= active_target_ + blocked_.load(std::memory_order_relaxed)) {
    epoll_event event;
    int n = epoll_wait(epoll_fd_, &event, 1, -1);
    if (n <= 0) continue;  // EINTR
    if (event.data.ptr == &wake_tag) return false;
    slot.busy_since.store(now_ms(), std::memory_order_relaxed);
    {
      HeldPlace place(slot);
      if (event.data.ptr == &listener_tag) accept_ready();
      else on_ready(*static_cast<Connection*>(event.data.ptr));
    }
    if (slot.busy_since.exchange(0, std::memory_order_relaxed) < 0) blocked_.fetch_sub(1);
  }
  return true;  // one too many now that a slow handler ended: park
}

void Server::accept_ready() {
  const int listen_fd = listener_->impl()->sockfd();
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the pending connection stays queued. Back off
        // briefly instead of spinning on a listener that stays readable.
        write_log(LogLevel::warn, "server", "cannot accept a connection", {{"error", std::strerror(errno)}});
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      break;  // EAGAIN, or the listener was shut down
    }
    std::size_t open;
    {
      std::lock_guard lock(live_mutex_);
      open = live_.size();
    }
    if (static_cast<std::int64_t>(open) >= options_.max_connections) {
      refused_.fetch_add(1);
      ::close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* c = new Connection;
    c->fd = fd;
    if (tls_) {
      c->tls = tls_->accept(fd);
      if (!c->tls) {
        write_log(LogLevel::warn, "server", "cannot set up TLS for a connection (out of memory)");
        delete c;
        ::close(fd);
        continue;
      }
      // The handshake has one keep-alive timeout in all, however slowly
      // its bytes come.
      c->phase = Connection::Phase::handshake;
      c->phase_until = now_ms() + std::int64_t{options_.keep_alive_timeout_s} * 1000;
    }
    c->peer = peer_address(addr);
    {
      std::lock_guard lock(live_mutex_);
      live_.insert(c);
    }
    c->deadline_ms = now_ms() + options_.keep_alive_timeout_s * 1000;
    epoll_event event{EPOLLIN | EPOLLONESHOT, {.ptr = c}};
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) close_connection(c);
  }
  if (!stopping_.load()) {
    epoll_event event{EPOLLIN | EPOLLONESHOT, {.ptr = &listener_tag}};
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd, &event);
  }
}

void Server::on_ready(Connection& c) {
  c.deadline_ms.store(kNever);
  Next next;
  try {
    next = c.phase == Connection::Phase::writing ? flush(c)
           : c.phase == Connection::Phase::held  ? send_held(c)
                                                 : receive(c);
    if (next == Next::proceed) next = process(c);
  } catch (const std::exception& e) {
    write_log(LogLevel::error, "server", "connection failed", {{"error", e.what()}});
    next = Next::close;
  }
  if (next == Next::taken) return;
  if (next == Next::held) {
    // No thread waits: the hold arms the connection once the answer may
    // leave, and whichever worker takes that event sends it. From the
    // moment `ready` may run, c may be another worker's: only the copies
    // below are used.
    std::shared_ptr<AnswerHold> hold = c.hold;
    std::shared_ptr<HeldLink> link = c.held_link;
    auto arm_for_the_answer = [this, link] {
      std::lock_guard lock(link->mutex);
      Connection* held = std::exchange(link->connection, nullptr);
      if (!held) return;  // the server let go of it
      // As arm(), but a failure must not free the connection on this thread
      // (stop() may be looking at it): the client sees its end, and stop()
      // frees it.
      held->timeout_shutdown.store(SHUT_RDWR);
      held->deadline_ms.store(now_ms() + std::int64_t{options_.send_timeout_s} * 1000);
      epoll_event event{static_cast<std::uint32_t>(EPOLLOUT | EPOLLONESHOT), {.ptr = held}};
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, held->fd, &event) != 0) {
        write_log(LogLevel::error, "server", "cannot wait on a connection", {{"error", std::strerror(errno)}});
        ::shutdown(held->fd, SHUT_RDWR);
      }
    };
    try {
      hold->when_ready(std::move(arm_for_the_answer));
    } catch (const std::exception& e) {
      // The hold could not be registered (no memory, no thread): nothing
      // will arm the connection. Let go of it first, then end it.
      write_log(LogLevel::error, "server", "an answer could not wait for its writes", {{"error", e.what()}});
      bool ours;
      {
        std::lock_guard lock(link->mutex);
        ours = std::exchange(link->connection, nullptr) != nullptr;
      }
      if (ours) close_connection(&c);
    }
    return;
  }
  if (next == Next::close) close_connection(&c);
  else arm(c, next);
}

Server::Next Server::send_held(Connection& c) {
  RequestIdScope scope(c.exchange ? c.exchange->request.request_id : std::string());
  std::shared_ptr<AnswerHold> hold = std::move(c.hold);
  c.held_link.reset();
  sdk::HttpResponse res = std::exchange(c.held_response, {});
  if (auto finished = hold->finish(); !finished) {
    write_log(LogLevel::error, "server", "an answer could not be completed",
              {{"path", c.exchange ? c.exchange->request.path : std::string()}, {"error", finished.error().message}});
    res = error_response(500, "internal", "the request's outcome is unknown: " + finished.error().message);
  }
  return respond(c, std::move(res));
}

// Reads what has arrived. Returns `proceed` to parse it, `read` to wait for
// more (lingering), or `close`.
Server::Next Server::receive(Connection& c) {
  if (c.phase == Connection::Phase::handshake) {
    if (Next next = handshake(c); next != Next::proceed) return next;
  }
  // On the stack: only the pages a read fills become resident, where a
  // thread_local would be zeroed (all of it resident) in every worker.
  char buffer[64 << 10];
  const bool lingering = c.phase == Connection::Phase::lingering;
  // What a lingering close drops need not be decrypted.
  if (c.tls && !lingering) {
    // A record (16 KiB at most) per read: read on until OpenSSL needs the
    // socket. Bounded per turn as below; what stays decrypted in OpenSSL
    // is seen by arm(), which never waits for input then.
    for (int turn = 0; turn < 64; ++turn) {
      TlsResult r = c.tls->read(buffer, sizeof buffer);
      if (r.bytes > 0) {
        c.in.append(buffer, r.bytes);
        continue;
      }
      if (r.io != TlsIo::want_read && r.io != TlsIo::want_write) c.peer_closed = true;
      break;
    }
    return Next::proceed;
  }
  // Bounded per turn, so one fast sender cannot keep a worker to itself.
  for (int turn = 0; turn < 16; ++turn) {
    ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      if (lingering) c.lingered += n;
      else c.in.append(buffer, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof buffer) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    c.peer_closed = true;  // EOF, reset, or the housekeeper's timeout
    break;
  }
  if (lingering) {
    bool done = c.peer_closed || c.lingered > (std::int64_t{64} << 20) || now_ms() >= c.phase_until;
    return done ? Next::close : Next::read;
  }
  return Next::proceed;
}

// Drives a TLS handshake on: `proceed` once it is done (the first request
// may have come with it), `read` or `write` to wait for the socket, or
// `close`. A client speaking plain HTTP gets a plain 400 saying so.
Server::Next Server::handshake(Connection& c) {
  switch (c.tls->handshake()) {
    case TlsIo::done: c.phase = Connection::Phase::head; return Next::proceed;
    case TlsIo::want_read: return Next::read;
    case TlsIo::want_write: return Next::write;
    default: break;
  }
  tls_failures_->inc();
  if (log_level() <= LogLevel::debug)
    write_log(LogLevel::debug, "server", "TLS handshake failed", {{"peer", c.peer}, {"error", c.tls->error()}});
  if (!c.tls->plain_http()) return Next::close;
  // OpenSSL read only the request's first bytes and wrote nothing: the
  // socket is still plain, and the answer tells the operator what is wrong
  // (as nginx does). Then a lingering close, so the client reads it.
  std::string answer;
  WireOptions wire{false, false, false, std::string()};
  serialize_response(error_response(400, "tls_required", "this port speaks HTTPS only: use https://"), wire, answer);
  [[maybe_unused]] auto sent = ::send(c.fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(c.fd, SHUT_WR);
  c.phase = Connection::Phase::lingering;
  c.phase_until = now_ms() + 2000;
  return Next::read;
}

// Parses and serves buffered requests until more input is needed, a
// response waits to be written, or the connection ends.
Server::Next Server::process(Connection& c) {
  // A request that cannot be parsed is answered without a head; the
  // connection closes after it.
  auto refuse = [&](int status, std::string_view code, const std::string& message) {
    c.exchange = std::make_unique<Exchange>();
    c.exchange->close_after = true;
    return respond(c, error_response(status, code, message));
  };
  for (;;) {
    Next next;
    if (c.phase == Connection::Phase::head) {
      std::size_t end = header_block_end(c.in);
      if (end > options_.max_header_bytes || (end == 0 && c.in.size() > options_.max_header_bytes)) {
        next = refuse(431, "header_too_large",
                      "the request header is larger than " + std::to_string(options_.max_header_bytes) + " bytes");
      } else if (end == 0) {
        if (!c.peer_closed) return Next::read;
        if (c.in.find_first_not_of("\r\n") == std::string::npos) return Next::close;  // ended between requests
        next = refuse(400, "bad_request", "the request header is incomplete");
      } else {
        c.exchange = std::make_unique<Exchange>();
        std::string error = parse_head(std::string_view(c.in).substr(0, end), c.exchange->head);
        c.in.erase(0, end);
        if (!error.empty()) {
          next = refuse(400, "bad_request", "malformed request: " + error);
        } else {
          c.exchange->parsed = true;
          next = guarded(c, &Server::begin_request);
        }
      }
    } else if (c.phase == Connection::Phase::body) {
      next = guarded(c, &Server::read_body);
    } else {
      return Next::read;  // lingering
    }
    if (next != Next::proceed) return next;
  }
}

// Runs a step of serving a request; a failure in it (an authorizer or a
// handler that throws) is answered 500, and the connection closes since how
// much of the request was read is unknown.
Server::Next Server::guarded(Connection& c, Next (Server::*step)(Connection&)) {
  try {
    return (this->*step)(c);
  } catch (const std::exception& e) {
    write_log(LogLevel::error, "server", "handler failed", {{"path", c.exchange->request.path}, {"error", e.what()}});
  } catch (...) {
    write_log(LogLevel::error, "server", "handler failed", {{"path", c.exchange->request.path}});
  }
  // Once a response is on its way (a streamed body failed), a second one
  // would land inside its body: the connection ends instead.
  if (c.phase == Connection::Phase::writing) return abort_stream(c);
  c.exchange->close_after = true;
  return respond(c, error_response(500, "internal", "internal error"));
}

// Ends a connection whose streamed body cannot be completed with a reset,
// so that no client (an HTTP/1.0 one reading to the close included) takes
// the truncated body for a whole one.
Server::Next Server::abort_stream(Connection& c) {
  linger l{1, 0};
  ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  if (c.tls) c.tls->abandon();  // no close_notify: the body must look cut
  c.stream.reset();
  stream_failures_.inc();
  return Next::close;
}

Server::Next Server::begin_request(Connection& c) {
  auto& x = *c.exchange;
  auto& req = x.request;
  c.busy = true;
  in_flight_.fetch_add(1);
  const std::string& incoming_id = x.head.get("X-Request-Id", kNone);
  req.request_id = acceptable_request_id(incoming_id) ? incoming_id : next_request_id();
  req.remote_address = c.peer;
  RequestIdScope scope(req.request_id);

  req.method = x.head.getMethod();
  const std::string& uri = x.head.getURI();
  auto q = uri.find('?');
  try {
    Poco::URI::decode(uri.substr(0, q), req.path);
  } catch (const Poco::Exception&) {
    x.close_after = true;
    return respond(c, error_response(400, "bad_request", "the request path is not valid"));
  }
  if (q != std::string::npos) req.query = uri.substr(q + 1);

  x.framing = body_framing(x.head);
  if (!x.framing.error.empty()) {
    x.close_after = true;
    return respond(c, error_response(400, "bad_request", "malformed request: " + x.framing.error));
  }
  const bool has_body = x.framing.kind != BodyFraming::none;

  // Before routing: a preflight is answered here, and whatever answers the
  // request afterwards (a script, a plugin, a refusal) carries the grant.
  if (cors_) {
    if (const std::string& origin = x.head.get("Origin", kNone); !origin.empty()) {
      if (auto preflight = cross_origin(x, origin)) {
        x.close_after = has_body;
        return respond(c, std::move(*preflight));
      }
    }
  }

  const bool admin_host =
      !router_.has_admin_hosts_only_routes() || authorizer_.admin_host(x.head.get("Host", std::string()));
  auto match = router_.match(req.method, req.path, admin_host);
  if (!match.route) {
    x.close_after = has_body;  // never read a body nobody will use
    if (!match.allowed_methods.empty()) {
      std::string allow;
      for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
      auto r = error_response(405, "method_not_allowed", "method " + req.method + " is not allowed on " + req.path);
      r.headers.emplace_back("Allow", allow);
      return respond(c, std::move(r));
    }
    not_found_.inc();
    return respond(c, error_response(404, "not_found", "no route for " + req.method + " " + req.path));
  }
  x.route = match.route;
  req.params = std::move(match.params);
  req.headers.reserve(x.head.size());
  for (const auto& [name, value] : x.head) {
    std::string lower = name;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    req.headers.emplace_back(std::move(lower), value);
  }

  if (x.route->capability != sdk::kPublic) {
    if (auto denied = authorizer_.check(req, x.route->capability)) {
      x.close_after = has_body;  // the body stays unread
      return respond(c, std::move(*denied));
    }
    x.auth_state = authorizer_.take_state();
  }

  if (!has_body && !x.route->spool_body) return complete_request(c);
  // A route's own limit; a route that keeps bodies in memory can only
  // lower the server's.
  x.max_body = x.route->max_body_bytes > 0 ? x.route->max_body_bytes : options_.max_body_bytes;
  if (!x.route->spool_body) x.max_body = std::min(x.max_body, options_.max_body_bytes);
  // A declared oversize body is refused unread.
  if (x.framing.kind == BodyFraming::fixed && x.framing.length > x.max_body) {
    x.close_after = true;
    return respond(c, too_large(x.max_body));
  }
  if (x.route->spool_body) {
    x.spool = &spool_;
    x.spool_fd = spool_.open(x.framing.kind == BodyFraming::fixed ? x.framing.length : 0);
    if (x.spool_fd < 0) {
      x.close_after = has_body;
      return respond(c, spool_refusal(spool_.last_error()));
    }
    if (!has_body) return complete_request(c);  // an empty body is an empty file
  }
  if (c.in.empty() && x.head.getVersion() == Poco::Net::HTTPMessage::HTTP_1_1 &&
      Poco::icompare(x.head.get("Expect", kNone), "100-continue") == 0) {
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    // An empty send buffer always takes these few bytes; if not, the
    // client sends its body after its own wait anyway.
    if (c.tls) c.tls->send_now({kContinue, sizeof kContinue - 1});
    else [[maybe_unused]] auto sent = ::send(c.fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL);
  }
  // Grown as the body arrives past the first MiB: a declared length costs
  // nothing until the bytes are there.
  if (x.framing.kind == BodyFraming::fixed && x.spool_fd < 0)
    req.body.reserve(static_cast<std::size_t>(std::min<std::int64_t>(x.framing.length, 1 << 20)));
  c.phase = Connection::Phase::body;
  return read_body(c);
}

std::optional<sdk::HttpResponse> Server::cross_origin(Exchange& x, const std::string& origin) {
  // The admin API's hosts and paths keep their own rules (request_origin.hpp).
  if (!kernel_path(x.request.path).empty()) return std::nullopt;
  const std::string& host = x.head.get("Host", kNone);
  if (authorizer_.admin_host(host)) return std::nullopt;
  auto origins = cors_->cors_origins(host);
  if (!origins) return std::nullopt;
  x.cors = origins->grant(origin);
  if (is_preflight(x.request.method, x.head.get("Access-Control-Request-Method", kNone)))
    return x.cors ? preflight_allowed(*x.cors, x.head.get("Access-Control-Request-Headers", kNone))
                  : preflight_refused(origin);
  x.cors_varies = true;
  return std::nullopt;
}

Server::Next Server::read_body(Connection& c) {
  auto& x = *c.exchange;
  // A spooling route's body goes through `decoded` to the file; any other
  // stays in memory.
  const bool spooling = x.spool_fd >= 0;
  auto& body = spooling ? x.decoded : x.request.body;
  Progress progress;
  if (x.framing.kind == BodyFraming::chunked) {
    progress = x.chunked.feed(c.in, body, x.max_body - x.spooled);
    if (progress == Progress::failed) {
      x.close_after = true;
      if (x.chunked.too_large()) return respond(c, too_large(x.max_body));
      return respond(c, error_response(400, "bad_request", "the request body could not be read: " + x.chunked.error()));
    }
  } else {
    auto missing = static_cast<std::size_t>(x.framing.length - x.spooled) - body.size();
    auto take = std::min(missing, c.in.size());
    body.append(c.in, 0, take);
    c.in.erase(0, take);
    progress = x.spooled + static_cast<std::int64_t>(body.size()) == x.framing.length ? Progress::done
                                                                                      : Progress::need_more;
  }
  if (spooling && !body.empty()) {
    if (!spool_.write(x.spool_fd, body, x.spooled)) {
      x.close_after = true;
      return respond(c, spool_refusal(spool_.last_error()));
    }
    x.spooled += static_cast<std::int64_t>(body.size());
    body.clear();
  }
  if (progress == Progress::done) return complete_request(c);
  if (!c.peer_closed) return Next::read;
  x.close_after = true;
  return respond(c, error_response(400, "bad_request",
                                   x.framing.kind == BodyFraming::fixed
                                       ? "the request body is shorter than its Content-Length"
                                       : "the request body ended before its last chunk"));
}

Server::Next Server::complete_request(Connection& c) {
  auto& x = *c.exchange;
  RequestIdScope scope(x.request.request_id);
  if (x.spool_fd >= 0) {
    ::lseek(x.spool_fd, 0, SEEK_SET);  // read() and sendfile(NULL) start at the body's start
    x.request.body_fd = x.spool_fd;
    x.request.body_size = x.spooled;
  } else {
    x.request.body_size = static_cast<std::int64_t>(x.request.body.size());
  }
  // The handler may run on another worker than the check did (its body
  // arrived later): what the check established comes with the request.
  authorizer_.restore_state(std::move(x.auth_state));
  sdk::HttpResponse response;
  std::unique_ptr<AnswerHold> hold;
  {
    AnswerHoldScope holding;
    response = x.route->handler(x.request);
    hold = holding.take();
  }
  // The body's file goes with the handler's return, not with a (possibly
  // long) streamed answer: its disk space comes back at once.
  if (x.spool_fd >= 0) {
    ::close(x.spool_fd);
    x.spool_fd = -1;
    x.request.body_fd = -1;
    spool_.release(x.spooled);
    x.spooled = 0;
  }
  if (hold && !response.takeover) {
    c.held_response = std::move(response);
    c.hold = std::move(hold);
    c.held_link = std::make_shared<HeldLink>();
    c.held_link->connection = &c;
    c.phase = Connection::Phase::held;
    return Next::held;  // on_ready hands it to the hold, last
  }
  if (hold)  // a stream's head goes now: settled first
    if (auto finished = hold->finish(); !finished)
      response = error_response(500, "internal", "the request's outcome is unknown: " + finished.error().message);
  return respond(c, std::move(response));
}

Server::Next Server::respond(Connection& c, sdk::HttpResponse res) {
  if (res.takeover) return take_over(c, std::move(res));
  auto& x = *c.exchange;
  c.keep_alive = x.parsed && x.head.getKeepAlive() && !x.close_after && !c.peer_closed && !stopping_.load();
  WireOptions wire{x.parsed && x.head.getMethod() == "HEAD", c.keep_alive,
                   x.parsed && x.head.getVersion() == Poco::Net::HTTPMessage::HTTP_1_0, x.request.request_id};
  c.out.clear();
  c.out_sent = 0;
  // A streamed body is sent unless the answer has none (HEAD, 204, 304);
  // of unknown length to an HTTP/1.0 client, it ends with the connection.
  c.stream.reset();
  c.stream_sent = 0;
  c.stream_ended = false;
  if (res.stream) {
    // A file needs its range; a producer may leave its length open (-1).
    const std::int64_t length = res.stream->length();
    const bool file = res.stream->file() >= 0;
    if (length < -1 || (file && (length < 0 || res.stream->offset() < 0))) {
      write_log(LogLevel::error, "server", "handler produced an invalid response stream (a file without its range, or a "
                                         "negative length)",
                {{"path", x.request.path}, {"owner", x.route ? x.route->owner : "kernel"}});
      res = error_response(500, "internal", "internal error");
    }
  }
  if (x.cors_varies) apply_cors(x.cors ? &*x.cors : nullptr, res);
  if (res.stream && status_has_body(res.status) && !wire.head) {
    c.stream_length = res.stream->length();
    c.stream_chunked = c.stream_length < 0 && !wire.http10;
    if (c.stream_length < 0 && wire.http10) c.keep_alive = wire.keep_alive = false;
    c.stream = res.stream;
  }
  if (!serialize_response(res, wire, c.out)) {
    c.stream.reset();
    write_log(LogLevel::error, "server", "handler produced an invalid response (a status outside 200-599 or a bad header)",
              {{"path", x.request.path}, {"owner", x.route ? x.route->owner : "kernel"},
               {"status", std::to_string(res.status)}});
    res = error_response(500, "internal", "internal error");
    if (x.cors_varies) apply_cors(x.cors ? &*x.cors : nullptr, res);
    serialize_response(res, wire, c.out);
  }
  if (x.route) {
    x.route->responses[status_class(res.status)]->inc();
    x.route->latency->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - x.started).count());
  }
  if (log_level() <= LogLevel::debug)
    write_log(LogLevel::debug, "server", "request",
              {{"method", x.request.method}, {"path", x.request.path}, {"status", std::to_string(res.status)}});
  c.phase = Connection::Phase::writing;
  return flush(c);
}

// A response that takes its connection over: the head (and the body, its
// first bytes) go out, then the stream loop holds the socket. Only a GET
// answered 2xx qualifies (a HEAD, a 1.0 client or a body sent unread get a
// plain answer); past [server] max_streams the client gets 503. The
// handler hears `refused` whenever its stream does not open.
Server::Next Server::take_over(Connection& c, sdk::HttpResponse res) {
  auto& x = *c.exchange;
  std::shared_ptr<sdk::StreamHandler> handler = std::move(res.takeover);
  const bool eligible = x.parsed && x.head.getMethod() == "GET" && x.head.getVersion() == Poco::Net::HTTPMessage::HTTP_1_1 &&
                        !x.close_after;
  auto refuse = [&](sdk::HttpResponse instead) {
    try {
      handler->closed(sdk::StreamEnd::refused);
    } catch (...) {
    }
    handler.reset();
    return respond(c, std::move(instead));
  };
  // A HEAD, or an answer that is no stream after all (an error, a body
  // stream): sent as it is, without taking the connection.
  if ((x.parsed && x.head.getMethod() == "HEAD") || res.status < 200 || res.status >= 300 || res.stream)
    return refuse(std::move(res));
  if (!eligible)
    return refuse(error_response(400, "bad_request", "this resource is a stream: fetch it with GET over HTTP/1.1"));
  if (stopping_.load() || !streams_.reserve()) {
    auto busy = error_response(503, "unavailable", "this server holds as many streams as it may; try again later");
    busy.headers.emplace_back("Retry-After", "5");
    return refuse(std::move(busy));
  }
  if (x.cors_varies) apply_cors(x.cors ? &*x.cors : nullptr, res);
  WireOptions wire{false, false, false, x.request.request_id, /*until_close=*/true};
  std::string head;  // with the body, the stream's first bytes
  if (!serialize_response(res, wire, head)) {
    streams_.unreserve();
    write_log(LogLevel::error, "server", "handler produced an invalid response (a bad header)",
              {{"path", x.request.path}, {"owner", x.route ? x.route->owner : "kernel"}});
    return refuse(error_response(500, "internal", "internal error"));
  }
  if (x.route) {
    x.route->responses[status_class(res.status)]->inc();
    x.route->latency->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - x.started).count());
  }
  // The connection leaves the server: not watched, not counted, not ours.
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  {
    std::lock_guard lock(live_mutex_);
    live_.erase(&c);
  }
  end_exchange(c);
  const int fd = c.fd;
  std::unique_ptr<TlsConnection> tls = std::move(c.tls);  // the stream writes through it from now on
  delete &c;
  streams_.adopt(fd, std::move(head), std::move(handler), std::move(tls));
  return Next::taken;
}

Server::Next Server::flush(Connection& c) {
  // A stream yields after some steps even to a fast client: the socket is
  // re-armed (and writable at once), so other connections get their turn.
  int steps = 0;
  const auto turn_started = std::chrono::steady_clock::now();
  for (;;) {
    while (c.out_sent < c.out.size()) {
      if (c.tls) {
        TlsResult r = c.tls->write(c.out.data() + c.out_sent, c.out.size() - c.out_sent);
        if (r.bytes > 0) {
          c.out_sent += r.bytes;
          continue;
        }
        if (r.io == TlsIo::want_write) return Next::write;
        if (r.io == TlsIo::want_read) return Next::read;
        return Next::close;
      }
      ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Next::write;
      return Next::close;  // the client went away (or stopped reading past the send timeout)
    }
    if (!c.stream) break;
    if (++steps > kStreamStepsPerTurn || std::chrono::steady_clock::now() - turn_started > kStreamTurn)
      return Next::write;
    c.out.clear();
    c.out_sent = 0;
    Next next = next_stream_part(c);
    if (next != Next::proceed) return next;
  }
  return after_response(c);
}

// The streamed body's next part: a sendfile straight to the socket, or the
// producer's bytes into `out`. Answers proceed to go on flushing (`out`
// may be empty once the stream is done), write to wait for the socket, or
// close when the body cannot be completed.
Server::Next Server::next_stream_part(Connection& c) {
  sdk::BodyStream& stream = *c.stream;
  const std::int64_t length = c.stream_length;
  auto path = [&] { return c.exchange ? c.exchange->request.path : std::string(); };  // for log lines
  const auto done = [&] {
    c.stream.reset();
    return Next::proceed;
  };
  if (c.stream_ended) return done();
  if (stream.file() >= 0) {
    if (c.stream_sent >= length) return done();
    if (c.tls) return read_file_part(c);
    off_t offset = static_cast<off_t>(stream.offset() + c.stream_sent);
    auto want = static_cast<std::size_t>(std::min<std::int64_t>(length - c.stream_sent, kStreamFileStep));
    ssize_t n = ::sendfile(c.fd, stream.file(), &offset, want);
    if (n > 0) {
      c.stream_sent += n;
      return Next::proceed;
    }
    if (n < 0 && errno == EINTR) return Next::proceed;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Next::write;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return Next::close;  // the client went away
    write_log(LogLevel::error, "server", "a response body's file ended early or could not be read",
              {{"path", path()},
               {"sent", std::to_string(c.stream_sent)},
               {"length", std::to_string(length)},
               {"error", n < 0 ? std::strerror(errno) : "end of file"}});
    return abort_stream(c);
  }
  // A producer: at most one step per round, so a fast producer and a slow
  // client never pile up more than that in memory.
  std::size_t room = kStreamBufferStep;
  if (length >= 0) room = static_cast<std::size_t>(std::min<std::int64_t>(length - c.stream_sent, kStreamBufferStep));
  if (length >= 0 && room == 0) return done();
  std::string& out = c.out;
  const std::size_t frame = c.stream_chunked ? 18 : 0;  // "<hex>\r\n" before, "\r\n" after
  out.resize(frame + room + (c.stream_chunked ? 2 : 0));
  sdk::Result<std::size_t> produced = std::size_t{0};
  try {
    produced = stream.read(out.data() + frame, room);
  } catch (const std::exception& e) {
    produced = sdk::make_error(sdk::ErrorKind::internal, std::string("threw: ") + e.what());
  }
  if (!produced) {
    write_log(LogLevel::error, "server", "a response body could not be produced",
              {{"path", path()}, {"error", produced.error().message}});
    return abort_stream(c);
  }
  std::size_t n = std::min(*produced, room);
  c.stream_sent += static_cast<std::int64_t>(n);
  if (n == 0) {
    if (length >= 0 && c.stream_sent < length) {
      write_log(LogLevel::error, "server", "a response body ended before its length",
                {{"path", path()}, {"sent", std::to_string(c.stream_sent)}, {"length", std::to_string(length)}});
      return abort_stream(c);
    }
    c.stream_ended = true;
    out = c.stream_chunked ? "0\r\n\r\n" : "";
    return Next::proceed;
  }
  if (!c.stream_chunked) {
    out.resize(n);
    return Next::proceed;
  }
  char size_line[24];
  int head = std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
  std::size_t start = frame - static_cast<std::size_t>(head);
  std::memcpy(out.data() + start, size_line, static_cast<std::size_t>(head));
  std::memcpy(out.data() + frame + n, "\r\n", 2);
  out.resize(frame + n + 2);
  c.out_sent = start;
  return Next::proceed;
}

// sendfile cannot encrypt (kernel TLS could, but is not used): over TLS a
// file's next part is read into `out` and goes out through the flush like
// a producer's bytes.
Server::Next Server::read_file_part(Connection& c) {
  sdk::BodyStream& stream = *c.stream;
  auto want = static_cast<std::size_t>(std::min<std::int64_t>(c.stream_length - c.stream_sent, kStreamBufferStep));
  c.out.resize(want);
  ssize_t n = ::pread(stream.file(), c.out.data(), want, static_cast<off_t>(stream.offset() + c.stream_sent));
  if (n > 0) {
    c.out.resize(static_cast<std::size_t>(n));
    c.stream_sent += n;
    return Next::proceed;
  }
  c.out.clear();
  if (n < 0 && errno == EINTR) return Next::proceed;
  write_log(LogLevel::error, "server", "a response body's file ended early or could not be read",
            {{"path", c.exchange ? c.exchange->request.path : std::string()},
             {"sent", std::to_string(c.stream_sent)},
             {"length", std::to_string(c.stream_length)},
             {"error", n < 0 ? std::strerror(errno) : "end of file"}});
  return abort_stream(c);
}

Server::Next Server::after_response(Connection& c) {
  const bool linger = c.exchange && c.exchange->close_after && !c.peer_closed;
  end_exchange(c);
  c.out.clear();
  // An idle connection keeps no large buffer (a streamed body's, a big
  // request's).
  if (c.out.capacity() > kKeptBuffer) std::string().swap(c.out);
  if (c.in.empty() && c.in.capacity() > kKeptBuffer) std::string().swap(c.in);
  if (linger) {
    // A response sent before the request body was read (413, 401, ...):
    // closing at once would make the kernel reset the connection while the
    // client is still sending, and the client would never read the answer.
    // Half-close, then read and drop what still arrives for a short while
    // (as nginx's lingering close does).
    if (c.tls) c.tls->close_notify();
    ::shutdown(c.fd, SHUT_WR);
    c.phase = Connection::Phase::lingering;
    c.in.clear();
    c.phase_until = now_ms() + 2000;
    return Next::read;
  }
  if (!c.keep_alive) return Next::close;
  c.phase = Connection::Phase::head;
  return Next::proceed;
}

void Server::end_exchange(Connection& c) {
  if (c.busy.exchange(false)) in_flight_.fetch_sub(1);
  c.exchange.reset();
}

void Server::arm(Connection& c, Next next) {
  bool write = next == Next::write;
  // Input OpenSSL holds already never makes the socket readable: wait for
  // it to be writable instead, which it is at once (a turn for the others
  // first, as when a read turn ends with input left in the socket).
  if (!write && c.tls && (c.phase == Connection::Phase::head || c.phase == Connection::Phase::body) &&
      c.tls->ready_without_input())
    write = true;
  std::int64_t deadline = c.phase == Connection::Phase::lingering || c.phase == Connection::Phase::handshake
                              ? c.phase_until
                          : write ? now_ms() + std::int64_t{options_.send_timeout_s} * 1000
                                  : now_ms() + std::int64_t{options_.keep_alive_timeout_s} * 1000;
  c.timeout_shutdown.store(write ? SHUT_RDWR : SHUT_RD);
  c.deadline_ms.store(deadline);
  // From here on another worker may own the connection.
  epoll_event event{static_cast<std::uint32_t>((write ? EPOLLOUT : EPOLLIN) | EPOLLONESHOT), {.ptr = &c}};
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event) != 0) {
    write_log(LogLevel::error, "server", "cannot wait on a connection", {{"error", std::strerror(errno)}});
    close_connection(&c);
  }
}

void Server::close_connection(Connection* c) {
  {
    std::lock_guard lock(live_mutex_);
    live_.erase(c);
  }
  end_exchange(*c);
  if (c->tls) c->tls->close_notify();
  ::close(c->fd);  // also leaves the epoll set
  delete c;
}

void Server::housekeep() {
  pthread_setname_np(pthread_self(), "picloud-http-tm");
  std::unique_lock lock(live_mutex_);
  std::int64_t next_timeout_scan = 0;
  while (!exiting_.load()) {
    housekeeping_.wait_for(lock, std::chrono::milliseconds(5));
    const auto now = now_ms();
    // Workers held by slow handlers: let parked ones (or new ones, up to
    // `threads`) take their place.
    {
      std::lock_guard park(park_mutex_);
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        auto& slot = *slots_[i];
        auto since = slot.busy_since.load(std::memory_order_relaxed);
        if (since > 0 && now - since >= options_.slow_handler_ms &&
            slot.busy_since.compare_exchange_strong(since, -since)) {
          blocked_.fetch_add(1);
          if (parked_ > 0) park_cv_.notify_one();
        }
      }
      // With none parked, new workers for the places of blocked ones (slow
      // handlers, or lent by a BlockingWait): the workers not parked serve,
      // or are about to.
      int missing = active_target_ + blocked_.load() - (static_cast<int>(workers_.size()) - parked_);
      for (; missing > 0 && parked_ == 0 && static_cast<int>(workers_.size()) < options_.threads; --missing)
        add_worker();
    }
    if (now < next_timeout_scan) continue;
    next_timeout_scan = now + 100;
    for (auto* c : live_) {
      auto deadline = c->deadline_ms.load();
      // Shutting a socket down wakes its epoll registration; the worker that
      // takes it sees the end of input (or a failed write) and ends it.
      if (deadline <= now && c->deadline_ms.compare_exchange_strong(deadline, kNever))
        ::shutdown(c->fd, c->timeout_shutdown.load());
    }
  }
}

int Server::stop(int grace_ms) {
  if (!listener_) return 0;  // not started, or stopped already
  stopping_ = true;
  ::shutdown(listener_->impl()->sockfd(), SHUT_RDWR);  // accepting ends
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  for (;;) {
    {
      // Idle connections (waiting for their next request) close now; busy
      // ones finish their request and then close, seeing `stopping_`.
      std::lock_guard lock(live_mutex_);
      if (live_.empty()) break;
      for (auto* c : live_)
        if (!c->busy.load()) ::shutdown(c->fd, SHUT_RD);
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int cut = static_cast<int>(in_flight_.load());
  {
    std::lock_guard lock(live_mutex_);
    for (auto* c : live_) ::shutdown(c->fd, SHUT_RDWR);
    exiting_ = true;
  }
  housekeeping_.notify_all();
  {
    std::lock_guard park(park_mutex_);
    park_cv_.notify_all();
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
  housekeeper_.join();  // first: it adds workers
  for (auto& w : workers_) w.join();
  workers_.clear();
  slots_.clear();
  // No worker hands over more streams now; each open one gets its farewell.
  streams_.stop(std::min(grace_ms, 2000));
  for (auto* c : std::unordered_set<Connection*>(live_)) {
    if (c->held_link) {
      // Its hold may still become ready: it must then find nothing to arm.
      std::lock_guard lock(c->held_link->mutex);
      c->held_link->connection = nullptr;
    }
    close_connection(c);
  }
  ::close(epoll_fd_);
  ::close(wake_fd_);
  epoll_fd_ = wake_fd_ = -1;
  listener_.reset();
  return cut;
}

}  // namespace picloud::kernel::http
