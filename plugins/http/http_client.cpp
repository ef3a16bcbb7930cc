#include "http_client.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <poll.h>

#include <algorithm>
#include <array>
#include <optional>
#include <cstring>
#include <ostream>

#include <picloud/sdk/script.hpp>

namespace picloud::http {

using sdk::ErrorKind;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxHeaders = 100;

sdk::Error failure(ErrorKind kind, std::string_view code, std::string message) {
  return sdk::make_error(kind, std::string(code), std::string(code) + ": " + message);
}
sdk::Error network(std::string message) { return failure(ErrorKind::unavailable, "network", std::move(message)); }
sdk::Error timed_out(std::int64_t timeout_ms) {
  return failure(ErrorKind::unavailable, "timeout",
                 "the request took longer than its " + std::to_string(timeout_ms) + " ms");
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Poco::Timespan span_ms(std::int64_t ms) { return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(std::max<std::int64_t>(ms, 1)) * 1000); }

bool is_token_char(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// What a script may not set: the framing and routing of the request are
// PiCloud's, and hop-by-hop headers belong to the connection.
constexpr std::array kReservedHeaders{"host",       "content-length", "transfer-encoding", "connection",
                                      "keep-alive", "upgrade",        "te",                "trailer",
                                      "expect",     "proxy-connection"};

bool is_redirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

bool idempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}

const std::string* find_header(const HeaderList& headers, std::string_view lower_name) {
  for (const auto& [name, value] : headers)
    if (lower(name) == lower_name) return &value;
  return nullptr;
}

void drop_headers(HeaderList& headers, std::initializer_list<std::string_view> lower_names) {
  std::erase_if(headers, [&](const auto& h) {
    auto name = lower(h.first);
    return std::find(lower_names.begin(), lower_names.end(), name) != lower_names.end();
  });
}

}  // namespace

sdk::Result<void> check_header(const std::string& name, const std::string& value) {
  if (name.empty() || name.size() > 256 ||
      !std::all_of(name.begin(), name.end(), [](char c) { return is_token_char(static_cast<unsigned char>(c)); }))
    return sdk::make_error(ErrorKind::invalid_argument, "invalid_request",
                           "header name '" + name.substr(0, 64) + "' is not a valid HTTP token");
  if (value.size() > 8192)
    return sdk::make_error(ErrorKind::invalid_argument, "invalid_request",
                           "header '" + name + "' is longer than 8192 bytes");
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0')
      return sdk::make_error(ErrorKind::invalid_argument, "invalid_request",
                             "header '" + name + "' contains a line break or NUL");
  auto lowered = lower(name);
  if (std::find(kReservedHeaders.begin(), kReservedHeaders.end(), lowered) != kReservedHeaders.end() ||
      lowered.starts_with("proxy-"))
    return sdk::make_error(ErrorKind::invalid_argument, "invalid_request",
                           "header '" + name + "' is set by PiCloud, not by scripts");
  return {};
}

HttpClient::HttpClient(AddressGuard guard, ClientLimits limits, PoolLimits pool, sdk::Logger* log)
    : guard_(std::move(guard)), limits_(std::move(limits)), pool_(pool), tls_(limits_.tls_module, limits_.ca_file),
      log_(log) {}

HttpClient::~HttpClient() = default;

sdk::Result<InboundResponse> HttpClient::send(OutboundRequest request) {
  if (request.headers.size() > kMaxHeaders)
    return sdk::make_error(ErrorKind::invalid_argument, "invalid_request",
                           "more than " + std::to_string(kMaxHeaders) + " headers");
  for (const auto& [name, value] : request.headers)
    if (auto ok = check_header(name, value); !ok) return ok.error();
  if (request.body && static_cast<std::int64_t>(request.body->size()) > limits_.max_request_bytes)
    return failure(ErrorKind::invalid_argument, "too_large",
                   "the request body is " + std::to_string(request.body->size()) + " bytes, over the limit of " +
                       std::to_string(limits_.max_request_bytes) + " ([http] max_request_bytes)");
  auto url = parse_url(request.url);
  if (!url) return url.error();

  for (int hop = 0;; ++hop) {
    auto response = exchange(*url, request);
    if (!response) return response.error();
    const std::string* location = find_header(response->headers, "location");
    if (!request.follow_redirects || !is_redirect(response->status) || !location) {
      response->url = url->text();
      response->redirects = hop;
      return response;
    }
    if (hop >= request.max_redirects)
      return failure(ErrorKind::unavailable, "redirect",
                     "more than " + std::to_string(request.max_redirects) + " redirects");
    auto next = resolve_location(*url, *location);
    if (!next) {
      if (next.error().code == "blocked") return next.error();  // the guard's, as for any hop
      return failure(ErrorKind::unavailable, "redirect", "the Location is not a usable URL (" + next.error().message + ")");
    }
    // Credentials were meant for the origin that was asked, not for
    // wherever it points.
    if (next->origin() != url->origin()) drop_headers(request.headers, {"authorization", "cookie", "proxy-authorization"});
    int status = response->status;
    if ((status == 303 && request.method != "HEAD") || ((status == 301 || status == 302) && request.method == "POST")) {
      request.method = "GET";
      request.body.reset();
      drop_headers(request.headers, {"content-type", "content-encoding", "content-language", "content-location"});
    }
    url = std::move(next);
  }
}

sdk::Result<InboundResponse> HttpClient::exchange(const TargetUrl& url, const OutboundRequest& request) {
  if (auto ok = guard_.check_host(url.host, url.port); !ok) return ok.error();
  if (url.literal)
    if (auto ok = guard_.check_address(url.host, *url.literal); !ok) return ok.error();
  // A pooled connection the server dropped unnoticed fails before any
  // answer; an idempotent request then goes once more on a new one.
  for (int attempt = 0;; ++attempt) {
    auto connection = pool_.take(url.origin());
    bool reused = connection != nullptr;
    if (!connection) {
      auto made = connect(url, request);
      if (!made) return made.error();
      connection = std::move(*made);
    }
    bool reusable = false, answered = false;
    auto response = round_trip(*connection, url, request, reusable, answered);
    if (!response && reused && !answered && attempt == 0 && idempotent(request.method) &&
        response.error().code == "network")
      continue;
    if (response && reusable) pool_.give_back(std::move(connection));
    return response;
  }
}

sdk::Result<std::unique_ptr<Connection>> HttpClient::connect(const TargetUrl& url, const OutboundRequest& request) {
  const std::int64_t connect_limit = request.connect_timeout_ms > 0 ? request.connect_timeout_ms : limits_.connect_timeout_ms;
  auto remaining = [&] { return request.deadline_ms - sdk::monotonic_ms(); };
  if (remaining() <= 0) return timed_out(request.timeout_ms);

  std::vector<IpAddress> addresses;
  if (url.literal) {
    addresses.push_back(*url.literal);
  } else {
    auto found = resolver_.resolve(url.host, std::min(connect_limit, remaining()), request.app_id);
    if (!found) return found.error();
    addresses = std::move(*found);
  }
  // Every address the name has must pass, not only the one that answers
  // first: a name with one public and one private address is refused.
  for (const auto& a : addresses)
    if (auto ok = guard_.check_address(url.host, a); !ok) return ok.error();

  sdk::Error last = network("cannot connect to the server");
  for (const auto& a : addresses) {
    std::int64_t left = remaining();
    if (left <= 0) return timed_out(request.timeout_ms);
    std::int64_t wait = std::min(connect_limit, left);
    Poco::Net::StreamSocket socket;
    try {
      Poco::Net::SocketAddress to(Poco::Net::IPAddress(a.bytes.data(), a.v6 ? 16 : 4), static_cast<Poco::UInt16>(url.port));
      socket.connect(to, span_ms(wait));
      socket.setNoDelay(true);
    } catch (const Poco::TimeoutException&) {
      last = failure(ErrorKind::unavailable, "timeout", "connecting took longer than " + std::to_string(wait) + " ms");
      continue;
    } catch (const Poco::Net::ConnectionRefusedException&) {
      last = network("the server refused the connection");
      continue;
    } catch (const Poco::Exception&) {
      last = network("cannot connect to the server");
      continue;
    }
    auto connection = std::make_unique<Connection>();
    connection->origin = url.origin();
    if (!url.https) {
      connection->session = std::make_unique<ClientSession>(socket);
    } else {
      // The handshake, bounded like any I/O of the request.
      auto ticket = watch_.watch(static_cast<int>(socket.impl()->sockfd()),
                                 std::min(request.deadline_ms, sdk::monotonic_ms() + wait));
      if (!ticket.armed()) return network("no descriptor left to watch the connection with");
      try {
        socket.setReceiveTimeout(span_ms(wait));
        socket.setSendTimeout(span_ms(wait));
      } catch (const Poco::Exception&) {
        return network("cannot connect to the server");
      }
      TlsAttached details;
      auto session = tls_.attach(socket, url.host, &details);
      if (!session) {
        if (ticket.fired()) return timed_out(request.timeout_ms);
        if (log_ && !details.detail.empty())
          log_->debug("TLS handshake failed", {{"host", url.host}, {"detail", details.detail}});
        return session.error();
      }
      if (ticket.fired()) return timed_out(request.timeout_ms);  // it ended with the handshake
      connection->session = std::move(*session);
    }
    connection->session->setKeepAlive(pool_.enabled());
    return connection;
  }
  return last;
}

namespace {

// Thrown inside round_trip's read loop to leave it with an answer.
struct Stop {
  sdk::Error error;
};

// Reads a response body off the session by its framing, capped and bounded
// by the deadline: before every socket read the receive timeout is set to
// what is left (the deadline watch ends a read that would run past it).
class BodyReader {
 public:
  BodyReader(ClientSession& session, std::int64_t deadline_ms, std::int64_t cap, std::int64_t timeout_ms)
      : session_(session), deadline_ms_(deadline_ms), cap_(cap), timeout_ms_(timeout_ms) {}

  // Exactly `length` bytes.
  void fixed(std::int64_t length, std::string& body) {
    while (length > 0) {
      int got = read(body, static_cast<std::size_t>(std::min<std::int64_t>(length, kReadChunk)));
      if (got == 0) throw Stop{network("the response ended before its end")};
      length -= got;
    }
  }
  // Until the server closes the connection.
  void until_closed(std::string& body) {
    while (read(body, kReadChunk) > 0) {
    }
  }
  // Chunks until the last (size 0) one and the trailer's end.
  void chunked(std::string& body) {
    std::string line;
    for (;;) {
      read_line(line);
      std::string_view size_text = std::string_view(line).substr(0, line.find(';'));
      while (!size_text.empty() && (size_text.back() == ' ' || size_text.back() == '\t')) size_text.remove_suffix(1);
      if (size_text.empty() || size_text.size() > 15) throw Stop{bad_framing()};
      std::int64_t size = 0;
      for (char c : size_text) {
        int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                    : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                                : -1;
        if (digit < 0) throw Stop{bad_framing()};
        size = size * 16 + digit;
      }
      if (size == 0) break;
      if (static_cast<std::int64_t>(body.size()) + size > cap_) throw Stop{over_cap()};
      fixed(size, body);
      read_line(line);
      if (!line.empty()) throw Stop{bad_framing()};
    }
    for (int trailers = 0;; ++trailers) {
      read_line(line);
      if (line.empty()) return;
      if (trailers >= 100) throw Stop{bad_framing()};
    }
  }

 private:
  void before_socket_read() {
    if (session_.buffered_bytes() > 0) return;
    std::int64_t left = deadline_ms_ - sdk::monotonic_ms();
    if (left <= 0) throw Stop{timed_out(timeout_ms_)};
    session_.socket().setReceiveTimeout(span_ms(left));
  }
  int read(std::string& body, std::size_t most) {
    before_socket_read();
    std::size_t at = body.size();
    if (static_cast<std::int64_t>(at) >= cap_) {
      // Full: one byte more says whether the body goes on.
      char probe;
      if (session_.read_bytes(&probe, 1) > 0) throw Stop{over_cap()};
      return 0;
    }
    most = std::min<std::size_t>(most, static_cast<std::size_t>(cap_ - static_cast<std::int64_t>(at)));
    body.resize(at + most);
    int got = session_.read_bytes(body.data() + at, static_cast<std::streamsize>(most));
    body.resize(at + static_cast<std::size_t>(std::max(got, 0)));
    return std::max(got, 0);
  }
  // A line of the chunked framing, without its CRLF.
  void read_line(std::string& line) {
    line.clear();
    for (;;) {
      before_socket_read();
      int c = session_.next_byte();
      if (c == std::char_traits<char>::eof()) throw Stop{network("the response ended before its end")};
      if (c == '\n') break;
      if (line.size() >= 4096) throw Stop{bad_framing()};
      line.push_back(static_cast<char>(c));
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
  }
  sdk::Error over_cap() const {
    return failure(ErrorKind::unavailable, "too_large",
                   "the response body is over the limit of " + std::to_string(cap_) + " bytes ([http] max_response_bytes)");
  }
  static sdk::Error bad_framing() { return network("the response's chunked framing is not valid"); }

  ClientSession& session_;
  const std::int64_t deadline_ms_;
  const std::int64_t cap_;
  const std::int64_t timeout_ms_;  // for the message
};

}  // namespace

namespace {

// How a response's body is framed, read strictly: every Content-Length
// field must be the same run of digits, and the only transfer coding
// PiCloud reads is chunked (it asks for no other), so two readings of one
// body are impossible.
struct Framing {
  bool chunked = false;
  std::optional<std::int64_t> content_length;
};

sdk::Result<Framing> framing_of(const Poco::Net::HTTPResponse& response) {
  Framing framing;
  for (const auto& [name, value] : response) {
    auto field = lower(name);
    std::string_view v = value;
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (field == "content-length") {
      if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return network("the response's Content-Length is not valid");
      std::int64_t length = std::stoll(std::string(v));
      if (framing.content_length && *framing.content_length != length)
        return network("the response's Content-Length fields disagree");
      framing.content_length = length;
    } else if (field == "transfer-encoding") {
      if (lower(std::string(v)) != "chunked" || framing.chunked)
        return network("the response's Transfer-Encoding is not one PiCloud reads");
      framing.chunked = true;
    }
  }
  return framing;
}

}  // namespace

sdk::Result<InboundResponse> HttpClient::round_trip(Connection& connection, const TargetUrl& url,
                                                    const OutboundRequest& request, bool& reusable, bool& answered) {
  const std::int64_t budget = request.deadline_ms - sdk::monotonic_ms();
  if (budget <= 0) return timed_out(request.timeout_ms);
  auto& session = *connection.session;
  auto ticket = watch_.watch(connection.fd(), request.deadline_ms);
  if (!ticket.armed()) return network("no descriptor left to watch the connection with");

  Poco::Net::HTTPRequest out(request.method, url.target, Poco::Net::HTTPMessage::HTTP_1_1);
  out.set("Host", url.authority());
  bool has_agent = false, has_type = false;
  for (const auto& [name, value] : request.headers) {
    auto lowered = lower(name);
    has_agent = has_agent || lowered == "user-agent";
    has_type = has_type || lowered == "content-type";
    out.add(name, value);
  }
  if (!has_agent) out.set("User-Agent", limits_.user_agent);
  if (request.body) {
    out.setContentLength64(static_cast<Poco::Int64>(request.body->size()));
    if (!has_type && !request.content_type.empty()) out.setContentType(request.content_type);
  } else if (request.method != "GET" && request.method != "HEAD" && request.method != "DELETE") {
    // Said outright: some servers wait for a body that never comes when a
    // POST or an OPTIONS has no length.
    out.setContentLength64(0);
  }
  out.setKeepAlive(pool_.enabled());

  InboundResponse result;
  Poco::Net::HTTPResponse in;
  bool framed = true;  // the body's end was known, not the connection's
  try {
    auto& socket = session.socket();
    socket.setSendTimeout(span_ms(budget));
    socket.setReceiveTimeout(span_ms(budget));
    std::ostream& body_out = session.sendRequest(out);
    if (request.body) body_out.write(request.body->data(), static_cast<std::streamsize>(request.body->size()));
    session.receiveResponse(in);  // Poco reads past 100 Continue itself
    answered = true;
    // Other interim answers (102 Processing, 103 Early Hints) precede the
    // real one; 101 would hand the connection to another protocol.
    for (int interim = 0; in.getStatus() < 200; ++interim) {
      if (in.getStatus() == Poco::Net::HTTPResponse::HTTP_SWITCHING_PROTOCOLS || interim >= 8)
        return network("the server answered with " + std::to_string(in.getStatus()) + ", which PiCloud does not follow");
      session.read_next_head(in);
    }
    result.status = static_cast<int>(in.getStatus());
    for (const auto& [name, value] : in) result.headers.emplace_back(lower(name), value);
    const bool has_body =
        request.method != "HEAD" && result.status != 204 && result.status != 304;
    BodyReader reader(session, request.deadline_ms, limits_.max_response_bytes, request.timeout_ms);
    auto framing = framing_of(in);
    if (!framing) return framing.error();
    if (!has_body) {
      // nothing to read
    } else if (framing->chunked) {
      framed = !framing->content_length;  // both given: read as chunked, then close
      reader.chunked(result.body);
    } else if (framing->content_length) {
      if (*framing->content_length > limits_.max_response_bytes)
        return failure(ErrorKind::unavailable, "too_large",
                       "the response body is " + std::to_string(*framing->content_length) +
                           " bytes, over the limit of " + std::to_string(limits_.max_response_bytes) +
                           " ([http] max_response_bytes)");
      reader.fixed(*framing->content_length, result.body);
    } else {
      framed = false;
      reader.until_closed(result.body);
    }
  } catch (const Stop& stop) {
    if (ticket.fired()) return timed_out(request.timeout_ms);
    return stop.error;
  } catch (const Poco::TimeoutException&) {
    return timed_out(request.timeout_ms);
  } catch (const Poco::Net::NoMessageException&) {
    if (ticket.fired()) return timed_out(request.timeout_ms);
    return network("the server closed the connection without answering");
  } catch (const Poco::Net::MessageException&) {
    if (ticket.fired()) return timed_out(request.timeout_ms);
    return network("the server's answer is not valid HTTP");
  } catch (const Poco::Exception&) {
    if (ticket.fired()) return timed_out(request.timeout_ms);
    return network(answered ? "the connection failed while reading the response" : "the connection failed");
  }
  if (ticket.fired()) return timed_out(request.timeout_ms);
  // Kept only when nothing of this exchange is left to read on it: a byte
  // still buffered would be read as the next request's answer.
  // (available() sees a TLS connection's decrypted bytes only; the poll
  // sees what the kernel holds.)
  try {
    pollfd readable{connection.fd(), POLLIN, 0};
    reusable = pool_.enabled() && framed && in.getKeepAlive() && session.buffered_bytes() == 0 &&
               session.socket().available() == 0 && ::poll(&readable, 1, 0) == 0;
  } catch (const Poco::Exception&) {
    reusable = false;
  }
  return result;
}

}  // namespace picloud::http
