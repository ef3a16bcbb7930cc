// The SDK value: what crosses the plugin boundary as data (database rows,
// script arguments, event payloads, JSON bodies).
//
// Integers and floating-point numbers are kept apart (int64 vs double), and
// bytes are kept apart from text, so nothing is lost between a script, a
// plugin and the database.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace picloud::sdk {

class Value;
using Bytes = std::vector<std::uint8_t>;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value, std::less<>>;

enum class ValueType { null, boolean, integer, number, string, bytes, array, object };

inline std::string_view to_string(ValueType type) {
  switch (type) {
    case ValueType::null: return "null";
    case ValueType::boolean: return "bool";
    case ValueType::integer: return "int";
    case ValueType::number: return "float";
    case ValueType::string: return "string";
    case ValueType::bytes: return "bytes";
    case ValueType::array: return "array";
    case ValueType::object: return "object";
  }
  return "null";
}

class Value {
 public:
  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : data_(b) {}
  // Every integer type becomes an int64 (unsigned values above INT64_MAX wrap).
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Value(T i) : data_(static_cast<std::int64_t>(i)) {}
  Value(double d) : data_(d) {}
  Value(const char* s) : data_(std::string(s)) {}
  Value(std::string s) : data_(std::move(s)) {}
  Value(std::string_view s) : data_(std::string(s)) {}
  Value(Bytes b) : data_(std::move(b)) {}
  Value(Array a) : data_(std::move(a)) {}
  Value(Object o) : data_(std::move(o)) {}

  // Object literal: Value::object({{"a", 1}, {"b", "x"}}).
  static Value object(std::initializer_list<std::pair<const std::string, Value>> items = {}) {
    return Value(Object(items.begin(), items.end()));
  }
  static Value array(std::initializer_list<Value> items = {}) { return Value(Array(items)); }

  ValueType type() const { return static_cast<ValueType>(data_.index()); }
  bool is_null() const { return type() == ValueType::null; }
  bool is_bool() const { return type() == ValueType::boolean; }
  bool is_int() const { return type() == ValueType::integer; }
  bool is_float() const { return type() == ValueType::number; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return type() == ValueType::string; }
  bool is_bytes() const { return type() == ValueType::bytes; }
  bool is_array() const { return type() == ValueType::array; }
  bool is_object() const { return type() == ValueType::object; }

  // Checked accessors: call only after checking the type.
  bool as_bool() const { return std::get<bool>(data_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(data_); }
  double as_float() const { return std::get<double>(data_); }
  // Any number as a double (ints converted).
  double as_number() const { return is_int() ? static_cast<double>(as_int()) : as_float(); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const Bytes& as_bytes() const { return std::get<Bytes>(data_); }
  const Array& as_array() const { return std::get<Array>(data_); }
  Array& as_array() { return std::get<Array>(data_); }
  const Object& as_object() const { return std::get<Object>(data_); }
  Object& as_object() { return std::get<Object>(data_); }

  // Lenient accessors with a fallback for a missing or mistyped value.
  bool bool_or(bool fallback) const { return is_bool() ? as_bool() : fallback; }
  std::int64_t int_or(std::int64_t fallback) const { return is_int() ? as_int() : fallback; }
  std::string string_or(std::string fallback) const { return is_string() ? as_string() : fallback; }

  // Object member, or a shared null when absent or not an object.
  const Value& operator[](std::string_view key) const {
    if (is_object()) {
      auto it = as_object().find(key);
      if (it != as_object().end()) return it->second;
    }
    return null_value();
  }
  // Array element, or a shared null when out of range or not an array.
  const Value& operator[](std::size_t index) const {
    if (is_array() && index < as_array().size()) return as_array()[index];
    return null_value();
  }
  bool has(std::string_view key) const { return is_object() && as_object().find(key) != as_object().end(); }
  std::size_t size() const {
    if (is_array()) return as_array().size();
    if (is_object()) return as_object().size();
    return 0;
  }

  // Sets a member, turning a null value into an object first.
  Value& set(std::string key, Value value) {
    if (is_null()) data_ = Object{};
    as_object().insert_or_assign(std::move(key), std::move(value));
    return *this;
  }
  // Appends an element, turning a null value into an array first.
  Value& push(Value value) {
    if (is_null()) data_ = Array{};
    as_array().push_back(std::move(value));
    return *this;
  }

  friend bool operator==(const Value& a, const Value& b) { return a.data_ == b.data_; }
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  static const Value& null_value() {
    static const Value null;
    return null;
  }

  std::variant<std::monostate, bool, std::int64_t, double, std::string, Bytes, Array, Object> data_;
};

}  // namespace picloud::sdk
