// Where the running executable is, for files installed relative to it
// (migrations, plugins, the PostgreSQL driver).
#pragma once

#include <string>

namespace picloud::kernel {

// The directory of /proc/self/exe, or "." when it cannot be read.
std::string executable_directory();

}  // namespace picloud::kernel
