// The email plugin's TLS module (see tls_module.hpp): Poco's NetSSL over
// OpenSSL.
#include "tls_module.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>

#include <map>
#include <mutex>
#include <type_traits>

namespace {

// One client context per CA file, made on first use (the store is read
// once).
Poco::Net::Context::Ptr context_for(const std::string& ca_file, std::string& error) {
  static std::mutex mutex;
  static std::map<std::string, Poco::Net::Context::Ptr> contexts;
  std::lock_guard lock(mutex);
  auto& context = contexts[ca_file];
  if (!context) {
    try {
      Poco::Net::initializeSSL();
      Poco::Net::Context::Params params;
      params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
      params.loadDefaultCAs = true;
      params.caLocation = ca_file;
      params.cipherList = "DEFAULT";
      context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    } catch (const Poco::Exception& e) {
      error = e.displayText();
    }
  }
  return context;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) std::string picloud_email_tls_secure(
    Poco::Net::StreamSocket& socket, const std::string& host, const std::string& ca_file,
    Poco::Net::StreamSocket& secured) {
  try {
    std::string error;
    auto context = context_for(ca_file, error);
    if (!context) return "TLS could not be set up: " + error;
    Poco::Net::IPAddress literal;
    bool is_address = Poco::Net::IPAddress::tryParse(host, literal);
    auto secure = is_address ? Poco::Net::SecureStreamSocket::attach(socket, context)
                             : Poco::Net::SecureStreamSocket::attach(socket, host, context);
    if (secure.completeHandshake() != 1) return "the TLS handshake did not finish in time";
    if (!secure.havePeerCertificate()) return "the relay showed no certificate";
    secure.verifyPeerCertificate(host);
    secured = secure;
    return "";
  } catch (const Poco::Exception& e) {
    return "TLS with the relay failed: " + e.displayText();
  } catch (const std::exception& e) {
    return std::string("TLS with the relay failed: ") + e.what();
  }
}

static_assert(std::is_same_v<decltype(&picloud_email_tls_secure), picloud::email::TlsSecureFn>);
