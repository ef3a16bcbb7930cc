// Start order from declared dependencies.
#pragma once

#include <string>
#include <vector>

#include "kernel/plugins/loader.hpp"

namespace picloud::kernel::plugins {

// Indexes of `plugins` so that every plugin comes after those it depends on
// (ties keep the given order). A dependency that is not among `plugins`, or
// a cycle, is an error naming the plugins involved.
sdk::Result<std::vector<std::size_t>> dependency_order(const std::vector<LoadedPlugin>& plugins);

}  // namespace picloud::kernel::plugins
