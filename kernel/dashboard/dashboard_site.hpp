// Serves the admin dashboard — a single-page app on the admin API — at
// /admin on the admin API's hosts, from the files compiled into the binary
// (dashboard_files.hpp).
//
// - A path naming a built file serves it: hashed files under assets/ may be
//   cached for a year, everything else is revalidated (ETag). Browsers that
//   take gzip get the copy compressed at build time.
// - Any other path below /admin without a file extension (a deep link such
//   as /admin/apps/shop/scripts) serves index.html: the app routes itself.
// - Every answer carries a strict Content-Security-Policy (scripts, styles
//   and requests from the page's own origin only, no framing), so an
//   injected string cannot run as script and no third party sees the page.
//
// The dashboard has no powers of its own: it signs in and works through
// the admin API like any other client, under the same capability checks.
#pragma once

#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "kernel/dashboard/dashboard_files.hpp"
#include "picloud/sdk/http.hpp"

namespace picloud::kernel::dashboard {

inline constexpr std::string_view kDashboardPrefix = "/admin";

// Whether a path is the dashboard's: /admin or below it.
bool dashboard_path(std::string_view path);

class DashboardSite {
 public:
  // Reads nothing yet: the files' index is made by the first request, so
  // an idle server that nobody opens the dashboard of never touches them.
  explicit DashboardSite(std::span<const EmbeddedFile> files = embedded_files()) : source_(files) {}

  // Answers a request for a dashboard_path() (GET and HEAD; others 405).
  sdk::HttpResponse serve(const sdk::HttpRequest& request) const;

  // Whether any files were built in.
  bool built() const { return !source_.empty(); }

 private:
  struct Entry {
    const EmbeddedFile* file;
    std::string content_type;
    std::string etag;
    std::string gzip_etag;  // of the compressed copy
  };
  sdk::HttpResponse reply(const Entry& entry, const sdk::HttpRequest& request, bool immutable) const;
  void index_files() const;

  std::span<const EmbeddedFile> source_;
  mutable std::once_flag indexed_;
  mutable std::unordered_map<std::string_view, Entry> files_;
  mutable const Entry* index_ = nullptr;
};

// The headers every dashboard answer carries (the Content-Security-Policy
// among them).
void add_security_headers(sdk::HttpResponse& response);

}  // namespace picloud::kernel::dashboard
