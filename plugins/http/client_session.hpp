// The HTTP session a pooled connection keeps: Poco's client session over a
// socket that is already connected (to an address the guard checked), with
// what the plugin needs beyond Poco's public API — the bytes Poco has
// buffered, and reading the body itself (Poco's chunked reader takes a
// connection cut mid-chunk for the body's end, and would let a truncated
// body pass for a whole one).
//
// Header-only: the TLS module (tls_module.hpp) makes these too.
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPHeaderStream.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>

namespace picloud::http {

class ClientSession final : public Poco::Net::HTTPClientSession {
 public:
  // Never reconnects on its own: its host is empty, so Poco neither closes
  // nor reopens it; and no proxy, whatever the process's default says.
  explicit ClientSession(const Poco::Net::StreamSocket& connected) : HTTPClientSession(connected) {
    setProxyConfig(ProxyConfig());
  }

  // Bytes read from the socket that no one has consumed yet.
  int buffered_bytes() const { return buffered(); }
  // The next byte of the response, or EOF when the connection ended.
  int next_byte() { return get(); }
  // Up to `length` bytes of the response (0 when the connection ended).
  int read_bytes(char* buffer, std::streamsize length) { return read(buffer, length); }
  // The response head that follows an interim (1xx) one.
  void read_next_head(Poco::Net::HTTPResponse& response) {
    response.clear();
    Poco::Net::HTTPHeaderInputStream head(*this);
    response.read(head);
  }
};

}  // namespace picloud::http
