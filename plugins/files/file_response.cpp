#include "file_response.hpp"

#include <strings.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "picloud/sdk/admin_routes.hpp"
#include "picloud/sdk/text.hpp"

namespace picloud::files {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The opaque tags of an If-Match / If-None-Match list, with whether each
// was weak; "*" is reported as any.
struct TagList {
  bool any = false;
  std::vector<std::pair<bool, std::string_view>> tags;  // (weak, "opaque")
};
TagList tag_list(std::string_view header) {
  TagList out;
  std::size_t at = 0;
  while (at <= header.size()) {
    std::size_t comma = header.find(',', at);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = trim(header.substr(at, comma - at));
    if (item == "*") out.any = true;
    bool weak = item.substr(0, 2) == "W/";
    if (weak) item.remove_prefix(2);
    if (item.size() >= 2 && item.front() == '"' && item.back() == '"') out.tags.emplace_back(weak, item);
    at = comma + 1;
  }
  return out;
}

bool strong_match(std::string_view header, std::string_view etag) {
  TagList list = tag_list(header);
  if (list.any) return true;
  for (const auto& [weak, tag] : list.tags)
    if (!weak && tag == etag) return true;
  return false;
}

bool weak_match(std::string_view header, std::string_view etag) {
  TagList list = tag_list(header);
  if (list.any) return true;
  for (const auto& [weak, tag] : list.tags)
    if (tag == etag) return true;
  return false;
}

std::optional<std::int64_t> digits(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// Content-Disposition with an RFC 5987 filename*: the name's last segment,
// percent-encoded as UTF-8.
std::string disposition(std::string_view type, std::string_view name) {
  std::size_t slash = name.rfind('/');
  std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  if (base.empty()) base = "file";
  // RFC 8187's attr-char: letters, digits and !#$&+-.^_`|~.
  return std::string(type) + "; filename*=UTF-8''" + sdk::percent_encode(base, "!#$&+-.^_`|~");
}

}  // namespace

void fail_with(const sdk::Error& error) {
  if (error.code == "file_too_large" || error.code == "quota_exceeded") sdk::fail(413, error.code, error.message);
  if (error.code == "storage_full") sdk::fail(507, error.code, error.message);
  if (error.code == "corrupted")
    sdk::fail(500, "corrupted", "the file is corrupted: its bytes do not match their SHA-256 (kept for inspection)");
  sdk::fail(error);
}

std::string http_date(std::int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  std::string s(trim(text));
  struct tm tm {};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

RangeAnswer parse_range(std::string_view header, std::int64_t size, ByteRange& range) {
  header = trim(header);
  // The unit is case-insensitive.
  if (header.size() < 6 || strncasecmp(header.data(), "bytes=", 6) != 0) return RangeAnswer::whole;
  std::string_view spec = trim(header.substr(6));
  if (spec.empty() || spec.find(',') != std::string_view::npos) return RangeAnswer::whole;
  std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeAnswer::whole;
  std::string_view first_text = trim(spec.substr(0, dash));
  std::string_view last_text = trim(spec.substr(dash + 1));
  if (first_text.empty()) {  // suffix: the last N bytes
    auto n = digits(last_text);
    if (!n) return RangeAnswer::whole;
    if (*n == 0 || size == 0) return RangeAnswer::unsatisfiable;
    range.length = std::min(*n, size);
    range.first = size - range.length;
    return RangeAnswer::partial;
  }
  auto first = digits(first_text);
  if (!first) return RangeAnswer::whole;
  std::int64_t last = size - 1;
  if (!last_text.empty()) {
    // A last position past any size (more digits than fit) is the end.
    const bool all_digits = std::all_of(last_text.begin(), last_text.end(), [](char c) { return c >= '0' && c <= '9'; });
    auto l = digits(last_text);
    if (!all_digits || (l && *l < *first)) return RangeAnswer::whole;
    last = l ? std::min(*l, size - 1) : size - 1;
  }
  if (*first >= size) return RangeAnswer::unsatisfiable;
  range.first = *first;
  range.length = last - *first + 1;
  return RangeAnswer::partial;
}

sdk::Result<std::optional<sdk::HttpResponse>> serve_file(FilesStore& store, std::string_view app,
                                                         std::string_view collection, std::string_view name,
                                                         const sdk::HttpRequest& request, ServePolicy policy) {
  using Answer = std::optional<sdk::HttpResponse>;
  // A replace between reading the row and opening its bytes frees the old
  // blob at once (local backend): read the row again.
  for (int attempt = 0;; ++attempt) {
    auto found = store.head(app, collection, name);
    if (!found) return found.error();
    if (!*found) return Answer();
    const FileHead& head = **found;
    if (head.corrupted) return FilesStore::corrupted_error(head);
    const std::string etag = "\"" + head.sha256 + "\"";
    const std::int64_t modified = head.updated_at / 1000;
    sdk::HttpResponse res;
    res.headers = {{"etag", etag},
                   {"last-modified", http_date(modified)},
                   {"accept-ranges", "bytes"},
                   {"x-content-type-options", "nosniff"}};
    if (policy.disposition == ServePolicy::Disposition::attachment)
      res.headers.emplace_back("content-disposition", disposition("attachment", head.name));
    if (policy.disposition == ServePolicy::Disposition::inline_named)
      res.headers.emplace_back("content-disposition", disposition("inline", head.name));
    if (policy.sandbox) res.headers.emplace_back("content-security-policy", "sandbox");
    if (!policy.cache_control.empty()) res.headers.emplace_back("cache-control", policy.cache_control);
    const bool get_or_head = request.method == "GET" || request.method == "HEAD";

    // Preconditions, in RFC 9110's order (13.2.2).
    if (auto h = request.header("if-match"); !h.empty()) {
      if (!strong_match(h, etag)) return Answer(sdk::HttpResponse{412, res.headers, ""});
    } else if (auto h = request.header("if-unmodified-since"); !h.empty()) {
      if (auto t = parse_http_date(h); t && modified > *t) return Answer(sdk::HttpResponse{412, res.headers, ""});
    }
    if (auto h = request.header("if-none-match"); !h.empty()) {
      if (weak_match(h, etag)) {
        if (get_or_head) return Answer(sdk::HttpResponse{304, res.headers, ""});
        return Answer(sdk::HttpResponse{412, res.headers, ""});
      }
    } else if (auto h = request.header("if-modified-since"); !h.empty() && get_or_head) {
      if (auto t = parse_http_date(h); t && modified <= *t) return Answer(sdk::HttpResponse{304, res.headers, ""});
    }

    ByteRange range{0, head.size};
    RangeAnswer ranged = RangeAnswer::whole;
    if (auto h = request.header("range"); !h.empty() && request.method == "GET") {
      bool current = true;
      if (auto ir = request.header("if-range"); !ir.empty()) {
        std::string_view v = trim(ir);
        current = v == etag;  // strong comparison: a weak tag, or a date, never matches
      }
      if (current) ranged = parse_range(h, head.size, range);
    }
    if (ranged == RangeAnswer::unsatisfiable) {
      res.status = 416;
      res.headers.emplace_back("content-range", "bytes */" + std::to_string(head.size));
      return Answer(std::move(res));
    }
    res.headers.emplace_back("content-type", head.content_type);
    if (ranged == RangeAnswer::partial) {
      res.status = 206;
      res.headers.emplace_back("content-range", "bytes " + std::to_string(range.first) + "-" +
                                                    std::to_string(range.first + range.length - 1) + "/" +
                                                    std::to_string(head.size));
    }
    if (request.method == "HEAD") {
      // The length without the bytes: a stream the server never reads.
      res.stream = std::make_shared<sdk::GeneratedBody>(
          range.length, [](char*, std::size_t) -> sdk::Result<std::size_t> { return std::size_t{0}; });
      return Answer(std::move(res));
    }
    auto stream = store.open(app, head, range.first, range.length, ranged == RangeAnswer::whole);
    if (!stream) {
      if (stream.error().code == "missing" && attempt < 2) continue;
      if (stream.error().code == "missing") store.missing(app, head);
      return stream.error();
    }
    res.stream = std::move(*stream);
    return Answer(std::move(res));
  }
}

}  // namespace picloud::files
