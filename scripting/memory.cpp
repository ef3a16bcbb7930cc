#include "scripting/memory.hpp"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <new>

// Replacing the global allocation functions is how the C++ heap of a run is
// counted: the string add-on and the standard library allocate through them,
// and no per-object hook exists. The cost outside a run is one thread-local
// load per allocation.

namespace picloud::scripting::memory {
namespace {

thread_local Budget* t_budget = nullptr;

// Whether `size` more bytes fit; marks the budget when they do not.
bool admit(Budget* b, std::size_t size) {
  auto n = static_cast<std::int64_t>(size);
  if (b->exceeded) return false;
  if (n > b->max_single) {
    b->exceeded = true;
    b->single_too_large = true;
    return false;
  }
  if (b->live + n > b->limit) {
    b->exceeded = true;
    return false;
  }
  return true;
}

void charge(Budget* b, void* p) {
  b->live += static_cast<std::int64_t>(malloc_usable_size(p));
  if (b->live > b->peak) b->peak = b->live;
}

void* counted_malloc(std::size_t size) {
  Budget* b = t_budget;
  if (b && !admit(b, size)) return nullptr;
  void* p = std::malloc(size ? size : 1);
  if (b && p) charge(b, p);
  return p;
}

void* counted_aligned(std::size_t size, std::size_t alignment) {
  Budget* b = t_budget;
  if (b && !admit(b, size)) return nullptr;
  void* p = nullptr;
  if (posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, size ? size : 1) != 0) return nullptr;
  if (b) charge(b, p);
  return p;
}

void counted_free(void* p) {
  if (!p) return;
  // Never below zero: freeing memory the run did not allocate (an earlier
  // run's garbage, say) must not raise what it may take.
  if (Budget* b = t_budget) b->live = std::max<std::int64_t>(0, b->live - static_cast<std::int64_t>(malloc_usable_size(p)));
  std::free(p);
}

}  // namespace

bool admits(std::size_t size) {
  Budget* b = t_budget;
  return !b || admit(b, size);
}

std::size_t room(std::size_t fallback) {
  Budget* b = t_budget;
  if (!b) return fallback;
  if (b->exceeded) return 0;
  return static_cast<std::size_t>(std::max<std::int64_t>(0, std::min(b->max_single, b->limit - b->live)));
}

BudgetScope::BudgetScope(Budget* budget) : previous_(t_budget) { t_budget = budget; }
BudgetScope::~BudgetScope() { t_budget = previous_; }

// The engine's allocations are a soft limit: its virtual machine does not
// handle a failed allocation everywhere (a call stack that cannot grow would
// overwrite a frame), so they succeed and mark the budget, and the run ends
// at its next statement. Only one oversized value (an array buffer) is
// refused outright; the array add-on reports that as a script exception.
void* engine_alloc(std::size_t size) {
  Budget* b = t_budget;
  if (b && static_cast<std::int64_t>(size) > b->max_single) {
    b->exceeded = true;
    b->single_too_large = true;
    return nullptr;
  }
  if (b && !admit(b, size)) b->exceeded = true;  // admitted anyway
  void* p = std::malloc(size ? size : 1);
  if (b && p) charge(b, p);
  return p;
}
void engine_free(void* pointer) { counted_free(pointer); }

void* array_alloc(std::size_t size) {
  if (void* p = engine_alloc(size)) return p;
  throw std::bad_alloc();
}

}  // namespace picloud::scripting::memory

using picloud::scripting::memory::counted_aligned;
using picloud::scripting::memory::counted_free;
using picloud::scripting::memory::counted_malloc;

void* operator new(std::size_t size) {
  if (void* p = counted_malloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void* operator new(std::size_t size, std::align_val_t al) {
  if (void* p = counted_aligned(size, static_cast<std::size_t>(al))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t al) { return operator new(size, al); }
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return counted_aligned(size, static_cast<std::size_t>(al));
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return counted_aligned(size, static_cast<std::size_t>(al));
}

void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
