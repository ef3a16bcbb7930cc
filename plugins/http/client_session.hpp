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

#include <string>

namespace picloud::http {

class ClientSession final : public Poco::Net::HTTPClientSession {
 public:
  // Never reconnects on its own: its host is empty, so Poco neither closes
  // nor reopens it before a request, and write() below keeps it from
  // reconnecting after a failed one; and no proxy, whatever the process's
  // default says.
  explicit ClientSession(const Poco::Net::StreamSocket& connected) : HTTPClientSession(connected) {
    setProxyConfig(ProxyConfig());
  }

  // Bytes read from the socket that no one has consumed yet.
  int buffered_bytes() const { return buffered(); }
  // The next byte of the response (0-255), or EOF when the connection ended.
  int next_byte() {
    char c;
    return read(&c, 1) > 0 ? static_cast<unsigned char>(c) : std::char_traits<char>::eof();
  }
  // Up to `length` bytes of the response (0 when the connection ended).
  int read_bytes(char* buffer, std::streamsize length) { return read(buffer, length); }
  // The response head that follows an interim (1xx) one.
  void read_next_head(Poco::Net::HTTPResponse& response) {
    response.clear();
    Poco::Net::HTTPHeaderInputStream head(*this);
    response.read(head);
  }

 protected:
  // Poco's client session answers a failed write on a kept-alive
  // connection by reconnecting to its host, a lookup the guard never saw.
  // A failed write here is an error, nothing more.
  int write(const char* buffer, std::streamsize length) override { return HTTPSession::write(buffer, length); }
};

}  // namespace picloud::http
