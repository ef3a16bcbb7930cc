// Finding and loading plugin shared objects, and checking them before use.
//
// A plugin is `<name>.so` exporting `picloud_plugin` (picloud.h's
// descriptor). The loader reads the copy of its ABI block from the file
// (abi_section.hpp), maps it (RTLD_NOW | RTLD_LOCAL), then reads the
// descriptor's, and refuses the file, naming it and both versions, unless the
// ABI major is equal and the plugin's minor is not newer than the kernel's.
// The boundary is C, so the compiler and standard library a plugin was built
// with do not matter. Libraries stay mapped until the process exits: plugins
// are never unloaded.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/picloud.h"
#include "picloud/sdk/abi.hpp"

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
  const pc_plugin_descriptor* descriptor = nullptr;
  // Whether the file carried its ABI block, checked before the library was
  // mapped (false: built with SDK headers older than that section).
  bool checked_before_loading = false;
  std::shared_ptr<boost::dll::shared_library> library;
};

// "1.0" style text for an ABI block.
std::string abi_version_text(const sdk::AbiBlock& abi);

// Checks one file without loading it: it exists, is a shared object for this
// machine, and its ABI block, if it has one, is acceptable. Answers the block.
sdk::Result<std::optional<sdk::AbiBlock>> check_file(const std::string& path);

// Checks one file (check_file), then loads it and checks its descriptor.
sdk::Result<LoadedPlugin> load_plugin(const std::string& path);
// The same for a file check_file already answered `file_abi` for.
sdk::Result<LoadedPlugin> load_checked_plugin(const std::string& path, const std::optional<sdk::AbiBlock>& file_abi);

// The first `<name>.so` in the search path, or an error listing where it looked.
sdk::Result<std::string> find_plugin_file(const std::string& name, const std::vector<std::string>& search_path);

// Every `*.so` in the search path; the first of each name wins.
std::vector<std::string> discover_plugin_files(const std::vector<std::string>& search_path);

}  // namespace picloud::kernel::plugins
