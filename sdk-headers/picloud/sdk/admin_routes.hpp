// Helpers for a plugin's admin routes, so they answer as the kernel's own
// do: the one error shape {"error": {"code", "message", "details"}}, strict
// JSON bodies, decoded query parameters, opaque cursors and pages.
//
// A handler wrapped with with_error_replies() may throw HttpFailure (fail(),
// unwrap()); it becomes the error reply, and any other exception a 500 that
// names no internals.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/json_parse.hpp"
#include "picloud/sdk/plugin.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/text.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::sdk {

struct HttpFailure {
  int status;
  std::string code;
  std::string message;
};

[[noreturn]] inline void fail(int status, std::string code, std::string message) {
  throw HttpFailure{status, std::move(code), std::move(message)};
}

// An SDK error as its status: invalid_argument 400, forbidden 403,
// not_found 404, conflict 409, unavailable 503, internal 500 (whose message
// is logged by the kernel's request log only as "internal error: ...").
[[noreturn]] inline void fail(const Error& error) {
  switch (error.kind) {
    case ErrorKind::invalid_argument: fail(400, "bad_request", error.message);
    case ErrorKind::forbidden: fail(403, "forbidden", error.message);
    case ErrorKind::not_found: fail(404, "not_found", error.message);
    case ErrorKind::conflict: fail(409, "conflict", error.message);
    case ErrorKind::unavailable: fail(503, "unavailable", error.message);
    case ErrorKind::internal: break;
  }
  fail(500, "internal", "internal error: " + error.message);
}

template <typename T>
T unwrap(Result<T> r) {
  if (!r) fail(r.error());
  return std::move(*r);
}
inline void unwrap(Result<void> r) {
  if (!r) fail(r.error());
}

// Declares a dashboard view written as JSON text (PluginContext::
// add_admin_view, docs/plugin-sdk.md "Views in the dashboard"); text that
// is not JSON is the error, and so configure() fails on it.
inline Result<void> add_admin_view_json(PluginContext& ctx, std::string_view json) {
  auto view = parse_json(json);
  if (!view) return make_error(ErrorKind::invalid_argument, "the admin view is not JSON: " + view.error().message);
  return ctx.add_admin_view(std::move(*view));
}

inline HttpResponse json_reply(int status, const Value& body) { return HttpResponse::json(status, to_json(body)); }

inline HttpResponse error_reply(int status, std::string_view code, std::string_view message) {
  return json_reply(status, Value::object({{"error", Value::object({{"code", std::string(code)},
                                                                    {"message", std::string(message)},
                                                                    {"details", Value::object()}})}}));
}

// The call context of an admin-route write: the route's app (its `{app}`
// parameter), acting for the signed-in principal, at trigger depth 0.
inline CallContext admin_call(const HttpRequest& request) {
  return CallContext{request.params.at("app"), request.principal, "", request.request_id, 0, nullptr};
}

inline HttpHandler with_error_replies(std::function<HttpResponse(const HttpRequest&)> handler) {
  return [handler = std::move(handler)](const HttpRequest& request) {
    try {
      return handler(request);
    } catch (const HttpFailure& f) {
      return error_reply(f.status, f.code, f.message);
    } catch (const std::exception&) {
      return error_reply(500, "internal", "internal error");
    }
  };
}

// The query string's parameters, percent-decoded ('+' is a space); a
// repeated name keeps its last value. 400 when an escape is malformed.
inline std::map<std::string, std::string> query_params(std::string_view raw) {
  std::map<std::string, std::string> out;
  auto decode = [](std::string_view part) {
    auto text = percent_decode(part);
    if (!text) fail(400, "bad_request", "malformed query string");
    return std::move(*text);
  };
  std::size_t at = 0;
  while (at < raw.size()) {
    std::size_t end = raw.find('&', at);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view part = raw.substr(at, end - at);
    if (!part.empty()) {
      std::size_t eq = part.find('=');
      if (eq == std::string_view::npos)
        out[decode(part)] = "";
      else
        out[decode(part.substr(0, eq))] = decode(part.substr(eq + 1));
    }
    at = end + 1;
  }
  return out;
}

// The body as a JSON object: 415 unless the content type is JSON, 400 when
// it is empty, malformed or not an object.
inline Value json_object_body(const HttpRequest& request) {
  std::string type(request.header("content-type"));
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (type != "application/json")
    fail(415, "unsupported_media_type",
         "the request body must be JSON (Content-Type: application/json), got '" +
             std::string(request.header("content-type")) + "'");
  if (request.body.empty()) fail(400, "bad_request", "the request body is empty; expected a JSON object");
  auto body = parse_json(request.body, kMaxJsonDepth, JsonStrictness::request);
  if (!body) fail(400, "bad_request", body.error().message);
  if (!body->is_object()) fail(400, "bad_request", "the request body must be a JSON object");
  return std::move(*body);
}

// Cursors are positions (a key, a name) wrapped so clients treat them as
// opaque: base64url without padding. Decoding gives nothing for a cursor
// that is not one.
inline std::string encode_cursor(std::string_view position) { return base64url_encode(position); }
inline std::optional<std::string> decode_cursor(std::string_view cursor) { return base64url_decode(cursor); }

// A page of an admin listing from ?limit= (1 to `max`, `fallback` when
// absent) and ?cursor= (a position from encode_cursor); 400 naming the
// parameter when either is malformed.
struct PageQuery {
  std::string after;  // empty: from the start
  std::int64_t limit = 0;
};
inline PageQuery page_query(const std::map<std::string, std::string>& query, std::int64_t fallback, std::int64_t max) {
  PageQuery page{"", fallback};
  if (auto it = query.find("limit"); it != query.end()) {
    const std::string& text = it->second;
    std::int64_t n = 0;
    bool digits = !text.empty() && text.size() <= 18 &&
                  std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
    if (digits)
      for (char c : text) n = n * 10 + (c - '0');
    if (!digits || n < 1 || n > max)
      fail(400, "invalid_field", "limit: must be a whole number from 1 to " + std::to_string(max));
    page.limit = n;
  }
  if (auto it = query.find("cursor"); it != query.end() && !it->second.empty()) {
    auto after = decode_cursor(it->second);
    if (!after) fail(400, "invalid_field", "cursor: malformed (pass back the next_cursor of an earlier page)");
    page.after = std::move(*after);
  }
  return page;
}

// The cursor of the page after `last`, or null when there is none.
inline Value next_cursor(const std::optional<std::string>& last) {
  return last ? Value(encode_cursor(*last)) : Value();
}

}  // namespace picloud::sdk
