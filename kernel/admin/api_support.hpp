// What every admin endpoint shares: the one error shape, strict JSON bodies
// (unknown fields and wrong types are refused by name), query parameters,
// cursor pagination and the mapping of storage errors to statuses.
//
// Handlers throw ApiError; the wrapper that registers them turns it (and an
// unexpected exception) into the error response.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel::admin {

struct ApiError {
  int status;
  std::string code;
  std::string message;
  sdk::Value details = sdk::Value::object();
};

// {"error": {"code", "message", "details"}}
sdk::HttpResponse error_body(int status, std::string_view code, std::string_view message,
                             const sdk::Value& details = sdk::Value::object());
sdk::HttpResponse json_response(int status, const sdk::Value& body);
sdk::HttpResponse no_content();

[[noreturn]] void fail(int status, std::string code, std::string message, sdk::Value details = sdk::Value::object());
[[noreturn]] void fail_field(std::string_view field, std::string message);
[[noreturn]] void not_found(std::string_view what, std::string_view name);

// A storage error becomes 409 (conflict), 404, 503 (unavailable) or 500.
[[noreturn]] void fail_storage(const sdk::Error& error);
template <typename T>
T unwrap(sdk::Result<T> r) {
  if (!r) fail_storage(r.error());
  return std::move(*r);
}
inline void unwrap(sdk::Result<void> r) {
  if (!r) fail_storage(r.error());
}

// Parses a JSON object body: 415 unless the content type is JSON, 400 when
// it is not well-formed JSON or not an object.
sdk::Value json_body(const sdk::HttpRequest& request);

// Parses JSON text the kernel wrote itself; null when it is not JSON.
sdk::Value parse_stored_json(const std::string& text);

// Reads the fields of a request object, naming the field in every error.
// finish() refuses any field that was not read.
class Fields {
 public:
  explicit Fields(const sdk::Value& object) : object_(object.as_object()) {}
  bool has(std::string_view name);
  bool is_null(std::string_view name);
  std::optional<std::string> string(std::string_view name, bool required = false);
  std::optional<bool> boolean(std::string_view name, bool required = false);
  std::optional<std::int64_t> integer(std::string_view name, bool required = false);
  std::optional<std::vector<std::string>> strings(std::string_view name, bool required = false);
  // Any JSON value; null when absent or null.
  sdk::Value json(std::string_view name);
  void finish() const;

 private:
  const sdk::Value* get(std::string_view name, bool required);
  const sdk::Object& object_;
  std::set<std::string, std::less<>> read_;
};

// The query string's parameters; any name outside `allowed` is a 400.
std::map<std::string, std::string> query_params(const sdk::HttpRequest& request,
                                                const std::set<std::string, std::less<>>& allowed);

// ?limit= (1..200, default 50) and ?cursor= (opaque; decoded here).
struct Page {
  int limit = 50;
  std::string after;  // the decoded cursor, empty for the first page
};
Page read_page(const std::map<std::string, std::string>& query);
// 200 {"items": [...], "next_cursor": ...}: `last` is the position of the
// page's last item; it becomes the next cursor when the page is full (a
// full last page is followed by an empty one with a null cursor).
sdk::HttpResponse page_response(sdk::Array items, const Page& page, const std::string& last);

std::string to_lower(std::string_view text);

}  // namespace picloud::kernel::admin
