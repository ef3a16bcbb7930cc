#include "scripting/json.hpp"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <angelscript/scriptarray.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "picloud/sdk/json.hpp"
#include "scripting/bytes.hpp"
#include "scripting/run_state.hpp"

namespace picloud::scripting {
namespace {

constexpr int kDefaultMaxDepth = 64;

[[noreturn]] void fail(const std::string& message) { throw ScriptException("json: " + message); }

void check_depth(int depth) {
  if (depth > json_max_depth())
    fail("nesting deeper than " + std::to_string(json_max_depth()) + " levels");
}

std::string type_name(const JsonNode& n) { return std::string(sdk::to_string(n.type())); }

}  // namespace

int json_max_depth() {
  RunState* run = RunState::current();
  return run && run->limits ? run->limits->max_json_depth : kDefaultMaxDepth;
}

JsonPtr make_json(int depth) { return JsonPtr(new JsonNode(depth)); }

JsonPtr clone_json(const JsonNode& source, int depth) {
  check_depth(depth);
  JsonPtr copy = make_json(depth);
  JsonNode::Data data;
  if (auto* items = std::get_if<JsonNode::Items>(&source.data())) {
    JsonNode::Items out;
    out.reserve(items->size());
    for (const auto& item : *items) out.push_back(clone_json(*item, depth + 1));
    data = std::move(out);
  } else if (auto* members = std::get_if<JsonNode::Members>(&source.data())) {
    JsonNode::Members out;
    for (const auto& [key, item] : *members) out.emplace(key, clone_json(*item, depth + 1));
    data = std::move(out);
  } else {
    data = source.data();
  }
  // Children already sit at the right depth; install without re-copying.
  copy->assign(std::move(data));
  return copy;
}

void JsonNode::materialise() {
  if (!pending_parent_) return;
  JsonPtr parent = std::move(pending_parent_);
  pending_parent_.reset();
  parent->materialise();
  JsonPtr& slot = parent->as_object_for_write()[pending_key_];
  // Another placeholder for the same key may have joined first
  // (`json@ a = o["x"]["y"]; json@ b = o["x"]["z"]; a = 1; b = 2;`): take
  // over what it holds instead of dropping it ("y" was lost). The write that
  // follows then edits or replaces that content.
  if (slot) data_ = slot->data();
  slot = JsonPtr(this);
  pending_key_.clear();
}

JsonNode::Members& JsonNode::as_object_for_write() {
  materialise();
  if (std::holds_alternative<std::monostate>(data_)) data_ = Members{};
  if (auto* m = std::get_if<Members>(&data_)) return *m;
  fail("cannot set a key on " + type_name(*this));
}

JsonNode::Items& JsonNode::as_array_for_write() {
  materialise();
  if (std::holds_alternative<std::monostate>(data_)) data_ = Items{};
  if (auto* a = std::get_if<Items>(&data_)) return *a;
  fail("cannot push onto " + type_name(*this));
}

void JsonNode::assign(const JsonNode& source) {
  JsonPtr copy = clone_json(source, depth_);  // copy first: source may be this or an ancestor
  materialise();
  data_ = std::move(copy->data_);
}

void JsonNode::assign(Data value) {
  materialise();
  data_ = std::move(value);
}

JsonPtr JsonNode::member(const std::string& key) {
  if (auto* m = std::get_if<Members>(&data_)) {
    auto it = m->find(key);
    if (it != m->end()) return it->second;
  } else if (!std::holds_alternative<std::monostate>(data_)) {
    fail("cannot index " + type_name(*this) + " by key \"" + key + "\"");
  }
  check_depth(depth_ + 1);
  JsonPtr placeholder = make_json(depth_ + 1);
  placeholder->pending_parent_ = JsonPtr(this);
  placeholder->pending_key_ = key;
  return placeholder;
}

JsonPtr JsonNode::member(const std::string& key) const {
  if (auto* m = std::get_if<Members>(&data_)) {
    auto it = m->find(key);
    if (it != m->end()) return it->second;
  } else if (!std::holds_alternative<std::monostate>(data_)) {
    fail("cannot index " + type_name(*this) + " by key \"" + key + "\"");
  }
  return make_json(depth_ + 1);
}

JsonPtr JsonNode::item(std::int64_t index) const {
  auto* a = std::get_if<Items>(&data_);
  if (!a) fail("cannot index " + type_name(*this) + " by position");
  if (index < 0 || index >= static_cast<std::int64_t>(a->size()))
    fail("index " + std::to_string(index) + " out of range (size " + std::to_string(a->size()) + ")");
  return (*a)[static_cast<std::size_t>(index)];
}

void JsonNode::set(const std::string& key, const JsonNode& value) {
  JsonPtr copy = clone_json(value, depth_ + 1);
  as_object_for_write()[key] = std::move(copy);
}

void JsonNode::push(const JsonNode& value) {
  JsonPtr copy = clone_json(value, depth_ + 1);
  as_array_for_write().push_back(std::move(copy));
}

bool JsonNode::remove(const std::string& key) {
  auto* m = std::get_if<Members>(&data_);
  return m && m->erase(key) > 0;
}

std::size_t JsonNode::size() const {
  if (auto* a = std::get_if<Items>(&data_)) return a->size();
  if (auto* m = std::get_if<Members>(&data_)) return m->size();
  if (auto* s = std::get_if<std::string>(&data_)) return s->size();
  if (auto* b = std::get_if<sdk::Bytes>(&data_)) return b->size();
  return 0;
}

bool JsonNode::has(const std::string& key) const {
  auto* m = std::get_if<Members>(&data_);
  return m && m->count(key) > 0;
}

// --- conversions -------------------------------------------------------------

JsonPtr json_from_value(const sdk::Value& value, int depth) {
  check_depth(depth);
  JsonPtr node = make_json(depth);
  switch (value.type()) {
    case sdk::ValueType::null: break;
    case sdk::ValueType::boolean: node->assign(value.as_bool()); break;
    case sdk::ValueType::integer: node->assign(value.as_int()); break;
    case sdk::ValueType::number: node->assign(value.as_float()); break;
    case sdk::ValueType::string: node->assign(value.as_string()); break;
    case sdk::ValueType::bytes: node->assign(value.as_bytes()); break;
    case sdk::ValueType::array: {
      JsonNode::Items items;
      items.reserve(value.as_array().size());
      for (const auto& v : value.as_array()) items.push_back(json_from_value(v, depth + 1));
      node->assign(std::move(items));
      break;
    }
    case sdk::ValueType::object: {
      JsonNode::Members members;
      for (const auto& [k, v] : value.as_object()) members.emplace(k, json_from_value(v, depth + 1));
      node->assign(std::move(members));
      break;
    }
  }
  return node;
}

sdk::Value json_to_value(const JsonNode& node) {
  return std::visit(
      [](const auto& d) -> sdk::Value {
        using T = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return {};
        } else if constexpr (std::is_same_v<T, JsonNode::Items>) {
          sdk::Array out;
          out.reserve(d.size());
          for (const auto& item : d) out.push_back(json_to_value(*item));
          return sdk::Value(std::move(out));
        } else if constexpr (std::is_same_v<T, JsonNode::Members>) {
          sdk::Object out;
          for (const auto& [k, item] : d) out.emplace(k, json_to_value(*item));
          return sdk::Value(std::move(out));
        } else {
          return sdk::Value(d);
        }
      },
      node.data());
}

namespace {

JsonPtr from_poco(const Poco::Dynamic::Var& var, int depth) {
  check_depth(depth);
  JsonPtr node = make_json(depth);
  if (var.isEmpty()) return node;
  if (var.type() == typeid(Poco::JSON::Object::Ptr)) {
    auto object = var.extract<Poco::JSON::Object::Ptr>();
    JsonNode::Members members;
    for (const auto& [key, child] : *object) members.emplace(key, from_poco(child, depth + 1));
    node->assign(std::move(members));
  } else if (var.type() == typeid(Poco::JSON::Array::Ptr)) {
    auto array = var.extract<Poco::JSON::Array::Ptr>();
    JsonNode::Items items;
    items.reserve(array->size());
    for (const auto& child : *array) items.push_back(from_poco(child, depth + 1));
    node->assign(std::move(items));
  } else if (var.isBoolean()) {
    node->assign(var.extract<bool>());
  } else if (var.isString()) {
    node->assign(var.extract<std::string>());
  } else if (var.type() == typeid(Poco::UInt64)) {  // above INT64_MAX
    node->assign(static_cast<double>(var.extract<Poco::UInt64>()));
  } else if (var.isInteger()) {
    node->assign(static_cast<std::int64_t>(var.convert<Poco::Int64>()));
  } else if (var.isNumeric()) {
    node->assign(var.convert<double>());
  } else {
    fail("unsupported value");
  }
  return node;
}

void append_node(std::string& out, const JsonNode& node, bool pretty, int indent) {
  auto newline = [&](int level) {
    if (!pretty) return;
    out.push_back('\n');
    out.append(static_cast<std::size_t>(level) * 2, ' ');
  };
  if (auto* items = std::get_if<JsonNode::Items>(&node.data())) {
    out.push_back('[');
    bool first = true;
    for (const auto& item : *items) {
      if (!first) out.push_back(',');
      first = false;
      newline(indent + 1);
      append_node(out, *item, pretty, indent + 1);
    }
    if (!items->empty()) newline(indent);
    out.push_back(']');
  } else if (auto* members = std::get_if<JsonNode::Members>(&node.data())) {
    out.push_back('{');
    bool first = true;
    for (const auto& [key, item] : *members) {
      if (!first) out.push_back(',');
      first = false;
      newline(indent + 1);
      sdk::json_detail::append_escaped(out, key);
      out += pretty ? ": " : ":";
      append_node(out, *item, pretty, indent + 1);
    }
    if (!members->empty()) newline(indent);
    out.push_back('}');
  } else {
    sdk::json_detail::append_json(out, json_to_value(node));  // scalars only: cheap
  }
}

// Whether `token` is an integer (-?digits, no leading zero) outside int64.
bool beyond_int64(std::string_view token) {
  bool negative = !token.empty() && token.front() == '-';
  std::string_view digits = token.substr(negative ? 1 : 0);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) return false;
  if (digits.size() > 1 && digits.front() == '0') return false;  // invalid JSON: left for the parser to refuse
  std::string_view limit = negative ? "9223372036854775808" : "9223372036854775807";
  return digits.size() > limit.size() || (digits.size() == limit.size() && digits > limit);
}

}  // namespace

// Poco's parser refuses integers beyond uint64 and below int64 ("Not a valid
// unsigned integer: 100000000000000000000"), though they are valid JSON.
// Writing them with a fraction makes it read them as floats, the type such
// integers get here anyway. False (and `out` untouched) when there are none.
bool widen_big_integers(const std::string& text, std::string& out) {
  std::size_t copied = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    std::size_t end = i;
    while (end < text.size() && std::string_view("+-0123456789.eE").find(text[end]) != std::string_view::npos) ++end;
    if (beyond_int64(std::string_view(text).substr(i, end - i))) {
      out.append(text, copied, end - copied);
      out += ".0";
      copied = end;
    }
    i = end - 1;
  }
  if (copied == 0) return false;
  out.append(text, copied, std::string::npos);
  return true;
}


JsonPtr parse_json(const std::string& original) {
  std::string widened;
  const std::string& text = widen_big_integers(original, widened) ? widened : original;
  // Poco's parser takes only an object or an array at the top level ("42"
  // failed with "Attempt to set value on an empty stack"), while RFC 8259
  // allows any value: parse a scalar as the only element of an array.
  auto first = text.find_first_not_of(" \t\r\n");
  bool scalar = first != std::string::npos && text[first] != '{' && text[first] != '[';
  Poco::JSON::Parser parser;
  parser.setDepth(static_cast<std::size_t>(json_max_depth()) + (scalar ? 2 : 1));
  Poco::Dynamic::Var var;
  try {
    var = parser.parse(scalar ? "[" + text + "]" : text);
  } catch (const Poco::Exception& e) {
    std::string detail = e.message().empty() ? e.displayText() : e.message();
    fail("invalid JSON: " + detail);
  }
  if (scalar) {
    auto array = var.type() == typeid(Poco::JSON::Array::Ptr) ? var.extract<Poco::JSON::Array::Ptr>() : nullptr;
    if (!array || array->size() != 1) fail("invalid JSON: text after the value");
    return from_poco(array->get(0), 0);
  }
  return from_poco(var, 0);
}

std::string stringify_json(const JsonNode& node, bool pretty) {
  std::string out;
  append_node(out, node, pretty, 0);
  return out;
}

// --- script bindings ---------------------------------------------------------

namespace {

using Node = JsonNode;

JsonNode* hand_out(JsonPtr p) { return p.detach(); }  // the engine owns the reference now

JsonNode* factory() { return hand_out(make_json()); }

// json(x) for a scalar: also how a string, number or bool becomes a json
// where one is expected (a single-argument factory converts implicitly).
template <typename T>
JsonNode* scalar_factory(T value) {
  JsonPtr p = make_json();
  p->assign(JsonNode::Data(std::move(value)));
  return hand_out(p);
}
JsonNode* string_factory(const std::string& value) { return scalar_factory<std::string>(value); }
void add_ref(JsonNode* n) { intrusive_ptr_add_ref(n); }
void release(JsonNode* n) { intrusive_ptr_release(n); }

// Reads one `?` value (type id + address) into `target`.
void assign_any(asIScriptEngine* engine, JsonNode& target, int type_id, void* ref);

void assign_array(asIScriptEngine* engine, JsonNode& target, const CScriptArray& array) {
  target.assign(JsonNode::Items{});
  int element_type = array.GetElementTypeId();
  for (asUINT i = 0; i < array.GetSize(); ++i) {
    JsonPtr item = make_json(target.depth() + 1);
    check_depth(item->depth());
    assign_any(engine, *item, element_type, const_cast<void*>(array.At(i)));
    target.push(*item);
  }
}

void assign_any(asIScriptEngine* engine, JsonNode& target, int type_id, void* ref) {
  switch (type_id) {
    case 0: target.assign(std::monostate{}); return;  // null
    case asTYPEID_BOOL: target.assign(*static_cast<bool*>(ref)); return;
    case asTYPEID_INT8: target.assign(std::int64_t{*static_cast<std::int8_t*>(ref)}); return;
    case asTYPEID_INT16: target.assign(std::int64_t{*static_cast<std::int16_t*>(ref)}); return;
    case asTYPEID_INT32: target.assign(std::int64_t{*static_cast<std::int32_t*>(ref)}); return;
    case asTYPEID_INT64: target.assign(std::int64_t{*static_cast<std::int64_t*>(ref)}); return;
    case asTYPEID_UINT8: target.assign(std::int64_t{*static_cast<std::uint8_t*>(ref)}); return;
    case asTYPEID_UINT16: target.assign(std::int64_t{*static_cast<std::uint16_t*>(ref)}); return;
    case asTYPEID_UINT32: target.assign(std::int64_t{*static_cast<std::uint32_t*>(ref)}); return;
    case asTYPEID_UINT64: {
      auto v = *static_cast<std::uint64_t*>(ref);
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        target.assign(static_cast<double>(v));
      else
        target.assign(static_cast<std::int64_t>(v));
      return;
    }
    case asTYPEID_FLOAT: target.assign(double{*static_cast<float*>(ref)}); return;
    case asTYPEID_DOUBLE: target.assign(*static_cast<double*>(ref)); return;
    default: break;
  }
  asITypeInfo* type = engine->GetTypeInfoById(type_id);
  if (type && (type->GetFlags() & asOBJ_ENUM)) {
    target.assign(std::int64_t{*static_cast<int*>(ref)});
    return;
  }
  if (type_id & asTYPEID_OBJHANDLE) {
    ref = *static_cast<void**>(ref);
    if (!ref) {
      target.assign(std::monostate{});
      return;
    }
  }
  std::string name = type ? type->GetName() : "?";
  if (type && type == json_type_info(engine)) {
    target.assign(*static_cast<JsonNode*>(ref));
  } else if (name == "string") {
    target.assign(*static_cast<std::string*>(ref));
  } else if (name == "array") {
    assign_array(engine, target, *static_cast<CScriptArray*>(ref));
  } else {
    fail("cannot hold a value of type " + name);
  }
}

// json(array) for an array of scalars, strings or json (also the implicit
// conversion); array<uint8> is bytes, as json::bytes makes them.
JsonNode* array_factory(const CScriptArray& items) {
  JsonPtr n = make_json();
  assign_array(items.GetArrayObjectType()->GetEngine(), *n, items);
  return hand_out(n);
}
JsonNode* bytes_factory(const CScriptArray& data);

// {repeat {string, const json@}}: object literal. Each value is a json handle
// (const, so a read-only one such as req.query fits too), so
// the compiler converts plain values through json's factories, a nested
// `{...}` is itself an object literal, and null is json null. The buffer holds
// a count, then per entry a string (at a 4-byte boundary) and a handle.
JsonNode* list_factory(asBYTE* buffer) {
  asUINT count = *reinterpret_cast<asUINT*>(buffer);
  buffer += sizeof(asUINT);
  JsonPtr object = make_json();
  object->assign(JsonNode::Members{});
  const JsonNode null_value;
  for (asUINT i = 0; i < count; ++i) {
    if (auto misaligned = reinterpret_cast<asPWORD>(buffer) & 3) buffer += 4 - misaligned;
    const auto* key = reinterpret_cast<const std::string*>(buffer);
    buffer += sizeof(std::string);
    // The handle sits at a 4-byte boundary only: copied out, not loaded in place.
    const JsonNode* value = nullptr;
    std::memcpy(&value, buffer, sizeof value);
    buffer += sizeof value;
    object->set(*key, value ? *value : null_value);
  }
  return hand_out(object);
}

JsonNode* assign_json(const JsonNode& other, JsonNode* self) {
  self->assign(other);
  return self;
}
JsonNode* assign_int(std::int64_t v, JsonNode* self) {
  self->assign(v);
  return self;
}
JsonNode* assign_float(double v, JsonNode* self) {
  self->assign(v);
  return self;
}
JsonNode* assign_bool(bool v, JsonNode* self) {
  self->assign(v);
  return self;
}
JsonNode* assign_string(const std::string& v, JsonNode* self) {
  self->assign(v);
  return self;
}

JsonNode* index_key(const std::string& key, JsonNode* self) { return hand_out(self->member(key)); }
const JsonNode* index_key_const(const std::string& key, const JsonNode* self) {
  return hand_out(self->member(key));
}
JsonNode* index_position(std::int64_t i, JsonNode* self) { return hand_out(self->item(i)); }
const JsonNode* index_position_const(std::int64_t i, const JsonNode* self) { return hand_out(self->item(i)); }

std::string get_type(const JsonNode* self) {
  auto t = self->type();
  return t == sdk::ValueType::integer ? "int" : std::string(sdk::to_string(t));
}
bool is_null(const JsonNode* s) { return s->type() == sdk::ValueType::null; }
bool is_bool(const JsonNode* s) { return s->type() == sdk::ValueType::boolean; }
bool is_int(const JsonNode* s) { return s->type() == sdk::ValueType::integer; }
bool is_float(const JsonNode* s) { return s->type() == sdk::ValueType::number; }
bool is_number(const JsonNode* s) { return is_int(s) || is_float(s); }
bool is_string(const JsonNode* s) { return s->type() == sdk::ValueType::string; }
bool is_bytes(const JsonNode* s) { return s->type() == sdk::ValueType::bytes; }
bool is_array(const JsonNode* s) { return s->type() == sdk::ValueType::array; }
bool is_object(const JsonNode* s) { return s->type() == sdk::ValueType::object; }

std::int64_t as_int(std::int64_t fallback, const JsonNode* self) {
  if (auto* i = std::get_if<std::int64_t>(&self->data())) return *i;
  if (auto* d = std::get_if<double>(&self->data())) {
    // A float with an exact integer value converts; anything else falls back.
    if (std::isfinite(*d) && std::trunc(*d) == *d && std::fabs(*d) < 9.2e18) return static_cast<std::int64_t>(*d);
  }
  return fallback;
}
double as_float(double fallback, const JsonNode* self) {
  if (auto* d = std::get_if<double>(&self->data())) return *d;
  if (auto* i = std::get_if<std::int64_t>(&self->data())) return static_cast<double>(*i);
  return fallback;
}
std::string as_string(const std::string& fallback, const JsonNode* self) {
  if (auto* s = std::get_if<std::string>(&self->data())) return *s;
  return fallback;
}
bool as_bool(bool fallback, const JsonNode* self) {
  if (auto* b = std::get_if<bool>(&self->data())) return *b;
  return fallback;
}

std::int64_t get_int(const std::string& key, std::int64_t fallback, const JsonNode* self) {
  return self->has(key) ? as_int(fallback, self->member(key).get()) : fallback;
}
double get_float(const std::string& key, double fallback, const JsonNode* self) {
  return self->has(key) ? as_float(fallback, self->member(key).get()) : fallback;
}
std::string get_string(const std::string& key, const std::string& fallback, const JsonNode* self) {
  return self->has(key) ? as_string(fallback, self->member(key).get()) : fallback;
}
bool get_bool(const std::string& key, bool fallback, const JsonNode* self) {
  return self->has(key) ? as_bool(fallback, self->member(key).get()) : fallback;
}
bool has(const std::string& key, const JsonNode* self) { return self->has(key); }
std::int64_t size(const JsonNode* self) { return static_cast<std::int64_t>(self->size()); }
bool remove(const std::string& key, JsonNode* self) { return self->remove(key); }

CScriptArray* keys(const JsonNode* self) {
  std::vector<std::string> names;
  if (auto* m = std::get_if<JsonNode::Members>(&self->data())) {
    names.reserve(m->size());
    for (const auto& [key, value] : *m) names.push_back(key);
  }
  return make_string_array(names);
}

JsonNode* set_json(const std::string& key, const JsonNode& value, JsonNode* self) {
  self->set(key, value);
  return self;
}
template <typename T>
JsonNode* set_scalar(const std::string& key, T value, JsonNode* self) {
  JsonNode scalar;
  scalar.assign(JsonNode::Data(value));
  self->set(key, scalar);
  return self;
}
JsonNode* set_string(const std::string& key, const std::string& value, JsonNode* self) {
  return set_scalar<std::string>(key, value, self);
}
JsonNode* push_json(const JsonNode& value, JsonNode* self) {
  self->push(value);
  return self;
}
template <typename T>
JsonNode* push_scalar(T value, JsonNode* self) {
  JsonNode scalar;
  scalar.assign(JsonNode::Data(value));
  self->push(scalar);
  return self;
}
JsonNode* push_string(const std::string& value, JsonNode* self) { return push_scalar<std::string>(value, self); }

// Numbers compare by value across int and float; everything else by type and content.
bool equals(const JsonNode& a, const JsonNode& b) {
  if (is_number(&a) && is_number(&b)) {
    if (is_int(&a) && is_int(&b)) return std::get<std::int64_t>(a.data()) == std::get<std::int64_t>(b.data());
    return as_float(0, &a) == as_float(0, &b);
  }
  if (a.type() != b.type()) return false;
  if (auto* ai = std::get_if<JsonNode::Items>(&a.data())) {
    const auto& bi = std::get<JsonNode::Items>(b.data());
    if (ai->size() != bi.size()) return false;
    for (std::size_t i = 0; i < ai->size(); ++i)
      if (!equals(*(*ai)[i], *bi[i])) return false;
    return true;
  }
  if (auto* am = std::get_if<JsonNode::Members>(&a.data())) {
    const auto& bm = std::get<JsonNode::Members>(b.data());
    if (am->size() != bm.size()) return false;
    for (auto ia = am->begin(), ib = bm.begin(); ia != am->end(); ++ia, ++ib)
      if (ia->first != ib->first || !equals(*ia->second, *ib->second)) return false;
    return true;
  }
  return a.data() == b.data();
}
bool equals_json(const JsonNode& other, const JsonNode* self) { return equals(*self, other); }
bool equals_int(std::int64_t v, const JsonNode* self) {
  return is_int(self) ? std::get<std::int64_t>(self->data()) == v
                      : is_float(self) && std::get<double>(self->data()) == static_cast<double>(v);
}
bool equals_float(double v, const JsonNode* self) { return is_number(self) && as_float(0, self) == v; }
bool equals_bool(bool v, const JsonNode* self) { return is_bool(self) && std::get<bool>(self->data()) == v; }
bool equals_string(const std::string& v, const JsonNode* self) {
  return is_string(self) && std::get<std::string>(self->data()) == v;
}

std::string to_text(bool pretty, const JsonNode* self) { return stringify_json(*self, pretty); }

JsonNode* parse(const std::string& text) { return hand_out(parse_json(text)); }
std::string stringify(const JsonNode& node, bool pretty) { return stringify_json(node, pretty); }
JsonNode* new_array() {
  JsonPtr n = make_json();
  n->assign(JsonNode::Items{});
  return hand_out(n);
}
JsonNode* new_object() {
  JsonPtr n = make_json();
  n->assign(JsonNode::Members{});
  return hand_out(n);
}

// Bytes in and out: an array<uint8> stored in a json otherwise becomes an
// array of numbers.
JsonNode* from_bytes(const CScriptArray& data) {
  JsonPtr n = make_json();
  n->assign(to_bytes(data));
  return hand_out(n);
}
JsonNode* bytes_factory(const CScriptArray& data) { return from_bytes(data); }
CScriptArray* as_bytes(const JsonNode* self) {
  if (auto* b = std::get_if<sdk::Bytes>(&self->data())) return make_bytes(*b);
  return make_bytes(std::string_view());
}

}  // namespace

asITypeInfo* json_type_info(asIScriptEngine* engine) {
  // Cached per engine in its user data slot reserved for json.
  return static_cast<asITypeInfo*>(engine->GetUserData(0x4a534f4e));
}

void register_json(asIScriptEngine* e) {
  auto method = [&](const char* decl, const asSFuncPtr& f) {
    check_registration(e->RegisterObjectMethod("json", decl, f, asCALL_GENERIC), decl);
  };
  check_registration(e->RegisterObjectType("json", 0, asOBJ_REF), "json");
  e->SetUserData(e->GetTypeInfoByName("json"), 0x4a534f4e);
  check_registration(e->RegisterObjectBehaviour("json", asBEHAVE_FACTORY, "json@ f()", WRAP_FN(factory),
                                                asCALL_GENERIC),
                     "json()");
  for (auto [decl, f] : {std::pair{"json@ f(int64)", WRAP_FN(scalar_factory<std::int64_t>)},
                         std::pair{"json@ f(double)", WRAP_FN(scalar_factory<double>)},
                         std::pair{"json@ f(bool)", WRAP_FN(scalar_factory<bool>)},
                         std::pair{"json@ f(const string &in)", WRAP_FN(string_factory)},
                         std::pair{"json@ f(const array<string> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<int> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<int64> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<double> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<float> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<bool> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<json@> &in)", WRAP_FN(array_factory)},
                         // nested arrays (a grid), one level
                         std::pair{"json@ f(const array<array<string>> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<array<int>> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<array<int64>> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<array<double>> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<array<bool>> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<array<json@>> &in)", WRAP_FN(array_factory)},
                         std::pair{"json@ f(const array<uint8> &in)", WRAP_FN(bytes_factory)}})
    check_registration(e->RegisterObjectBehaviour("json", asBEHAVE_FACTORY, decl, f, asCALL_GENERIC), decl);
  check_registration(e->RegisterObjectBehaviour("json", asBEHAVE_LIST_FACTORY, "json@ f(int &in) {repeat {string, const json@}}",
                                                WRAP_FN(list_factory), asCALL_GENERIC),
                     "json list");
  check_registration(e->RegisterObjectBehaviour("json", asBEHAVE_ADDREF, "void f()", WRAP_OBJ_LAST(add_ref),
                                                asCALL_GENERIC),
                     "json addref");
  check_registration(e->RegisterObjectBehaviour("json", asBEHAVE_RELEASE, "void f()",
                                                WRAP_OBJ_LAST(release), asCALL_GENERIC),
                     "json release");
  method("json& opAssign(const json &in)", WRAP_OBJ_LAST(assign_json));
  method("json& opAssign(int64)", WRAP_OBJ_LAST(assign_int));
  method("json& opAssign(double)", WRAP_OBJ_LAST(assign_float));
  method("json& opAssign(bool)", WRAP_OBJ_LAST(assign_bool));
  method("json& opAssign(const string &in)", WRAP_OBJ_LAST(assign_string));
  method("json@ opIndex(const string &in)", WRAP_OBJ_LAST(index_key));
  method("const json@ opIndex(const string &in) const", WRAP_OBJ_LAST(index_key_const));
  method("json@ opIndex(int64)", WRAP_OBJ_LAST(index_position));
  method("const json@ opIndex(int64) const", WRAP_OBJ_LAST(index_position_const));
  method("bool opEquals(const json &in) const", WRAP_OBJ_LAST(equals_json));
  method("bool opEquals(int64) const", WRAP_OBJ_LAST(equals_int));
  method("bool opEquals(double) const", WRAP_OBJ_LAST(equals_float));
  method("bool opEquals(bool) const", WRAP_OBJ_LAST(equals_bool));
  method("bool opEquals(const string &in) const", WRAP_OBJ_LAST(equals_string));
  method("string type() const", WRAP_OBJ_LAST(get_type));
  method("bool is_null() const", WRAP_OBJ_LAST(is_null));
  method("bool is_bool() const", WRAP_OBJ_LAST(is_bool));
  method("bool is_int() const", WRAP_OBJ_LAST(is_int));
  method("bool is_float() const", WRAP_OBJ_LAST(is_float));
  method("bool is_number() const", WRAP_OBJ_LAST(is_number));
  method("bool is_string() const", WRAP_OBJ_LAST(is_string));
  method("bool is_bytes() const", WRAP_OBJ_LAST(is_bytes));
  method("bool is_array() const", WRAP_OBJ_LAST(is_array));
  method("bool is_object() const", WRAP_OBJ_LAST(is_object));
  method("int64 as_int(int64 fallback = 0) const", WRAP_OBJ_LAST(as_int));
  method("double as_float(double fallback = 0) const", WRAP_OBJ_LAST(as_float));
  method("string as_string(const string &in fallback = \"\") const", WRAP_OBJ_LAST(as_string));
  method("bool as_bool(bool fallback = false) const", WRAP_OBJ_LAST(as_bool));
  method("array<uint8>@ as_bytes() const", WRAP_OBJ_LAST(as_bytes));
  method("int64 get_int(const string &in key, int64 fallback = 0) const", WRAP_OBJ_LAST(get_int));
  method("double get_float(const string &in key, double fallback = 0) const", WRAP_OBJ_LAST(get_float));
  method("string get_string(const string &in key, const string &in fallback = \"\") const",
         WRAP_OBJ_LAST(get_string));
  method("bool get_bool(const string &in key, bool fallback = false) const", WRAP_OBJ_LAST(get_bool));
  method("bool has(const string &in key) const", WRAP_OBJ_LAST(has));
  method("int64 size() const", WRAP_OBJ_LAST(size));
  method("array<string>@ keys() const", WRAP_OBJ_LAST(keys));
  method("bool remove(const string &in key)", WRAP_OBJ_LAST(remove));
  method("json& set(const string &in key, const json &in value)", WRAP_OBJ_LAST(set_json));
  method("json& set(const string &in key, int64 value)", WRAP_OBJ_LAST(set_scalar<std::int64_t>));
  method("json& set(const string &in key, double value)", WRAP_OBJ_LAST(set_scalar<double>));
  method("json& set(const string &in key, bool value)", WRAP_OBJ_LAST(set_scalar<bool>));
  method("json& set(const string &in key, const string &in value)", WRAP_OBJ_LAST(set_string));
  method("json& push(const json &in value)", WRAP_OBJ_LAST(push_json));
  method("json& push(int64 value)", WRAP_OBJ_LAST(push_scalar<std::int64_t>));
  method("json& push(double value)", WRAP_OBJ_LAST(push_scalar<double>));
  method("json& push(bool value)", WRAP_OBJ_LAST(push_scalar<bool>));
  method("json& push(const string &in value)", WRAP_OBJ_LAST(push_string));
  // Named to_string, not stringify: a method of that name would hide the
  // namespace function json::stringify (the type and namespace share a name).
  method("string to_string(bool pretty = false) const", WRAP_OBJ_LAST(to_text));

  check_registration(e->SetDefaultNamespace("json"), "namespace json");
  auto fn = [&](const char* decl, const asSFuncPtr& f) {
    check_registration(e->RegisterGlobalFunction(decl, f, asCALL_GENERIC), decl);
  };
  fn("json@ parse(const string &in text)", WRAP_FN(parse));
  fn("string stringify(const json &in value, bool pretty = false)", WRAP_FN(stringify));
  fn("json@ array()", WRAP_FN(new_array));
  fn("json@ object()", WRAP_FN(new_object));
  fn("json@ bytes(const array<uint8> &in data)", WRAP_FN(from_bytes));
  check_registration(e->SetDefaultNamespace(""), "namespace");
}

}  // namespace picloud::scripting
