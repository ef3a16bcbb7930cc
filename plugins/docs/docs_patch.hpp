// Partial updates: {"$set": {path: value}, "$unset": {path: true},
// "$inc": {path: number}, "$push": {path: value}}. A patch is checked whole
// before anything is applied, then applied to the stored document inside
// the write's transaction with the row locked, so concurrent patches never
// lose each other's changes.
#pragma once

#include <string>
#include <vector>

#include "docs_paths.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::docs {

struct PatchOp {
  enum class Kind { set, unset, inc, push } kind;
  Path path;
  sdk::Value operand;
};

using Patch = std::vector<PatchOp>;

// Errors name the operator and path: unknown operators, empty patches, a
// path used twice or inside another ($set a and $inc a.b), $inc of a
// non-number, values JSON cannot hold.
sdk::Result<Patch> parse_patch(const sdk::Value& ops);

// Applies the patch to a document (an object) in place. $set creates missing
// objects on its way; $inc counts a missing field as 0 (int + int stays int,
// overflow is an error); $push appends to an array or starts one. Errors
// (a path through a non-object, $inc of a non-number, $push onto a
// non-array) name the path; the document may then be half patched, so
// patch a copy of anything that must stay intact.
sdk::Result<void> apply_patch(sdk::Value& document, const Patch& patch);

}  // namespace picloud::docs
