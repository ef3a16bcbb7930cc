#include "kernel/plugins/loader.hpp"
#include "kernel/plugins/abi_section.hpp"

#include <boost/dll/shared_library.hpp>
#include <boost/system/system_error.hpp>

#include <cstddef>
#include <cstring>
#include <mutex>
#include <filesystem>
#include <set>

namespace picloud::kernel::plugins {
namespace fs = std::filesystem;
using sdk::ErrorKind;

namespace {

// What ABI 1's plugins exported instead of PC_PLUGIN_SYMBOL.
constexpr const char* kAbi1Symbol = "picloud_plugin_descriptor";

std::vector<std::string> split_list(const char* text) {
  std::vector<std::string> out;
  if (!text) return out;
  std::string item;
  for (const char* p = text;; ++p) {
    if (*p == ',' || *p == '\0') {
      auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
      if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
      item.clear();
      if (*p == '\0') break;
    } else {
      item += *p;
    }
  }
  return out;
}

bool valid_name(const char* name) {
  if (!name || !*name || std::strlen(name) > 64) return false;
  for (const char* p = name; *p; ++p)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return false;
  return name[0] >= 'a' && name[0] <= 'z';
}

// Every library ever mapped stays mapped until the process exits: handlers,
// vtables and static destructors of a plugin may be referenced until then
// (DESIGN.md: no unload). Deliberately never freed.
void keep_mapped(std::shared_ptr<boost::dll::shared_library> lib) {
  static auto* libraries = new std::vector<std::shared_ptr<boost::dll::shared_library>>;
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  libraries->push_back(std::move(lib));
}

}  // namespace

std::string abi_version_text(const sdk::AbiBlock& abi) {
  return std::to_string(abi.abi_major) + "." + std::to_string(abi.abi_minor);
}

namespace {

// The checks on an ABI block, wherever it was read from.
sdk::Result<void> check_abi(const std::string& path, const sdk::AbiBlock& abi) {
  constexpr auto kernel_abi = sdk::current_abi_block();
  if (abi.magic != sdk::kAbiMagic)
    return sdk::make_error(ErrorKind::invalid_argument,
                           "plugin " + path + " has no valid PiCloud ABI block (wrong magic number)");
  if (abi.abi_major != kernel_abi.abi_major)
    return sdk::make_error(ErrorKind::invalid_argument,
                           "plugin " + path + " was built for SDK ABI " + abi_version_text(abi) +
                               ", but this kernel provides ABI " + abi_version_text(kernel_abi) +
                               " (major versions must match): rebuild the plugin against this SDK");
  if (abi.abi_minor > kernel_abi.abi_minor)
    return sdk::make_error(ErrorKind::invalid_argument,
                           "plugin " + path + " needs SDK ABI " + abi_version_text(abi) +
                               ", newer than this kernel's ABI " + abi_version_text(kernel_abi) +
                               ": upgrade PiCloud or rebuild the plugin against this SDK");
  if (abi.size < sizeof(sdk::AbiBlock))
    return sdk::make_error(ErrorKind::invalid_argument, "plugin " + path + " has a malformed ABI block (size " +
                                                            std::to_string(abi.size) + ")");
  return {};
}

}  // namespace

sdk::Result<std::optional<sdk::AbiBlock>> check_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return sdk::make_error(ErrorKind::not_found, "plugin file " + path + " does not exist");
  auto block = read_abi_section(path);
  if (!block) return block.error();
  if (*block)
    if (auto checked = check_abi(path, **block); !checked) return checked.error();
  return block;
}

sdk::Result<LoadedPlugin> load_plugin(const std::string& path) {
  // From the file first: nothing of the plugin runs before this.
  auto file_abi = check_file(path);
  if (!file_abi) return file_abi.error();
  return load_checked_plugin(path, *file_abi);
}

sdk::Result<LoadedPlugin> load_checked_plugin(const std::string& path, const std::optional<sdk::AbiBlock>& file_abi) {
  auto lib = std::make_shared<boost::dll::shared_library>();
  try {
    lib->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const boost::system::system_error& e) {
    return sdk::make_error(ErrorKind::invalid_argument, "plugin " + path + " cannot be loaded: " + e.what());
  }
  keep_mapped(lib);
  if (!lib->has(PC_PLUGIN_SYMBOL)) {
    // ABI 1's descriptor: its block starts with the same magic, major and minor.
    if (lib->has(kAbi1Symbol)) {
      const auto& old = lib->get<const sdk::AbiBlock>(kAbi1Symbol);
      if (old.magic == sdk::kAbiMagic)
        return sdk::make_error(ErrorKind::invalid_argument,
                               "plugin " + path + " was built for SDK ABI " + abi_version_text(old) +
                                   ", but this kernel provides ABI " + abi_version_text(sdk::current_abi_block()) +
                                   " (major versions must match): rebuild the plugin against this SDK");
    }
    return sdk::make_error(ErrorKind::invalid_argument, "plugin " + path + " does not export " + PC_PLUGIN_SYMBOL +
                                                            " (declare it with PICLOUD_PLUGIN)");
  }
  const auto& d = lib->get<const pc_plugin_descriptor>(PC_PLUGIN_SYMBOL);

  // The descriptor's ABI block next: nothing else in it is trusted before
  // this. A plugin without the file's copy is checked only here, after its
  // static constructors ran.
  if (auto checked = check_abi(path, d.abi); !checked) return checked.error();
  if (file_abi && std::memcmp(&*file_abi, &d.abi, sizeof d.abi) != 0)
    return sdk::make_error(ErrorKind::invalid_argument,
                           "plugin " + path + " has an ABI section that differs from its descriptor's ABI block");
  // Up to the last entry point of ABI 2.0: a later minor may append fields.
  if (d.size < offsetof(pc_plugin_descriptor, destroy) + sizeof(d.destroy))
    return sdk::make_error(ErrorKind::invalid_argument, "plugin " + path + " has a descriptor smaller than ABI " +
                                                            abi_version_text(d.abi) + "'s");
  if (!valid_name(d.name))
    return sdk::make_error(ErrorKind::invalid_argument,
                           "plugin " + path + " has an invalid name (lower-case letters, digits, '_')");
  if (!d.init || !d.configure || !d.start || !d.stop || !d.destroy)
    return sdk::make_error(ErrorKind::invalid_argument, "plugin " + path + " lacks an entry point (init, configure, start, stop, destroy)");
  std::string stem = fs::path(path).stem().string();
  if (stem != d.name)
    return sdk::make_error(ErrorKind::invalid_argument, "plugin " + path + " names itself '" + d.name +
                                                            "'; its file must be called " + d.name + ".so");

  LoadedPlugin out;
  out.name = d.name;
  out.version = d.version ? d.version : "";
  out.file = fs::absolute(path).lexically_normal().string();
  out.directory = fs::path(out.file).parent_path().string();
  out.provides = split_list(d.provides);
  out.depends = split_list(d.depends);
  out.descriptor = &d;
  out.checked_before_loading = file_abi.has_value();
  out.library = std::move(lib);
  return out;
}

sdk::Result<std::string> find_plugin_file(const std::string& name, const std::vector<std::string>& search_path) {
  std::string looked;
  for (const auto& dir : search_path) {
    fs::path candidate = fs::path(dir) / (name + ".so");
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
    looked += (looked.empty() ? "" : ", ") + dir;
  }
  return sdk::make_error(ErrorKind::not_found, "plugin '" + name + "' is enabled but no " + name +
                                                   ".so was found in the search path (" +
                                                   (looked.empty() ? "empty" : looked) + ")");
}

std::vector<std::string> discover_plugin_files(const std::vector<std::string>& search_path) {
  std::vector<std::string> out;
  std::set<std::string> names;
  for (const auto& dir : search_path) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.path().extension() == ".so" && entry.is_regular_file()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      if (names.insert(f.stem().string()).second) out.push_back(f.string());
  }
  return out;
}

}  // namespace picloud::kernel::plugins
