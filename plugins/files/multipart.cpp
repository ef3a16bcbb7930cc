#include "multipart.hpp"

#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace picloud::files {
namespace {

using sdk::ErrorKind;
using sdk::make_error;

constexpr std::int64_t kMaxPartHeaderBytes = 16 * 1024;
constexpr std::size_t kScanBytes = 256 * 1024;

sdk::Error malformed(const std::string& why) {
  return make_error(ErrorKind::invalid_argument, "the multipart body is malformed: " + why);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// A header value's parameters after its first ';': name=token or
// name="quoted string" (backslash escapes), names compared without case.
std::optional<std::string> parameter(std::string_view value, std::string_view wanted) {
  std::size_t at = value.find(';');
  while (at != std::string_view::npos && at < value.size()) {
    ++at;  // past ';'
    std::size_t eq = value.find('=', at);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view name = trim(value.substr(at, eq - at));
    std::size_t i = eq + 1;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    std::string parsed;
    if (i < value.size() && value[i] == '"') {
      for (++i; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        parsed.push_back(value[i]);
      }
      at = value.find(';', i);
    } else {
      std::size_t end = value.find(';', i);
      parsed = std::string(trim(value.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i)));
      at = end;
    }
    if (iequals(name, wanted)) return parsed;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> form_data_boundary(std::string_view content_type) {
  std::string_view essence = trim(content_type.substr(0, content_type.find(';')));
  if (!iequals(essence, "multipart/form-data")) return std::nullopt;
  auto boundary = parameter(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 70) return std::nullopt;
  return boundary;
}

sdk::Result<std::string> MultipartReader::read(std::int64_t offset, std::int64_t n) const {
  n = std::max<std::int64_t>(0, std::min(n, size_ - offset));
  std::string out(static_cast<std::size_t>(n), '\0');
  std::int64_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd_, out.data() + got, static_cast<std::size_t>(n - got), offset + got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return make_error(ErrorKind::internal, std::string("cannot read the uploaded body: ") + std::strerror(errno));
    if (r == 0) break;
    got += r;
  }
  out.resize(static_cast<std::size_t>(got));
  return out;
}

sdk::Result<std::int64_t> MultipartReader::find(std::string_view pattern, std::int64_t from) const {
  // Windows overlapping by the pattern's length less one, so a match across
  // two of them is seen.
  const auto overlap = static_cast<std::int64_t>(pattern.size()) - 1;
  for (std::int64_t at = from; at < size_;) {
    auto window = read(at, static_cast<std::int64_t>(kScanBytes));
    if (!window) return window.error();
    if (window->size() < pattern.size()) return std::int64_t{-1};
    auto hit = std::string_view(*window).find(pattern);
    if (hit != std::string_view::npos) return at + static_cast<std::int64_t>(hit);
    at += static_cast<std::int64_t>(window->size()) - overlap;
  }
  return std::int64_t{-1};
}

bool MultipartReader::closed() const {
  const std::string close = delimiter_ + "--";
  const std::int64_t tail = std::min<std::int64_t>(size_, 4096 + static_cast<std::int64_t>(close.size()));
  auto bytes = read(size_ - tail, tail);
  return bytes && bytes->find(close) != std::string::npos;
}

sdk::Result<std::optional<Part>> MultipartReader::next() {
  using Found = std::optional<Part>;
  if (done_) return Found();
  if (at_ < 0) {
    // The first delimiter may open the body (no CRLF before it) or follow a
    // preamble.
    auto start = read(0, static_cast<std::int64_t>(delimiter_.size()) - 2);
    if (!start) return start.error();
    if (*start == std::string_view(delimiter_).substr(2)) {
      at_ = static_cast<std::int64_t>(delimiter_.size()) - 2;
    } else {
      auto first = find(delimiter_, 0);
      if (!first) return first.error();
      if (*first < 0) return malformed("no boundary");
      at_ = *first + static_cast<std::int64_t>(delimiter_.size());
    }
  }
  // After a delimiter: "--" ends the body, else (transport padding, then)
  // CRLF starts a part.
  auto after = read(at_, kMaxPartHeaderBytes + 4);
  if (!after) return after.error();
  std::string_view rest = *after;
  if (rest.substr(0, 2) == "--") {
    done_ = true;
    return Found();
  }
  std::size_t line = rest.find("\r\n");
  if (line == std::string_view::npos || !trim(rest.substr(0, line)).empty()) return malformed("a boundary line has more on it");
  rest.remove_prefix(line + 2);
  std::int64_t head_at = at_ + static_cast<std::int64_t>(line) + 2;
  std::size_t head_end = rest.substr(0, 2) == "\r\n" ? 0 : rest.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return malformed("a part's headers are longer than 16 KiB or end early");
  Part part;
  std::string_view headers = rest.substr(0, head_end);
  while (!headers.empty()) {
    std::size_t eol = headers.find("\r\n");
    std::string_view h = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
    std::size_t colon = h.find(':');
    if (colon == std::string_view::npos) return malformed("a part's header line has no colon");
    std::string_view name = trim(h.substr(0, colon));
    std::string_view value = trim(h.substr(colon + 1));
    if (iequals(name, "content-disposition")) {
      part.name = parameter(value, "name").value_or("");
      part.filename = parameter(value, "filename").value_or("");
    } else if (iequals(name, "content-type")) {
      part.content_type = std::string(value);
    }
  }
  part.offset = head_at + static_cast<std::int64_t>(head_end) + (head_end == 0 ? 2 : 4);
  auto end = find(delimiter_, part.offset);
  if (!end) return end.error();
  if (*end < 0) return malformed("a part has no closing boundary");
  part.size = *end - part.offset;
  at_ = *end + static_cast<std::int64_t>(delimiter_.size());
  return Found(std::move(part));
}

}  // namespace picloud::files
