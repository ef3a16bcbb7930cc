#include "kernel/http/tls.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace picloud::kernel::http {
namespace {

// OpenSSL's reasons for the last failure on this thread (its error queue,
// emptied), e.g. "no such file; system lib" or "key values mismatch".
std::string openssl_reason() {
  std::string reasons;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    std::string text = reason ? reason : "error " + std::to_string(ERR_GET_REASON(e));
    if (reasons.find(text) != std::string::npos) continue;
    reasons += (reasons.empty() ? "" : "; ") + text;
  }
  return reasons.empty() ? "unknown error" : reasons;
}

sdk::Error refusal(const std::string& message) { return sdk::make_error(sdk::ErrorKind::invalid_argument, message); }

// A private key readable by others is no longer private. Group access is
// allowed when root owns the file (as PostgreSQL allows for its key): a
// root-owned 0640 key with the service's group is how a key is usually
// shared with a service that does not run as root.
sdk::Result<void> check_key_file_mode(const std::string& key_file) {
  struct stat st {};
  if (::stat(key_file.c_str(), &st) != 0)
    return refusal("[server] tls_key: cannot read " + key_file + ": " + std::strerror(errno));
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if (st.st_mode & S_IRWXO)
    return refusal("[server] tls_key: " + key_file + " is accessible to every user (mode " + mode +
                   "): a private key must not be; chmod 600 it (or 640 with root as its owner)");
  if ((st.st_mode & S_IRWXG) && st.st_uid != 0)
    return refusal("[server] tls_key: " + key_file + " is accessible to its group (mode " + mode +
                   ") and not owned by root: chmod 600 it, or make root its owner to share it with a group");
  return {};
}

std::string rfc3339(const ASN1_TIME* time, std::int64_t& unix_seconds) {
  std::tm tm{};
  if (!time || ASN1_TIME_to_tm(time, &tm) != 1) return "unknown";
  unix_seconds = static_cast<std::int64_t>(timegm(&tm));
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

CertificateInfo describe(SSL_CTX* ctx) {
  CertificateInfo info;
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (!cert) return info;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) info.subject.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
  }
  info.not_after = rfc3339(X509_get0_notAfter(cert), info.not_after_unix);
  info.expired = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      info.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  return info;
}

// "http/1.1" when the client offers ALPN and lists it; a client offering
// only other protocols (h2) goes on without ALPN and speaks HTTP/1.1 or
// gives up, as it chooses.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* offered,
                unsigned int offered_size, void*) {
  static const unsigned char kHttp11[] = "\x08http/1.1";
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_size, kHttp11, sizeof kHttp11 - 1, offered, offered_size) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

sdk::Result<SSL_CTX*> build_context(const std::string& cert_file, const std::string& key_file) {
  ERR_clear_error();
  if (auto mode = check_key_file_mode(key_file); !mode) return mode.error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return sdk::make_error(sdk::ErrorKind::internal, "cannot set up TLS: " + openssl_reason());
  auto fail = [ctx](const std::string& message) -> sdk::Result<SSL_CTX*> {
    SSL_CTX_free(ctx);
    return refusal(message);
  };
  // OpenSSL's default cipher lists and groups are sound; only the oldest
  // protocol versions go. Renegotiation is a client's way to make the
  // server work hard, and nothing here needs it.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Partial writes and a moving buffer: the server retries a write with the
  // rest of its own buffer, which may have been reallocated meanwhile.
  // Released buffers: an idle keep-alive connection holds no 34 KiB of
  // read and write buffers (thousands may be open).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // Resumption by session tickets only (stateless, keyed per context, so a
  // reload starts them afresh): no server-side cache to grow with clients.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    return fail("[server] tls_cert: cannot use " + cert_file + " as a PEM certificate (chain): " + openssl_reason());
  const std::string mismatch = "[server] tls_key: the key in " + key_file + " does not belong to the certificate in " +
                               cert_file + ": ";
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL compares the key with the certificate as it takes it.
    const unsigned long first = ERR_peek_error();
    if (ERR_GET_LIB(first) == ERR_LIB_X509 && ERR_GET_REASON(first) == X509_R_KEY_VALUES_MISMATCH)
      return fail(mismatch + openssl_reason());
    return fail("[server] tls_key: cannot use " + key_file + " as a PEM private key: " + openssl_reason());
  }
  if (SSL_CTX_check_private_key(ctx) != 1)
    return fail(mismatch + openssl_reason());
  return ctx;
}

}  // namespace

TlsContext::TlsContext(std::string cert_file, std::string key_file, SSL_CTX* ctx, CertificateInfo info)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)), ctx_(ctx), info_(std::move(info)) {}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

sdk::Result<std::unique_ptr<TlsContext>> TlsContext::load(std::string cert_file, std::string key_file) {
  auto ctx = build_context(cert_file, key_file);
  if (!ctx) return ctx.error();
  CertificateInfo info = describe(*ctx);
  return std::unique_ptr<TlsContext>(new TlsContext(std::move(cert_file), std::move(key_file), *ctx, std::move(info)));
}

sdk::Result<CertificateInfo> TlsContext::reload() {
  auto ctx = build_context(cert_file_, key_file_);
  if (!ctx) return ctx.error();
  CertificateInfo info = describe(*ctx);
  SSL_CTX* old;
  {
    std::lock_guard lock(mutex_);
    old = ctx_;
    ctx_ = *ctx;
    info_ = info;
  }
  SSL_CTX_free(old);  // connections made with it hold their own references
  return info;
}

CertificateInfo TlsContext::certificate() const {
  std::lock_guard lock(mutex_);
  return info_;
}

std::unique_ptr<TlsConnection> TlsContext::accept(int fd) {
  SSL* ssl;
  {
    std::lock_guard lock(mutex_);
    ssl = SSL_new(ctx_);
  }
  if (!ssl) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {  // the socket stays the caller's to close
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  auto connection = std::unique_ptr<TlsConnection>(new (std::nothrow) TlsConnection(ssl));
  if (!connection) SSL_free(ssl);
  return connection;
}

TlsConnection::~TlsConnection() { SSL_free(ssl_); }

TlsIo TlsConnection::fail(int code) {
  switch (code) {
    case SSL_ERROR_WANT_READ: return TlsIo::want_read;
    case SSL_ERROR_WANT_WRITE: return TlsIo::want_write;
    case SSL_ERROR_ZERO_RETURN: return TlsIo::closed;  // the peer's close_notify: ours may answer it
    case SSL_ERROR_SYSCALL: {
      // EOF without close_notify, or a socket error (errno, cleared before
      // each call): no TLS goodbye after it.
      const int e = errno;
      failed_ = true;
      const unsigned long queued = ERR_peek_error();
      error_ = queued ? openssl_reason() : e ? std::strerror(e) : "the peer closed the connection";
      return queued || e ? TlsIo::failed : TlsIo::closed;
    }
    default: {
      failed_ = true;
      const unsigned long first = ERR_peek_error();
      plain_http_ = ERR_GET_LIB(first) == ERR_LIB_SSL && ERR_GET_REASON(first) == SSL_R_HTTP_REQUEST;
      error_ = openssl_reason();
      // OpenSSL 3 reports an EOF without close_notify as an error: the
      // peer went away, like a plain socket's EOF.
      return error_.find("unexpected eof") != std::string::npos ? TlsIo::closed : TlsIo::failed;
    }
  }
}

namespace {
// Before each call: OpenSSL's error queue and errno, which SSL_get_error
// and fail() read, hold nothing of an earlier call.
void clear_errors() {
  ERR_clear_error();
  errno = 0;
}
}  // namespace

TlsIo TlsConnection::handshake() {
  clear_errors();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) return TlsIo::done;
  TlsIo io = fail(SSL_get_error(ssl_, r));
  return io == TlsIo::closed ? TlsIo::failed : io;  // a handshake cut short failed
}

TlsResult TlsConnection::read(char* into, std::size_t capacity) {
  clear_errors();
  read_wants_write_ = false;
  int n = SSL_read(ssl_, into, static_cast<int>(std::min<std::size_t>(capacity, 1 << 30)));
  if (n > 0) return {static_cast<std::size_t>(n), TlsIo::done};
  TlsIo io = fail(SSL_get_error(ssl_, n));
  read_wants_write_ = io == TlsIo::want_write;
  return {0, io};
}

TlsResult TlsConnection::write(const char* data, std::size_t size) {
  while (!owed_.empty()) {
    clear_errors();
    int n = SSL_write(ssl_, owed_.data(), static_cast<int>(owed_.size()));
    if (n <= 0) return {0, fail(SSL_get_error(ssl_, n))};
    owed_.erase(0, static_cast<std::size_t>(n));
  }
  if (size == 0) return {0, TlsIo::done};
  clear_errors();
  int n = SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
  if (n > 0) return {static_cast<std::size_t>(n), TlsIo::done};
  return {0, fail(SSL_get_error(ssl_, n))};
}

void TlsConnection::send_now(std::string_view bytes) {
  if (!owed_.empty() || failed_) {
    owed_.append(bytes);
    return;
  }
  while (!bytes.empty()) {
    clear_errors();
    int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    if (n <= 0) {
      // OpenSSL holds part of these bytes now: the same bytes must be
      // offered again before anything else.
      if (fail(SSL_get_error(ssl_, n)) != TlsIo::failed) owed_.assign(bytes);
      return;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// SSL_pending, not SSL_has_pending: the latter also counts a record still
// incomplete, whose rest does make the socket readable (waiting for
// writability then would spin). Without read-ahead OpenSSL never takes
// more than the record it is reading from the socket.
bool TlsConnection::ready_without_input() const { return read_wants_write_ || SSL_pending(ssl_) > 0; }

void TlsConnection::close_notify() {
  // Not after a failure (OpenSSL forbids it, and a cut body must look cut),
  // nor before the handshake finished, nor twice.
  if (failed_ || SSL_in_init(ssl_) || (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // one try: the socket closes next, whatever it took
  ERR_clear_error();
}

}  // namespace picloud::kernel::http
