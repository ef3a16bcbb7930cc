#include "docs_patch.hpp"

#include <cmath>

#include "picloud/sdk/json_parse.hpp"

namespace picloud::docs {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

sdk::Error fail(std::string message) { return make_error(ErrorKind::invalid_argument, std::move(message)); }

bool prefix_of(const Path& a, const Path& b) {  // a is b or an ancestor of b
  if (a.segments.size() > b.segments.size()) return false;
  for (std::size_t i = 0; i < a.segments.size(); ++i)
    if (a.segments[i] != b.segments[i]) return false;
  return true;
}

std::string_view op_name(PatchOp::Kind k) {
  switch (k) {
    case PatchOp::Kind::set:
      return "$set";
    case PatchOp::Kind::unset:
      return "$unset";
    case PatchOp::Kind::inc:
      return "$inc";
    case PatchOp::Kind::push:
      return "$push";
  }
  return "";
}

}  // namespace

sdk::Result<Patch> parse_patch(const Value& ops) {
  if (!ops.is_object() || ops.as_object().empty())
    return fail(
        R"(patch takes an object of operators: {"$set": {...}, "$unset": {...}, "$inc": {...}, "$push": {...}})");
  Patch patch;
  for (const auto& [name, fields] : ops.as_object()) {
    PatchOp::Kind kind;
    if (name == "$set")
      kind = PatchOp::Kind::set;
    else if (name == "$unset")
      kind = PatchOp::Kind::unset;
    else if (name == "$inc")
      kind = PatchOp::Kind::inc;
    else if (name == "$push")
      kind = PatchOp::Kind::push;
    else if (!name.empty() && name[0] == '$')
      return fail("patch: unknown operator '" + name + "' (supported: $set $unset $inc $push)");
    else
      return fail("patch: '" + name + "' is not an operator; to change fields write {\"$set\": {\"" + name +
                  "\": ...}}, or use update() to replace the document");
    if (!fields.is_object() || fields.as_object().empty())
      return fail("patch: " + name + " takes a non-empty object of paths");
    for (const auto& [text, operand] : fields.as_object()) {
      auto path = parse_path(text);
      if (!path) return fail("patch: " + name + ": " + path.error().message);
      const std::string at = name + " '" + text + "'";
      if (kind == PatchOp::Kind::inc && !operand.is_int() && !operand.is_float())
        return fail("patch: " + at + " takes a number, got " + std::string(sdk::to_string(operand.type())));
      if (auto bad = sdk::unstorable_part(operand, "patch: " + at); !bad.empty()) return fail(bad);
      for (const auto& other : patch)
        if (prefix_of(other.path, *path) || prefix_of(*path, other.path))
          return fail("patch: " + at + " conflicts with " + std::string(op_name(other.kind)) + " '" + other.path.text +
                      "' (each path once, none inside another)");
      patch.push_back({kind, std::move(*path), operand});
    }
  }
  return patch;
}

sdk::Result<void> apply_patch(Value& doc, const Patch& patch) {
  for (const auto& op : patch) {
    const std::string at = std::string(op_name(op.kind)) + " '" + op.path.text + "'";
    // Walk to the parent object, creating objects for $set/$inc/$push.
    Value* parent = &doc;
    bool missing = false;
    for (std::size_t i = 0; i + 1 < op.path.segments.size(); ++i) {
      const std::string& seg = op.path.segments[i];
      auto& fields = parent->as_object();
      auto it = fields.find(seg);
      if (it == fields.end()) {
        if (op.kind == PatchOp::Kind::unset) {
          missing = true;
          break;
        }
        it = fields.emplace(seg, Value::object({})).first;
      } else if (!it->second.is_object()) {
        if (op.kind == PatchOp::Kind::unset) {
          missing = true;
          break;
        }
        return fail("patch: " + at + ": '" + seg + "' holds " + std::string(sdk::to_string(it->second.type())) +
                    ", not an object");
      }
      parent = &it->second;
    }
    if (missing) continue;
    auto& fields = parent->as_object();
    const std::string& last = op.path.segments.back();
    auto it = fields.find(last);
    switch (op.kind) {
      case PatchOp::Kind::set:
        fields[last] = op.operand;
        break;
      case PatchOp::Kind::unset:
        if (it != fields.end()) fields.erase(it);
        break;
      case PatchOp::Kind::inc: {
        if (it == fields.end()) {
          fields[last] = op.operand;
          break;
        }
        Value& current = it->second;
        if (!current.is_int() && !current.is_float())
          return fail("patch: " + at + ": the field holds " + std::string(sdk::to_string(current.type())) +
                      ", not a number");
        if (current.is_int() && op.operand.is_int()) {
          std::int64_t sum;
          if (__builtin_add_overflow(current.as_int(), op.operand.as_int(), &sum))
            return fail("patch: " + at + " overflows int64");
          current = Value(sum);
        } else {
          double sum = current.as_number() + op.operand.as_number();
          if (!std::isfinite(sum)) return fail("patch: " + at + " overflows to infinity");
          current = Value(sum);
        }
        break;
      }
      case PatchOp::Kind::push:
        if (it == fields.end()) {
          fields[last] = Value::array({op.operand});
        } else if (!it->second.is_array()) {
          return fail("patch: " + at + ": the field holds " + std::string(sdk::to_string(it->second.type())) +
                      ", not an array");
        } else {
          it->second.as_array().push_back(op.operand);
        }
        break;
    }
  }
  return {};
}

}  // namespace picloud::docs
