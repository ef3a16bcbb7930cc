#include "kernel/db/group_commit.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <optional>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/blocking_wait.hpp"

namespace picloud::kernel::db {

GroupCommit::GroupCommit(Flush flush, Options options) : flush_(std::move(flush)), options_(options) {}

std::uint64_t GroupCommit::committed() {
  std::uint64_t ticket;
  bool batch_full;
  {
    std::lock_guard lock(mutex_);
    ticket = ++last_ticket_;
    batch_full = pacing_ && last_ticket_ - durable_ >= options_.max_batch;
  }
  if (batch_full) changed_.notify_all();  // the pacing leader flushes now
  return ticket;
}

void GroupCommit::write_began() {
  std::lock_guard lock(mutex_);
  ++writing_;
}

void GroupCommit::write_ended() {
  {
    std::lock_guard lock(mutex_);
    --writing_;
  }
  // A leader waiting for this write to commit need not wait any longer.
  if (options_.max_wait.count() > 0) changed_.notify_all();
}

void GroupCommit::pace_while(std::function<bool()> busy) {
  {
    std::lock_guard lock(mutex_);
    busy_ = std::move(busy);
  }
  changed_.notify_all();
}

void GroupCommit::work_paused() {
  {
    std::lock_guard lock(mutex_);
    if (!pacing_) return;
  }
  changed_.notify_all();
}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  flusher_wanted_.notify_all();
  changed_.notify_all();  // a pacing leader flushes at once
  if (flusher_.joinable()) flusher_.join();
}

sdk::Result<void> GroupCommit::wait_durable(std::uint64_t ticket) {
  {
    std::lock_guard lock(mutex_);
    if (durable_ >= ticket) return {};
  }
  // From here on this thread waits for a flush (another's or its own). When
  // flushes take long enough to be worth handing its places over, they go
  // to other work meanwhile, so more commits reach the next flush; where a
  // flush is nearly free (a RAM disk) the hand-over would cost more than the
  // wait. Taken back after `lock` is released.
  std::optional<BlockingWait> sleeping;
  if (recent_flush_us_.load(std::memory_order_relaxed) >= kLendFromUs) sleeping.emplace();
  std::unique_lock lock(mutex_);
  // A thread waits: a flush held back by pacing begins now (its leader
  // waits on changed_ too). A waiter leaves only once its ticket is durable,
  // so the newest ticket waited for is above durable_ exactly while some
  // waiter still waits.
  newest_waited_ = std::max(newest_waited_, ticket);
  if (pacing_) changed_.notify_all();
  for (;;) {
    if (durable_ >= ticket) return {};  // made durable before any flush failed
    if (failed_) return sdk::make_error(sdk::ErrorKind::unavailable, *failed_);
    if (flushing_) {
      changed_.wait(lock);
      continue;
    }
    lead_flush(lock);
  }
}

void GroupCommit::when_durable(std::uint64_t ticket, std::function<void()> ready) {
  {
    std::lock_guard lock(mutex_);
    if (durable_ < ticket && !failed_) {
      callbacks_.push_back({ticket, std::move(ready)});
      wake_flusher();
      return;
    }
  }
  ready();
}

void GroupCommit::flush_soon(std::uint64_t ticket) {
  std::lock_guard lock(mutex_);
  if (durable_ >= ticket || failed_ || ticket <= wanted_) return;
  wanted_ = ticket;
  wake_flusher();
}

void GroupCommit::wake_flusher() {
  // Whether or not a flush runs now: one running may have begun before the
  // commit waited for, and its leader may be a waiter that leaves after it.
  if (!flusher_.joinable()) flusher_ = std::thread([this] { flusher_loop(); });
  flusher_wanted_.notify_one();
}

bool GroupCommit::flusher_has_work() const {
  return !failed_ && (wanted_ > durable_ || !callbacks_.empty());
}

void GroupCommit::flusher_loop() {
  pthread_setname_np(pthread_self(), "picloud-flush");
  std::unique_lock lock(mutex_);
  for (;;) {
    flusher_wanted_.wait(lock, [&] { return stopping_ || (flusher_has_work() && !flushing_) || (failed_ && !callbacks_.empty()); });
    if (flushing_) {  // stopping while a waiter's flush runs: it may leave callbacks
      changed_.wait(lock);
      continue;
    }
    if (!flusher_has_work() && callbacks_.empty()) {
      if (stopping_) return;
      continue;
    }
    lead_flush(lock);
  }
}

void GroupCommit::lead_flush(std::unique_lock<std::mutex>& lock) {
  std::vector<Callback> ready;
  if (!failed_) {
    flushing_ = true;
    if (options_.max_wait.count() > 0) {
      // Other writers are between BEGIN and COMMIT: their commits are
      // moments away, and waiting a little lets one flush cover them too.
      auto deadline = std::chrono::steady_clock::now() + options_.max_wait;
      changed_.wait_until(lock, deadline,
                          [&] { return writing_ == 0 || last_ticket_ - durable_ >= options_.max_batch; });
    }
    if (options_.interval.count() > 0 && last_flush_shared_) {
      // Commits keep coming: the ones of the next moments share this flush
      // instead of each few paying for one of their own. Only answers
      // parked without a thread (callbacks, deferred acknowledgements)
      // wait for it, and only while more commits may come: a thread
      // blocked on the flush, or a CPU with nothing else to do, would idle.
      pacing_ = true;
      changed_.wait_until(lock, last_flush_started_ + options_.interval, [&] {
        return stopping_ || newest_waited_ > durable_ || last_ticket_ - durable_ >= options_.max_batch ||
               (busy_ && !busy_());
      });
      pacing_ = false;
    }
    const std::uint64_t covers = last_ticket_;  // every one of these committed before the flush starts
    const std::uint64_t durable_before = durable_;
    lock.unlock();
    auto started = std::chrono::steady_clock::now();
    auto flushed = flush_();
    note_flush_time(std::chrono::steady_clock::now() - started);
    lock.lock();
    last_flush_started_ = started;
    last_flush_shared_ = covers - durable_before > 1;
    flushing_ = false;
    ++flushes_;
    if (flushed) {
      durable_ = std::max(durable_, covers);
    } else {
      failed_ = "the database could not flush its write-ahead log to disk (" + flushed.error().message +
                "); the outcome of this write is unknown, and no write is accepted until PiCloud restarts";
      failed_flag_.store(true, std::memory_order_release);
    }
  }
  // Callbacks of covered commits (every one, after a failure: each then
  // hears of it from wait_durable) run outside the lock, in the order given.
  auto covered = [&](const Callback& c) { return failed_ || c.ticket <= durable_; };
  auto split = std::stable_partition(callbacks_.begin(), callbacks_.end(), covered);
  std::move(callbacks_.begin(), split, std::back_inserter(ready));
  callbacks_.erase(callbacks_.begin(), split);
  const bool more = flusher_has_work();
  changed_.notify_all();
  if (more) flusher_wanted_.notify_one();
  if (ready.empty()) return;
  lock.unlock();
  for (auto& c : ready) c.ready();
  lock.lock();
}

void GroupCommit::note_flush_time(std::chrono::steady_clock::duration took) {
  // A moving average over about the last eight flushes.
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  auto average = recent_flush_us_.load(std::memory_order_relaxed);
  recent_flush_us_.store(average + (us - average) / 8, std::memory_order_relaxed);
}

std::uint64_t GroupCommit::flushes() const {
  std::lock_guard lock(mutex_);
  return flushes_;
}

std::uint64_t GroupCommit::commits() const {
  std::lock_guard lock(mutex_);
  return last_ticket_;
}

sdk::Error writes_refused() {
  return sdk::make_error(sdk::ErrorKind::unavailable,
                         "the database refuses writes: a flush of its log failed, and PiCloud must restart");
}

WalFlusher::~WalFlusher() {
  if (fd_ >= 0) ::close(fd_);
}

sdk::Result<void> WalFlusher::flush() {
  // statx() asking for the inode number alone: a stat() that asks for the
  // times marks them as read, and the kernel (multigrain timestamps, Linux
  // 6.13+) then gives the next write a new fine-grained mtime, which makes
  // the inode dirty and, on some filesystems, costs fdatasync() a second
  // synchronous write for it on every flush.
  struct statx named {};
  if (::statx(AT_FDCWD, path_.c_str(), 0, STATX_INO, &named) != 0) {
    if (errno == ENOENT && seen_) return {};
    return sdk::make_error(sdk::ErrorKind::internal, "stat " + path_ + ": " + std::strerror(errno));
  }
  seen_ = true;
  struct statx open_file {};
  if (fd_ >= 0 && (::statx(fd_, "", AT_EMPTY_PATH, STATX_INO, &open_file) != 0 || open_file.stx_ino != named.stx_ino ||
                   open_file.stx_dev_major != named.stx_dev_major || open_file.stx_dev_minor != named.stx_dev_minor)) {
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      if (errno == ENOENT) return {};  // deleted since the stat (after it was seen): checkpointed
      return sdk::make_error(sdk::ErrorKind::internal, "open " + path_ + ": " + std::strerror(errno));
    }
  }
  if (::fdatasync(fd_) != 0)
    return sdk::make_error(sdk::ErrorKind::internal, "fdatasync " + path_ + ": " + std::strerror(errno));
  return {};
}

}  // namespace picloud::kernel::db
