// The http plugin: outbound HTTP for scripts (http::get, post, ..., request,
// post_form), guarded against server-side request forgery. Built on the SDK
// alone, like any third-party plugin. See docs/http.md.
//
// Config ([http] in the config file, or PICLOUD_HTTP_<KEY>):
//   max_request_bytes    largest request body (default 10 MiB)
//   max_response_bytes   largest response body, counted as it arrives (10 MiB)
//   default_timeout_ms   a request's whole time unless it says (30000)
//   max_timeout_ms       the most a request may ask for (120000); a request
//                        never outlives its run either way
//   connect_timeout_ms   connecting and the TLS handshake (10000)
//   max_redirects        default redirects followed (5; a request may say 0-20)
//   pool                 keep connections alive between requests (true)
//   pool_max_idle_per_origin, pool_max_idle, pool_idle_timeout_ms
//   allow_private        let requests reach private, loopback and other
//                        internal addresses (false; for development only)
//   allow_cidrs, deny_cidrs   comma-separated CIDRs let through / refused
//   allow_hosts, deny_hosts   comma-separated names ("*.internal" for under it)
//   allow_ports, deny_ports   comma-separated ports (allow: empty is any)
//   ca_file              PEM certificates trusted besides the system's store
#include <sys/stat.h>

#include <memory>
#include <picloud/sdk.hpp>

#include "address_guard.hpp"
#include "http_client.hpp"
#include "http_script_api.hpp"

namespace {

using namespace picloud;
using sdk::ErrorKind;
using sdk::Result;

constexpr std::int64_t kUpkeepIntervalMs = 10000;

class HttpPlugin final : public sdk::Plugin {
 public:
  Result<void> configure(sdk::PluginContext& ctx) override {
    auto& config = ctx.config();
    auto rules = read_rules(config);
    if (!rules) return rules.error();
    http::ClientLimits limits;
    auto request_bytes = config.get_int("max_request_bytes", limits.max_request_bytes, 0, 1LL << 30);
    if (!request_bytes) return request_bytes.error();
    auto response_bytes = config.get_int("max_response_bytes", limits.max_response_bytes, 0, 1LL << 30);
    if (!response_bytes) return response_bytes.error();
    auto connect = config.get_int("connect_timeout_ms", limits.connect_timeout_ms, 1, 600000);
    if (!connect) return connect.error();
    http::ScriptLimits script;
    auto max_timeout = config.get_int("max_timeout_ms", script.max_timeout_ms, 1, 3600 * 1000);
    if (!max_timeout) return max_timeout.error();
    auto timeout = config.get_int("default_timeout_ms", script.default_timeout_ms, 1, *max_timeout);
    if (!timeout) return timeout.error();
    auto redirects = config.get_int("max_redirects", script.default_max_redirects, 0, 20);
    if (!redirects) return redirects.error();
    http::PoolLimits pool;
    auto pooled = config.get_bool("pool", pool.enabled);
    if (!pooled) return pooled.error();
    auto per_origin = config.get_int("pool_max_idle_per_origin", pool.max_idle_per_origin, 1, 1024);
    if (!per_origin) return per_origin.error();
    auto idle = config.get_int("pool_max_idle", pool.max_idle, 1, 65536);
    if (!idle) return idle.error();
    auto idle_timeout = config.get_int("pool_idle_timeout_ms", pool.idle_timeout_ms, 1, 3600 * 1000);
    if (!idle_timeout) return idle_timeout.error();
    auto ca_file = config.get_string("ca_file", "");
    if (!ca_file) return ca_file.error();
    if (!ca_file->empty()) {
      struct stat st {};
      if (::stat(ca_file->c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return sdk::make_error(ErrorKind::invalid_argument,
                               "[http] ca_file '" + *ca_file + "' is not a readable file of PEM certificates");
    }
    limits = {*request_bytes, *response_bytes, *connect, std::string("picloud/") + PC_SDK_VERSION, *ca_file,
              std::string(ctx.install_dir()) + "/http/tls.so"};
    script = {*timeout, *max_timeout, static_cast<int>(*redirects)};
    pool = {*pooled, static_cast<int>(*per_origin), static_cast<int>(*idle), *idle_timeout};
    allow_private_ = rules->allow_private;

    if (!ctx.access()) return sdk::make_error(ErrorKind::internal, "the kernel lacks access control");
    if (auto r = ctx.add_capability({std::string(http::kRequestCapability), sdk::Access::app_editor, "app:write",
                                     "make outbound HTTP requests from an app's scripts"});
        !r)
      return r;
    client_ = std::make_unique<http::HttpClient>(http::AddressGuard(std::move(*rules)), std::move(limits), pool,
                                                 &ctx.logger());
    if (auto r = client_->tls().check(); !r) return r;
    client_->guard().refresh_local_addresses();
    auto& metrics = ctx.metrics();
    metrics.gauge("pooled_connections", "idle keep-alive connections kept for reuse",
                  [client = client_.get()] { return static_cast<double>(client->pool().idle_count()); });
    return http::declare_script_api(*ctx.script_api(), *client_, *ctx.access(), script);
  }

  Result<void> start(sdk::PluginContext& ctx) override {
    if (allow_private_)
      ctx.logger().warn(
          "[http] allow_private is on: scripts can reach this machine, its networks and cloud metadata "
          "services. Use it for development only.");
    // Idle connections the servers closed go; the machine's addresses are
    // read again (an interface may have come up or changed its address).
    ctx.tasks().every("upkeep", kUpkeepIntervalMs, [this] {
      client_->pool().sweep();
      client_->guard().refresh_local_addresses();
    });
    return {};
  }

  void stop() override {}

 private:
  static Result<http::GuardRules> read_rules(sdk::ConfigSection& config) {
    http::GuardRules rules;
    auto allow_private = config.get_bool("allow_private", false);
    if (!allow_private) return allow_private.error();
    rules.allow_private = *allow_private;
    for (auto [key, list] : {std::pair{"allow_cidrs", &rules.allow_cidrs}, {"deny_cidrs", &rules.deny_cidrs}}) {
      auto text = config.get_string(key, "");
      if (!text) return text.error();
      for (const auto& item : sdk::split_list(*text)) {
        auto cidr = http::parse_cidr(item);
        if (!cidr) return sdk::make_error(ErrorKind::invalid_argument, std::string("[http] ") + key + ": " + cidr.error().message);
        list->push_back(*cidr);
      }
    }
    for (auto [key, list] : {std::pair{"allow_hosts", &rules.allow_hosts}, {"deny_hosts", &rules.deny_hosts}}) {
      auto text = config.get_string(key, "");
      if (!text) return text.error();
      for (auto item : sdk::split_list(*text)) {
        for (auto& c : item) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (item.ends_with(".")) item.pop_back();
        if (item.empty() || item.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.*") != std::string::npos ||
            item.find('*', item.starts_with("*.") ? 1 : 0) != std::string::npos)
          return sdk::make_error(ErrorKind::invalid_argument, std::string("[http] ") + key + ": '" + item +
                                                                  "' is not a host name or *.domain pattern");
        list->push_back(item);
      }
    }
    for (auto [key, list] : {std::pair{"allow_ports", &rules.allow_ports}, {"deny_ports", &rules.deny_ports}}) {
      auto text = config.get_string(key, "");
      if (!text) return text.error();
      for (const auto& item : sdk::split_list(*text)) {
        int port = 0;
        bool ok = !item.empty() && item.size() <= 5 && item.find_first_not_of("0123456789") == std::string::npos;
        if (ok) port = std::stoi(item);
        if (!ok || port < 1 || port > 65535)
          return sdk::make_error(ErrorKind::invalid_argument,
                                 std::string("[http] ") + key + ": '" + item + "' is not a port (1-65535)");
        list->push_back(port);
      }
    }
    return rules;
  }

  std::unique_ptr<http::HttpClient> client_;
  bool allow_private_ = false;
};

}  // namespace

PICLOUD_PLUGIN(HttpPlugin, "http", "0.1.0", "", "")
