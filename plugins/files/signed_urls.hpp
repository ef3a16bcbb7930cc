// Signed URLs: a GET on the app's own host that needs no credentials, for a
// browser to fetch one private file until a time:
//
//   /_picloud/files/s?collection=<c>&name=<n>&expires=<unix s>&sig=<token>
//
// (collection and name percent-encoded in the query, where no client or
// proxy rewrites them as it may rewrite a path's "." and ".." segments).
// The token is an HMAC-SHA256 (the keyring's, under a key derived for this
// plugin and the app) of the collection, the name and the expiry, so it is
// bound to all three and to the app whose host serves it: a token copied to
// another app, file or expiry, altered, or past its time answers 403.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "files_store.hpp"
#include "picloud/sdk/keyring.hpp"
#include "picloud/sdk/plugin.hpp"

namespace picloud::files {

inline constexpr std::string_view kSignedPath = "/_picloud/files/s";

// The path (and query) of a signed URL, relative to the app's host.
sdk::Result<std::string> signed_path(sdk::Keyring& keyring, std::string_view app, std::string_view collection,
                                     std::string_view name, std::int64_t expires_unix_s);

// Registers GET (and HEAD) /_picloud/files/s on every app's hosts.
sdk::Result<void> add_signed_url_route(sdk::PluginContext& ctx, FilesStore& store);

}  // namespace picloud::files
