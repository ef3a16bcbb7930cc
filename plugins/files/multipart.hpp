// multipart/form-data (RFC 7578) over a spooled request body: the parts'
// headers are read, their contents located as byte ranges of the file (so a
// part of any size is stored straight from the spool, its length known).
// Hand-written: the SDK offers no parser, and plugins build against the SDK
// alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"

namespace picloud::files {

// The boundary of a `multipart/form-data; boundary=...` content type (1-70
// characters), or nothing for any other type.
std::optional<std::string> form_data_boundary(std::string_view content_type);

struct Part {
  std::string name;          // Content-Disposition's name
  std::string filename;      // its filename (empty when none)
  std::string content_type;  // the part's Content-Type (empty when none)
  std::int64_t offset = 0;   // the content: [offset, offset + size) of the body
  std::int64_t size = 0;
};

class MultipartReader {
 public:
  MultipartReader(int fd, std::int64_t size, std::string boundary)
      : fd_(fd), size_(size), delimiter_("\r\n--" + std::move(boundary)) {}
  // Whether the body ends with the closing delimiter ("--boundary--", then
  // at most a short epilogue): a body cut short would otherwise end its
  // last part at its end.
  bool closed() const;
  // The next part, or nothing after the last; invalid_argument naming what
  // is malformed.
  sdk::Result<std::optional<Part>> next();
  // Reads [offset, offset + n) of the body (n small: headers, metadata).
  sdk::Result<std::string> read(std::int64_t offset, std::int64_t n) const;

 private:
  // Where `pattern` next starts at or after `from`, or -1.
  sdk::Result<std::int64_t> find(std::string_view pattern, std::int64_t from) const;

  int fd_;
  std::int64_t size_;
  std::string delimiter_;  // CRLF "--" boundary
  std::int64_t at_ = -1;   // just past the last delimiter read; -1 before the first
  bool done_ = false;
};

}  // namespace picloud::files
