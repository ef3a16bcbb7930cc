// dead_letters:: for scripts, declared by the kernel through the same script
// API plugins use. Every call works on the calling script's app only; a run
// on behalf of a user needs that user's dead_letter.read / dead_letter.write.
//
//   json    dead_letters::list(json filter = null)   {items, next_cursor}; filter
//           {state: unresolved|resolved|all, source, trigger, script, limit (1-500), cursor}
//   int     dead_letters::count()                     unresolved ones
//   json    dead_letters::get(string id)              the letter with its event, or null
//   string  dead_letters::replay(string id)           queues it again; the new run's id
//   void    dead_letters::resolve(string id, string reason = "")
#pragma once

#include "kernel/triggers/dead_letters.hpp"
#include "picloud/sdk/access.hpp"
#include "scripting/declarations.hpp"

namespace picloud::kernel::triggers {

sdk::Result<void> declare_dead_letter_functions(scripting::Declarations& declarations, DeadLetterStore& store,
                                               sdk::AccessControl& access);

}  // namespace picloud::kernel::triggers
