// Config as code on the server's side: an app described whole — its fields,
// hostnames, scripts and modules, routes and triggers — as one JSON document
// (a *bundle*), compared with what the app has and made so in one
// transaction. `picloud deploy` builds the bundle from a folder and
// `picloud export` writes the folder from one (deploy_cli.hpp).
//
// A bundle names everything the app should have. What the app has and the
// bundle does not name is kept, unless the deploy prunes. Scripts are
// matched by name, triggers by name (an unnamed trigger of the same kind,
// script and filter takes the name), routes by host, path shape and methods.
// Every script is compiled against the bundle's modules before anything is
// written: one that does not compile refuses the whole deploy.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kernel/admin/handlers.hpp"

namespace picloud::kernel::admin {

struct DeployOptions {
  bool dry_run = false;  // plan only: nothing is written
  bool prune = false;    // delete what the bundle does not name
};

// Plans (and unless dry_run, applies) `bundle` to the app `app_id`, or to a
// new app when `app_id` is empty (created with the bundle's slug). Answers
// the plan: {"app", "app_id", "new_app", "dry_run", "prune", "applied",
// "changes": [{"action", "type", "name", "fields"}], "unchanged", "kept":
// [{"type", "name"}], "warnings", "setup"}. Throws ApiError: 400 for a bad
// bundle (the field named as a path, e.g. "routes[2].methods"), 422
// deploy_invalid when a script does not compile (every script's
// diagnostics), 409 for a conflict the database found (a hostname of
// another app).
sdk::Value deploy_bundle(AdminContext& ctx, const std::string& app_id, const sdk::Value& bundle,
                         const DeployOptions& options);

// The app as a bundle, in a stable order (scripts and triggers by name,
// routes by path, host and methods), so two exports of one app are equal.
// An unnamed trigger is given a name made of its script and kind.
sdk::Value export_bundle(AdminContext& ctx, const std::string& app_id);

}  // namespace picloud::kernel::admin
