#include "kernel/admin/admin_api.hpp"

#include "kernel/admin/handlers.hpp"
#include "kernel/log.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::admin {

// The document's text, embedded at build time from openapi.json.
extern const char* const kOpenApiDocument;

void Registrar::add(const std::string& method, const std::string& path, const std::string& capability,
                    AdminHandler handler, std::int64_t spooled_body_bytes) {
  add_absolute(method, std::string(kAdminPrefix) + path, capability, std::move(handler), spooled_body_bytes);
}

void Registrar::add_absolute(const std::string& method, const std::string& path, const std::string& capability,
                             AdminHandler handler, std::int64_t spooled_body_bytes) {
  if (!result_) return;
  if (auto r = ctx_.capabilities.check_route(capability, path, "kernel"); !r) {
    result_ = r;
    return;
  }
  auto wrapped = [handler = std::move(handler), &hosts = ctx_.hosts](const sdk::HttpRequest& req) -> sdk::HttpResponse {
    // Public routes (sign-in, the OpenAPI document) too: the authorizer
    // checks the others before their body is read.
    if (!hosts.serves(req.header("host"))) return not_an_admin_host(req, hosts.ip_hosts());
    try {
      return handler(req);
    } catch (const ApiError& e) {
      return error_body(e.status, e.code, e.message, e.details);
    } catch (const std::exception& e) {
      write_log(LogLevel::error, "admin", "handler failed", {{"path", req.path}, {"error", e.what()}});
      return error_body(500, "internal", "internal error");
    }
  };
  sdk::HttpRoute route{method, path, capability, std::move(wrapped)};
  route.spool_body = spooled_body_bytes > 0;
  route.max_body_bytes = spooled_body_bytes;
  if (auto r = router_.add(std::move(route), "kernel"); !r) {
    result_ = r;
    return;
  }
  ctx_.routes.push_back(method + " " + path);
}

sdk::Result<void> bump_routing_version(sdk::Transaction& tx) {
  auto r = tx.execute("UPDATE kernel_state SET value = value + 1 WHERE name = 'routing_version'");
  if (!r) return r.error();
  return {};
}

void routing_changed(AdminContext& ctx) {
  if (ctx.routing_listener) ctx.routing_listener();
}

void AdminApi::set_routing_listener(std::function<void()> listener) { ctx_->routing_listener = std::move(listener); }
void AdminApi::set_script_runner(ScriptRunner runner) { ctx_->script_runner = std::move(runner); }
const AdminHosts& AdminApi::hosts() const { return ctx_->hosts; }

sdk::Result<std::vector<std::pair<std::string, std::string>>> AdminApi::reserved_app_hostnames() {
  auto rows = ctx_->db.query("SELECT a.slug, h.hostname FROM app_hostnames h JOIN apps a ON a.id = h.app_id "
                             "ORDER BY a.slug, h.hostname");
  if (!rows) return rows.error();
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& row : rows->rows)
    if (!ctx_->hosts.reserved(row[1].as_string()).empty()) out.emplace_back(row[0].as_string(), row[1].as_string());
  return out;
}

AdminApi::AdminApi(db::Database& db, AdminSettings settings, CapabilityRegistry& capabilities,
                   MetricsRegistry& metrics)
    : ctx_(std::make_unique<AdminContext>(db, settings, capabilities, metrics)) {}

AdminApi::~AdminApi() { stop(); }

http::Authorizer& AdminApi::authorizer() { return ctx_->authorizer; }
Identity& AdminApi::identity() { return ctx_->identity; }
ExecutionLog& AdminApi::executions() { return ctx_->executions; }
void AdminApi::set_engine(scripting::Engine* engine) { ctx_->engine = engine; }
void AdminApi::set_trigger_kinds(const triggers::TriggerKindRegistry* kinds) { ctx_->trigger_kinds = kinds; }
void AdminApi::set_dead_letters(triggers::DeadLetterStore* store) { ctx_->dead_letters = store; }
void AdminApi::set_app_lifecycle(const AppLifecycle* lifecycle) { ctx_->app_lifecycle = lifecycle; }
void AdminApi::set_resource_kinds(const ResourceKindRegistry* kinds) { ctx_->resource_kinds = kinds; }
void AdminApi::set_plugins(std::vector<InstalledPlugin> plugins, const AdminViews* views) {
  ctx_->plugins = std::move(plugins);
  ctx_->views = views;
}
std::vector<std::string> AdminApi::kernel_routes() const { return ctx_->routes; }

sdk::Result<void> AdminApi::register_routes(http::Router& router) {
  ctx_->router = &router;
  Registrar r(*ctx_, router);
  add_account_routes(*ctx_, r);
  add_user_routes(*ctx_, r);
  add_app_routes(*ctx_, r);
  add_script_routes(*ctx_, r);
  add_route_routes(*ctx_, r);
  add_trigger_routes(*ctx_, r);
  add_deploy_routes(*ctx_, r);
  add_dead_letter_routes(*ctx_, r);
  add_execution_routes(*ctx_, r);
  add_instance_routes(*ctx_, r);
  r.add_absolute("GET", std::string(kOpenApiPath), std::string(sdk::kPublic), [this](const sdk::HttpRequest&) {
    return openapi_document();
  });
  return r.result();
}

sdk::HttpResponse AdminApi::openapi_document() const {
  // The kernel's own operations come from the embedded document; plugins'
  // admin routes are added as they registered, with their capability.
  sdk::Value doc = parse_stored_json(kOpenApiDocument);
  if (!doc.is_object()) return error_body(500, "internal", "the OpenAPI document is not valid JSON");
  auto& paths = doc.as_object()["paths"];
  if (!paths.is_object()) paths = sdk::Value::object();
  for (const auto& route : ctx_->router->routes()) {
    if (route->owner == "kernel" || route->path.rfind(std::string(kAdminPrefix) + "/", 0) != 0) continue;
    std::vector<std::string> methods;
    if (route->method == "*") methods = {"get", "post", "put", "patch", "delete"};
    else methods = {to_lower(route->method)};
    sdk::Array params;
    for (const auto& seg : route->segments)
      if (seg.kind == http::PathSegment::param)
        params.push_back(sdk::Value::object({{"name", seg.text}, {"in", "path"}, {"required", true},
                                             {"schema", sdk::Value::object({{"type", "string"}})}}));
    auto& item = paths.as_object()[route->path];
    if (!item.is_object()) item = sdk::Value::object();
    for (const auto& method : methods)
      item.as_object()[method] = sdk::Value::object(
          {{"summary", "registered by the plugin " + route->owner},
           {"tags", sdk::Value::array({sdk::Value(route->owner)})},
           {"parameters", params},
           {"x-capability", route->capability},
           {"responses", sdk::Value::object({{"default", sdk::Value::object({{"description", "the plugin's response"}})}})}});
  }
  return json_response(200, doc);
}

sdk::Result<void> AdminApi::bootstrap_owner(const std::string& username, const std::string& password) {
  auto users = ctx_->identity.count_users();
  if (!users) return users.error();
  if (*users > 0) return {};
  auto user = ctx_->identity.create_user(username, password, true);
  if (!user) return sdk::make_error(user.error().kind, "cannot create the owner: " + user.error().message);
  write_log(LogLevel::info, "admin", "owner created", {{"username", user->username}});
  return {};
}

void AdminApi::access_changed() { ctx_->cache.invalidate(); }
AccessCache& AdminApi::access_cache() { return ctx_->cache; }
void AdminApi::set_nodes(const cluster::NodeRegistry* nodes) { ctx_->nodes = nodes; }

void AdminApi::start() { ctx_->executions.start(); }
void AdminApi::stop() { ctx_->executions.stop(); }

}  // namespace picloud::kernel::admin
