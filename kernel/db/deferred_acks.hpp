// Commits acknowledged later, together: a script run's writes.
//
// A transaction normally returns only once a flush of the log covers its
// commit (group_commit.hpp), so a run making one write sleeps through one
// flush while holding its gate slot, and an app's writes in flight are
// capped by its share of slots. Yet nothing needs the write durable until
// somebody outside the process hears of it: the run's answer, or a plugin
// function that talks to the world. So a run opens a DeferredAcks, and
// while a plugin function that only uses the database runs (scripting's
// DeferredWrites opens the window around it), the transactions it makes on
// this thread hand their ticket and after-commit work here and return at
// once. settle() — before the run's answer, before any other plugin call —
// waits for one flush covering the newest ticket (WAL flushes cover every
// earlier commit too) and then runs the after-commit work in commit order.
// The run meanwhile computes on, and leaves its gate slot before it sleeps.
//
// Other transactions of the process may see such a commit before it is
// durable, exactly as they see any group-committed one between its COMMIT
// and its flush; what a power cut can undo is never acknowledged.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::db {

class GroupCommit;

class DeferredAcks {
 public:
  DeferredAcks() = default;
  // Settles what is left (its error is lost: call settle() to hear it).
  ~DeferredAcks();
  DeferredAcks(const DeferredAcks&) = delete;
  DeferredAcks& operator=(const DeferredAcks&) = delete;

  // Between these, on this thread, commits may be deferred here. Nests.
  void open_window();
  void close_window();
  // The DeferredAcks whose window is open on this thread, or null.
  static DeferredAcks* open_here();

  // A transaction committed with `ticket` of `group`: it is acknowledged,
  // and `after_commit` runs, at the next settle(); its flush is asked for
  // now. Settles at once when much is pending already (a run writing in a
  // loop waits for a flush every kMaxDeferredCommits commits and holds no
  // unbounded list) or when the ticket belongs to another database.
  sdk::Result<void> defer(GroupCommit& group, std::uint64_t ticket, std::vector<std::function<void()>>&& after_commit);

  // Waits until every deferred commit is durable, then runs their
  // after-commit work. A failed flush fails them all: their outcome is
  // unknown, and their after-commit work is dropped, as a transaction's
  // whose flush failed. Once failed, every later settle() fails the same
  // way: the run's answer must say so even if the script caught the error.
  sdk::Result<void> settle();
  // Something to settle: deferred commits, or a failure to report.
  bool pending() const { return ticket_ != 0 || failed_.has_value(); }
  // Calls `ready` (quick, never waiting; on the thread that flushed) once
  // settle() would not wait: every deferred commit is durable, or a flush
  // failed. Now, when nothing is pending.
  void when_durable(std::function<void()> ready);

 private:
  static constexpr std::size_t kMaxPendingActions = 256;
  static constexpr int kMaxDeferredCommits = 32;
  GroupCommit* group_ = nullptr;
  std::uint64_t ticket_ = 0;  // the newest deferred commit; 0: none
  int deferred_ = 0;          // commits deferred since the last settle
  std::optional<sdk::Error> failed_;
  std::vector<std::function<void()>> after_commit_;
  int depth_ = 0;                        // open_window() calls not yet closed
  DeferredAcks* outer_ = nullptr;        // the window open here before this one's
};

}  // namespace picloud::kernel::db
