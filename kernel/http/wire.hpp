// The response as bytes on the wire: status line, headers and body in one
// buffer, so a response costs one send() (Poco's response object writes the
// header block and the body separately, two segments per response).
#pragma once

#include <string>

#include "picloud/sdk/http.hpp"

namespace picloud::kernel::http {

struct WireOptions {
  bool head = false;        // HEAD: headers only, Content-Length of the full body
  bool keep_alive = true;   // false: "Connection: close"
  bool http10 = false;      // a 1.0 client that asked for keep-alive gets it confirmed
  std::string request_id;
};

// Header names must be tokens and values must not contain CR, LF or NUL (no
// response splitting). Framing headers (Content-Length, Transfer-Encoding,
// Connection) are the server's: a handler's are dropped.
bool valid_header(const std::string& name, const std::string& value);

// Serialises `response`; returns false (and leaves `out` empty) when a header
// is invalid.
bool serialize_response(const sdk::HttpResponse& response, const WireOptions& options, std::string& out);

}  // namespace picloud::kernel::http
