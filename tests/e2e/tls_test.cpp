// HTTPS without a proxy ([server] tls_cert, tls_key): a real picloud
// process with a self-signed certificate made for the test, and OpenSSL as
// the client over loopback. Keep-alive and pipelining, a large file body
// (sendfile's replacement) and a produced one, slow readers, server-sent
// events through the stream loop, /readyz, signing in (the Secure cookie),
// a certificate chain; a plain HTTP request, a client that never starts
// its handshake; SIGHUP with a new certificate, a broken one, and with TLS
// off; start-up refusals of a missing, mismatched or exposed key.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "raw_http.hpp"
#include "support.hpp"

using namespace picloud;
using namespace std::chrono_literals;
using test::Process;

namespace {

// A self-signed certificate for localhost and 127.0.0.1, by the openssl
// command (as an operator would make one for a LAN).
void make_certificate(const std::string& cert, const std::string& key, const std::string& common_name,
                      const std::string& serial, int days = 2) {
  std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days " +
                        std::to_string(days) + " -keyout '" +
                        key + "' -out '" + cert + "' -subj '/CN=" + common_name + "' -set_serial " + serial +
                        " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  ::chmod(key.c_str(), 0600);
}

// A root, an intermediate it signs, and a certificate for localhost the
// intermediate signs: `chain` holds the certificate then the intermediate,
// as an ACME client's fullchain.pem does; clients trust `root` alone.
void make_chain(const test::TempDir& dir, const std::string& chain, const std::string& key, const std::string& root) {
  dir.write("inter.ext", "basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n");
  dir.write("leaf.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  const std::string d = "'" + dir.path() + "/";
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
  const std::string commands[] = {
      "openssl req -x509" + ec + "-days 2 -subj /CN=root -keyout " + d + "root.key' -out '" + root + "'",
      "openssl req -new" + ec + "-subj /CN=intermediate -keyout " + d + "inter.key' -out " + d + "inter.csr'",
      "openssl x509 -req -in " + d + "inter.csr' -CA '" + root + "' -CAkey " + d + "root.key' -set_serial 2 -days 2 " +
          "-extfile " + d + "inter.ext' -out " + d + "inter.pem'",
      "openssl req -new" + ec + "-subj /CN=picloud-leaf -keyout '" + key + "' -out " + d + "leaf.csr'",
      "openssl x509 -req -in " + d + "leaf.csr' -CA " + d + "inter.pem' -CAkey " + d + "inter.key' -set_serial 0x1EAF " +
          "-days 2 -extfile " + d + "leaf.ext' -out " + d + "leaf.pem'",
      "cat " + d + "leaf.pem' " + d + "inter.pem' > '" + chain + "'",
  };
  for (const auto& command : commands) ASSERT_EQ(std::system((command + " 2>/dev/null").c_str()), 0) << command;
  ::chmod(key.c_str(), 0600);
}

// A blocking TLS client: verifies the server against `ca_file` as
// localhost, offers ALPN h2 and http/1.1 (as browsers do).
class TlsClient {
 public:
  TlsClient(int port, const std::string& ca_file) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
    fd_ = test::raw_http::connect_to(port);
    if (fd_ < 0) return;
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    SSL_set1_host(ssl_, "localhost");
    static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
    SSL_set_alpn_protos(ssl_, kAlpn, sizeof kAlpn - 1);
    connected_ = SSL_connect(ssl_) == 1;
    if (!connected_) error_ = ERR_error_string(ERR_get_error(), nullptr);
  }
  ~TlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool connected() const { return connected_; }
  const std::string& error() const { return error_; }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // More input into `pending`; false at the end (clean_end: by close_notify).
  bool fill() {
    char buffer[1 << 16];
    int n = SSL_read(ssl_, buffer, sizeof buffer);
    if (n > 0) {
      pending.append(buffer, static_cast<std::size_t>(n));
      return true;
    }
    clean_end = SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN;
    return false;
  }
  std::string pending;
  bool clean_end = false;

  std::string alpn() const {
    const unsigned char* data = nullptr;
    unsigned int size = 0;
    SSL_get0_alpn_selected(ssl_, &data, &size);
    return std::string(reinterpret_cast<const char*>(data), size);
  }
  int version() const { return SSL_version(ssl_); }
  // The server certificate's serial, in hex.
  std::string serial() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return "";
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    char* hex = BN_bn2hex(bn);
    std::string out = hex;
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(cert);
    return out;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
  std::string error_;
};

// One response framed by Content-Length; its body kept when `keep` (else
// checked against t_stream's pattern as it arrives).
struct Response {
  int status = 0;
  std::string head;
  std::string body;
  std::int64_t length = 0;
  bool pattern_ok = true;
};

Response read_response(TlsClient& client, bool keep = true) {
  Response r;
  std::size_t end;
  while ((end = client.pending.find("\r\n\r\n")) == std::string::npos)
    if (!client.fill()) return r;
  r.head = client.pending.substr(0, end + 2);
  client.pending.erase(0, end + 4);
  r.status = std::atoi(r.head.c_str() + 9);
  std::string lower = r.head;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto at = lower.find("content-length:");
  if (at == std::string::npos) return r;
  const std::int64_t length = std::atoll(lower.c_str() + at + 15);
  for (;;) {
    auto take = static_cast<std::size_t>(std::min<std::int64_t>(length - r.length, client.pending.size()));
    for (std::size_t i = 0; i < take && !keep; ++i)
      if (static_cast<unsigned char>(client.pending[i]) != (r.length + static_cast<std::int64_t>(i)) % 251)
        r.pattern_ok = false;
    if (keep) r.body.append(client.pending, 0, take);
    r.length += static_cast<std::int64_t>(take);
    client.pending.erase(0, take);
    if (r.length == length || !client.fill()) break;
  }
  return r;
}

std::string get(const std::string& target, bool close = false) {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n";
}

// picloud_tls_certificate_expiry_timestamp_seconds, from /metrics.
double certificate_expiry(int port, const std::string& ca) {
  TlsClient client(port, ca);
  if (!client.connected() || !client.send(get("/metrics", true))) return -1;
  const std::string metrics = read_response(client).body;
  const std::string name = "\npicloud_tls_certificate_expiry_timestamp_seconds ";
  auto at = metrics.find(name);
  return at == std::string::npos ? -1 : std::atof(metrics.c_str() + at + name.size());
}

struct TlsServer {
  test::TempDir dir;
  int port = test::free_port();
  std::unique_ptr<test::TestDatabase> db = std::make_unique<test::TestDatabase>(test::Backend::sqlite);
  std::unique_ptr<Process> process;
  std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");

  explicit TlsServer(std::map<std::string, std::string> env = {}, bool tls = true) {
    if (tls) make_certificate(cert, key, "picloud-a", "0xA1");
    env.emplace("PICLOUD_SERVER_PORT", std::to_string(port));
    env.emplace("PICLOUD_SERVER_DATA_DIR", dir.path());
    env.emplace("PICLOUD_DATABASE_URL", db->url());
    env.emplace("PICLOUD_PLUGINS_SEARCH_PATH", test::test_plugin_dir());
    env.emplace("PICLOUD_PLUGINS_ENABLED", "t_stream");
    if (tls) {
      env.emplace("PICLOUD_SERVER_TLS_CERT", cert);
      env.emplace("PICLOUD_SERVER_TLS_KEY", key);
    }
    process = std::make_unique<Process>(Process::Options{{test::picloud_binary(), "serve"}, env, dir.path(), false});
  }
  // Ready once /readyz answers 200 over TLS.
  bool ready(const std::string& ca) {
    for (auto until = std::chrono::steady_clock::now() + 15s; std::chrono::steady_clock::now() < until;) {
      if (!process->running()) return false;
      TlsClient client(port, ca);
      if (client.connected() && client.send(get("/readyz", true)) && read_response(client).status == 200) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
};

TEST(Tls, KeepAlivePipeliningAndReadyz) {
  TlsServer s;
  ASSERT_TRUE(s.ready(s.cert)) << s.process->err();
  TlsClient client(s.port, s.cert);
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_EQ(client.alpn(), "http/1.1");
  EXPECT_GE(client.version(), TLS1_2_VERSION);
  EXPECT_EQ(client.serial(), "A1");

  ASSERT_TRUE(client.send(get("/readyz")));
  Response ready = read_response(client);
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find("\"ready\":true"), std::string::npos) << ready.body;
  // The same connection, then three requests in one write.
  ASSERT_TRUE(client.send(get("/healthz")));
  EXPECT_EQ(read_response(client).body, "ok\n");
  ASSERT_TRUE(client.send(get("/healthz") + get("/t_stream/generated?size=100") + get("/healthz", true)));
  EXPECT_EQ(read_response(client).body, "ok\n");
  Response generated = read_response(client, false);
  EXPECT_EQ(generated.status, 200);
  EXPECT_EQ(generated.length, 100);
  EXPECT_TRUE(generated.pattern_ok);
  EXPECT_EQ(read_response(client).body, "ok\n");
  // Connection: close ends with the server's close_notify.
  EXPECT_FALSE(client.fill());
  EXPECT_TRUE(client.clean_end);
}

TEST(Tls, LargeBodiesArriveIntact) {
  TlsServer s;
  ASSERT_TRUE(s.ready(s.cert)) << s.process->err();
  TlsClient client(s.port, s.cert);
  ASSERT_TRUE(client.connected()) << client.error();
  // A file (sendfile over plain HTTP; read and encrypted here), then a
  // producer's body, on one connection.
  const std::int64_t size = 48 * test::raw_http::kMiB + 12345;
  ASSERT_TRUE(client.send(get("/t_stream/file?size=" + std::to_string(size))));
  Response file = read_response(client, false);
  EXPECT_EQ(file.status, 200);
  EXPECT_EQ(file.length, size);
  EXPECT_TRUE(file.pattern_ok);
  ASSERT_TRUE(client.send(get("/t_stream/generated?size=" + std::to_string(size / 4), true)));
  Response generated = read_response(client, false);
  EXPECT_EQ(generated.length, size / 4);
  EXPECT_TRUE(generated.pattern_ok);
  // Uploads: a spooled body, with 100-continue.
  TlsClient upload(s.port, s.cert);
  ASSERT_TRUE(upload.connected());
  const std::string body = test::raw_http::pattern(0, 3 << 20);
  ASSERT_TRUE(upload.send("PUT /t_stream/spooled HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  while (upload.pending.find("\r\n\r\n") == std::string::npos) ASSERT_TRUE(upload.fill());
  EXPECT_EQ(upload.pending.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << upload.pending;
  upload.pending.erase(0, upload.pending.find("\r\n\r\n") + 4);
  ASSERT_TRUE(upload.send(body));
  std::uint64_t sum = 0;
  for (unsigned char ch : body) sum += ch;
  EXPECT_EQ(read_response(upload).body, std::to_string(body.size()) + " " + std::to_string(sum));
}

TEST(Tls, SlowReadersHoldNoWorkerAndGetWholeBodies) {
  // Two worker threads at most; more stalled downloads than that, each far
  // more than the sockets' buffers hold: the server's writes wait (OpenSSL
  // wants to write) and go on later with the same bytes.
  TlsServer s(std::map<std::string, std::string>{{"PICLOUD_SERVER_THREADS", "2"},
                                                 {"PICLOUD_SERVER_ACTIVE_WORKERS", "1"}});
  ASSERT_TRUE(s.ready(s.cert)) << s.process->err();
  const std::int64_t size = 32 * test::raw_http::kMiB;
  std::vector<std::unique_ptr<TlsClient>> stalled;
  for (int i = 0; i < 4; ++i) {
    auto client = std::make_unique<TlsClient>(s.port, s.cert);
    ASSERT_TRUE(client->connected()) << client->error();
    const std::string what = i % 2 ? "/t_stream/file" : "/t_stream/generated";
    ASSERT_TRUE(client->send(get(what + "?size=" + std::to_string(size))));
    stalled.push_back(std::move(client));
  }
  std::this_thread::sleep_for(300ms);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    TlsClient quick(s.port, s.cert);
    ASSERT_TRUE(quick.connected()) << quick.error();
    ASSERT_TRUE(quick.send(get("/healthz", true)));
    EXPECT_EQ(read_response(quick).body, "ok\n");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  // Read at last: whole and in order.
  for (auto& client : stalled) {
    Response r = read_response(*client, false);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.length, size);
    EXPECT_TRUE(r.pattern_ok);
  }
}

TEST(Tls, ServerSentEventsThroughTheStreamLoop) {
  TlsServer s;
  ASSERT_TRUE(s.ready(s.cert)) << s.process->err();
  TlsClient client(s.port, s.cert);
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.send(get("/t_stream/events")));
  while (client.fill()) {
  }
  EXPECT_TRUE(client.clean_end) << "the stream's end should be a close_notify";
  const std::string& got = client.pending;
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got.substr(0, 200);
  std::string big = "data: ";
  for (int i = 0; i < 200000; ++i) big.push_back(static_cast<char>('a' + i % 26));
  const std::string events = "data: one\n\ndata: two\n\n" + big + "\n\ndata: bye\n\n";
  auto body = got.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_TRUE(got.substr(body + 4) == events) << "the events arrived changed (" << got.size() - body - 4 << " bytes)";
}

TEST(Tls, SigningInFromTheDashboardsOriginGivesTheSecureCookie) {
  const std::string password = "a long enough password for tls";
  TlsServer s({{"PICLOUD_OWNER_USERNAME", "owner"}, {"PICLOUD_OWNER_PASSWORD", password}});
  ASSERT_TRUE(s.ready(s.cert)) << s.process->err();
  TlsClient client(s.port, s.cert);
  ASSERT_TRUE(client.connected()) << client.error();
  const std::string body = "{\"username\":\"owner\",\"password\":\"" + password + "\"}";
  // As a browser on the dashboard sends it: its own https origin.
  ASSERT_TRUE(client.send("POST /api/v1/admin/login HTTP/1.1\r\nHost: localhost:" + std::to_string(s.port) +
                          "\r\nOrigin: https://localhost:" + std::to_string(s.port) +
                          "\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body));
  Response signed_in = read_response(client);
  EXPECT_EQ(signed_in.status, 200) << signed_in.head << signed_in.body;
  // [admin] cookie_secure = auto: every request on this listener is HTTPS.
  EXPECT_NE(signed_in.head.find("__Host-picloud_session="), std::string::npos) << signed_in.head;
  EXPECT_NE(signed_in.head.find("Secure"), std::string::npos) << signed_in.head;
}

TEST(Tls, PlainHttpIsAnsweredAndClosed) {
  TlsServer s;
  ASSERT_TRUE(s.ready(s.cert)) << s.process->err();
  auto plain = test::raw_exchange(s.port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", 5s);
  EXPECT_TRUE(plain.closed);
  EXPECT_EQ(plain.received.rfind("HTTP/1.1 400", 0), 0u) << plain.received;
  EXPECT_NE(plain.received.find("tls_required"), std::string::npos);
  // Bytes that are neither TLS nor HTTP: closed without an answer.
  auto garbage = test::raw_exchange(s.port, std::string("\x01\x02\x03 not a handshake\r\n\r\n", 24), 5s);
  EXPECT_TRUE(garbage.closed);
  // The server goes on serving.
  TlsClient client(s.port, s.cert);
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.send(get("/healthz", true)));
  EXPECT_EQ(read_response(client).body, "ok\n");
  EXPECT_TRUE(s.process->running());
}

TEST(Tls, AClientThatNeverHandshakesIsClosedAfterTheTimeout) {
  TlsServer s(std::map<std::string, std::string>{{"PICLOUD_SERVER_KEEP_ALIVE_TIMEOUT_S", "1"}});
  ASSERT_TRUE(s.ready(s.cert)) << s.process->err();
  const auto started = std::chrono::steady_clock::now();
  // Silent, and one that sends a ClientHello a byte every 300 ms (a record
  // of 512 bytes announced): the handshake's timeout is not renewed by a
  // trickle.
  int silent = test::raw_http::connect_to(s.port);
  int trickle = test::raw_http::connect_to(s.port);
  ASSERT_GE(silent, 0);
  ASSERT_GE(trickle, 0);
  const std::string hello = std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(20, '\x2a');
  bool trickle_closed = false;
  for (std::size_t i = 0; i < hello.size() && !trickle_closed; ++i) {
    trickle_closed = ::send(trickle, &hello[i], 1, MSG_NOSIGNAL) < 0;
    std::this_thread::sleep_for(300ms);
    char byte;
    trickle_closed = trickle_closed || ::recv(trickle, &byte, 1, MSG_DONTWAIT) == 0;
  }
  EXPECT_TRUE(trickle_closed);
  // Perhaps an alert, then the end (the socket's own timeout is 30 s).
  char buffer[64];
  ssize_t n;
  while ((n = ::recv(silent, buffer, sizeof buffer, 0)) > 0) {
  }
  EXPECT_EQ(n, 0) << std::strerror(errno);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_LT(waited, 4s);
  ::close(silent);
  ::close(trickle);
  EXPECT_TRUE(s.process->running());
}

TEST(Tls, SighupReloadsTheCertificateAndKeepsItWhenTheNewOneIsBroken) {
  TlsServer s;
  ASSERT_TRUE(s.ready(s.cert)) << s.process->err();
  // Both certificates are trusted by the clients from here on.
  const std::string cert_b = s.dir.file("b.pem"), key_b = s.dir.file("b.key"), both = s.dir.file("both.pem");
  make_certificate(cert_b, key_b, "picloud-b", "0xB2", /*days=*/5);
  s.dir.write("both.pem", test::read_file(s.cert) + test::read_file(cert_b));

  TlsClient before(s.port, both);  // a connection made before the reload
  ASSERT_TRUE(before.connected()) << before.error();
  EXPECT_EQ(before.serial(), "A1");
  const double expiry_a = certificate_expiry(s.port, both);
  EXPECT_GT(expiry_a, 0);

  // Replaced as a deploy hook would: new files renamed over the old ones.
  ASSERT_EQ(std::rename(cert_b.c_str(), s.cert.c_str()), 0);
  ASSERT_EQ(std::rename(key_b.c_str(), s.key.c_str()), 0);
  s.process->signal(SIGHUP);
  std::string serial;
  for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
    TlsClient probe(s.port, both);
    if (probe.connected() && (serial = probe.serial()) == "B2") break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(serial, "B2") << s.process->err();
  EXPECT_NE(s.process->err().find("TLS certificate reloaded"), std::string::npos);
  EXPECT_NE(s.process->err().find("CN=picloud-b"), std::string::npos);
  // Three days later than the first one's.
  EXPECT_NEAR(certificate_expiry(s.port, both) - expiry_a, 3 * 86400, 120);
  // The older connection goes on with its certificate.
  ASSERT_TRUE(before.send(get("/healthz")));
  EXPECT_EQ(read_response(before).body, "ok\n");

  // A broken certificate file, then a key of another certificate: each
  // reload fails, and the last good certificate stays.
  s.dir.write("cert.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  s.process->signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  make_certificate(s.dir.file("c.pem"), s.dir.file("c.key"), "picloud-c", "0xC3");
  ASSERT_EQ(std::rename(s.dir.file("c.pem").c_str(), s.cert.c_str()), 0);  // c's certificate, b's key
  s.process->signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  TlsClient after(s.port, both);
  ASSERT_TRUE(after.connected()) << after.error();
  EXPECT_EQ(after.serial(), "B2");
  ASSERT_TRUE(after.send(get("/healthz", true)));
  EXPECT_EQ(read_response(after).body, "ok\n");
  const std::string err = s.process->err();
  EXPECT_NE(err.find("TLS certificate not reloaded"), std::string::npos) << err;
  EXPECT_NE(err.find("does not belong to the certificate"), std::string::npos) << err;
  ASSERT_TRUE(before.send(get("/healthz", true)));
  EXPECT_EQ(read_response(before).body, "ok\n");
  EXPECT_TRUE(s.process->running());
}

TEST(Tls, SighupWithoutTlsIsHarmless) {
  TlsServer s({}, /*tls=*/false);
  ASSERT_TRUE(test::wait_for_status(s.port, "/readyz", 200, 15s)) << s.process->err();
  s.process->signal(SIGHUP);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(s.process->running());
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200);
  EXPECT_NE(s.process->err().find("nothing to reload"), std::string::npos) << s.process->err();
}

// Start-up stops with a message naming the file and OpenSSL's reason.
std::pair<int, std::string> start_with(const std::map<std::string, std::string>& tls_env) {
  test::TempDir dir;
  std::map<std::string, std::string> env = tls_env;
  env.emplace("PICLOUD_SERVER_PORT", std::to_string(test::free_port()));
  env.emplace("PICLOUD_SERVER_DATA_DIR", dir.path());
  Process p(Process::Options{{test::picloud_binary(), "serve"}, env, dir.path(), false});
  int code = p.wait(15s);
  return {code, p.err()};
}

TEST(Tls, ACertificateChainIsSentWhole) {
  test::TempDir certs;
  const std::string chain = certs.file("fullchain.pem"), key = certs.file("privkey.pem"), root = certs.file("root.pem");
  make_chain(certs, chain, key, root);
  TlsServer s(std::map<std::string, std::string>{{"PICLOUD_SERVER_TLS_CERT", chain}, {"PICLOUD_SERVER_TLS_KEY", key}},
              /*tls=*/false);
  // The client knows the root only: the intermediate must come from the server.
  ASSERT_TRUE(s.ready(root)) << s.process->err();
  TlsClient client(s.port, root);
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_EQ(client.serial(), "1EAF");
}

TEST(Tls, StartUpRefusesMissingMismatchedOrExposedKeys) {
  test::TempDir dir;
  const std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
  make_certificate(cert, key, "picloud-a", "0xA1");
  make_certificate(dir.file("other.pem"), dir.file("other.key"), "picloud-o", "0x0F");

  auto [missing_code, missing] =
      start_with({{"PICLOUD_SERVER_TLS_CERT", cert}, {"PICLOUD_SERVER_TLS_KEY", dir.file("absent.key")}});
  EXPECT_NE(missing_code, 0);
  EXPECT_NE(missing.find("absent.key"), std::string::npos) << missing;
  EXPECT_NE(missing.find("No such file"), std::string::npos) << missing;

  auto [mismatch_code, mismatch] =
      start_with({{"PICLOUD_SERVER_TLS_CERT", cert}, {"PICLOUD_SERVER_TLS_KEY", dir.file("other.key")}});
  EXPECT_NE(mismatch_code, 0);
  EXPECT_NE(mismatch.find("does not belong to the certificate"), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find("mismatch"), std::string::npos) << mismatch;  // OpenSSL's reason

  auto [no_cert_code, no_cert] = start_with({{"PICLOUD_SERVER_TLS_CERT", dir.file("absent.pem")},
                                              {"PICLOUD_SERVER_TLS_KEY", key}});
  EXPECT_NE(no_cert_code, 0);
  EXPECT_NE(no_cert.find("absent.pem"), std::string::npos) << no_cert;

  auto [half_code, half] = start_with({{"PICLOUD_SERVER_TLS_CERT", cert}});
  EXPECT_EQ(half_code, 2);
  EXPECT_NE(half.find("tls_key is not"), std::string::npos) << half;

  ::chmod(key.c_str(), 0644);
  auto [exposed_code, exposed] = start_with({{"PICLOUD_SERVER_TLS_CERT", cert}, {"PICLOUD_SERVER_TLS_KEY", key}});
  EXPECT_NE(exposed_code, 0);
  EXPECT_NE(exposed.find("accessible to every user"), std::string::npos) << exposed;
}

}  // namespace
