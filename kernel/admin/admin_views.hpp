// The views plugins contribute to the admin dashboard
// (PluginContext::add_admin_view), checked when declared and listed by
// GET /api/v1/admin/plugins.
//
// A view is data, not code the kernel runs: an id, a title, an icon, where
// it shows (under each app, or for the instance) and sections — tables,
// forms and JSON panels — that name the admin routes they call as
// "METHOD /path?query" templates; or an ES module the plugin serves from
// one of its own GET admin routes. The dashboard renders it and calls the
// routes like any client, so a view grants nothing: every call is checked
// against the route's capability. To let the dashboard leave out what a
// user may not do, each listed view carries "routes": the capability and
// access level of every route it names.
//
// Checked here: the shape (unknown fields are refused, so a typo is not
// silently ignored), the sizes, and that every route named is a registered
// admin route of the plugin's own, or one of the kernel's GET routes —
// hence views are declared after their routes. A view's
// `{placeholders}` are named after the fields that fill them, so they are
// compared by position only: "/topics/{name}" names "/topics/{topic}".
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kernel/admin/capabilities.hpp"
#include "kernel/http/router.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel::admin {

inline constexpr std::size_t kMaxViewBytes = 64 * 1024;
inline constexpr std::size_t kMaxViewsPerPlugin = 16;

// One loaded plugin, as GET /plugins lists it.
struct InstalledPlugin {
  std::string name;
  std::string version;
  std::string sdk_version;
  std::vector<std::string> provides;
  std::vector<std::string> depends;
};

class AdminViews {
 public:
  AdminViews(const http::Router& router, const CapabilityRegistry& capabilities)
      : router_(router), capabilities_(capabilities) {}

  // Checks `view` and keeps it as `plugin`'s; the error names the field.
  sdk::Result<void> add(const std::string& plugin, const sdk::Value& view);

  // `plugin`'s views in declaration order, each with "routes" filled in.
  sdk::Value views_of(const std::string& plugin) const;

 private:
  // The capability and level of a "METHOD /path?query" template's route,
  // which must be `plugin`'s own or one of the kernel's GET routes.
  sdk::Result<sdk::Value> describe_route(const std::string& plugin, const std::string& ref) const;

  const http::Router& router_;
  const CapabilityRegistry& capabilities_;
  mutable std::mutex mutex_;
  // Kept as JSON text: a parsed tree costs several times its text, in
  // every idle server, for a page read now and then.
  struct Stored {
    std::string id;
    std::string json;
  };
  std::map<std::string, std::vector<Stored>> views_;
};

// An access level as the dashboard compares it: "signed_in", "app_viewer",
// "app_editor", "app_admin" or "owner".
std::string_view access_level_name(sdk::Access access);

}  // namespace picloud::kernel::admin
