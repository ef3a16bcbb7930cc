// Small text codecs plugins need at their edges: a UTF-8 check, base64url
// (opaque cursors and tokens), URL percent-decoding (query strings) and
// RFC 3339 times. Header-only and dependency-free, so a plugin links no
// library for them; each is a few lines with an exact specification.
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace picloud::sdk {

// The character starting at byte `i` of `text` and, in `len`, its length
// in bytes; nothing where no well-formed UTF-8 sequence starts there (an
// overlong form, a surrogate, past U+10FFFF: PostgreSQL refuses those).
inline std::optional<char32_t> decode_utf8(std::string_view text, std::size_t i, std::size_t& len) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char c = s[i];
  len = 1;
  if (c < 0x80) return c;
  std::size_t extra;
  char32_t code;
  if ((c & 0xE0) == 0xC0)
    extra = 1, code = c & 0x1F;
  else if ((c & 0xF0) == 0xE0)
    extra = 2, code = c & 0x0F;
  else if ((c & 0xF8) == 0xF0)
    extra = 3, code = c & 0x07;
  else
    return std::nullopt;
  if (i + extra >= text.size()) return std::nullopt;
  for (std::size_t k = 1; k <= extra; ++k) {
    if ((s[i + k] & 0xC0) != 0x80) return std::nullopt;
    code = (code << 6) | (s[i + k] & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  if (code < kMin[extra] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return std::nullopt;
  len = extra + 1;
  return code;
}

// Whether `text` is well-formed UTF-8 (decode_utf8's rules).
inline bool is_utf8(std::string_view text) {
  std::size_t i = 0, len = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    if (!decode_utf8(text, i, len)) return false;
    i += len;
  }
  return true;
}

// Base64url without padding (RFC 4648 §5).
inline std::string base64url_encode(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(data[k])); };
  for (; i + 3 <= data.size(); i += 3) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  if (std::size_t rest = data.size() - i; rest > 0) {
    std::uint32_t n = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    if (rest == 2) out.push_back(kAlphabet[(n >> 6) & 63]);
  }
  return out;
}

// The bytes of unpadded base64url text; nothing when `text` holds another
// character, has an impossible length (4k+1) or non-zero trailing bits (so
// each byte string has exactly one encoding).
inline std::optional<std::string> base64url_decode(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t bits = 0;
  int have = 0;
  for (char c : text) {
    int d = digit(c);
    if (d < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(d);
    have += 6;
    if (have >= 8) {
      have -= 8;
      out.push_back(static_cast<char>((bits >> have) & 0xFF));
    }
  }
  if ((bits & ((1u << have) - 1)) != 0) return std::nullopt;
  return out;
}

// Percent-decodes one part of a URL query string ('+' is a space when
// `plus_is_space`); nothing when a '%' is not followed by two hex digits.
inline std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = true) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
  }
  return out;
}

// Percent-encodes every byte but ASCII letters, digits and those in `keep`
// (RFC 3986's unreserved "-._~" by default), as upper-case %XX.
inline std::string percent_encode(std::string_view text, std::string_view keep = "-._~") {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 keep.find(static_cast<char>(c)) != std::string_view::npos;
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Milliseconds since the epoch as RFC 3339 UTC with milliseconds
// ("2026-01-31T23:59:59.123Z").
inline std::string rfc3339(std::int64_t ms) {
  std::int64_t seconds = ms / 1000, millis = ms % 1000;
  if (millis < 0) millis += 1000, seconds -= 1;
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return text;
}

// A comma-separated config value as its items, each trimmed of spaces and
// tabs, empty ones left out ("a, b,,c" -> {"a", "b", "c"}).
inline std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t end = text.find(',', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(at, end - at);
    auto b = item.find_first_not_of(" \t");
    if (b != std::string_view::npos) items.emplace_back(item.substr(b, item.find_last_not_of(" \t") - b + 1));
    at = end + 1;
  }
  return items;
}

}  // namespace picloud::sdk
