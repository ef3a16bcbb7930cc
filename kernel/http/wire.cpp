#include "kernel/http/wire.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Timestamp.h>

#include <cctype>
#include <ctime>
#include <strings.h>

namespace picloud::kernel::http {
namespace {

// The Date header changes once a second: format it once per second per thread.
const std::string& http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    cached = Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(now), Poco::DateTimeFormat::HTTP_FORMAT);
  }
  return cached;
}

bool is_token_char(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::string_view kNames[] = {"connection", "keep-alive",     "transfer-encoding", "te",
                                                "trailer",    "upgrade",        "content-length",    "proxy-connection",
                                                "proxy-authenticate", "proxy-authorization"};
  auto same = [&](std::string_view other) {
    return name.size() == other.size() && strncasecmp(name.data(), other.data(), name.size()) == 0;
  };
  for (auto n : kNames)
    if (same(n)) return true;
  return name.size() >= 6 && strncasecmp(name.data(), "proxy-", 6) == 0;
}

bool status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

bool valid_header(const std::string& name, const std::string& value) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (!is_token_char(c)) return false;
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

namespace {

// Poco's table lacks a few codes (and answers "???" for them); a status
// without a known phrase gets an empty one, which HTTP/1.1 allows.
std::string_view reason_phrase(int status) {
  switch (status) {
    case 308: return "Permanent Redirect";
    case 421: return "Misdirected Request";
    case 425: return "Too Early";
    default: break;
  }
  const std::string& poco = Poco::Net::HTTPResponse::getReasonForStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  return poco == "???" ? std::string_view{} : std::string_view(poco);
}

}  // namespace

bool serialize_response(const sdk::HttpResponse& response, const WireOptions& options, std::string& out) {
  out.clear();
  const int status = response.status;
  if (status < 200 || status > 599) return false;
  const bool body = status_has_body(status);
  out.reserve(160 + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nDate: ";
  out += http_date();
  out += "\r\n";
  for (const auto& [name, value] : response.headers) {
    if (!valid_header(name, value)) {
      out.clear();
      return false;
    }
    if (is_hop_by_hop(name)) continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!options.request_id.empty()) {
    out += "X-Request-Id: ";
    out += options.request_id;
    out += "\r\n";
  }
  if (!options.keep_alive)
    out += "Connection: close\r\n";
  else if (options.http10)
    out += "Connection: Keep-Alive\r\n";
  // A stream's body follows (the server sends it); of unknown length it is
  // chunked, or to a 1.0 client delimited by the connection's close.
  const std::int64_t length =
      response.stream ? response.stream->length() : static_cast<std::int64_t>(response.body.size());
  if (options.until_close) {
    // A taken-over connection: `body` is the stream's first bytes, more
    // follow until the connection closes.
  } else if (body && length >= 0) {
    out += "Content-Length: ";
    out += std::to_string(length);
    out += "\r\n";
  } else if (body && !options.http10) {
    out += "Transfer-Encoding: chunked\r\n";
  }
  out += "\r\n";
  if (body && !options.head && !response.stream) out += response.body;
  return true;
}

}  // namespace picloud::kernel::http
