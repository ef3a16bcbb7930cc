// An app as a folder, for `picloud deploy` and `picloud export`:
//
//   picloud.toml        the app, its routes and triggers (docs/deploy.md)
//   scripts/NAME.as     endpoint scripts
//   modules/NAME.as     modules
//
// read_app_folder() turns the folder into the bundle the admin API's deploy
// endpoint takes (kernel/admin/deploy.hpp); write_app_folder() writes a
// bundle back as a folder. TOML because it is what people edit by hand for
// this (wrangler.toml, Cargo.toml): comments, no quotes on keys, and tables
// of routes that read like a list.
#pragma once

#include <map>
#include <string>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel::deploy {

struct AppFolder {
  sdk::Value bundle;  // {"app", "scripts", "routes", "triggers"}
  std::string manifest_path;
  // Where each part of the manifest is, for messages: "routes[2].methods" →
  // line (1-based); a field without a line of its own has its table's.
  std::map<std::string, int> lines;
  std::map<std::string, std::string> script_files;  // script name → path
};

// Reads DIR/picloud.toml and the scripts beside it. Errors name the file,
// line and column (a TOML syntax error, a date where JSON has none, a
// script file whose name is not a script name, an unreadable file).
sdk::Result<AppFolder> read_app_folder(const std::string& dir);

// The manifest line of `path` ("routes[2].methods"), or of its nearest
// enclosing part; 0 when none is known.
int line_of(const AppFolder& folder, const std::string& path);

// Writes the bundle as DIR (created if missing): picloud.toml and one file
// per script. Refuses a DIR that already holds a picloud.toml unless
// `overwrite`; scripts/ and modules/ are then emptied of .as files first so
// the folder holds exactly the app.
sdk::Result<void> write_app_folder(const sdk::Value& bundle, const std::string& dir, bool overwrite);

// The manifest text of a bundle (what write_app_folder writes).
std::string manifest_text(const sdk::Value& bundle);

}  // namespace picloud::kernel::deploy
