// What the built-in plugins' admin routes share with the kernel's own: the
// one error shape {"error": {"code", "message", "details"}}, strict JSON
// bodies, decoded query parameters and opaque cursors.
//
// Handlers throw HttpFailure (fail(), unwrap()); guarded() turns it into the
// error reply, and any other exception into a 500 that names no internals.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::plugin_support {

struct HttpFailure {
  int status;
  std::string code;
  std::string message;
};

[[noreturn]] void fail(int status, std::string code, std::string message);
// An SDK error as its status: invalid_argument 400, forbidden 403,
// not_found 404, conflict 409, unavailable 503, internal 500.
[[noreturn]] void fail(const sdk::Error& error);

template <typename T>
T unwrap(sdk::Result<T> r) {
  if (!r) fail(r.error());
  return std::move(*r);
}
inline void unwrap(sdk::Result<void> r) {
  if (!r) fail(r.error());
}

sdk::HttpResponse json_reply(int status, const sdk::Value& body);
sdk::HttpResponse error_reply(int status, std::string_view code, std::string_view message);

// The call context of an admin-route write: the route's app, acting for the
// signed-in principal, at trigger depth 0.
sdk::CallContext admin_call(const sdk::HttpRequest& request);

sdk::HttpHandler guarded(std::function<sdk::HttpResponse(const sdk::HttpRequest&)> handler);

// The query string's parameters, percent-decoded ('+' is a space); a
// repeated name keeps its last value.
std::map<std::string, std::string> query_params(std::string_view raw);

// The body as a JSON object: 415 unless the content type is JSON, 400 when it
// is empty, malformed or not an object.
sdk::Value json_object_body(const sdk::HttpRequest& request);

// Cursors are positions (a key, a name) wrapped so clients treat them as
// opaque: base64url without padding. Decoding gives nothing for a cursor
// that is not one.
std::string encode_cursor(std::string_view position);
std::optional<std::string> decode_cursor(std::string_view cursor);

// A page of an admin listing from ?limit= (1 to `max`, `fallback` when
// absent) and ?cursor= (a position from encode_cursor); 400 naming the
// parameter when either is malformed.
struct PageQuery {
  std::string after;  // empty: from the start
  std::int64_t limit = 0;
};
PageQuery page_query(const std::map<std::string, std::string>& query, std::int64_t fallback, std::int64_t max);
// The cursor of the page after `last`, or null when there is none.
sdk::Value next_cursor(const std::optional<std::string>& last);

// Milliseconds since the epoch as RFC 3339 UTC with milliseconds.
std::string rfc3339(std::int64_t ms);

}  // namespace picloud::plugin_support
