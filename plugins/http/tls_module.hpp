// TLS for the http plugin lives in a module of its own, <plugin dir>/http/
// tls.so, loaded with the first https request (tls_connector.hpp): OpenSSL's
// libssl and Poco's NetSSL (with the Crypto, Util and XML libraries it
// pulls in) cost some 1.5 MB of memory at idle, which a server whose
// scripts never call https should not pay.
//
// This header is the module's interface. Both sides are built together, by
// the same compiler, against the same Poco: C++ types may cross here (this is
// not the plugin ABI).
#pragma once

#include <Poco/Net/StreamSocket.h>

#include <memory>
#include <string>

#include "client_session.hpp"

namespace picloud::http {

enum class TlsFailure { none, timeout, untrusted, wrong_host, handshake, setup };

struct TlsAttached {
  std::unique_ptr<ClientSession> session;  // set when failure is none
  TlsFailure failure = TlsFailure::none;
  std::string detail;  // for the server log; never shown to scripts
};

// Runs the TLS handshake on a connected socket (its send and receive
// timeouts bound the handshake), verifies the certificate chain against the
// system's store plus `ca_file` and the certificate against `host`, and
// sets `out` to an HTTP session over the TLS connection or to the failure.
// Never throws.
using TlsAttachFn = void (*)(Poco::Net::StreamSocket& socket, const std::string& host, const std::string& ca_file,
                             TlsAttached& out);

inline constexpr const char* kTlsAttachSymbol = "picloud_http_tls_attach";

}  // namespace picloud::http
