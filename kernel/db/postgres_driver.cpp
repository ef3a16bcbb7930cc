#include "kernel/db/postgres_driver.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>
#include <vector>

#include "kernel/executable.hpp"

namespace picloud::kernel::db {

sdk::Result<const PostgresDriver*> postgres_driver() {
  static std::mutex mutex;
  static const PostgresDriver* loaded = nullptr;
  std::lock_guard lock(mutex);
  if (loaded) return loaded;
  const std::string dir = executable_directory();
  std::vector<std::string> candidates{dir + "/picloud_postgres.so", dir + "/../lib/picloud/picloud_postgres.so"};
#ifdef PICLOUD_POSTGRES_DRIVER_BUILT_AT
  candidates.emplace_back(PICLOUD_POSTGRES_DRIVER_BUILT_AT);  // test programs of a build tree
#endif
  std::string tried;
  for (const auto& path : candidates) {
    // Never closed: connections and Poco's connector registry point into it.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      tried += (tried.empty() ? "" : "; ") + std::string(::dlerror());
      continue;
    }
    auto entry = reinterpret_cast<PostgresDriverEntry>(::dlsym(handle, PICLOUD_POSTGRES_DRIVER_SYMBOL));
    if (!entry)
      return sdk::make_error(sdk::ErrorKind::internal,
                             path + " is not this PiCloud's PostgreSQL driver (one from another version?): install the "
                                    "picloud_postgres.so built with this picloud");
    loaded = entry();
    return loaded;
  }
  return sdk::make_error(sdk::ErrorKind::unavailable,
                         "PostgreSQL support (picloud_postgres.so) could not be loaded; it belongs beside the "
                         "picloud executable or in ../lib/picloud/ from it (" + tried + ")");
}

sdk::Result<PostgresSessionHandle> PostgresSessionHandle::open(const PostgresDriver& driver,
                                                              const std::string& connection) {
  std::string error;
  PostgresSession* s = driver.open_session(connection, error);
  if (!s) return sdk::make_error(sdk::ErrorKind::unavailable, error.empty() ? "the connection failed" : error);
  return PostgresSessionHandle(driver, s);
}

}  // namespace picloud::kernel::db
