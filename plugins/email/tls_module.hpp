// TLS for the email plugin lives in a module of its own, <plugin dir>/
// email/tls.so, loaded with the first TLS connection to the relay: OpenSSL
// and Poco's NetSSL cost memory at idle that a server sending no mail (or
// only through a local relay in plain text) should not pay.
//
// Both sides are built together, by the same compiler, against the same
// Poco: C++ types may cross here (this is not the plugin ABI).
#pragma once

#include <Poco/Net/StreamSocket.h>

#include <string>

namespace picloud::email {

// Runs the TLS handshake on a connected socket (its timeouts bound it),
// verifies the relay's certificate chain against the system's store plus
// `ca_file` and its name against `host`, and puts the secured socket into
// `secured`. Answers "" or why it failed. Never throws.
using TlsSecureFn = std::string (*)(Poco::Net::StreamSocket& socket, const std::string& host,
                                    const std::string& ca_file, Poco::Net::StreamSocket& secured);

inline constexpr const char* kTlsSecureSymbol = "picloud_email_tls_secure";

}  // namespace picloud::email
