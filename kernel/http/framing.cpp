// The strict request parser and chunked decoder described in framing.hpp.
#include "kernel/http/framing.hpp"

#include <Poco/Net/HTTPRequest.h>
#include <Poco/String.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <vector>

namespace picloud::kernel::http {
namespace {

constexpr std::size_t kMaxMethod = 32;
constexpr int kMaxFields = 100;
constexpr std::size_t kMaxChunkLine = 4096;    // a size line or a trailer line
constexpr std::size_t kMaxTrailer = 16 << 10;  // the whole trailer section
constexpr std::size_t kMaxChunkDigits = 15;    // below 2^60: no overflow

bool is_tchar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!is_tchar(c)) return false;
  return true;
}
bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }
bool is_ows(char c) { return c == ' ' || c == '\t'; }

// A piece of the request for an error message: short, controls escaped.
std::string shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 40)) {
    if (is_ctl(c) || c >= 0x80) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 40) out += "...";
  return out;
}

// Takes the next CRLF-ended line off the front of `rest` (without its CRLF).
std::string next_line(std::string_view& rest, std::string_view& line) {
  auto eol = rest.find('\n');
  if (eol == std::string_view::npos) return "the request header is incomplete";
  if (eol == 0 || rest[eol - 1] != '\r') return "a line ends in a bare LF (lines must end in CRLF)";
  line = rest.substr(0, eol - 1);
  rest.remove_prefix(eol + 1);
  return {};
}

// One header (or trailer) line: `name ":" OWS value OWS`.
std::string parse_field(std::string_view line, std::string_view& name, std::string_view& value) {
  if (!line.empty() && is_ows(line.front()))
    return "a header line starts with whitespace (obsolete line folding is not accepted)";
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return "the header line '" + shown(line) + "' has no colon";
  name = line.substr(0, colon);
  if (name.empty()) return "a header line has an empty name";
  if (is_ows(name.back())) return "whitespace between the header name '" + shown(name) + "' and its colon";
  if (!is_token(name)) return "the header name '" + shown(name) + "' is not a token";
  value = line.substr(colon + 1);
  while (!value.empty() && is_ows(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_ows(value.back())) value.remove_suffix(1);
  for (unsigned char c : value)
    if (is_ctl(c) && c != '\t') return "the header " + shown(name) + " has a control character in its value";
  return {};
}

// The header's values, in order (Poco keeps repeated names next to each other).
std::vector<std::string> values_of(const Poco::Net::HTTPRequest& head, const std::string& name) {
  std::vector<std::string> out;
  for (auto it = head.find(name); it != head.end() && Poco::icompare(it->first, name) == 0; ++it)
    out.push_back(it->second);
  return out;
}

// A Host value: uri-host [":" port], so no spaces, paths, user information
// or lists.
bool valid_host(std::string_view host) {
  for (unsigned char c : host)
    if (!std::isalnum(c) && std::string_view("-._~%!$&'()*+,;=:[]").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  return true;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && Poco::icompare(std::string(s.substr(0, prefix.size())), std::string(prefix)) == 0;
}

// Checks the request target against Host and returns the target to serve
// (an absolute-form target becomes its path and query).
std::string check_target(const std::string& method, std::string_view target, const std::vector<std::string>& hosts,
                         std::string& uri) {
  if (target.front() == '/') {
    uri = target;
    return {};
  }
  if (target == "*") {
    if (method != "OPTIONS") return "the target '*' is only for OPTIONS";
    uri = target;
    return {};
  }
  std::size_t scheme = starts_with_nocase(target, "http://") ? 7 : starts_with_nocase(target, "https://") ? 8 : 0;
  if (scheme == 0) return "the request target '" + shown(target) + "' is neither a path nor an http(s) URL";
  std::string_view rest = target.substr(scheme);
  auto end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return "the request target's authority is empty or holds user information";
  if (hosts.empty()) return "a request with an absolute URL as its target has no Host header";
  if (Poco::icompare(std::string(authority), hosts.front()) != 0)
    return "the request target names '" + shown(authority) + "' but Host is '" + shown(hosts.front()) + "'";
  uri = end == std::string_view::npos ? "/" : rest[end] == '?' ? "/" + std::string(rest.substr(end)) : std::string(rest.substr(end));
  return {};
}

// Chunk extensions after the size: *( BWS ";" BWS name [ BWS "=" BWS value ] ),
// a value being a token or a quoted string.
bool valid_chunk_extensions(std::string_view s) {
  std::size_t i = 0;
  auto bws = [&] {
    while (i < s.size() && is_ows(s[i])) ++i;
  };
  auto token = [&] {
    std::size_t start = i;
    while (i < s.size() && is_tchar(static_cast<unsigned char>(s[i]))) ++i;
    return i > start;
  };
  auto quoted = [&] {
    for (++i; i < s.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        ++i;
        return true;
      }
      if (c == '\\') {
        if (++i == s.size()) return false;
        c = static_cast<unsigned char>(s[i]);
      }
      if (is_ctl(c) && c != '\t') return false;
    }
    return false;
  };
  while (i < s.size()) {
    bws();
    if (i == s.size() || s[i] != ';') return false;
    ++i;
    bws();
    if (!token()) return false;
    std::size_t before = i;
    bws();
    if (i < s.size() && s[i] == '=') {
      ++i;
      bws();
      if (i < s.size() && s[i] == '"' ? !quoted() : !token()) return false;
    } else {
      i = before;
    }
  }
  return true;
}

}  // namespace

std::size_t header_block_end(std::string_view in) {
  std::size_t start = 0;
  while (start < in.size() && (in[start] == '\r' || in[start] == '\n')) ++start;
  for (std::size_t i = in.find('\n', start); i != std::string_view::npos; i = in.find('\n', i + 1)) {
    if (i + 1 < in.size() && in[i + 1] == '\n') return i + 2;
    if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') return i + 3;
  }
  return 0;
}

std::string parse_head(std::string_view block, Poco::Net::HTTPRequest& head) {
  std::string_view rest = block;
  while (rest.substr(0, 2) == "\r\n") rest.remove_prefix(2);  // empty lines before a request
  std::string_view line;
  if (auto error = next_line(rest, line); !error.empty()) return error;

  // method SP request-target SP HTTP-version
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos)
    return "the request line '" + shown(line) + "' is not 'METHOD target HTTP/1.1'";
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return "the request method '" + shown(method) + "' is not a token";
  if (method.size() > kMaxMethod) return "the request method is longer than " + std::to_string(kMaxMethod) + " bytes";
  if (target.empty() || version.find(' ') != std::string_view::npos)
    return "the request line '" + shown(line) + "' has extra spaces";
  for (unsigned char c : target)
    if (c <= ' ' || c == 0x7f) return "the request target has a control character in it";
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return "unsupported protocol version '" + shown(version) + "' (HTTP/1.0 and HTTP/1.1 are served)";

  int fields = 0;
  for (;;) {
    if (auto error = next_line(rest, line); !error.empty()) return error;
    if (line.empty()) break;
    if (++fields > kMaxFields) return "more than " + std::to_string(kMaxFields) + " header fields";
    std::string_view name, value;
    if (auto error = parse_field(line, name, value); !error.empty()) return error;
    head.add(std::string(name), std::string(value));
  }
  if (!rest.empty()) return "bytes follow the header block";

  head.setMethod(std::string(method));
  head.setVersion(std::string(version));
  auto hosts = values_of(head, Poco::Net::HTTPRequest::HOST);
  if (hosts.size() > 1) return "the request has " + std::to_string(hosts.size()) + " Host headers";
  if (hosts.empty() && version == "HTTP/1.1") return "an HTTP/1.1 request needs a Host header";
  if (!hosts.empty() && !valid_host(hosts.front())) return "the Host header '" + shown(hosts.front()) + "' is not a host";
  std::string uri;
  if (auto error = check_target(head.getMethod(), target, hosts, uri); !error.empty()) return error;
  head.setURI(uri);
  return {};
}

BodyFraming body_framing(const Poco::Net::HTTPRequest& head) {
  BodyFraming f;
  auto lengths = values_of(head, Poco::Net::HTTPMessage::CONTENT_LENGTH);
  auto codings = values_of(head, Poco::Net::HTTPMessage::TRANSFER_ENCODING);
  if (!lengths.empty() && !codings.empty()) {
    f.error = "both Content-Length and Transfer-Encoding are set";
  } else if (lengths.size() > 1) {
    f.error = "the request has " + std::to_string(lengths.size()) + " Content-Length headers";
  } else if (codings.size() > 1) {
    f.error = "the request has " + std::to_string(codings.size()) + " Transfer-Encoding headers";
  } else if (!codings.empty()) {
    if (head.getVersion() != Poco::Net::HTTPMessage::HTTP_1_1)
      f.error = "Transfer-Encoding is not allowed in an HTTP/1.0 request";
    else if (Poco::icompare(codings.front(), "chunked") != 0)
      f.error = "unsupported Transfer-Encoding '" + shown(codings.front()) + "' (only chunked is accepted)";
    else
      f.kind = BodyFraming::chunked;
  } else if (!lengths.empty()) {
    const std::string& text = lengths.front();
    bool digits = !text.empty() && text.size() <= 18;
    for (char c : text) digits = digits && c >= '0' && c <= '9';
    if (!digits) {
      f.error = "the Content-Length is not a number";
    } else {
      f.length = std::stoll(text);
      f.kind = f.length > 0 ? BodyFraming::fixed : BodyFraming::none;
    }
  }
  return f;
}

Progress ChunkedDecoder::fail(std::string why) {
  error_ = std::move(why);
  return Progress::failed;
}

Progress ChunkedDecoder::feed(std::string& in, std::string& body, std::int64_t max_body) {
  std::size_t pos = 0;
  Progress result = Progress::need_more;
  while (result == Progress::need_more) {
    std::string_view rest(in.data() + pos, in.size() - pos);
    if (state_ == State::data) {
      if (rest.empty()) break;
      std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
      body.append(rest.data(), take);
      pos += take;
      remaining_ -= take;
      if (remaining_ == 0) state_ = State::data_end;
      continue;
    }
    auto eol = rest.find('\n');
    if (eol == std::string_view::npos) {
      if (rest.size() > kMaxChunkLine) result = fail("a chunk line is too long");
      break;
    }
    if (eol > kMaxChunkLine) {
      result = fail("a chunk line is too long");
      break;
    }
    if (eol == 0 || rest[eol - 1] != '\r') {
      result = fail("a chunk line ends in a bare LF (lines must end in CRLF)");
      break;
    }
    std::string_view line = rest.substr(0, eol - 1);
    pos += eol + 1;
    switch (state_) {
      case State::size_line: {
        std::size_t digits = 0;
        std::uint64_t size = 0;
        for (; digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits])); ++digits) {
          char c = line[digits];
          if (digits < kMaxChunkDigits)
            size = size * 16 + static_cast<std::uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        if (digits == 0 || digits > kMaxChunkDigits) {
          result = fail("a chunk size is malformed");
        } else if (!valid_chunk_extensions(line.substr(digits))) {
          result = fail("a chunk extension is malformed");
        } else if (static_cast<std::uint64_t>(max_body) < body.size() + size) {
          too_large_ = true;
          result = fail("the body is too large");
        } else if (size == 0) {
          state_ = State::trailer;
        } else {
          remaining_ = size;
          state_ = State::data;
        }
        break;
      }
      case State::data_end:
        if (!line.empty()) result = fail("a chunk does not end where its size says");
        else state_ = State::size_line;
        break;
      case State::trailer: {
        trailer_bytes_ += eol + 1;
        std::string_view name, value;
        if (line.empty()) {
          result = Progress::done;
        } else if (trailer_bytes_ > kMaxTrailer) {
          result = fail("the trailer section is too large");
        } else if (auto why = parse_field(line, name, value); !why.empty()) {
          result = fail("a trailer line is malformed: " + why);
        }
        break;
      }
      case State::data:
        break;
    }
  }
  in.erase(0, pos);
  return result;
}

}  // namespace picloud::kernel::http
