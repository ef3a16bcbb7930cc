// What the built-in service plugins' end-to-end tests share: readable
// failures for SDK values, substring assertions, apps with a driver script
// bound to a route, and the driver's replies.
#pragma once

#include <string>
#include <vector>

#include "fixture.hpp"
#include "scripts.hpp"

namespace picloud::sdk {
// Failures print values as JSON.
inline void PrintTo(const Value& v, std::ostream* os) { *os << to_json(v); }
}  // namespace picloud::sdk

namespace picloud::test {

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// The ```angelscript blocks of a guide under docs/ ("kv.md"), in order.
inline std::vector<std::string> guide_examples(const std::string& guide_name) {
  std::string guide = read_file(source_dir() + "/docs/" + guide_name);
  std::vector<std::string> examples;
  const std::string fence = "```angelscript\n";
  for (std::size_t at = guide.find(fence); at != std::string::npos; at = guide.find(fence, at + 1)) {
    std::size_t start = at + fence.size();
    examples.push_back(guide.substr(start, guide.find("```", start) - start));
  }
  return examples;
}

struct DriverReply {
  int status = 0;
  sdk::Value json;
  std::string body;
  std::string error() const { return json["error"]["message"].string_or(""); }
};

// POSTs `args` as JSON to `path` of the app's host.
inline DriverReply drive_at(Instance& pc, const std::string& slug, const std::string& path, const sdk::Value& args) {
  auto r = on(pc, slug + ".localhost", "POST", path, sdk::to_json(args), {{"Content-Type", "application/json"}});
  // Results may be scalars ("1", "true"), which the JSON reader takes only inside an array.
  return {r.status, kernel::admin::parse_stored_json("[" + r.body + "]")[0], r.body};
}

}  // namespace picloud::test
