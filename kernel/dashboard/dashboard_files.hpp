// The dashboard's built files (dashboard/dist), compiled into the binary so
// `picloud` serves them with nothing beside it and no Node at run time.
// Generated at configure time by cmake/EmbedDashboard.cmake; empty when the
// dashboard was not built before the kernel was.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace picloud::kernel::dashboard {

struct EmbeddedFile {
  std::string_view path;  // relative to dist, "/"-separated: "index.html", "assets/index-3f2a.js"
  std::string_view data;  // the file as built
  std::string_view gzip;  // the same, gzip-compressed at build time (empty when none was built)
};

std::span<const EmbeddedFile> embedded_files();

}  // namespace picloud::kernel::dashboard
