#include "kernel/executable.hpp"

#include <limits.h>
#include <unistd.h>

#include <filesystem>

namespace picloud::kernel {

std::string executable_directory() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

}  // namespace picloud::kernel
