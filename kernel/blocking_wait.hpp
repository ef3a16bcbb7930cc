// Waits that hold a thread but not a core.
//
// Two places bound how much runs at once: the HTTP server lets about as many
// workers serve connections as there are cores, and the execution gate lets
// as many script runs go on. Both count a thread as busy for as long as it
// holds its place, which is right while it computes and wrong while it
// sleeps. A thread about to sleep on something other than the CPU — a flush
// of the database's log, shared with the other writers — opens a
// BlockingWait, and each place it holds is lent out meanwhile: a parked
// worker serves connections, a queued run starts. Without that, the writers
// that could share one flush were capped at the number of places, and the
// flush rate capped writes.
//
// The holder of a place says so with a HeldPlace on its own thread; the
// waiting code knows nothing of who holds what. Taking a place back may
// wait for it; a place whose holders could be waiting for a lock the
// sleeper holds must not wait unbounded (the gate gives up after a second
// and goes on over its limit), or the two would wait for each other.
#pragma once

namespace picloud::kernel {

class LendablePlace {
 public:
  // The thread is about to sleep: let another use the place. False when
  // the place is kept (nobody could use it, or a bound is reached).
  virtual bool lend() noexcept = 0;
  // The thread is awake again: take back the place it lent (may wait).
  virtual void take_back() noexcept = 0;

 protected:
  ~LendablePlace() = default;
};

// While alive, `place` is one of the places this thread holds.
class HeldPlace {
 public:
  explicit HeldPlace(LendablePlace& place) noexcept;
  ~HeldPlace();
  HeldPlace(const HeldPlace&) = delete;
  HeldPlace& operator=(const HeldPlace&) = delete;

 private:
  friend class BlockingWait;
  LendablePlace* place_;
  HeldPlace* outer_;  // the place held before this one, or null
};

// While alive, the places this thread holds are lent out, the innermost
// first, up to the first one that is kept: a place outside a kept one would
// serve nothing (a server worker lent while its run keeps the gate slot
// would only bring another run to wait at the gate). They are taken back
// when it ends, the innermost first (a run's gate slot before its server
// worker, so a run waiting for its slot again holds no worker's place). A
// wait inside a wait lends nothing more.
class BlockingWait {
 public:
  BlockingWait() noexcept;
  ~BlockingWait();
  BlockingWait(const BlockingWait&) = delete;
  BlockingWait& operator=(const BlockingWait&) = delete;

 private:
  bool lent_ = false;
  HeldPlace* outermost_lent_ = nullptr;
};

}  // namespace picloud::kernel
