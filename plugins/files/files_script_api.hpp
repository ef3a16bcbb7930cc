// files:: for scripts: files::collection(name) returns a files::Collection
// handle whose methods read and write that collection of the calling
// script's app.
//
//   json   put(string name, array<uint8> data, string content_type = "", json metadata = null)
//                                      stores (creates or replaces); the new head
//   array<uint8>@ get(string name)     the bytes (verified), or null
//   json   head(string name)           {collection, name, size, content_type, sha256,
//                                       version, created_at, updated_at, metadata} or null
//   bool   delete(string name)         whether it existed
//   json   list(string prefix = "", string cursor = "", int limit = 100)
//                                      {"files": [head...], "next_cursor": string or null}
//   string signed_url(string name, int ttl_seconds = 3600)
//                                      a path on the app's host that serves the file
//                                      without credentials until then
//   bool   serve(response@ res, string name)
//                                      answers the request with the file (ETag,
//                                      Range, conditional requests); false, leaving
//                                      res alone, when there is no such file
//
// Reads need the run's user (if any) to hold files.read, writes files.write.
#pragma once

#include "files_store.hpp"
#include "picloud/sdk/access.hpp"
#include "picloud/sdk/keyring.hpp"
#include "picloud/sdk/plugin.hpp"
#include "picloud/sdk/script.hpp"

namespace picloud::files {

inline constexpr const char* kReadCapability = "files.read";
inline constexpr const char* kWriteCapability = "files.write";

sdk::Result<void> declare_script_api(sdk::PluginContext& ctx, FilesStore& store);

}  // namespace picloud::files
