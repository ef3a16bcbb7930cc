// Finding and loading plugin shared objects, and checking them before use.
//
// A plugin is `<name>.so` exporting `picloud_plugin_descriptor`. The loader
// maps it (RTLD_NOW | RTLD_LOCAL), reads the descriptor's plain ABI block and
// refuses the file, naming it and both versions, unless the ABI major is equal,
// the plugin's minor is not newer than the kernel's, and the build fingerprint
// (compiler, standard library, pointer size) matches. Libraries stay mapped
// until the process exits: plugins are never unloaded.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/plugin.hpp"

namespace boost::dll {
class shared_library;
}

namespace picloud::kernel::plugins {

struct LoadedPlugin {
  std::string name;
  std::string version;
  std::string file;
  std::string directory;
  std::vector<std::string> provides;
  std::vector<std::string> depends;
  const sdk::PluginDescriptor* descriptor = nullptr;
  std::shared_ptr<boost::dll::shared_library> library;
};

// "1.0" style text for an ABI block.
std::string abi_version_text(const sdk::AbiBlock& abi);

// Loads and checks one file.
sdk::Result<LoadedPlugin> load_plugin(const std::string& path);

// The first `<name>.so` in the search path, or an error listing where it looked.
sdk::Result<std::string> find_plugin_file(const std::string& name, const std::vector<std::string>& search_path);

// Every `*.so` in the search path; the first of each name wins.
std::vector<std::string> discover_plugin_files(const std::vector<std::string>& search_path);

}  // namespace picloud::kernel::plugins
