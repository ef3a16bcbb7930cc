#include "signed_urls.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>

#include "file_response.hpp"
#include "picloud/sdk/admin_routes.hpp"
#include "picloud/sdk/text.hpp"

namespace picloud::files {
namespace {

std::string signed_data(std::string_view collection, std::string_view name, std::int64_t expires) {
  std::string data = "files signed url\n";
  data += collection;
  data += '\n';
  data += name;
  data += '\n';
  data += std::to_string(expires);
  return data;
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

sdk::HttpResponse denied(std::string_view why) { return sdk::error_reply(403, "forbidden", why); }

}  // namespace

sdk::Result<std::string> signed_path(sdk::Keyring& keyring, std::string_view app, std::string_view collection,
                                     std::string_view name, std::int64_t expires) {
  auto sig = keyring.sign(app, signed_data(collection, name, expires));
  if (!sig) return sig.error();
  return std::string(kSignedPath) + "?collection=" + sdk::percent_encode(collection) +
         "&name=" + sdk::percent_encode(name) + "&expires=" + std::to_string(expires) +
         "&sig=" + sdk::base64url_encode(*sig);
}

sdk::Result<void> add_signed_url_route(sdk::PluginContext& ctx, FilesStore& store_ref) {
  FilesStore* store = &store_ref;  // the plugin owns it for as long as routes are served
  sdk::PluginContext* context = &ctx;
  sdk::HttpRoute route;
  route.method = "*";
  route.path = "/s";
  route.capability = std::string(sdk::kPublic);
  route.hosts = sdk::RouteHosts::apps;
  route.handler = sdk::with_error_replies([store, context](const sdk::HttpRequest& req) {
    if (req.method != "GET" && req.method != "HEAD") {
      auto r = sdk::error_reply(405, "method_not_allowed", "a signed URL answers GET and HEAD");
      r.headers.emplace_back("allow", "GET, HEAD");
      return r;
    }
    auto query = sdk::query_params(req.query);
    auto param = [&](const char* key) -> std::optional<std::string> {
      auto it = query.find(key);
      if (it == query.end()) return std::nullopt;
      return it->second;
    };
    auto collection = param("collection");
    auto name = param("name");
    std::optional<std::int64_t> expires;
    if (auto e = param("expires");
        e && !e->empty() && e->size() <= 18 && std::all_of(e->begin(), e->end(), [](unsigned char c) { return std::isdigit(c); }))
      expires = std::stoll(*e);
    auto sig = param("sig") ? sdk::base64url_decode(*param("sig")) : std::nullopt;
    if (!collection || !name || !expires || !sig)
      return denied("the URL's collection, name, expires or sig is missing or malformed");
    sdk::Keyring* keyring = context->keyring();
    if (!keyring || !keyring->verify(req.app_id, signed_data(*collection, *name, *expires), *sig))
      return denied("the URL's signature does not match");
    const std::int64_t left = *expires - now_s();
    if (left < 0) return denied("the URL has expired");
    if (!check_collection(*collection) || !check_name(*name)) return denied("the URL's signature does not match");
    // Cached no longer than the URL lives, and only by the browser.
    ServePolicy policy{ServePolicy::Disposition::inline_named, true, "private, max-age=" + std::to_string(left)};
    auto answer = unwrap_files(serve_file(*store, req.app_id, *collection, *name, req, policy));
    if (!answer) sdk::fail(404, "not_found", "no such file");
    return std::move(*answer);
  });
  return ctx.add_route(std::move(route));
}

}  // namespace picloud::files
