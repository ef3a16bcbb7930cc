// Ends a connection's I/O when its request's time is up.
//
// Socket timeouts bound each read, not a request: a server that sends one
// byte a second would keep a read loop going for as long as it likes. The
// watch shuts the socket down (shutdown(2), which wakes a blocked read or
// write) at the request's deadline, so no request outlives its run.
//
//   auto ticket = watch.watch(fd, deadline_ms);
//   ... I/O on fd ...
//   if (ticket.fired()) -> a timeout, not a network error
//
// The watch works on a duplicate of the descriptor, which the ticket closes
// when it is released: the socket may be closed before its ticket without
// the watch ever touching a descriptor number that was reused meanwhile.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace picloud::http {

class DeadlineWatch {
  struct Entry {
    int fd;  // our duplicate of the socket's descriptor
    bool fired = false;
  };

 public:
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept : watch_(other.watch_), at_(other.at_) { other.watch_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() { release(); }
    // Whether the watch holds the socket (false when no descriptor was left
    // to duplicate it with: the request must not go ahead unwatched).
    bool armed() const { return watch_ != nullptr; }
    // Whether the deadline passed and the socket was shut down.
    bool fired() const;
    void release();

   private:
    friend class DeadlineWatch;
    using Slot = std::multimap<std::int64_t, Entry>::iterator;
    Ticket(DeadlineWatch* watch, Slot at) : watch_(watch), at_(at) {}
    DeadlineWatch* watch_ = nullptr;
    Slot at_;
    mutable bool fired_after_release_ = false;
  };

  DeadlineWatch() = default;
  ~DeadlineWatch();
  DeadlineWatch(const DeadlineWatch&) = delete;
  DeadlineWatch& operator=(const DeadlineWatch&) = delete;

  // deadline_ms on the monotonic clock (sdk::monotonic_ms()).
  Ticket watch(int fd, std::int64_t deadline_ms);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::multimap<std::int64_t, Entry> entries_;
  std::thread thread_;  // started with the first watch
  bool stopping_ = false;
};

}  // namespace picloud::http
