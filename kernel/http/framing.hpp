// Request framing for a non-blocking connection: where the header block
// ends, what it says, and how long the body is, worked out from whatever
// bytes have arrived so far. Nothing here touches a socket, so every piece
// is tested with plain strings (and fuzzed: tests/fuzz/framing_fuzz.cpp).
//
// The parser is strict on purpose. PiCloud usually sits behind a proxy, and
// whenever the two read one byte stream differently (which header wins, where
// a body ends) the bytes one of them takes for a body the other serves as a
// request: request smuggling. So anything RFC 9112 lets a server refuse is
// refused with a 400 and the connection closed, rather than repaired:
//   - lines end in CRLF (a bare LF or a bare CR is an error, in the head and
//     in chunked framing alike);
//   - request line `method SP target SP HTTP/1.x`, one space each, the method
//     a token, the target without controls or spaces, version 1.0 or 1.1;
//   - header names are tokens followed directly by ':' (no space before it),
//     values hold no control characters but HTAB; no obsolete line folding;
//   - one Host (required in HTTP/1.1); an absolute-form target must name the
//     same authority as Host and is served as its path;
//   - Content-Length at most once (even repeated with the same value), digits
//     only; Transfer-Encoding at most once, exactly "chunked", never with a
//     Content-Length and never in HTTP/1.0;
//   - chunk sizes of at most 15 hex digits, chunk extensions in their grammar,
//     trailer lines that are header lines.
// Header values are taken byte for byte (Poco's own parser would decode
// RFC 2047 words and accept all of the above).
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
// line) are skipped and counted in the result. A bare LF ends a line here
// too, so that a request using one is refused at once by parse_head rather
// than waited for.
std::size_t header_block_end(std::string_view in);

// Parses a complete header block into `head`. On failure returns the reason
// (for a 400); `head` is then unusable.
std::string parse_head(std::string_view block, Poco::Net::HTTPRequest& head);

// How the request's body is delimited.
struct BodyFraming {
  enum Kind { none, fixed, chunked } kind = none;
  std::int64_t length = 0;  // for `fixed`
  std::string error;        // set when the framing headers are unusable
};

// Content-Length and Transfer-Encoding of a parsed head, checked as listed
// above.
BodyFraming body_framing(const Poco::Net::HTTPRequest& head);

// Decodes a chunked body incrementally. Chunk extensions and trailer fields
// are checked and dropped.
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
  std::size_t trailer_bytes_ = 0;
  bool too_large_ = false;
  std::string error_;
};

}  // namespace picloud::kernel::http
