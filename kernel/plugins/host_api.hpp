// The kernel's side of the C boundary: picloud.h's host table, implemented
// over a plugin's PluginContext (the kernel's own C++ classes), and the C
// callbacks a plugin registers wrapped as the kernel's C++ handlers.
//
// Every host function is noexcept: what the kernel throws becomes an
// internal error through the caller's pc_out. Structs a plugin fills are
// read only when their `size` covers every field of ABI 2.0.
#pragma once

#include "picloud/picloud.h"
#include "picloud/sdk/plugin.hpp"

namespace picloud::kernel::plugins {

// The table handed to every plugin's init(). Valid for the process's life.
const pc_host_api* host_api();

// The handle a plugin is given for its context, and back.
inline pc_plugin* plugin_handle(sdk::PluginContext& ctx) { return reinterpret_cast<pc_plugin*>(&ctx); }
inline sdk::PluginContext& plugin_context(pc_plugin* p) { return *reinterpret_cast<sdk::PluginContext*>(p); }

}  // namespace picloud::kernel::plugins
