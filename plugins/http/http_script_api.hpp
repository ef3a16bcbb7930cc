// The http:: script namespace: fetch-style outbound requests.
//
//   http::Response@ r = http::get("https://api.example.com/items", {{"headers", {{"Accept", "application/json"}}}});
//   if (r.status == 200) items = r.json();
//
// A non-2xx answer is a response, not an error; a refused, failed, timed-out
// or oversized request throws, its message starting with the category
// (blocked, network, timeout, tls, too_large, redirect, invalid_url).
#pragma once

#include <cstdint>
#include <string_view>

#include <picloud/sdk.hpp>

#include "http_client.hpp"

namespace picloud::http {

inline constexpr std::string_view kRequestCapability = "http.request";

struct ScriptLimits {
  std::int64_t default_timeout_ms = 30000;
  std::int64_t max_timeout_ms = 120000;
  int default_max_redirects = 5;
};

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, HttpClient& client, sdk::AccessControl& access,
                                     ScriptLimits limits);

// application/x-www-form-urlencoded text of an object's fields (strings,
// numbers and bools); invalid_argument for anything else.
sdk::Result<std::string> form_encode(const sdk::Value& fields);

}  // namespace picloud::http
