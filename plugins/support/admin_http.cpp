#include "support/admin_http.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "picloud/sdk/json.hpp"
#include "support/json_text.hpp"

namespace picloud::plugin_support {

void fail(int status, std::string code, std::string message) {
  throw HttpFailure{status, std::move(code), std::move(message)};
}

void fail(const sdk::Error& error) {
  switch (error.kind) {
    case sdk::ErrorKind::invalid_argument:
      fail(400, "bad_request", error.message);
    case sdk::ErrorKind::forbidden:
      fail(403, "forbidden", error.message);
    case sdk::ErrorKind::not_found:
      fail(404, "not_found", error.message);
    case sdk::ErrorKind::conflict:
      fail(409, "conflict", error.message);
    case sdk::ErrorKind::unavailable:
      fail(503, "unavailable", error.message);
    case sdk::ErrorKind::internal:
      break;
  }
  fail(500, "internal", "internal error: " + error.message);
}

sdk::HttpResponse json_reply(int status, const sdk::Value& body) {
  return sdk::HttpResponse::json(status, sdk::to_json(body));
}

sdk::HttpResponse error_reply(int status, std::string_view code, std::string_view message) {
  return json_reply(status, sdk::Value::object({{"error", sdk::Value::object({{"code", std::string(code)},
                                                                              {"message", std::string(message)},
                                                                              {"details", sdk::Value::object()}})}}));
}

sdk::CallContext admin_call(const sdk::HttpRequest& request) {
  return sdk::CallContext{request.params.at("app"), request.principal, "", request.request_id, 0, nullptr};
}

sdk::HttpHandler guarded(std::function<sdk::HttpResponse(const sdk::HttpRequest&)> handler) {
  return [handler = std::move(handler)](const sdk::HttpRequest& request) {
    try {
      return handler(request);
    } catch (const HttpFailure& f) {
      return error_reply(f.status, f.code, f.message);
    } catch (const std::exception&) {
      return error_reply(500, "internal", "internal error");
    }
  };
}

std::map<std::string, std::string> query_params(std::string_view raw) {
  std::map<std::string, std::string> out;
  auto decode = [](std::string_view part) {
    std::string plus(part);
    std::replace(plus.begin(), plus.end(), '+', ' ');
    std::string text;
    try {
      Poco::URI::decode(plus, text);
    } catch (const Poco::Exception&) {
      fail(400, "bad_request", "malformed query string");
    }
    return text;
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

sdk::Value json_object_body(const sdk::HttpRequest& request) {
  std::string type(request.header("content-type"));
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (type != "application/json")
    fail(415, "unsupported_media_type",
         "the request body must be JSON (Content-Type: application/json), got "
         "'" +
             std::string(request.header("content-type")) + "'");
  if (request.body.empty()) fail(400, "bad_request", "the request body is empty; expected a JSON object");
  auto body = parse_json(request.body, kMaxJsonDepth, JsonStrictness::request);
  if (!body) fail(400, "bad_request", body.error().message);
  if (!body->is_object()) fail(400, "bad_request", "the request body must be a JSON object");
  return std::move(*body);
}

std::string encode_cursor(std::string_view position) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(position.data(), static_cast<std::streamsize>(position.size()));
  encoder.close();
  return out.str();
}

std::optional<std::string> decode_cursor(std::string_view cursor) {
  for (char c : cursor)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return std::nullopt;
  std::istringstream in{std::string(cursor)};
  Poco::Base64Decoder decoder(in, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  std::string out;
  try {
    out.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
  return out;
}

PageQuery page_query(const std::map<std::string, std::string>& query, std::int64_t fallback, std::int64_t max) {
  PageQuery page{"", fallback};
  if (auto it = query.find("limit"); it != query.end()) {
    try {
      std::size_t used = 0;
      page.limit = std::stoll(it->second, &used);
      if (used != it->second.size()) page.limit = -1;
    } catch (const std::exception&) {
      page.limit = -1;
    }
    if (page.limit < 1 || page.limit > max)
      fail(400, "invalid_field", "limit: must be a whole number from 1 to " + std::to_string(max));
  }
  if (auto it = query.find("cursor"); it != query.end() && !it->second.empty()) {
    auto after = decode_cursor(it->second);
    if (!after) fail(400, "invalid_field", "cursor: malformed (pass back the next_cursor of an earlier page)");
    page.after = std::move(*after);
  }
  return page;
}

sdk::Value next_cursor(const std::optional<std::string>& last) {
  return last ? sdk::Value(encode_cursor(*last)) : sdk::Value();
}

std::string rfc3339(std::int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return text;
}

}  // namespace picloud::plugin_support
