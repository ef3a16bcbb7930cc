#include "kernel/http/stream_loop.hpp"

#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "kernel/log.hpp"

namespace picloud::kernel::http {
namespace {

constexpr std::uint64_t kDefaultBuffer = 64 << 10;
constexpr std::uint64_t kMostBuffer = 16 << 20;
constexpr std::int64_t kCloseFlushMs = 5000;  // a closing connection's last bytes get this long
char wake_tag;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

class StreamLoop::Stream final : public sdk::LiveStream {
 public:
  enum class State { open, closing, closed };

  Stream(StreamLoop& loop, int fd, std::shared_ptr<sdk::StreamHandler> handler, std::unique_ptr<TlsConnection> tls)
      : loop_(loop), fd_(fd), tls_(std::move(tls)), handler_(std::move(handler)) {
    const auto wanted = handler_->max_buffer_bytes;
    max_buffer_ = wanted == 0 ? kDefaultBuffer : std::min<std::uint64_t>(wanted, kMostBuffer);
  }

  sdk::StreamWrite write(std::string_view bytes) override {
    std::lock_guard lock(mutex_);
    if (state_ != State::open) return sdk::StreamWrite::gone;
    if (unsent() + bytes.size() > max_buffer_ && unsent() > 0) {
      loop_.dropped_full_.inc();
      return sdk::StreamWrite::full;
    }
    queue(bytes);
    return state_ == State::open ? sdk::StreamWrite::written : sdk::StreamWrite::gone;
  }

  void close(std::string_view last) override {
    std::lock_guard lock(mutex_);
    if (state_ != State::open) return;
    begin_closing(last, now_ms() + kCloseFlushMs);
  }

  // Sends what it can of `bytes` (after what waits), keeping the rest;
  // the mutex is held.
  void queue(std::string_view bytes) {
    if (unsent() == 0 && !bytes.empty()) {
      ssize_t n = send_some(bytes.data(), bytes.size());
      if (n < 0) {
        broken();
        return;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    if (bytes.empty()) return;
    if (sent_ > 0 && sent_ >= pending_.size() / 2) {
      pending_.erase(0, sent_);
      sent_ = 0;
    }
    pending_.append(bytes);
    want_writable(true);
  }

  // Sends what waits; the loop calls this when the socket can take more.
  // Answers whether the connection should now be finished.
  bool drain() {
    std::lock_guard lock(mutex_);
    while (unsent() > 0) {
      // Over TLS a write that waited goes on with the same bytes first:
      // pending_ only grows at its end, and its moving is allowed.
      ssize_t n = send_some(pending_.data() + sent_, unsent());
      if (n > 0) {
        sent_ += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0) return false;
      return true;  // the client went away
    }
    std::string().swap(pending_);
    sent_ = 0;
    want_writable(false);
    return state_ == State::closing;
  }

  void begin_closing(std::string_view last, std::int64_t deadline) {
    state_ = State::closing;
    close_deadline_ = deadline;
    if (!last.empty()) queue(last);
    want_writable(true);  // writable at once when nothing waits: the loop finishes it
  }

  // Registers with the loop's epoll set (after opened()).
  void watch() {
    std::lock_guard lock(mutex_);
    watched_ = true;
    epoll_event event{events(), {.ptr = this}};
    if (epoll_ctl(loop_.epoll_fd_, EPOLL_CTL_ADD, fd_, &event) != 0) broken();
  }

  // The loop ends it: returns false when it was closed already.
  bool end() {
    std::lock_guard lock(mutex_);
    if (state_ == State::closed) return false;
    state_ = State::closed;
    if (watched_) epoll_ctl(loop_.epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
    if (tls_) {
      if (!failed_) tls_->close_notify();
      tls_.reset();
    }
    ::close(fd_);
    fd_ = -1;
    std::string().swap(pending_);
    return true;
  }

  State state() {
    std::lock_guard lock(mutex_);
    return state_;
  }
  // Not before watch(): until then the adopting thread is in opened() and
  // the stream must not end under it.
  std::int64_t close_deadline() {
    std::lock_guard lock(mutex_);
    return state_ == State::closing && watched_ ? close_deadline_ : INT64_MAX;
  }
  void shut_down(std::int64_t deadline) {
    std::lock_guard lock(mutex_);
    if (state_ != State::open) return;
    at_shutdown_ = true;
    begin_closing(handler_->farewell, deadline);
  }
  bool closed_for_shutdown() {
    std::lock_guard lock(mutex_);
    return at_shutdown_;
  }
  bool failed() {
    std::lock_guard lock(mutex_);
    return failed_;
  }
  // Reads and drops what the client sent (a stream's client has nothing to
  // say); false once its input ended. Under the mutex: over TLS the read
  // shares OpenSSL's state with the writers.
  bool discard_input() {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return false;
    char buffer[4096];
    // Bounded: over TLS input left decrypted waits for the next event, or
    // for the end (a client that floods a stream is not served faster).
    for (int i = 0; i < 16; ++i) {
      if (tls_) {
        TlsResult r = tls_->read(buffer, sizeof buffer);
        if (r.bytes > 0) continue;
        if (r.io == TlsIo::want_read || r.io == TlsIo::want_write) return true;
        return false;
      }
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      return false;
    }
    return true;
  }
  sdk::StreamHandler& handler() { return *handler_; }

 private:
  std::size_t unsent() const { return pending_.size() - sent_; }
  // Bytes the socket took (> 0), 0 when it takes no more now, -1 when the
  // client went away. The mutex is held.
  ssize_t send_some(const char* data, std::size_t size) {
    if (tls_) {
      TlsResult r = tls_->write(data, size);
      if (r.bytes > 0) return static_cast<ssize_t>(r.bytes);
      return r.io == TlsIo::want_write || r.io == TlsIo::want_read ? 0 : -1;
    }
    ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  }
  std::uint32_t events() const { return EPOLLIN | EPOLLRDHUP | (writable_wanted_ ? EPOLLOUT : 0u); }
  void want_writable(bool on) {
    if (writable_wanted_ == on) return;
    writable_wanted_ = on;
    if (!watched_) return;
    epoll_event event{events(), {.ptr = this}};
    epoll_ctl(loop_.epoll_fd_, EPOLL_CTL_MOD, fd_, &event);
  }
  // A failed send: the loop sees the socket shut and finishes it.
  void broken() {
    failed_ = true;
    if (state_ == State::open) state_ = State::closing;
    close_deadline_ = 0;
    ::shutdown(fd_, SHUT_RDWR);
  }

  StreamLoop& loop_;
  std::mutex mutex_;
  int fd_;
  std::unique_ptr<TlsConnection> tls_;
  std::shared_ptr<sdk::StreamHandler> handler_;
  std::uint64_t max_buffer_ = kDefaultBuffer;
  std::string pending_;
  std::size_t sent_ = 0;
  State state_ = State::open;
  std::int64_t close_deadline_ = INT64_MAX;
  bool watched_ = false;
  bool writable_wanted_ = false;
  bool at_shutdown_ = false;
  bool failed_ = false;  // a send failed: the client went away
};

StreamLoop::StreamLoop(MetricsRegistry& metrics, int max_streams)
    : max_streams_(max_streams),
      opened_(metrics.counter("picloud_streams_opened_total", "connections taken over for streams (server-sent events)")),
      dropped_full_(metrics.counter("picloud_stream_writes_full_total",
                                    "writes refused because a stream's client was too far behind")) {
  metrics.gauge("picloud_streams_open", "connections taken over for streams, open now",
                [this] { return static_cast<double>(open()); });
}

StreamLoop::~StreamLoop() { stop(0); }

bool StreamLoop::ensure_started() {
  if (epoll_fd_.load() >= 0) return true;
  std::lock_guard lock(start_mutex_);
  if (epoll_fd_.load() >= 0) return true;
  if (start_failed_ || stopping_.load()) return false;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event wake{EPOLLIN, {.ptr = &wake_tag}};
  if (ep < 0 || wake_fd_ < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd_, &wake) != 0) {
    write_log(LogLevel::error, "server", "cannot set up the stream loop; streams are refused", {{"error", std::strerror(errno)}});
    if (ep >= 0) ::close(ep);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
    start_failed_ = true;
    return false;
  }
  epoll_fd_ = ep;
  thread_ = std::thread([this] { run(); });
  return true;
}

bool StreamLoop::reserve() {
  if (stopping_.load() || !ensure_started()) return false;
  auto n = reserved_.load();
  do {
    if (static_cast<std::int64_t>(n) >= max_streams_) return false;
  } while (!reserved_.compare_exchange_weak(n, n + 1));
  return true;
}

void StreamLoop::unreserve() { reserved_.fetch_sub(1); }

void StreamLoop::adopt(int fd, std::string head, std::shared_ptr<sdk::StreamHandler> handler,
                       std::unique_ptr<TlsConnection> tls) noexcept {
  std::shared_ptr<Stream> stream;  // kept here until watched, whatever happens meanwhile
  try {
    stream = std::make_shared<Stream>(*this, fd, handler, std::move(tls));
    std::lock_guard lock(streams_mutex_);
    streams_.emplace(stream.get(), stream);
  } catch (...) {  // no memory: the client goes, the handler hears it never opened
    ::close(fd);
    reserved_.fetch_sub(1);
    try {
      handler->closed(sdk::StreamEnd::refused);
    } catch (...) {
    }
    return;
  }
  opened_.inc();
  // A peer that stops acknowledging (gone without a FIN) ends the stream
  // after a minute of unacknowledged writes (heartbeats keep some coming),
  // not after TCP's quarter of an hour.
  unsigned int user_timeout_ms = 60000;
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
  stream->write(head);  // not watched yet: only this thread sees it until watch()
  try {
    stream->handler().opened(*stream);
  } catch (const std::exception& e) {
    write_log(LogLevel::error, "server", "a stream's handler failed as it opened", {{"error", e.what()}});
    stream->close({});
  } catch (...) {
    write_log(LogLevel::error, "server", "a stream's handler failed as it opened");
    stream->close({});
  }
  stream->watch();
  if (stopping_.load()) stream->shut_down(stop_deadline_.load());
}

void StreamLoop::finish(Stream& s, sdk::StreamEnd why) {
  const bool failed = s.failed();
  if (!s.end()) return;
  if (s.closed_for_shutdown()) why = sdk::StreamEnd::shutdown;
  else if (failed) why = sdk::StreamEnd::client_gone;
  try {
    s.handler().closed(why);
  } catch (const std::exception& e) {
    write_log(LogLevel::error, "server", "a stream's handler failed as it closed", {{"error", e.what()}});
  } catch (...) {
  }
  std::shared_ptr<Stream> keep;  // freed after the lock is released
  {
    std::lock_guard lock(streams_mutex_);
    auto it = streams_.find(&s);
    if (it != streams_.end()) {
      keep = std::move(it->second);
      streams_.erase(it);
    }
  }
  reserved_.fetch_sub(1);
}

void StreamLoop::on_event(Stream& s, std::uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    // A client of a stream has nothing to say: read and drop until it ends.
    if (!s.discard_input()) {
      finish(s, s.state() == Stream::State::open ? sdk::StreamEnd::client_gone : sdk::StreamEnd::closed);
      return;
    }
  }
  if (events & EPOLLOUT) {
    const bool was_open = s.state() == Stream::State::open;
    if (s.drain()) finish(s, was_open ? sdk::StreamEnd::client_gone : sdk::StreamEnd::closed);
  }
}

void StreamLoop::sweep_closing(std::int64_t now) {
  std::vector<std::shared_ptr<Stream>> due;
  {
    std::lock_guard lock(streams_mutex_);
    for (auto& [raw, s] : streams_)
      if (s->close_deadline() <= now) due.push_back(s);
  }
  for (auto& s : due) {
    const bool was_open = s->state() == Stream::State::open;
    finish(*s, was_open ? sdk::StreamEnd::client_gone : sdk::StreamEnd::closed);
  }
}

void StreamLoop::run() {
  pthread_setname_np(pthread_self(), "picloud-streams");
  std::vector<epoll_event> events(256);
  std::int64_t next_sweep = 0;
  for (;;) {
    int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 250);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == &wake_tag) {
        std::uint64_t drained;
        [[maybe_unused]] auto r = ::read(wake_fd_, &drained, sizeof drained);
        continue;
      }
      on_event(*static_cast<Stream*>(events[i].data.ptr), events[i].events);
    }
    const auto now = now_ms();
    if (now >= next_sweep || stopping_.load()) {
      next_sweep = now + 250;
      sweep_closing(now);
    }
    if (stopping_.load()) {
      std::lock_guard lock(streams_mutex_);
      if (streams_.empty()) return;
    }
  }
}

void StreamLoop::stop(int grace_ms) {
  std::lock_guard start_lock(start_mutex_);  // nothing starts the loop meanwhile
  if (epoll_fd_.load() < 0) {
    stopping_ = true;
    return;
  }
  const std::int64_t deadline = now_ms() + std::max(grace_ms, 0);
  stop_deadline_ = deadline;
  if (!stopping_.exchange(true)) {
    std::vector<std::shared_ptr<Stream>> all;
    {
      std::lock_guard lock(streams_mutex_);
      for (auto& [raw, s] : streams_) all.push_back(s);
    }
    for (auto& s : all) s->shut_down(deadline);
    std::uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  ::close(epoll_fd_.load());
  ::close(wake_fd_);
  epoll_fd_ = -1;
  wake_fd_ = -1;
}

}  // namespace picloud::kernel::http
