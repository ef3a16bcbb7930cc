// Request framing for a non-blocking connection: where the header block
// ends, what it says, and how long the body is, worked out from whatever
// bytes have arrived so far. Nothing here touches a socket, so every piece
// is tested with plain strings.
//
// The header block is parsed by Poco's HTTPRequest (request line, header
// syntax and its size limits). The chunked body decoder is ours: Poco's
// reads from a blocking session and cannot stop at "the bytes so far".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace Poco::Net {
class HTTPRequest;
}

namespace picloud::kernel::http {

// Outcome of looking at buffered input.
enum class Progress { need_more, done, failed };

// Where the header block in `in` ends (the index just past its empty line),
// or 0 while it is incomplete. Leading empty lines (allowed before a request
// line) are skipped and counted in the result.
std::size_t header_block_end(std::string_view in);

// Parses a complete header block. On failure returns the reason (for a 400).
std::string parse_head(std::string_view block, Poco::Net::HTTPRequest& head);

// How the request's body is delimited.
struct BodyFraming {
  enum Kind { none, fixed, chunked } kind = none;
  std::int64_t length = 0;  // for `fixed`
  std::string error;        // set when the framing headers are unusable
};

// Content-Length and Transfer-Encoding, checked: a malformed length, a
// transfer coding other than plain "chunked", or both headers at once (the
// request-smuggling shape) are errors.
BodyFraming body_framing(const Poco::Net::HTTPRequest& head);

// Decodes a chunked body incrementally. Chunk extensions and trailers are
// read and dropped.
class ChunkedDecoder {
 public:
  // Consumes what it can from the front of `in`, appending data to `body`.
  // Fails on malformed framing or once `body` would pass `max_body` bytes
  // (`too_large()` tells which).
  Progress feed(std::string& in, std::string& body, std::int64_t max_body);
  bool too_large() const { return too_large_; }
  const std::string& error() const { return error_; }

 private:
  Progress fail(std::string why);

  enum class State { size_line, data, data_end, trailer } state_ = State::size_line;
  std::uint64_t remaining_ = 0;
  bool too_large_ = false;
  std::string error_;
};

}  // namespace picloud::kernel::http
