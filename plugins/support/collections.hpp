// Named collections, as the built-in data plugins (kv, docs) use them: the
// rule for a collection's name, and a trigger kind whose filter picks
// collections by name or glob and the ops to run on.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "picloud/sdk/access.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/triggers.hpp"

namespace picloud::plugin_support {

inline constexpr std::size_t kMaxCollectionName = 128;

// 1–128 characters of A–Z a–z 0–9 _ - . : (no '*', which trigger filters use
// as a wildcard, and nothing that needs escaping in a URL path or in SQL).
sdk::Result<void> check_collection_name(std::string_view name);

// "*" matches every collection, "prefix*" those starting with prefix, any
// other pattern the collection of that name.
bool collection_matches(std::string_view pattern, std::string_view collection);

// A trigger kind with the filter {"collection": name | "prefix*" | "*",
// "ops": [...]}: ops default to all of them and are stored in the kind's
// order; unknown fields and ops are errors naming them. Events must carry
// "collection" in their payload.
sdk::TriggerKind collection_trigger_kind(std::string name, std::string description, std::vector<std::string> ops,
                                         std::vector<std::pair<std::string, std::string>> event_fields);

// A method of a collection handle (whose state is the collection's name):
// checks the run's `capability`, then the first argument with
// `check_first` when one is given, then runs `body` with the collection.
using CollectionMethodBody = std::function<sdk::Result<sdk::Value>(
    const sdk::CallContext& call, const std::string& collection, std::span<const sdk::Value> args)>;
using ArgumentCheck = sdk::Result<void> (*)(std::string_view);
sdk::ScriptMethodDecl collection_method(sdk::AccessControl& access, std::string name,
                                        std::vector<sdk::ScriptParam> params, sdk::ScriptType result,
                                        const char* capability, ArgumentCheck check_first, std::string doc,
                                        CollectionMethodBody body);

}  // namespace picloud::plugin_support
