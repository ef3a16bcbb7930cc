#include "tls_connector.hpp"

#include <dlfcn.h>
#include <sys/stat.h>

namespace picloud::http {

using sdk::ErrorKind;

sdk::Result<void> TlsConnector::check() const {
  struct stat st {};
  if (::stat(module_path_.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return sdk::make_error(ErrorKind::invalid_argument,
                           "the http plugin's TLS module " + module_path_ + " is missing: reinstall PiCloud");
  return {};
}

sdk::Result<TlsAttachFn> TlsConnector::load() {
  std::lock_guard lock(mutex_);
  if (attach_) return attach_;
  // Never unloaded once it works: sessions it made live in the pool. A
  // failure (out of memory or descriptors, say) is tried again next time.
  void* module = ::dlopen(module_path_.c_str(), RTLD_NOW | RTLD_LOCAL);
  void* symbol = module ? ::dlsym(module, kTlsAttachSymbol) : nullptr;
  if (!symbol) {
    const char* why = ::dlerror();
    std::string reason = why ? why : "no entry point";
    if (module) ::dlclose(module);
    return sdk::make_error(ErrorKind::unavailable, "tls", "tls: TLS support could not be loaded (" + reason + ")");
  }
  attach_ = reinterpret_cast<TlsAttachFn>(symbol);
  return attach_;
}

sdk::Result<std::unique_ptr<ClientSession>> TlsConnector::attach(Poco::Net::StreamSocket& socket,
                                                                                const std::string& host,
                                                                                TlsAttached* failure) {
  auto fn = load();
  if (!fn) return fn.error();
  TlsAttached out;
  (*fn)(socket, host, ca_file_, out);
  if (out.failure == TlsFailure::none) return std::move(out.session);
  auto error = [](std::string_view code, std::string message) {
    return sdk::make_error(ErrorKind::unavailable, std::string(code), std::string(code) + ": " + message);
  };
  sdk::Error e;
  switch (out.failure) {
    case TlsFailure::timeout: e = error("timeout", "the TLS handshake took too long"); break;
    case TlsFailure::untrusted: e = error("tls", "the server's certificate is not trusted"); break;
    case TlsFailure::wrong_host: e = error("tls", "the server's certificate is not valid for " + host); break;
    case TlsFailure::setup: e = error("tls", "TLS could not be set up"); break;
    case TlsFailure::handshake:
    case TlsFailure::none: e = error("tls", "the TLS handshake with the server failed"); break;
  }
  if (failure) *failure = std::move(out);
  return e;
}

}  // namespace picloud::http
