// Connections taken over after a response head (server-sent events): one
// thread and one epoll set hold them all, however many there are.
//
// A route answers with HttpResponse::takeover; the server sends the head,
// then hands the socket here and leaves it: the connection no longer
// counts against [server] max_connections or holds a worker. Writes come
// from any thread (a publish fanning out) and never block: bytes go
// straight to the socket while it takes them; the rest waits in the
// connection's buffer, bounded by the handler's max_buffer_bytes (a write
// past it answers `full` and the handler decides, typically closing with a
// last event). This thread drains the buffers as sockets become writable,
// notices clients that go away, and tells the handler — once, always from
// here — that its connection ended.
//
// These connections are capped apart from request connections
// ([server] max_streams): past the cap a route's takeover is answered 503.
// At shutdown each gets its handler's farewell and a moment to flush it.
//
// A TLS connection comes with its TlsConnection: every read and write goes
// through it under the stream's mutex (OpenSSL's state is not for two
// threads at once), and the end sends close_notify.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "kernel/http/tls.hpp"
#include "kernel/metrics.hpp"
#include "picloud/sdk/http.hpp"

namespace picloud::kernel::http {

class StreamLoop {
 public:
  StreamLoop(MetricsRegistry& metrics, int max_streams);
  ~StreamLoop();
  StreamLoop(const StreamLoop&) = delete;
  StreamLoop& operator=(const StreamLoop&) = delete;

  // A place for one more connection; false at the cap or once stopping.
  // The loop's thread and epoll set are made with the first (a server
  // that never takes a connection over has neither).
  bool reserve();
  void unreserve();
  // Takes over `fd` (connected, non-blocking; with `tls`, a TLS connection
  // after its handshake) after reserve(): sends `head` (the response head
  // and first bytes), calls handler->opened(), then watches it. On the
  // calling thread until opened() returns.
  void adopt(int fd, std::string head, std::shared_ptr<sdk::StreamHandler> handler,
             std::unique_ptr<TlsConnection> tls = nullptr) noexcept;
  // Sends each connection its farewell, waits up to grace_ms for them to
  // flush, closes them all (their handlers hear `shutdown`), and ends the
  // thread. Nothing is adopted afterwards.
  void stop(int grace_ms);

  std::size_t open() const { return reserved_.load(std::memory_order_relaxed); }

 private:
  class Stream;
  friend class Stream;
  bool ensure_started();
  void run();
  void on_event(Stream& s, std::uint32_t events);
  void finish(Stream& s, sdk::StreamEnd why);  // on the loop's thread
  void sweep_closing(std::int64_t now);

  const int max_streams_;
  std::atomic<int> epoll_fd_{-1};
  int wake_fd_ = -1;
  std::mutex start_mutex_;
  bool start_failed_ = false;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> stop_deadline_{0};
  std::atomic<std::size_t> reserved_{0};
  std::mutex streams_mutex_;
  std::unordered_map<Stream*, std::shared_ptr<Stream>> streams_;
  CounterMetric& opened_;
  CounterMetric& dropped_full_;
};

}  // namespace picloud::kernel::http
