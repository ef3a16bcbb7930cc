// The response as bytes on the wire: status line, headers and body in one
// buffer, so a response costs one send() (Poco's response object writes the
// header block and the body separately, two segments per response).
//
// The server frames every response itself, whatever the handler asked for:
// the connection's headers and the body's length are its own, and a status
// that has no body (204, 304) is sent without one. A status a handler cannot
// answer with (1xx: those are the server's business; or outside 100-599)
// makes the response invalid, as a broken header does.
#pragma once

#include <string>
#include <string_view>

#include "picloud/sdk/http.hpp"

namespace picloud::kernel::http {

struct WireOptions {
  bool head = false;        // HEAD: headers only, Content-Length of the full body
  bool keep_alive = true;   // false: "Connection: close"
  bool http10 = false;      // a 1.0 client that asked for keep-alive gets it confirmed
  std::string request_id;
  bool until_close = false;  // a connection taken over: no length, no chunking (with keep_alive false)
};

// Header names must be tokens and values must not contain CR, LF or NUL (no
// response splitting).
bool valid_header(const std::string& name, const std::string& value);

// Headers about this connection or the message's framing (RFC 9110 7.6.1,
// plus Content-Length, Upgrade and Proxy-*): a handler's are dropped, the
// server writes its own.
bool is_hop_by_hop(std::string_view name);

// Whether a response with this status carries a body (not 1xx, 204, 304).
bool status_has_body(int status);

// Serialises `response`; returns false (and leaves `out` empty) when its
// status or a header is invalid. With a stream, only the head: its
// Content-Length, or for an unknown length Transfer-Encoding: chunked (an
// HTTP/1.0 client instead gets the body until the connection closes).
bool serialize_response(const sdk::HttpResponse& response, const WireOptions& options, std::string& out);

}  // namespace picloud::kernel::http
