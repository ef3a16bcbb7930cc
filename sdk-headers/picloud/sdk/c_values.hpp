// Conversions between the C++ SDK's types and the C boundary's
// (picloud/picloud.h), used on both sides of it: the C++ SDK in a plugin and
// the kernel each compile their own copy, so nothing here crosses as C++.
//
//   CValues  builds pc_value trees that borrow from SDK Values
//   to_value copies a pc_value tree into a Value
//   Answer   a pc_out that keeps the value or error it is given
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/picloud.h"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::sdk::c {

inline pc_str str(std::string_view s) { return pc_str{s.data(), s.size()}; }
// A null pointer reads as empty text, whatever its length claims.
inline std::string_view view(pc_str s) { return s.len == 0 || !s.ptr ? std::string_view() : std::string_view(s.ptr, s.len); }
inline std::string text(pc_str s) { return std::string(view(s)); }

// Whether a sized struct its filler sent carries `member` (it was filled by
// a side built for a minor that has the field).
#define PICLOUD_SDK_HAS_FIELD(ptr, type, member) \
  ((ptr)->size >= offsetof(type, member) + sizeof(((type*)nullptr)->member))

inline ErrorKind kind_of(pc_status status) {
  switch (status) {
    case PC_NOT_FOUND: return ErrorKind::not_found;
    case PC_INVALID_ARGUMENT: return ErrorKind::invalid_argument;
    case PC_FORBIDDEN: return ErrorKind::forbidden;
    case PC_CONFLICT: return ErrorKind::conflict;
    case PC_UNAVAILABLE: return ErrorKind::unavailable;
    default: return ErrorKind::internal;  // an unknown class from a newer side
  }
}

inline pc_status status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::not_found: return PC_NOT_FOUND;
    case ErrorKind::invalid_argument: return PC_INVALID_ARGUMENT;
    case ErrorKind::forbidden: return PC_FORBIDDEN;
    case ErrorKind::conflict: return PC_CONFLICT;
    case ErrorKind::unavailable: return PC_UNAVAILABLE;
    case ErrorKind::internal: return PC_INTERNAL;
  }
  return PC_INTERNAL;
}

// How deep a value may nest across the boundary: deeper trees (or cyclic
// ones, which a buggy C plugin could build) are refused, not followed until
// the stack runs out.
inline constexpr int kMaxDepth = 512;

// A deep copy of a borrowed tree. Throws std::invalid_argument for a tree
// that nests too deep or has a list without its pointer; every caller runs
// inside a guard that turns the throw into an error.
inline Value to_value(const pc_value& v, int depth = 0) {
  if (depth > kMaxDepth) throw std::invalid_argument("a value nests deeper than " + std::to_string(kMaxDepth) + " levels");
  switch (v.type) {
    case PC_NULL: return Value();
    case PC_BOOL: return Value(v.u.b != 0);
    case PC_INT: return Value(v.u.i);
    case PC_FLOAT: return Value(v.u.f);
    case PC_STRING: return Value(text(v.u.s));
    case PC_BYTES: {
      auto b = view(v.u.s);
      const auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
      return Value(Bytes(p, p + b.size()));
    }
    case PC_ARRAY: {
      if (v.u.array.count && !v.u.array.items) throw std::invalid_argument("an array value has no items pointer");
      Array items;
      items.reserve(v.u.array.count);
      for (std::size_t i = 0; i < v.u.array.count; ++i) items.push_back(to_value(v.u.array.items[i], depth + 1));
      return Value(std::move(items));
    }
    case PC_OBJECT: {
      if (v.u.object.count && (!v.u.object.keys || !v.u.object.values))
        throw std::invalid_argument("an object value has no keys or values pointer");
      Object members;
      for (std::size_t i = 0; i < v.u.object.count; ++i)
        members.insert_or_assign(text(v.u.object.keys[i]), to_value(v.u.object.values[i], depth + 1));
      return Value(std::move(members));
    }
    default: return Value();  // a type from a newer side: read as null
  }
}

// A deep copy of the members `fields` names of an object (all of it when
// `fields` is empty or the value is no object).
inline Value to_value_fields(const pc_value& v, const std::vector<std::string>& fields) {
  if (fields.empty() || v.type != PC_OBJECT) return to_value(v);
  if (v.u.object.count && (!v.u.object.keys || !v.u.object.values))
    throw std::invalid_argument("an object value has no keys or values pointer");
  Object members;
  for (std::size_t i = 0; i < v.u.object.count; ++i) {
    std::string_view key = view(v.u.object.keys[i]);
    for (const auto& f : fields)
      if (f == key) {
        members.insert_or_assign(std::string(key), to_value(v.u.object.values[i], 1));
        break;
      }
  }
  return Value(std::move(members));
}

// Builds pc_value trees that point into the Values they were made from (which
// must outlive the tree) and into this object's storage (freed with it).
// Scalars and strings need no allocation.
class CValues {
 public:
  pc_value make(const Value& v, int depth = 0) {
    if (depth > kMaxDepth) throw std::invalid_argument("a value nests deeper than " + std::to_string(kMaxDepth) + " levels");
    pc_value out{};
    out.type = static_cast<std::uint32_t>(v.type());
    switch (v.type()) {
      case ValueType::null: break;
      case ValueType::boolean: out.u.b = v.as_bool() ? 1 : 0; break;
      case ValueType::integer: out.u.i = v.as_int(); break;
      case ValueType::number: out.u.f = v.as_float(); break;
      case ValueType::string: out.u.s = str(v.as_string()); break;
      case ValueType::bytes:
        out.u.s = pc_str{reinterpret_cast<const char*>(v.as_bytes().data()), v.as_bytes().size()};
        break;
      case ValueType::array: {
        const auto& items = v.as_array();
        pc_value* slots = values(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) slots[i] = make(items[i], depth + 1);
        out.u.array.items = slots;
        out.u.array.count = items.size();
        break;
      }
      case ValueType::object: {
        const auto& members = v.as_object();
        pc_value* slots = values(members.size());
        pc_str* names = keys(members.size());
        std::size_t i = 0;
        for (const auto& [key, member] : members) {
          names[i] = str(key);
          slots[i] = make(member, depth + 1);
          ++i;
        }
        out.u.object.keys = names;
        out.u.object.values = slots;
        out.u.object.count = members.size();
        break;
      }
    }
    return out;
  }

  // An object of borrowed keys and values built by the caller.
  pc_value object(const std::vector<std::pair<std::string_view, pc_value>>& members) {
    pc_value out{};
    out.type = PC_OBJECT;
    pc_value* slots = values(members.size());
    pc_str* names = keys(members.size());
    for (std::size_t i = 0; i < members.size(); ++i) {
      names[i] = str(members[i].first);
      slots[i] = members[i].second;
    }
    out.u.object = {names, slots, members.size()};
    return out;
  }

  pc_value* values(std::size_t n) {
    value_blocks_.push_back(std::make_unique<pc_value[]>(n ? n : 1));
    return value_blocks_.back().get();
  }
  pc_str* keys(std::size_t n) {
    key_blocks_.push_back(std::make_unique<pc_str[]>(n ? n : 1));
    return key_blocks_.back().get();
  }

 private:
  std::vector<std::unique_ptr<pc_value[]>> value_blocks_;
  std::vector<std::unique_ptr<pc_str[]>> key_blocks_;
};

inline pc_value scalar(std::int64_t i) {
  pc_value v{};
  v.type = PC_INT;
  v.u.i = i;
  return v;
}

inline pc_value string_value(std::string_view s) {
  pc_value v{};
  v.type = PC_STRING;
  v.u.s = str(s);
  return v;
}

// Passes an Error on through `out`; answers its class.
inline pc_status put_error(const pc_out* out, const Error& e) {
  pc_status status = status_of(e.kind);
  if (out && out->error) out->error(out->user, status, str(e.code), str(e.message));
  return status;
}

// Passes a Value on through `out`.
inline void put_value(const pc_out* out, const Value& v) {
  if (!out || !out->value) return;
  CValues storage;
  pc_value cv = storage.make(v);
  out->value(out->user, &cv);
}

inline Error error_from(pc_status kind, pc_str code, pc_str message) {
  Error e{kind_of(kind), text(message)};
  e.code = text(code);
  return e;
}

// A pc_out that keeps what it is given. Lives on the caller's stack for the
// duration of one call.
class Answer {
 public:
  Answer() : out_{sizeof(pc_out), this, &Answer::on_value, &Answer::on_error} {}
  Answer(const Answer&) = delete;
  Answer& operator=(const Answer&) = delete;

  const pc_out* out() const { return &out_; }

  // The call's result from its status: the error it reported (or one naming
  // the status, when the callee forgot), else the value (null when none:
  // a void result).
  Result<Value> take(pc_status status) {
    if (status != PC_OK) return failure(status);
    if (lost_) return Error{ErrorKind::internal, "the result could not be read: " + lost_reason_};
    return std::move(value_);
  }
  // The same for a call that must answer a value: none is an error.
  Result<Value> take_value(pc_status status) {
    if (status == PC_OK && !lost_ && !has_value_) return Error{ErrorKind::internal, "answered no value"};
    return take(status);
  }
  Result<void> take_void(pc_status status) {
    if (status != PC_OK) return failure(status);
    return {};
  }
  bool has_value() const { return has_value_; }

 private:
  Error failure(pc_status status) {
    if (failed_) return std::move(error_);
    return Error{kind_of(status == PC_OK ? PC_INTERNAL : status), "failed without saying why"};
  }
  static void on_value(void* user, const pc_value* v) {
    auto* self = static_cast<Answer*>(user);
    try {
      self->value_ = v ? to_value(*v) : Value();
      self->has_value_ = true;
    } catch (const std::exception& e) {  // malformed, too deep, or out of memory
      self->lost_ = true;
      try {
        self->lost_reason_ = e.what();
      } catch (...) {
      }
    } catch (...) {
      self->lost_ = true;
    }
  }
  static void on_error(void* user, pc_status kind, pc_str code, pc_str message) {
    auto* self = static_cast<Answer*>(user);
    try {
      self->error_ = error_from(kind, code, message);
    } catch (...) {
      self->error_ = Error{kind_of(kind), {}};
    }
    self->failed_ = true;
  }

  pc_out out_;
  Value value_;
  bool has_value_ = false;
  bool lost_ = false;  // a value came but could not be copied
  std::string lost_reason_;
  Error error_;
  bool failed_ = false;
};

}  // namespace picloud::sdk::c
