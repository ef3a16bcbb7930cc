// A stored file as an HTTP answer (RFC 9110): the script's serve(), the
// admin API's download and signed URLs all answer through here.
//   - ETag is the SHA-256 in quotes (strong: equal tags, equal bytes);
//     Last-Modified the last change, to the second.
//   - If-Match / If-Unmodified-Since fail with 412; If-None-Match /
//     If-Modified-Since answer 304 to GET and HEAD.
//   - Range (GET only) with one range answers 206 with Content-Range, and
//     416 with "bytes */size" when it cannot be satisfied; several ranges,
//     a unit other than bytes, a malformed header, or an If-Range that is
//     not the file's ETag, are ignored (the whole file, 200). An If-Range
//     date never matches: a modification time to the second is too weak to
//     join two parts of a file by.
//   - A file marked corrupted (a read found its bytes changed) is refused,
//     ranges included, until it is replaced.
//   - A whole file is verified against its SHA-256 as it goes out (see
//     FilesStore::open); a range is not, since that would mean reading it
//     all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "files_store.hpp"
#include "picloud/sdk/http.hpp"

namespace picloud::files {

// How a download is shown.
struct ServePolicy {
  enum class Disposition {
    none,
    inline_named,  // shown, saved under the file's name (signed URLs)
    attachment,    // saved, never shown in the page's origin (the admin API)
  };
  Disposition disposition = Disposition::none;
  // Content-Security-Policy: sandbox (a shown HTML or SVG file runs no
  // script with its origin's rights).
  bool sandbox = false;
  // Cache-Control, when not empty.
  std::string cache_control = {};
};

// The answer to `request` (GET or HEAD) for the file, or nothing when there
// is no such file.
sdk::Result<std::optional<sdk::HttpResponse>> serve_file(FilesStore& store, std::string_view app,
                                                         std::string_view collection, std::string_view name,
                                                         const sdk::HttpRequest& request, ServePolicy policy);

// A files error as the HTTP answer of a route wrapped with
// sdk::with_error_replies: 413 file_too_large and quota_exceeded, 507
// storage_full, 500 corrupted (naming it), else as sdk::fail maps kinds.
[[noreturn]] void fail_with(const sdk::Error& error);
template <typename T>
T unwrap_files(sdk::Result<T> r) {
  if (!r) fail_with(r.error());
  return std::move(*r);
}

// HTTP dates (IMF-fixdate), to and from Unix seconds.
std::string http_date(std::int64_t unix_seconds);
std::optional<std::int64_t> parse_http_date(std::string_view text);

// One byte range of a representation of `size` bytes, as a Range header
// asks for it.
struct ByteRange {
  std::int64_t first = 0;
  std::int64_t length = 0;
};
enum class RangeAnswer { whole, partial, unsatisfiable };
RangeAnswer parse_range(std::string_view header, std::int64_t size, ByteRange& range);

}  // namespace picloud::files
