#include "support/json_text.hpp"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cmath>
#include <string>

namespace picloud::plugin_support {
namespace {

sdk::Value to_value(const Poco::Dynamic::Var& var) {
  if (var.isEmpty()) return nullptr;
  if (var.type() == typeid(Poco::JSON::Object::Ptr)) {
    sdk::Object out;
    for (const auto& [key, child] : *var.extract<Poco::JSON::Object::Ptr>()) out.emplace(key, to_value(child));
    return out;
  }
  if (var.type() == typeid(Poco::JSON::Array::Ptr)) {
    sdk::Array out;
    for (const auto& child : *var.extract<Poco::JSON::Array::Ptr>()) out.push_back(to_value(child));
    return out;
  }
  if (var.isBoolean()) return var.extract<bool>();
  if (var.isString()) return var.extract<std::string>();
  // Poco reads integers above INT64_MAX as UInt64: they do not fit an int.
  if (var.type() == typeid(Poco::UInt64)) return static_cast<double>(var.extract<Poco::UInt64>());
  if (var.isInteger()) return static_cast<std::int64_t>(var.convert<Poco::Int64>());
  if (var.isNumeric()) return var.convert<double>();
  return nullptr;
}

}  // namespace

sdk::Result<sdk::Value> parse_json(std::string_view text, int max_depth) {
  Poco::JSON::Parser parser;
  // Poco reads only an object or an array at the top: a scalar ("1", "true")
  // is read as the one element of an array around it.
  parser.setDepth(static_cast<std::size_t>(max_depth) + 1);
  std::string wrapped;
  wrapped.reserve(text.size() + 2);
  wrapped.append("[").append(text).append("]");
  try {
    sdk::Value outer = to_value(parser.parse(wrapped));
    if (outer.size() != 1) return sdk::make_error(sdk::ErrorKind::invalid_argument, "malformed JSON: not one value");
    return std::move(outer.as_array()[0]);
  } catch (const Poco::Exception& e) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "malformed JSON: " + (e.message().empty() ? e.displayText() : e.message()));
  } catch (const std::exception& e) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument, std::string("malformed JSON: ") + e.what());
  }
}

bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  while (i < text.size()) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    std::uint32_t code;
    if ((c & 0xE0) == 0xC0)
      extra = 1, code = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
      extra = 2, code = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
      extra = 3, code = c & 0x07;
    else
      return false;
    if (i + extra >= text.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      code = (code << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return false;
    i += extra + 1;
  }
  return true;
}

std::string unstorable_part(const sdk::Value& v, const std::string& label) {
  switch (v.type()) {
    case sdk::ValueType::bytes:
      return label + " is bytes, which JSON cannot hold (store base64::encode of them)";
    case sdk::ValueType::number:
      return std::isfinite(v.as_float()) ? "" : label + " is not a finite number";
    case sdk::ValueType::string:
      return is_utf8(v.as_string()) ? "" : label + " is text that is not valid UTF-8";
    case sdk::ValueType::array:
      for (std::size_t i = 0; i < v.size(); ++i)
        if (auto bad = unstorable_part(v[i], label + "[" + std::to_string(i) + "]"); !bad.empty()) return bad;
      return "";
    case sdk::ValueType::object:
      for (const auto& [k, child] : v.as_object()) {
        if (!is_utf8(k)) return label + " has a field name that is not valid UTF-8";
        if (auto bad = unstorable_part(child, label + "." + k); !bad.empty()) return bad;
      }
      return "";
    default:
      return "";
  }
}

}  // namespace picloud::plugin_support
