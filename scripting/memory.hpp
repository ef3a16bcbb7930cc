// Per-run memory accounting.
//
// While a budget is installed on a thread, every allocation on that thread is
// charged to it: the C++ heap (operator new, used by strings, json values and
// the bindings) and the script engine's own allocator (script arrays, objects,
// the context's stack). An allocation that would exceed the budget, or one
// larger than the single-value limit, fails (std::bad_alloc, or null for the
// engine) and marks the budget exceeded; the run is then ended.
#pragma once

#include <cstddef>
#include <cstdint>

namespace picloud::scripting::memory {

struct Budget {
  std::int64_t limit = 0;         // live bytes
  std::int64_t max_single = 0;    // one allocation
  std::int64_t live = 0;          // allocated minus freed while installed
  std::int64_t peak = 0;
  bool exceeded = false;
  bool single_too_large = false;  // the first refusal was one oversized value
};

// Installs `budget` for this thread for the scope's lifetime (nestable).
class BudgetScope {
 public:
  explicit BudgetScope(Budget* budget);
  ~BudgetScope();
  BudgetScope(const BudgetScope&) = delete;
  BudgetScope& operator=(const BudgetScope&) = delete;

 private:
  Budget* previous_;
};

// Suspends accounting (for work done on the run's behalf that must not fail,
// such as recording an error message).
class Unaccounted : public BudgetScope {
 public:
  Unaccounted() : BudgetScope(nullptr) {}
};

// Whether the run on this thread (if any) may still take one value of
// `size` bytes. When it may not, the budget is marked exceeded the same way a
// refused allocation marks it, so the run ends with its memory error; nothing
// is allocated either way. For results produced with accounting suspended
// (third-party code that does not survive a failed allocation mid-way),
// checked before the result is handed to the script.
bool admits(std::size_t size);
// The most one value made now may take: the single-value limit or what is
// left of the budget, whichever is smaller (`fallback` outside a run).
std::size_t room(std::size_t fallback);

// The engine's allocator pair (asSetGlobalMemoryFunctions).
void* engine_alloc(std::size_t size);
void engine_free(void* pointer);

// The array add-on's allocator (CScriptArray::SetMemoryFunctions): as
// engine_alloc, but a value over the single-value limit throws
// std::bad_alloc instead of answering null. The add-on's constructor with a
// default value writes through the buffer it failed to get (a segmentation
// fault); an exception ends the call cleanly and the run with its memory
// error (the array object's few bytes are not given back).
void* array_alloc(std::size_t size);

}  // namespace picloud::scripting::memory
