// An answer that must wait for something a thread need not wait for.
//
// A script run's writes may still be on their way to the disk when the run
// is over (db/deferred_acks.hpp); its answer must not leave before they are
// durable. Rather than keep a worker asleep through the flush (a context
// switch in and out, and another worker woken to serve meanwhile, for every
// request), the handler hands the server a hold: the server keeps the
// connection without a thread, and a worker sends the answer once the hold
// says it is ready. Kernel-internal: plugins' handlers never set one.
#pragma once

#include <functional>
#include <memory>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::http {

class AnswerHold {
 public:
  virtual ~AnswerHold() = default;
  // Calls `ready` once, on any thread, maybe before returning. `ready` is
  // quick and never waits.
  virtual void when_ready(std::function<void()> ready) = 0;
  // On the worker about to send, after `ready`: what must happen before the
  // answer leaves. An error replaces the answer with a 500.
  virtual sdk::Result<void> finish() = 0;
};

// Whether this thread runs a handler for the server, which can hold its
// answer. Elsewhere (a test calling a handler, a nested call) nobody would
// take the hold: the caller must wait itself.
bool answers_can_wait();
// From such a handler: the answer it returns waits for `hold`.
void hold_answer(std::unique_ptr<AnswerHold> hold);

// The server's side: while alive, this thread's handler may hold its
// answer; take() hands the hold over. A hold not taken (the handler threw)
// is dropped with the scope.
class AnswerHoldScope {
 public:
  AnswerHoldScope();
  ~AnswerHoldScope();
  AnswerHoldScope(const AnswerHoldScope&) = delete;
  AnswerHoldScope& operator=(const AnswerHoldScope&) = delete;
  std::unique_ptr<AnswerHold> take();
};

}  // namespace picloud::kernel::http
