// The script `json` type: a tree of reference-counted nodes that maps
// losslessly to and from sdk::Value (int and float stay apart, bytes stay
// bytes).
//
// Semantics, chosen so scripts cannot build cycles or unbounded depth:
//  - storing a value (assignment, set, push, literals) copies it;
//  - indexing returns the stored child itself, so `o["a"]["b"] = 1` edits o;
//  - indexing a missing key returns a placeholder that joins its parent only
//    when written, so reading `o["x"]` never adds "x";
//  - nesting deeper than the run's json depth limit is refused.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <boost/intrusive_ptr.hpp>

#include "picloud/sdk/value.hpp"
#include "scripting/as.hpp"

namespace picloud::scripting {

class JsonNode;
using JsonPtr = boost::intrusive_ptr<JsonNode>;

class JsonNode {
 public:
  using Items = std::vector<JsonPtr>;
  using Members = std::map<std::string, JsonPtr, std::less<>>;
  using Data = std::variant<std::monostate, bool, std::int64_t, double, std::string, sdk::Bytes, Items, Members>;

  JsonNode() = default;
  explicit JsonNode(int depth) : depth_(depth) {}
  JsonNode(const JsonNode&) = delete;
  JsonNode& operator=(const JsonNode&) = delete;

  const Data& data() const { return data_; }
  sdk::ValueType type() const { return static_cast<sdk::ValueType>(data_.index()); }
  int depth() const { return depth_; }

  // Replaces this node's content with a copy of `source` (joins its parent
  // first if it is a placeholder).
  void assign(const JsonNode& source);
  void assign(Data scalar);  // null, bool, int, float, string or bytes only

  // Child by key: the member, or a placeholder for a missing key (this must
  // be an object or null).
  JsonPtr member(const std::string& key);
  // Child by key for reading: the member or a detached null.
  JsonPtr member(const std::string& key) const;
  // Child by position; throws when out of range.
  JsonPtr item(std::int64_t index) const;

  void set(const std::string& key, const JsonNode& value);
  void push(const JsonNode& value);
  bool remove(const std::string& key);
  std::size_t size() const;
  bool has(const std::string& key) const;

  friend void intrusive_ptr_add_ref(const JsonNode* n) { n->refs_.fetch_add(1, std::memory_order_relaxed); }
  friend void intrusive_ptr_release(const JsonNode* n) {
    if (n->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete n;
  }

 private:
  // Makes a placeholder part of its parent (and the parent of its parent).
  void materialise();
  Members& as_object_for_write();
  Items& as_array_for_write();

  Data data_;
  int depth_ = 0;
  JsonPtr pending_parent_;  // set while this is an unattached placeholder
  std::string pending_key_;
  mutable std::atomic<int> refs_{0};
};

// The depth limit in force (the current run's, or the default).
int json_max_depth();

JsonPtr make_json(int depth = 0);
// Deep copy placed at `depth`; throws ScriptException past the depth limit.
JsonPtr clone_json(const JsonNode& source, int depth);
JsonPtr json_from_value(const sdk::Value& value, int depth = 0);
sdk::Value json_to_value(const JsonNode& node);

// Strict JSON text (RFC 8259); throws ScriptException naming the problem.
JsonPtr parse_json(const std::string& text);

// Poco's parser refuses integers beyond uint64 and below int64, though they
// are valid JSON (PostgreSQL writes 1e20 in jsonb as 100000000000000000000):
// `out` gets the text with ".0" after each, so they read as floats. False
// (and `out` untouched) when there are none.
bool widen_big_integers(const std::string& text, std::string& out);
std::string stringify_json(const JsonNode& node, bool pretty = false);

// Registers `json` and the `json::` namespace. Needs string and array.
void register_json(asIScriptEngine* engine);

// The engine's type for `json`, once registered.
asITypeInfo* json_type_info(asIScriptEngine* engine);

}  // namespace picloud::scripting
