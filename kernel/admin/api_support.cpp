#include "kernel/admin/api_support.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "kernel/admin/secrets.hpp"
#include "kernel/json_text.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::admin {
namespace {

constexpr int kMaxJsonDepth = 32;
// Text the kernel wrote itself (execution logs, filters) nests no deeper.
constexpr int kMaxStoredJsonDepth = 512;

std::string_view type_word(const sdk::Value& v) {
  switch (v.type()) {
    case sdk::ValueType::null: return "null";
    case sdk::ValueType::boolean: return "a boolean";
    case sdk::ValueType::integer:
    case sdk::ValueType::number: return "a number";
    case sdk::ValueType::string: return "a string";
    case sdk::ValueType::array: return "an array";
    case sdk::ValueType::object: return "an object";
    case sdk::ValueType::bytes: return "bytes";
  }
  return "a value";
}

// The path of the first string holding U+0000 ("name", "hostnames[1]"), or
// empty. Neither database stores it alike (PostgreSQL not at all).
std::string nul_path(const sdk::Value& v, const std::string& at) {
  if (v.is_string()) return v.as_string().find('\0') == std::string::npos ? "" : (at.empty() ? "the body" : at);
  if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (auto p = nul_path(v[i], at + "[" + std::to_string(i) + "]"); !p.empty()) return p;
  }
  if (v.is_object()) {
    for (const auto& [k, child] : v.as_object())
      if (auto p = nul_path(child, at.empty() ? k : at + "." + k); !p.empty()) return p;
  }
  return "";
}

}  // namespace

sdk::HttpResponse error_body(int status, std::string_view code, std::string_view message, const sdk::Value& details) {
  sdk::Value body = sdk::Value::object(
      {{"error", sdk::Value::object({{"code", std::string(code)}, {"message", std::string(message)}, {"details", details}})}});
  return sdk::HttpResponse::json(status, sdk::to_json(body));
}

sdk::HttpResponse json_response(int status, const sdk::Value& body) {
  return sdk::HttpResponse::json(status, sdk::to_json(body));
}

sdk::HttpResponse no_content() { return sdk::HttpResponse{204, {}, ""}; }

void fail(int status, std::string code, std::string message, sdk::Value details) {
  throw ApiError{status, std::move(code), std::move(message), std::move(details)};
}

void fail_field(std::string_view field, std::string message) {
  fail(400, "invalid_field", std::string(field) + ": " + message, sdk::Value::object({{"field", std::string(field)}}));
}

void not_found(std::string_view what, std::string_view name) {
  fail(404, "not_found", std::string(what) + " '" + std::string(name) + "' not found");
}

void fail_storage(const sdk::Error& error) {
  switch (error.kind) {
    case sdk::ErrorKind::conflict: fail(409, "conflict", error.message);
    case sdk::ErrorKind::not_found: fail(404, "not_found", error.message);
    case sdk::ErrorKind::unavailable: fail(503, "unavailable", "the database is unavailable: " + error.message);
    case sdk::ErrorKind::invalid_argument: fail(400, "bad_request", error.message);
    default: fail(500, "internal", "internal error: " + error.message);
  }
}

sdk::Value json_body(const sdk::HttpRequest& request) {
  auto type = to_lower(request.header("content-type"));
  auto semi = type.find(';');
  std::string base = type.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.pop_back();
  if (base != "application/json")
    fail(415, "unsupported_media_type",
         "the request body must be JSON (Content-Type: application/json), got '" + std::string(request.header("content-type")) +
             "'");
  if (request.body.empty()) fail(400, "bad_request", "the request body is empty; expected a JSON object");
  auto parsed = parse_json(request.body, kMaxJsonDepth, JsonStrictness::request);
  if (!parsed) fail(400, "bad_request", parsed.error().message);
  sdk::Value value = std::move(*parsed);
  if (!value.is_object()) fail(400, "bad_request", "the request body must be a JSON object");
  if (auto at = nul_path(value, ""); !at.empty())
    fail_field(at, "holds the NUL character (U+0000), which cannot be stored");
  return value;
}

sdk::Value parse_stored_json(const std::string& text) {
  auto parsed = parse_json(text, kMaxStoredJsonDepth, JsonStrictness::stored);
  return parsed ? std::move(*parsed) : sdk::Value();
}

const sdk::Value* Fields::get(std::string_view name, bool required) {
  read_.emplace(name);
  auto it = object_.find(name);
  if (it == object_.end()) {
    if (required)
      fail(400, "missing_field", std::string(name) + " is required", sdk::Value::object({{"field", std::string(name)}}));
    return nullptr;
  }
  if (it->second.is_null()) {
    if (required) fail_field(name, "must not be null");
    return nullptr;
  }
  return &it->second;
}

bool Fields::has(std::string_view name) { return object_.count(name) > 0; }

sdk::Value Fields::json(std::string_view name) {
  const sdk::Value* v = get(name, false);
  return v ? *v : sdk::Value();
}

bool Fields::is_null(std::string_view name) {
  auto it = object_.find(name);
  return it != object_.end() && it->second.is_null();
}

std::optional<std::string> Fields::string(std::string_view name, bool required) {
  const auto* v = get(name, required);
  if (!v) return std::nullopt;
  if (!v->is_string()) fail_field(name, "must be a string, not " + std::string(type_word(*v)));
  return v->as_string();
}

std::optional<bool> Fields::boolean(std::string_view name, bool required) {
  const auto* v = get(name, required);
  if (!v) return std::nullopt;
  if (!v->is_bool()) fail_field(name, "must be true or false, not " + std::string(type_word(*v)));
  return v->as_bool();
}

std::optional<std::int64_t> Fields::integer(std::string_view name, bool required) {
  const auto* v = get(name, required);
  if (!v) return std::nullopt;
  if (!v->is_int()) fail_field(name, "must be an integer, not " + std::string(type_word(*v)));
  return v->as_int();
}

std::optional<std::vector<std::string>> Fields::strings(std::string_view name, bool required) {
  const auto* v = get(name, required);
  if (!v) return std::nullopt;
  if (!v->is_array()) fail_field(name, "must be an array of strings, not " + std::string(type_word(*v)));
  std::vector<std::string> out;
  for (const auto& item : v->as_array()) {
    if (!item.is_string()) fail_field(name, "must be an array of strings; found " + std::string(type_word(item)));
    out.push_back(item.as_string());
  }
  return out;
}

void Fields::finish() const {
  for (const auto& [key, _] : object_)
    if (!read_.count(key))
      fail(400, "unknown_field", "unknown field '" + key + "'", sdk::Value::object({{"field", key}}));
}

std::map<std::string, std::string> query_params(const sdk::HttpRequest& request,
                                                const std::set<std::string, std::less<>>& allowed) {
  std::map<std::string, std::string> out;
  std::string_view q = request.query;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string name, value;
    try {
      Poco::URI::decode(std::string(pair.substr(0, eq)), name, true);
      if (eq != std::string_view::npos) Poco::URI::decode(std::string(pair.substr(eq + 1)), value, true);
    } catch (const Poco::Exception&) {
      fail(400, "bad_request", "the query string is not valid");
    }
    if (!allowed.count(name)) {
      std::string known;
      for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
      fail(400, "unknown_parameter", "unknown query parameter '" + name + "'" + (known.empty() ? "" : " (known: " + known + ")"),
           sdk::Value::object({{"parameter", name}}));
    }
    if (out.count(name)) fail(400, "bad_request", "query parameter '" + name + "' given twice");
    out.emplace(std::move(name), std::move(value));
  }
  return out;
}

Page read_page(const std::map<std::string, std::string>& query) {
  Page page;
  if (auto it = query.find("limit"); it != query.end()) {
    const auto& text = it->second;
    bool digits = !text.empty() && text.size() <= 4 && text.find_first_not_of("0123456789") == std::string::npos;
    int n = digits ? std::stoi(text) : 0;
    if (n < 1 || n > 200) fail(400, "invalid_parameter", "limit must be a whole number from 1 to 200",
                               sdk::Value::object({{"parameter", "limit"}}));
    page.limit = n;
  }
  if (auto it = query.find("cursor"); it != query.end() && !it->second.empty()) {
    if (it->second.size() > 200 || !base64url_decode(it->second, page.after) || page.after.empty())
      fail(400, "invalid_parameter", "cursor is not one this API returned", sdk::Value::object({{"parameter", "cursor"}}));
  }
  return page;
}

sdk::HttpResponse page_response(sdk::Array items, const Page& page, const std::string& last) {
  bool full = static_cast<int>(items.size()) == page.limit && !last.empty();
  return json_response(200, sdk::Value::object({{"items", std::move(items)},
                                                {"next_cursor", full ? sdk::Value(base64url_encode(last)) : sdk::Value()}}));
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace picloud::kernel::admin
