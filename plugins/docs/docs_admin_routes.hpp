// The docs admin API, under /api/v1/admin/apps/{app}/docs (the kernel checks
// the capability and resolves {app} to the app's id before a handler runs):
//
//   GET    /docs                                 collections, document counts  docs.read
//   GET    /docs/{collection}/documents          documents in id order (paged) docs.read
//   POST   /docs/{collection}/documents          {"data", "id"?} → 201         docs.write
//   GET    /docs/{collection}/documents/{id}                                   docs.read
//   PUT    /docs/{collection}/documents/{id}     {"data"}: replace or create   docs.write
//   DELETE /docs/{collection}/documents/{id}     204, 404 when missing         docs.write
//   POST   /docs/{collection}/query              {"filter", "sort", "limit", "skip"}  docs.read
//   GET    /docs/{collection}/indexes                                          docs.read
//   POST   /docs/{collection}/indexes            {"path", "unique"?} → 201    docs.indexes
//   DELETE /docs/{collection}/indexes?path=P     204, 404 when missing         docs.indexes
//
// Writes fire docs triggers like a script's writes do.
#pragma once

#include "docs_store.hpp"
#include "picloud/sdk/plugin.hpp"

namespace picloud::docs {

// Declares docs.read, docs.write and docs.indexes and adds the routes.
// The plugin's view in the admin dashboard, as JSON (declared with
// sdk::add_admin_view_json), over the routes add_admin_routes registered.
std::string_view admin_view_json();

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, DocStore& store);

}  // namespace picloud::docs
