// Loads the TLS module (tls_module.hpp) with the first https request and
// hands sockets to it. The module's path is checked at start-up (a missing
// file stops the plugin there, naming it), its loading deferred to first use.
#pragma once

#include <mutex>
#include <string>

#include <picloud/sdk/error.hpp>

#include "tls_module.hpp"

namespace picloud::http {

class TlsConnector {
 public:
  TlsConnector(std::string module_path, std::string ca_file)
      : module_path_(std::move(module_path)), ca_file_(std::move(ca_file)) {}

  // Whether the module's file is there (for start-up).
  sdk::Result<void> check() const;
  // The handshake and checks of tls_module.hpp; a failure is unavailable
  // with code "tls" (or "timeout"), its message naming the host, never the
  // address.
  sdk::Result<std::unique_ptr<ClientSession>> attach(Poco::Net::StreamSocket& socket,
                                                                    const std::string& host, TlsAttached* failure = nullptr);

 private:
  sdk::Result<TlsAttachFn> load();

  const std::string module_path_;
  const std::string ca_file_;
  std::mutex mutex_;
  TlsAttachFn attach_ = nullptr;
};

}  // namespace picloud::http
