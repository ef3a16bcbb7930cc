// kv:: for scripts: kv::collection(name) returns a kv::Collection handle whose
// methods read and write that collection of the calling script's app.
//
//   string name()
//   json   get(string key)                      the value, or null
//   json   get_entry(string key)                {key, value, version,
//   expires_at, updated_at} or null bool   has(string key) json   get_many(json
//   keys)                  [value or null, ...] in the order asked (at most
//   1000 keys) json   list(string cursor = "", int limit = 100, string prefix =
//   "")
//                                               {"keys": [...], "next_cursor":
//                                               string or null}
//   int    set(string key, json value, int ttl_seconds = 0)           the new
//   version bool   set_if_version(string key, json value, int version, int
//   ttl_seconds = 0)
//                                               writes only at that version (0:
//                                               only a new key)
//   int    incr(string key, int by = 1)         the new value
//   bool   delete(string key)                   whether it existed
//
// Reads need the run's user (if any) to hold kv.read, writes kv.write.
#pragma once

#include "kv_store.hpp"
#include "picloud/sdk/access.hpp"
#include "picloud/sdk/script.hpp"

namespace picloud::kv {

struct ScriptLimits {
  std::int64_t max_value_bytes = 0;
};

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, KvStore& store, sdk::AccessControl& access,
                                     ScriptLimits limits);

}  // namespace picloud::kv
