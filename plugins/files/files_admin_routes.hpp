// The files admin API, under /api/v1/admin/apps/{app}/files:
//   GET    /                               collections (files, bytes each) and the app's usage
//   GET    /{collection}                   files' heads, paged (?prefix= &cursor= &limit=)
//   POST   /{collection}                   multipart/form-data upload (browsers): parts named
//                                          "file" (stored under their filename), and an
//                                          optional "metadata" part (a JSON object) before them
//   PUT    /{collection}/file?name=        the raw body is the file (Content-Type is its type;
//                                          PiCloud-Metadata, a JSON object, its metadata)
//   GET    /{collection}/file?name=        download (Range, ETag, conditional requests)
//   PATCH  /{collection}/file?name=        {content_type?, metadata?}
//   DELETE /{collection}/file?name=
//   GET    /{collection}/meta?name=        the file's head
// Uploads are spooled to disk as they arrive, so their size is bounded by
// [files] max_file_bytes, not by memory.
#pragma once

#include "files_store.hpp"
#include "picloud/sdk/plugin.hpp"

namespace picloud::files {

// The plugin's view in the admin dashboard, as JSON (declared with
// sdk::add_admin_view_json), over the routes add_admin_routes registered.
std::string_view admin_view_json();

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, FilesStore& store);

}  // namespace picloud::files
