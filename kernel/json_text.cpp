#include "kernel/json_text.hpp"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include <set>
#include <string>
#include <vector>

namespace picloud::kernel {
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

// Whether a field name in JSON `text` holds the escape \u0000. Poco's
// parser cuts a field name at U+0000 before any handler sees it, so this
// looks at the text: a string is a field name when a ':' follows it.
bool nul_in_field_name(std::string_view text) {
  bool in_string = false, nul = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!in_string) {
      if (c == '"') in_string = true, nul = false;
      continue;
    }
    if (c == '\\') {
      if (text.compare(i, 6, "\\u0000") == 0) nul = true;
      ++i;  // the escaped character
    } else if (c == '"') {
      in_string = false;
      std::size_t j = text.find_first_not_of(" \t\r\n", i + 1);
      if (nul && j != std::string_view::npos && text[j] == ':') return true;
    }
  }
  return false;
}

// Poco's handler, refusing what it would otherwise resolve silently: a field
// named twice in one object (Poco keeps the last; another parser in front
// of PiCloud may keep the first) and a field name holding U+0000.
class StrictHandler final : public Poco::JSON::ParseHandler {
 public:
  void reset() override {
    seen_.clear();
    ParseHandler::reset();
  }
  void startObject() override {
    seen_.emplace_back();
    ParseHandler::startObject();
  }
  void endObject() override {
    if (!seen_.empty()) seen_.pop_back();
    ParseHandler::endObject();
  }
  void key(const std::string& k) override {
    if (k.find('\0') != std::string::npos)
      throw Poco::JSON::JSONException("a field name holds the NUL character (U+0000)");
    if (!seen_.empty() && !seen_.back().insert(k).second)
      throw Poco::JSON::JSONException("the field \"" + k + "\" appears twice in one object");
    ParseHandler::key(k);
  }

 private:
  std::vector<std::set<std::string>> seen_;
};

}  // namespace

sdk::Result<sdk::Value> parse_json(std::string_view text, int max_depth, JsonStrictness strictness) {
  Poco::JSON::Parser parser;
  if (strictness == JsonStrictness::request) {
    if (nul_in_field_name(text))
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "malformed JSON: a field name holds the NUL character (U+0000)");
    parser.setHandler(new StrictHandler);
  }
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

}  // namespace picloud::kernel
