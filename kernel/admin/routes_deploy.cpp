// Config as code (deploy.hpp): deploy an app from a bundle — to an app that
// exists (its admins) or as a new app (owners) — and export one.
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "kernel/admin/deploy.hpp"
#include "kernel/admin/handlers.hpp"

namespace picloud::kernel::admin {
namespace {

bool flag(const std::map<std::string, std::string>& query, const char* name) {
  auto it = query.find(name);
  if (it == query.end()) return false;
  if (it->second == "true" || it->second == "1" || it->second.empty()) return true;
  if (it->second == "false" || it->second == "0") return false;
  fail(400, "invalid_parameter", std::string(name) + " must be true or false",
       sdk::Value::object({{"parameter", std::string(name)}}));
}

// A deploy writes scripts, routes and the app's fields; an export reads all
// of them. A key needs every scope the endpoints of those parts would ask
// for, not just the one its capability names.
void require_scopes(std::uint32_t needed, const char* what) {
  const auto& principal = current_access().principal;
  if (!principal.via_key || (principal.scopes & needed) == needed) return;
  std::string names;
  for (auto [bit, name] : {std::pair{kAppRead, "app:read"}, std::pair{kAppWrite, "app:write"},
                           std::pair{kAppAdmin, "app:admin"}, std::pair{kScriptRead, "script:read"},
                           std::pair{kScriptWrite, "script:write"}})
    if (needed & bit) names += (names.empty() ? "" : ", ") + std::string(name);
  fail(403, "forbidden", std::string("the API key lacks a scope needed to ") + what + " (it needs " + names + ")");
}

// A whole app in one request: its scripts (512 KiB each) and the rest.
constexpr std::int64_t kMaxBundleBytes = 16 << 20;

// The bundle from the spooled body (the route spools: a whole app may be
// larger than the bodies kept in memory), parsed as any admin body.
sdk::Value bundle_body(const sdk::HttpRequest& req) {
  if (req.body_fd < 0) return json_body(req);
  sdk::HttpRequest in_memory;
  in_memory.headers = req.headers;
  in_memory.body.resize(static_cast<std::size_t>(std::max<std::int64_t>(req.body_size, 0)));
  std::size_t got = 0;
  while (got < in_memory.body.size()) {
    ssize_t n = ::pread(req.body_fd, in_memory.body.data() + got, in_memory.body.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(500, "internal", "the request body could not be read back");
    got += static_cast<std::size_t>(n);
  }
  return json_body(in_memory);
}

DeployOptions options_of(const sdk::HttpRequest& req) {
  auto query = query_params(req, {"dry_run", "prune"});
  return DeployOptions{flag(query, "dry_run"), flag(query, "prune")};
}

}  // namespace

void add_deploy_routes(AdminContext& ctx, Registrar& r) {
  r.add("POST", "/apps/{app}/deploy", "app.deploy", [&ctx](const sdk::HttpRequest& req) {
    require_scopes(kAppAdmin | kAppWrite | kScriptWrite, "deploy");
    auto options = options_of(req);
    auto body = bundle_body(req);
    sdk::Value plan = deploy_bundle(ctx, current_access().app_id, body, options);
    return json_response(200, plan);
  }, kMaxBundleBytes);
  // A new app: created with everything the bundle names, or not at all.
  r.add("POST", "/deploy", "app.create", [&ctx](const sdk::HttpRequest& req) {
    require_scopes(kAppAdmin | kAppWrite | kScriptWrite, "deploy");
    auto options = options_of(req);
    auto body = bundle_body(req);
    sdk::Value plan = deploy_bundle(ctx, std::string(), body, options);
    return json_response(options.dry_run ? 200 : 201, plan);
  }, kMaxBundleBytes);
  r.add("GET", "/apps/{app}/export", "app.export", [&ctx](const sdk::HttpRequest& req) {
    query_params(req, {});
    require_scopes(kAppRead | kScriptRead, "export an app");
    return json_response(200, export_bundle(ctx, current_access().app_id));
  });
}

}  // namespace picloud::kernel::admin
