// The TLS module (see tls_module.hpp): Poco's NetSSL over OpenSSL.
#include "tls_module.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>

#include <mutex>

namespace {

using picloud::http::TlsAttached;
using picloud::http::TlsFailure;

// One client context for the process, made on first use: the CA store is
// read once. A failure to make it is reported to every caller.
Poco::Net::Context::Ptr context_for(const std::string& ca_file, std::string& error) {
  static std::mutex mutex;
  static Poco::Net::Context::Ptr context;
  static std::string setup_error;
  std::lock_guard lock(mutex);
  if (!context && setup_error.empty()) {
    try {
      Poco::Net::initializeSSL();
      Poco::Net::Context::Params params;
      params.verificationMode = Poco::Net::Context::VERIFY_STRICT;  // and no "localhost" shortcut
      params.loadDefaultCAs = true;
      params.caLocation = ca_file;
      params.cipherList = "DEFAULT";  // the system's policy
      context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    } catch (const Poco::Exception& e) {
      setup_error = e.displayText();
    }
  }
  error = setup_error;
  return context;
}

TlsAttached fail(TlsFailure failure, std::string detail) {
  TlsAttached out;
  out.failure = failure;
  out.detail = std::move(detail);
  return out;
}

}  // namespace

namespace {

TlsAttached attach(Poco::Net::StreamSocket& socket, const std::string& host, const std::string& ca_file) {
  std::string setup_error;
  auto context = context_for(ca_file, setup_error);
  if (!context) return fail(TlsFailure::setup, setup_error);
  try {
    // Server Name Indication carries names only, never an address.
    Poco::Net::IPAddress literal;
    bool is_address = Poco::Net::IPAddress::tryParse(host, literal);
    auto secure = is_address ? Poco::Net::SecureStreamSocket::attach(socket, context)
                             : Poco::Net::SecureStreamSocket::attach(socket, host, context);
    // attach() may return with the handshake unfinished (a read timed out);
    // finish it, then check the certificate here, so a half-done handshake
    // can never skip the host name check.
    if (secure.completeHandshake() != 1) return fail(TlsFailure::timeout, "handshake unfinished");
    if (!secure.havePeerCertificate()) return fail(TlsFailure::untrusted, "no certificate");
    secure.verifyPeerCertificate(host);
    TlsAttached out;
    // A plain session over the secure socket: HTTPSClientSession cannot take
    // a connected socket (it sets its port, which a connected session
    // refuses), and TLS lives in the socket anyway.
    out.session = std::make_unique<picloud::http::ClientSession>(secure);
    return out;
  } catch (const Poco::TimeoutException& e) {
    return fail(TlsFailure::timeout, e.displayText());
  } catch (const Poco::Net::CertificateValidationException& e) {
    return fail(TlsFailure::wrong_host, e.displayText());
  } catch (const Poco::Net::SSLException& e) {
    bool untrusted = e.displayText().find("certificate verify failed") != std::string::npos;
    return fail(untrusted ? TlsFailure::untrusted : TlsFailure::handshake, e.displayText());
  } catch (const Poco::Exception& e) {
    return fail(TlsFailure::handshake, e.displayText());
  } catch (const std::exception& e) {
    return fail(TlsFailure::handshake, e.what());
  }
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void picloud_http_tls_attach(Poco::Net::StreamSocket& socket,
                                                                               const std::string& host,
                                                                               const std::string& ca_file,
                                                                               TlsAttached& out) {
  out = attach(socket, host, ca_file);
}

// The function pointer type the plugin looks up must match this definition.
static_assert(std::is_same_v<decltype(&picloud_http_tls_attach), picloud::http::TlsAttachFn>);
