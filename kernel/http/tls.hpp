// TLS on the listener itself ([server] tls_cert, tls_key), for an instance
// that serves HTTPS without a proxy in front.
//
// TlsContext holds the certificate and key the server answers with: read
// once at start-up (a missing, unreadable or mismatched file stops start-up
// with OpenSSL's reason and the file's name), and again on reload() (SIGHUP),
// which builds a whole new context and swaps it in only when it is good.
// New connections take the context of their accept; existing ones keep the
// one they began with (each SSL holds a reference to its SSL_CTX).
//
// TlsConnection is one connection's TLS state, driven without blocking by
// whichever thread owns the connection: the handshake, reads and writes
// answer "want read" or "want write" instead of waiting, and the owner
// re-arms its epoll registration for that. Nothing here waits or takes a
// lock on the I/O path. OpenSSL writes with write(), not send(MSG_NOSIGNAL):
// the process must ignore SIGPIPE (picloud's main() does), or a client
// that went away would end it.
//
// OpenSSL is used directly. Poco's NetSSL wraps a socket it drives itself
// (blocking, or its own reactor); the server's one-shot epoll workers,
// sendfile replacement and the stream loop's hand-over need the SSL object
// and its WANT_READ/WANT_WRITE answers in their own hands.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"

struct ssl_st;
struct ssl_ctx_st;

namespace picloud::kernel::http {

// What the logs say of a certificate.
struct CertificateInfo {
  std::string subject;    // RFC 2253, e.g. "CN=pi.example.com"
  std::string not_after;  // RFC 3339, UTC
  std::int64_t not_after_unix = 0;  // the same, in seconds since 1970
  std::string serial;     // hex
  bool expired = false;
};

class TlsConnection;

class TlsContext {
 public:
  // Reads `cert_file` (PEM: the certificate, then any intermediates) and
  // `key_file` (PEM, unencrypted). The key file must not be accessible to
  // other users, nor to its group unless root owns it (a root-owned 0640
  // key with the service's group is the usual way to share one).
  static sdk::Result<std::unique_ptr<TlsContext>> load(std::string cert_file, std::string key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Reads the same files again into a new context; on failure the current
  // one stays and the error says why.
  sdk::Result<CertificateInfo> reload();
  CertificateInfo certificate() const;
  const std::string& cert_file() const { return cert_file_; }

  // A connection's TLS state on an accepted socket, server side; null when
  // OpenSSL cannot allocate it.
  std::unique_ptr<TlsConnection> accept(int fd);

 private:
  TlsContext(std::string cert_file, std::string key_file, ssl_ctx_st* ctx, CertificateInfo info);

  const std::string cert_file_;
  const std::string key_file_;
  mutable std::mutex mutex_;  // guards ctx_ and info_ (accept, reload)
  ssl_ctx_st* ctx_;
  CertificateInfo info_;
};

// How a TLS step went: done, or what it waits for, or the end.
enum class TlsIo {
  done,
  want_read,   // wait until the socket is readable, then call again
  want_write,  // wait until it is writable, then call again
  closed,      // the peer ended the connection (close_notify or EOF)
  failed,      // a TLS or socket error: the connection is unusable
};

struct TlsResult {
  std::size_t bytes = 0;  // moved; > 0 only with TlsIo::done
  TlsIo io = TlsIo::done;
};

class TlsConnection {
 public:
  explicit TlsConnection(ssl_st* ssl) : ssl_(ssl) {}
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Runs the handshake as far as the socket allows.
  TlsIo handshake();
  // Decrypted bytes into `into`: at most one record (16 KiB) per call.
  TlsResult read(char* into, std::size_t capacity);
  // Encrypts and sends from `data`. After want_read/want_write the caller
  // must call again with the same bytes first (more may follow them; the
  // buffer may have moved). A partial write is normal.
  TlsResult write(const char* data, std::size_t size);
  // Sends a few bytes now without the caller keeping them (100 Continue):
  // what the socket does not take goes out before the next write().
  void send_now(std::string_view bytes);

  // Whether OpenSSL holds decrypted input not read yet, or a read waits
  // for the socket to take a write: either way waiting for the socket to
  // be readable could wait forever.
  bool ready_without_input() const;
  // The handshake failed because the client spoke plain HTTP.
  bool plain_http() const { return plain_http_; }
  // Why the last step failed, for the log.
  const std::string& error() const { return error_; }

  // Sends close_notify, once, if the connection is still sound (never
  // after a failure: OpenSSL forbids it, and a cut stream must look cut).
  void close_notify();
  // The connection ends with a reset: no close_notify.
  void abandon() { failed_ = true; }

 private:
  TlsIo fail(int code);
  ssl_st* ssl_;
  std::string owed_;  // send_now's bytes the socket has not taken yet
  std::string error_;
  bool failed_ = false;
  bool read_wants_write_ = false;
  bool plain_http_ = false;
};

}  // namespace picloud::kernel::http
