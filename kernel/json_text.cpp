#include "kernel/json_text.hpp"

#include "scripting/json.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Handler.h>
#include <Poco/JSON/Parser.h>

#include <string>
#include <vector>

namespace picloud::kernel {
namespace {

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

// Builds the value as Poco's parser reads the text, without the tree of
// Dynamic::Var objects Poco's own handler would make first (most of a
// small document's cost). Strict (request bodies): refuses what Poco would
// otherwise resolve silently, a field named twice in one object (the last
// would win; another parser in front of PiCloud may keep the first) and a
// field name holding U+0000.
class ValueBuilder final : public Poco::JSON::Handler {
 public:
  explicit ValueBuilder(bool strict) : strict_(strict) {}
  void reset() override {
    open_.clear();
    keys_.clear();
    root_ = sdk::Value();
  }
  void startObject() override { open_.emplace_back(sdk::Object{}); }
  void endObject() override { close(); }
  void startArray() override { open_.emplace_back(sdk::Array{}); }
  void endArray() override { close(); }
  void key(const std::string& k) override {
    if (strict_) {
      if (k.find('\0') != std::string::npos)
        throw Poco::JSON::JSONException("a field name holds the NUL character (U+0000)");
      if (!open_.empty() && open_.back().is_object() && open_.back().as_object().count(k))
        throw Poco::JSON::JSONException("the field \"" + k + "\" appears twice in one object");
    }
    keys_.push_back(k);
  }
  void null() override { add(sdk::Value()); }
  void value(int v) override { add(sdk::Value(static_cast<std::int64_t>(v))); }
  void value(unsigned v) override { add(sdk::Value(static_cast<std::int64_t>(v))); }
  void value(Poco::Int64 v) override { add(sdk::Value(static_cast<std::int64_t>(v))); }
  // Poco reads only integers above INT64_MAX as UInt64: they do not fit an int.
  void value(Poco::UInt64 v) override { add(sdk::Value(static_cast<double>(v))); }
  void value(const std::string& v) override { add(sdk::Value(v)); }
  void value(double v) override { add(sdk::Value(v)); }
  void value(bool v) override { add(sdk::Value(v)); }
  sdk::Value take() { return std::move(root_); }

 private:
  void add(sdk::Value v) {
    if (open_.empty()) {
      root_ = std::move(v);
      return;
    }
    sdk::Value& into = open_.back();
    if (into.is_array()) {
      into.as_array().push_back(std::move(v));
    } else {
      into.as_object().insert_or_assign(std::move(keys_.back()), std::move(v));
      keys_.pop_back();
    }
  }
  void close() {
    sdk::Value done = std::move(open_.back());
    open_.pop_back();
    add(std::move(done));
  }

  const bool strict_;
  std::vector<sdk::Value> open_;   // the containers being read, outermost first
  std::vector<std::string> keys_;  // the field names waiting for their values
  sdk::Value root_;
};

}  // namespace

sdk::Result<sdk::Value> parse_json(std::string_view text, int max_depth, JsonStrictness strictness) {
  const bool strict = strictness == JsonStrictness::request;
  // Poco cuts a field name at U+0000 before any handler sees it.
  if (strict && nul_in_field_name(text))
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "malformed JSON: a field name holds the NUL character (U+0000)");
  Poco::JSON::Parser parser;
  auto* builder = new ValueBuilder(strict);
  parser.setHandler(builder);  // the parser owns it
  // Poco reads only an object or an array at the top: a scalar ("1", "true")
  // is read as the one element of an array around it.
  parser.setDepth(static_cast<std::size_t>(max_depth) + 1);
  std::string wrapped;
  wrapped.reserve(text.size() + 2);
  wrapped.append("[").append(text).append("]");
  try {
    try {
      parser.parse(wrapped);
    } catch (const Poco::Exception&) {
      // Retried only on failure: most text has no such integer.
      std::string widened;
      if (!scripting::widen_big_integers(wrapped, widened)) throw;
      wrapped = std::move(widened);
      parser.reset();
      builder = new ValueBuilder(strict);
      parser.setHandler(builder);
      parser.parse(wrapped);
    }
    sdk::Value outer = builder->take();
    if (!outer.is_array() || outer.size() != 1)
      return sdk::make_error(sdk::ErrorKind::invalid_argument, "malformed JSON: not one value");
    return std::move(outer.as_array()[0]);
  } catch (const Poco::Exception& e) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "malformed JSON: " + (e.message().empty() ? e.displayText() : e.message()));
  } catch (const std::exception& e) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument, std::string("malformed JSON: ") + e.what());
  }
}

}  // namespace picloud::kernel
