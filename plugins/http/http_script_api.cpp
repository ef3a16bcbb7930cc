#include "http_script_api.hpp"

#include <algorithm>
#include <array>

#include <picloud/sdk/json_parse.hpp>

namespace picloud::http {

using sdk::ErrorKind;
using sdk::ScriptType;
using sdk::Value;

namespace {

constexpr std::array kOptionKeys{"headers", "timeout_ms", "connect_timeout_ms", "follow_redirects", "max_redirects"};
constexpr std::array kRequestKeys{"method", "url", "body"};
constexpr std::array kMethods{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

sdk::Error bad_option(std::string message) {
  return sdk::make_error(ErrorKind::invalid_argument, "invalid_request", std::move(message));
}

std::string known_keys(bool with_request) {
  std::string out;
  auto add = [&](const char* k) { out += (out.empty() ? "" : ", ") + std::string(k); };
  if (with_request)
    for (auto k : kRequestKeys) add(k);
  for (auto k : kOptionKeys) add(k);
  return out;
}

sdk::Result<std::int64_t> int_option(const Value& options, const char* key, std::int64_t fallback, std::int64_t min,
                                     std::int64_t max) {
  const Value& v = options[key];
  if (v.is_null()) return fallback;
  if (!v.is_int() || v.as_int() < min || v.as_int() > max)
    return bad_option(std::string("option '") + key + "' must be an int from " + std::to_string(min) + " to " +
                      std::to_string(max));
  return v.as_int();
}

// A body and the type it is sent as: JSON for objects, arrays and other
// scalars, text for a string, octet-stream for bytes; null sends none.
void set_body(OutboundRequest& request, const Value& body) {
  if (body.is_null()) return;
  if (body.is_string()) {
    request.body = body.as_string();
    request.content_type = "text/plain; charset=utf-8";
  } else if (body.is_bytes()) {
    request.body = std::string(body.as_bytes().begin(), body.as_bytes().end());
    request.content_type = "application/octet-stream";
  } else {
    request.body = sdk::to_json(body);
    request.content_type = "application/json";
  }
}

// Reads the options object (null: all defaults) into the request; `whole`
// also takes method, url and body (http::request).
sdk::Result<void> read_options(const sdk::CallContext& call, const Value& options, bool whole,
                               const ScriptLimits& limits, OutboundRequest& request) {
  if (!options.is_null() && !options.is_object())
    return bad_option("options must be a JSON object, not " + std::string(sdk::to_string(options.type())));
  if (options.is_object()) {
    for (const auto& [key, _] : options.as_object()) {
      bool known = std::find(kOptionKeys.begin(), kOptionKeys.end(), key) != kOptionKeys.end() ||
                   (whole && std::find(kRequestKeys.begin(), kRequestKeys.end(), key) != kRequestKeys.end());
      if (!known) return bad_option("unknown option '" + key + "' (known: " + known_keys(whole) + ")");
    }
  }
  if (whole) {
    const Value& url = options["url"];
    if (!url.is_string()) return bad_option("http::request needs a 'url' string");
    request.url = url.as_string();
    const Value& method = options["method"];
    if (!method.is_null()) {
      if (!method.is_string()) return bad_option("option 'method' must be a string");
      std::string upper = method.as_string();
      std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
      if (std::find(kMethods.begin(), kMethods.end(), upper) == kMethods.end())
        return bad_option("method '" + method.as_string().substr(0, 32) +
                          "' is not supported (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)");
      request.method = upper;
    }
    set_body(request, options["body"]);
  }
  const Value& headers = options["headers"];
  if (!headers.is_null()) {
    if (!headers.is_object()) return bad_option("option 'headers' must be an object of name: value");
    for (const auto& [name, value] : headers.as_object()) {
      std::string text;
      if (value.is_string()) text = value.as_string();
      else if (value.is_int()) text = std::to_string(value.as_int());
      else return bad_option("header '" + name + "' must be a string or an int");
      request.headers.emplace_back(name, std::move(text));
    }
  }
  auto timeout = int_option(options, "timeout_ms", limits.default_timeout_ms, 1, limits.max_timeout_ms);
  if (!timeout) return timeout.error();
  auto connect = int_option(options, "connect_timeout_ms", 0, 1, limits.max_timeout_ms);
  if (!connect) return connect.error();
  auto redirects = int_option(options, "max_redirects", limits.default_max_redirects, 0, 20);
  if (!redirects) return redirects.error();
  const Value& follow = options["follow_redirects"];
  if (!follow.is_null() && !follow.is_bool()) return bad_option("option 'follow_redirects' must be a bool");
  // The request ends with the run at the latest.
  request.timeout_ms = std::min(*timeout, call.remaining_ms());
  request.deadline_ms = sdk::monotonic_ms() + request.timeout_ms;
  request.app_id = std::string(call.app_id);
  request.connect_timeout_ms = *connect;
  request.max_redirects = static_cast<int>(*redirects);
  request.follow_redirects = follow.bool_or(true);
  return {};
}

// The response handle's state: {status, headers, body (bytes), url,
// redirects}. Each member declares the fields it reads (self_fields), so
// reading r.status does not copy the body across the boundary.
Value response_state(InboundResponse&& response) {
  Value headers = Value::object();
  for (auto& [name, value] : response.headers) {
    auto& object = headers.as_object();
    auto it = object.find(name);
    if (it == object.end())
      object.emplace(name, Value(std::move(value)));
    else
      it->second = Value(it->second.as_string() + ", " + value);
  }
  sdk::Bytes body(response.body.begin(), response.body.end());
  return Value::object({{"status", Value(response.status)},
                        {"headers", std::move(headers)},
                        {"body", Value(std::move(body))},
                        {"url", Value(std::move(response.url))},
                        {"redirects", Value(response.redirects)}});
}

// Every request function: the capability, then the request, then a handle.
using Build = std::function<sdk::Result<void>(const sdk::CallContext&, std::span<const Value>, OutboundRequest&)>;

sdk::ScriptFunction request_function(HttpClient* client, sdk::AccessControl* access, Build build) {
  return [client, access, build = std::move(build)](const sdk::CallContext& call,
                                                    std::span<const Value> args) -> sdk::Result<Value> {
    if (auto ok = access->require(call, kRequestCapability); !ok) return ok.error();
    OutboundRequest request;
    if (auto ok = build(call, args, request); !ok) return ok.error();
    auto response = client->send(std::move(request));
    if (!response) return response.error();
    return response_state(std::move(*response));
  };
}

const Value& body_of(const Value& self) { return self["body"]; }

}  // namespace

sdk::Result<std::string> form_encode(const Value& fields) {
  if (!fields.is_object()) return bad_option("form fields must be a JSON object of name: value");
  static const char* kHex = "0123456789ABCDEF";
  auto encode = [](std::string& out, std::string_view text) {
    for (char c : text) {
      auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u) || c == '*' || c == '-' || c == '.' || c == '_') {
        out.push_back(c);
      } else if (c == ' ') {
        out.push_back('+');
      } else {
        out.push_back('%');
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 15]);
      }
    }
  };
  std::string out;
  for (const auto& [name, value] : fields.as_object()) {
    std::string text;
    if (value.is_string()) text = value.as_string();
    else if (value.is_int()) text = std::to_string(value.as_int());
    else if (value.is_float() || value.is_bool()) text = sdk::to_json(value);
    else return bad_option("form field '" + name + "' must be a string, number or bool");
    if (!out.empty()) out.push_back('&');
    encode(out, name);
    out.push_back('=');
    encode(out, text);
  }
  return out;
}

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, HttpClient& client_ref, sdk::AccessControl& access_ref,
                                     ScriptLimits limits) {
  HttpClient* client = &client_ref;  // the plugin owns both for as long as the engine can call these
  sdk::AccessControl* access = &access_ref;
  const sdk::ScriptParam url{"url", ScriptType::string};
  const sdk::ScriptParam body{"body", ScriptType::json, "", Value()};
  const sdk::ScriptParam options{"options", ScriptType::json, "", Value()};
  const std::string response_type = "http::Response";

  if (auto r = api.add_handle_type(
          {"http",
           "Response",
           {{"status", {}, ScriptType::integer, "",
             [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> {
               return self["status"];
             },
             "the HTTP status code (a non-2xx status is an answer, not an error)", true, {"status"}},
            {"ok", {}, ScriptType::boolean, "",
             [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> {
               auto status = self["status"].int_or(0);
               return Value(status >= 200 && status <= 299);
             },
             "whether the status is 2xx", true, {"status"}},
            {"headers", {}, ScriptType::json, "",
             [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> {
               return self["headers"];
             },
             "the response headers: an object of lower-case names, repeated headers joined with \", \"", true, {"headers"}},
            {"url", {}, ScriptType::string, "",
             [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> {
               return self["url"];
             },
             "the URL that answered, after redirects", true, {"url"}},
            {"redirects", {}, ScriptType::integer, "",
             [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> {
               return self["redirects"];
             },
             "how many redirects were followed", true, {"redirects"}},
            {"header", {{"name", ScriptType::string}}, ScriptType::string, "",
             [](const sdk::CallContext&, const Value& self, std::span<const Value> a) -> sdk::Result<Value> {
               std::string name = a[0].as_string();
               std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
               return Value(self["headers"][name].string_or(""));
             },
             "the header's value (any case of its name), or \"\" when absent", false, {"headers"}},
            {"text", {}, ScriptType::string, "",
             [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> {
               const auto& bytes = body_of(self).as_bytes();
               return Value(std::string(bytes.begin(), bytes.end()));
             },
             "the body as text", false, {"body"}},
            {"json", {}, ScriptType::json, "",
             [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> {
               const auto& bytes = body_of(self).as_bytes();
               auto parsed = sdk::parse_json(
                   std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
               if (!parsed)
                 return sdk::make_error(ErrorKind::invalid_argument, "the response body is not JSON: " +
                                                                         parsed.error().message);
               return parsed;
             },
             "the body parsed as JSON; throws when it is not JSON", false, {"body"}},
            {"bytes", {}, ScriptType::bytes, "",
             [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> {
               return body_of(self);
             },
             "the body as bytes", false, {"body"}}},
           "an HTTP response, read whole (at most [http] max_response_bytes)"});
      !r)
    return r;

  // get and head send no body; post, put, patch and delete may.
  auto without_body = [&](const char* name, const char* method, const char* doc) {
    return api.add_function(
        {"http", name, {url, options}, ScriptType::handle, response_type,
         request_function(client, access,
                          [limits, method](const sdk::CallContext& call, std::span<const Value> a,
                                           OutboundRequest& request) -> sdk::Result<void> {
                            request.method = method;
                            request.url = a[0].as_string();
                            return read_options(call, a[1], false, limits, request);
                          }),
         doc});
  };
  auto with_body = [&](const char* name, const char* method, const char* doc) {
    return api.add_function(
        {"http", name, {url, body, options}, ScriptType::handle, response_type,
         request_function(client, access,
                          [limits, method](const sdk::CallContext& call, std::span<const Value> a,
                                           OutboundRequest& request) -> sdk::Result<void> {
                            request.method = method;
                            request.url = a[0].as_string();
                            set_body(request, a[1]);
                            return read_options(call, a[2], false, limits, request);
                          }),
         doc});
  };
  const char* body_doc = "; the body is sent as JSON (object, array, number, bool), text (string) or "
                         "application/octet-stream (bytes), or not at all (null)";
  if (auto r = without_body("get", "GET", "sends a GET request; options: headers, timeout_ms, connect_timeout_ms, "
                                          "follow_redirects, max_redirects");
      !r)
    return r;
  if (auto r = without_body("head", "HEAD", "sends a HEAD request (the response has no body)"); !r) return r;
  for (auto [name, method] : {std::pair{"post", "POST"}, {"put", "PUT"}, {"patch", "PATCH"}, {"delete", "DELETE"}}) {
    std::string doc = std::string("sends a ") + method + " request" + body_doc;
    if (auto r = with_body(name, method, doc.c_str()); !r) return r;
  }
  if (auto r = api.add_function(
          {"http", "post_form", {url, {"fields", ScriptType::json}, options}, ScriptType::handle, response_type,
           request_function(client, access,
                            [limits](const sdk::CallContext& call, std::span<const Value> a,
                                     OutboundRequest& request) -> sdk::Result<void> {
                              auto form = form_encode(a[1]);
                              if (!form) return form.error();
                              request.method = "POST";
                              request.url = a[0].as_string();
                              request.body = std::move(*form);
                              request.content_type = "application/x-www-form-urlencoded";
                              return read_options(call, a[2], false, limits, request);
                            }),
           "POSTs the object's fields as application/x-www-form-urlencoded"});
      !r)
    return r;
  return api.add_function(
      {"http", "request", {{"spec", ScriptType::json}}, ScriptType::handle, response_type,
       request_function(client, access,
                        [limits](const sdk::CallContext& call, std::span<const Value> a,
                                 OutboundRequest& request) -> sdk::Result<void> {
                          return read_options(call, a[0], true, limits, request);
                        }),
       "sends the request an object describes: url, method (default GET), body, and the options of http::get"});
}

}  // namespace picloud::http
