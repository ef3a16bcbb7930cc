#include "kernel/blocking_wait.hpp"

namespace picloud::kernel {
namespace {

thread_local HeldPlace* innermost = nullptr;
thread_local bool waiting = false;

}  // namespace

HeldPlace::HeldPlace(LendablePlace& place) noexcept : place_(&place), outer_(innermost) { innermost = this; }

HeldPlace::~HeldPlace() { innermost = outer_; }

BlockingWait::BlockingWait() noexcept {
  if (waiting || !innermost) return;
  waiting = lent_ = true;
  for (HeldPlace* p = innermost; p && p->place_->lend(); p = p->outer_) outermost_lent_ = p;
}

BlockingWait::~BlockingWait() {
  if (!lent_) return;
  if (outermost_lent_)
    for (HeldPlace* p = innermost;; p = p->outer_) {
      p->place_->take_back();
      if (p == outermost_lent_) break;
    }
  waiting = false;
}

}  // namespace picloud::kernel
