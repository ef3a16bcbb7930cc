// Group commit: many transactions made durable by one flush.
//
// On SQLite in WAL mode with synchronous=NORMAL, a COMMIT appends the
// transaction's frames to the WAL file and returns without flushing it; the
// transaction is then visible to other connections and survives a crash of
// the process (the frames are in the OS page cache), but not yet a power
// loss. One fdatasync() of the WAL makes every commit appended before it
// durable. So instead of one flush per commit (synchronous=FULL), each
// committer takes a ticket right after its COMMIT returned and waits until a
// flush that began after that moment has finished. The first waiter finds no
// flush running and runs one itself (the leader); commits that arrive while
// it runs wait for the next one, which covers all of them at once. A lone
// writer therefore waits for exactly one flush, as with synchronous=FULL,
// and N concurrent writers share about one flush per flush time.
//
// The class knows nothing of SQLite: it orders tickets and flushes, and the
// flush itself is a function (WalFlusher below, or a test's).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::db {

class GroupCommit {
 public:
  // Makes everything written before the call durable.
  using Flush = std::function<sdk::Result<void>()>;

  struct Options {
    // How long a leader may wait for more commits before it flushes, when
    // another write transaction is under way (a lone write never waits).
    // 0: flush at once; a flush takes long enough for a batch to form.
    std::chrono::microseconds max_wait{0};
    // While commits keep coming (the last flush covered more than one), a
    // flush begins no sooner than this after the previous one began, so
    // that one flush covers the commits of the whole interval: fewer
    // flushes, each costing the same CPU time however many commits it
    // covers. Only answers parked without a thread (when_durable(),
    // flush_soon()) wait for it, and only while pace_while()'s probe says
    // more commits may come: a flush a thread is blocked on in
    // wait_durable() begins at once. After a flush that covered one commit
    // (a lone write's) the next is not paced, nor is any once the disk's
    // flush takes this long.
    // 0: a flush begins as soon as the previous one ended.
    std::chrono::microseconds interval{1000};
    // A leader that waits stops waiting once this many commits wait for it.
    std::uint32_t max_batch = 64;
  };

  GroupCommit(Flush flush, Options options);
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Called right after a COMMIT returned: the ticket to wait for.
  std::uint64_t committed();
  // Blocks until a flush that began after `ticket` was taken has finished.
  // A failed flush fails every commit it was to cover, and every later one:
  // after fdatasync() fails, what the page cache held may be gone (the
  // kernel marks the pages clean), so nothing more is acknowledged until a
  // restart recovers the database from the disk.
  sdk::Result<void> wait_durable(std::uint64_t ticket);
  // The same without waiting: `ready` runs once a flush that began after
  // `ticket` was taken has finished (or failed: wait_durable() then says
  // so at once), on the thread that ran it, or now when that happened
  // already. It must be quick and must not wait for the database: it runs
  // between flushes. When no waiter leads a flush, a thread of the group's
  // own does (started with the first such call).
  void when_durable(std::uint64_t ticket, std::function<void()> ready);
  // Asks for a flush covering `ticket` soon, without waiting for it: a
  // commit whose acknowledgement is deferred (deferred_acks.hpp) must not
  // sit readable but not durable for longer than about one flush (plus
  // the pacing interval, under load).
  void flush_soon(std::uint64_t ticket);

  // Pacing (Options::interval) waits only while `busy` says that work which
  // may commit soon is under way (the kernel: script runs in progress).
  // With none, the answers parked for the flush are all there is to wait
  // for, and waiting would only leave the CPU idle and the clients waiting.
  // Null (the default): always. work_paused() tells a pacing flush to look
  // again. Thread-safe; `busy` is called with the group's lock held.
  void pace_while(std::function<bool()> busy);
  void work_paused();

  // Write transactions under way (waiting for or holding the writer's turn). A
  // leader with max_wait > 0 waits for them to commit and join its flush.
  void write_began();
  void write_ended();

  std::uint64_t flushes() const;
  std::uint64_t commits() const;
  // True once a flush failed (the database then reports not ready and
  // refuses writes).
  bool failed() const { return failed_flag_.load(std::memory_order_acquire); }
  const std::atomic<bool>& failed_flag() const { return failed_flag_; }

 private:
  Flush flush_;
  Options options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t last_ticket_ = 0;   // tickets handed out
  std::uint64_t durable_ = 0;       // every ticket up to this one is durable
  bool flushing_ = false;
  // Pacing (Options::interval): when the last flush began, and whether it
  // covered more than one commit.
  std::chrono::steady_clock::time_point last_flush_started_{};
  bool last_flush_shared_ = false;
  std::uint64_t newest_waited_ = 0;    // the newest ticket a thread waited for in wait_durable()
  std::function<bool()> busy_;         // pace_while()'s
  bool pacing_ = false;                // a leader waits for the interval
  std::uint32_t writing_ = 0;
  std::uint64_t flushes_ = 0;
  struct Callback {
    std::uint64_t ticket;
    std::function<void()> ready;
  };
  std::vector<Callback> callbacks_;  // when_durable()'s, in ticket order
  std::condition_variable flusher_wanted_;
  std::thread flusher_;
  std::uint64_t wanted_ = 0;  // flush_soon()'s newest ticket
  bool stopping_ = false;
  std::optional<std::string> failed_;  // why nothing more is acknowledged
  std::atomic<bool> failed_flag_{false};
  // Waiters lend their thread's places (blocking_wait.hpp) when flushes
  // recently took at least this long: about what handing a place to
  // another thread and back costs.
  static constexpr std::int64_t kLendFromUs = 50;
  std::atomic<std::int64_t> recent_flush_us_{kLendFromUs};  // moving average; starts lending
  void note_flush_time(std::chrono::steady_clock::duration took);
  // With `lock` held and no flush running: runs one (unlocking meanwhile),
  // then wakes the waiters and runs the callbacks it covered.
  void lead_flush(std::unique_lock<std::mutex>& lock);
  // The group's own thread, started with the first callback or request.
  void wake_flusher();  // with mutex_ held
  bool flusher_has_work() const;  // with mutex_ held
  void flusher_loop();
};

// What a write gets once a flush failed (GroupCommit::failed()).
sdk::Error writes_refused();

// Flushes a SQLite database's WAL file with fdatasync(). The path is SQLite's
// own (sqlite3_filename_wal: a symbolic link in the database's path puts the
// WAL beside the link's target). Keeps the file open between flushes and
// reopens it when the path names another file (SQLite deletes the WAL when
// its last connection closes, and a later one creates it anew). A WAL that
// is gone after it was seen has nothing unflushed in it: SQLite checkpoints
// it into the database file, flushing that, before deleting it; one never
// seen is an error (the path would be wrong, and nothing ever flushed).
// The file is opened read-only and never locked: SQLite's WAL-mode locks are
// on the database and -shm files, so closing this descriptor drops none.
class WalFlusher {
 public:
  explicit WalFlusher(std::string wal_path) : path_(std::move(wal_path)) {}
  ~WalFlusher();
  WalFlusher(const WalFlusher&) = delete;
  WalFlusher& operator=(const WalFlusher&) = delete;
  // Not thread-safe: GroupCommit runs one flush at a time.
  sdk::Result<void> flush();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool seen_ = false;
};

}  // namespace picloud::kernel::db
