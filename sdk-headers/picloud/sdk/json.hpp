// JSON text for SDK values, header-only so a plugin needs no library for it.
//
// Mapping: null/bool/string/array/object as usual; int stays an integer and
// float always carries a decimal point or exponent, so the two survive a round
// trip; bytes serialise as a base64 string (JSON has no bytes type).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "picloud/sdk/text.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::sdk {

namespace json_detail {

inline void append_escaped(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

inline void append_base64(std::string& out, const Bytes& bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.push_back('"');
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], alphabet[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    unsigned v = bytes[i] << 16;
    out += {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], '='};
  }
  out.push_back('"');
}

inline void append_json(std::string& out, const Value& v) {
  switch (v.type()) {
    case ValueType::null: out += "null"; break;
    case ValueType::boolean: out += v.as_bool() ? "true" : "false"; break;
    case ValueType::integer: out += std::to_string(v.as_int()); break;
    case ValueType::number: {
      double d = v.as_float();
      if (!std::isfinite(d)) {  // JSON has no NaN or infinity
        out += "null";
        break;
      }
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
      std::string text(buf, ec == std::errc() ? end : buf);
      if (text.find_first_of(".eE") == std::string::npos) text += ".0";
      out += text;
      break;
    }
    case ValueType::string: append_escaped(out, v.as_string()); break;
    case ValueType::bytes: append_base64(out, v.as_bytes()); break;
    case ValueType::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        append_json(out, item);
      }
      out.push_back(']');
      break;
    }
    case ValueType::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : v.as_object()) {
        if (!first) out.push_back(',');
        first = false;
        append_escaped(out, key);
        out.push_back(':');
        append_json(out, item);
      }
      out.push_back('}');
      break;
    }
  }
}

}  // namespace json_detail

inline std::string to_json(const Value& value) {
  std::string out;
  json_detail::append_json(out, value);
  return out;
}

// The first part of `value` that JSON text cannot hold, described for an
// error message with `label` as its root ("value.tags[2] is bytes, ..."), or
// empty when there is none: bytes, non-finite numbers, text that is not
// UTF-8, text or field names holding U+0000 (PostgreSQL cannot store it, and
// both databases must behave alike).
inline std::string unstorable_part(const Value& v, const std::string& label) {
  switch (v.type()) {
    case ValueType::bytes:
      return label + " is bytes, which JSON cannot hold (store base64::encode of them)";
    case ValueType::number:
      return std::isfinite(v.as_float()) ? "" : label + " is not a finite number";
    case ValueType::string:
      if (!is_utf8(v.as_string())) return label + " is text that is not valid UTF-8";
      return v.as_string().find('\0') == std::string::npos
                 ? ""
                 : label + " holds the NUL character (U+0000), which cannot be stored";
    case ValueType::array:
      for (std::size_t i = 0; i < v.size(); ++i)
        if (auto bad = unstorable_part(v[i], label + "[" + std::to_string(i) + "]"); !bad.empty()) return bad;
      return "";
    case ValueType::object:
      for (const auto& [k, child] : v.as_object()) {
        if (!is_utf8(k)) return label + " has a field name that is not valid UTF-8";
        if (k.find('\0') != std::string::npos) return label + " has a field name holding the NUL character (U+0000)";
        if (auto bad = unstorable_part(child, label + "." + k); !bad.empty()) return bad;
      }
      return "";
    default:
      return "";
  }
}

}  // namespace picloud::sdk
