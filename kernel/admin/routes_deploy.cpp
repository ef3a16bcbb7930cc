// Config as code (deploy.hpp): deploy an app from a bundle — to an app that
// exists (its admins) or as a new app (owners) — and export one.
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

DeployOptions options_of(const sdk::HttpRequest& req) {
  auto query = query_params(req, {"dry_run", "prune"});
  return DeployOptions{flag(query, "dry_run"), flag(query, "prune")};
}

}  // namespace

void add_deploy_routes(AdminContext& ctx, Registrar& r) {
  r.add("POST", "/apps/{app}/deploy", "app.deploy", [&ctx](const sdk::HttpRequest& req) {
    auto options = options_of(req);
    auto body = json_body(req);
    sdk::Value plan = deploy_bundle(ctx, current_access().app_id, body, options);
    return json_response(200, plan);
  });
  // A new app: created with everything the bundle names, or not at all.
  r.add("POST", "/deploy", "app.create", [&ctx](const sdk::HttpRequest& req) {
    auto options = options_of(req);
    auto body = json_body(req);
    sdk::Value plan = deploy_bundle(ctx, std::string(), body, options);
    return json_response(options.dry_run ? 200 : 201, plan);
  });
  r.add("GET", "/apps/{app}/export", "app.export", [&ctx](const sdk::HttpRequest& req) {
    query_params(req, {});
    return json_response(200, export_bundle(ctx, current_access().app_id));
  });
}

}  // namespace picloud::kernel::admin
