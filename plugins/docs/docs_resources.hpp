// The docs plugin's part of config as code: an app's indexes as
// [[docs.indexes]] in its folder (docs/deploy.md), each
// {collection, path, unique}, keyed "collection/path".
#pragma once

#include <picloud/sdk/resources.hpp>

#include "docs_store.hpp"

namespace picloud::docs {

sdk::ResourceKind index_resources(DocStore& store);

}  // namespace picloud::docs
