// secrets:: for scripts: get, set, delete and list (names only) of the
// running app's secrets. A run on behalf of a user needs the user's
// capability (secrets.read for values, secrets.list for names,
// secrets.write for changes); an anonymous run acts as the app.
#pragma once

#include "picloud/sdk/access.hpp"
#include "picloud/sdk/script.hpp"
#include "secrets_store.hpp"

namespace picloud::secrets {

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, SecretStore& store, sdk::AccessControl& access);

}  // namespace picloud::secrets
