#include "kernel/deploy/admin_client.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include <sys/stat.h>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <Poco/URI.h>

#include <cstdlib>
#include <charconv>
#include <memory>
#include <optional>
#include <sstream>

#include "picloud/sdk/json.hpp"
#include "kernel/json_text.hpp"

namespace picloud::kernel::deploy {
namespace {

sdk::Error usage_error(std::string message) { return sdk::make_error(sdk::ErrorKind::invalid_argument, std::move(message)); }

std::string without_trailing_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

std::string AdminReply::error_code() const {
  return body.is_object() && body["error"].is_object() ? body["error"]["code"].string_or("") : "";
}

std::string AdminReply::error_message() const {
  if (body.is_object() && body["error"].is_object()) return body["error"]["message"].string_or("");
  return "the server answered " + std::to_string(status);
}

sdk::Result<AdminClient> AdminClient::open(const std::string& server, std::string api_key, bool insecure,
                                           std::string ca_file) {
  AdminClient c;
  c.server_ = without_trailing_slash(server);
  c.ca_file_ = std::move(ca_file);
  try {
    Poco::URI uri(c.server_);
    c.tls_ = uri.getScheme() == "https";
    const bool plain = uri.getScheme() == "http";  // picloud-lint: not a plugin name (the URL scheme)
    if ((!c.tls_ && !plain) || uri.getHost().empty())
      return usage_error("--server " + server + ": expected https://HOST[:PORT] or http://HOST[:PORT]");
    if (!c.tls_ && !c.ca_file_.empty()) return usage_error("--ca is for an https server");
    if (!uri.getPath().empty() && uri.getPath() != "/")
      return usage_error("--server " + server + ": give the server's address without a path");
    c.host_ = uri.getHost();
    c.port_ = uri.getPort();
    // Over plain http the key would cross a network in the clear.
    const bool loopback = c.host_ == "localhost" || c.host_.rfind("127.", 0) == 0 || c.host_ == "::1" ||
                          c.host_ == "[::1]" || c.host_.ends_with(".localhost");
    if (!c.tls_ && !loopback && !insecure)
      return usage_error("--server " + server +
                         ": the API key would travel unencrypted; reach the server through an SSH tunnel "
                         "(ssh -L 8080:localhost:8080 HOST, then --server http://localhost:8080), or pass --insecure "
                         "on a network you trust");
  } catch (const Poco::Exception& e) {
    return usage_error("--server " + server + ": " + e.displayText());
  }
  c.api_key_ = std::move(api_key);
  return c;
}

namespace {

// An admin answer is at most a whole app (the deploy's limit is 16 MiB).
constexpr std::size_t kMaxReply = 64 << 20;
constexpr int kTimeoutSeconds = 300;  // a large deploy compiles every script

std::string openssl_error(const char* what) {
  unsigned long code = ERR_get_error();
  char text[256] = "no detail";
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  return std::string(what) + ": " + text;
}

// The body of a chunked answer; nothing when it is malformed.
std::optional<std::string> unchunked(std::string_view data) {
  std::string out;
  for (;;) {
    auto line_end = data.find("\r\n");
    if (line_end == std::string_view::npos) return std::nullopt;
    std::size_t size = 0;
    auto hex = data.substr(0, data.find_first_of(";\r"));
    auto [rest, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (ec != std::errc() || rest == hex.data()) return std::nullopt;
    data.remove_prefix(line_end + 2);
    if (size == 0) return out;
    if (data.size() < size + 2) return std::nullopt;
    out.append(data.substr(0, size));
    data.remove_prefix(size + 2);
  }
}

// One request over TLS with OpenSSL, which the server already links: the
// whole answer read until the server closes (the request says
// Connection: close), its head parsed by Poco. Poco's own HTTPS client
// would map four more libraries into every picloud process, the server's
// included, for this command alone.
sdk::Result<std::pair<int, std::string>> exchange_tls(const std::string& host, unsigned short port,
                                                      const std::string& ca_file, const std::string& request) {
  auto failed = [&](const std::string& why) {
    return sdk::make_error(sdk::ErrorKind::unavailable, "https://" + host + ":" + std::to_string(port) + ": " + why);
  };
  Poco::Net::StreamSocket socket;
  try {
    socket.connect(Poco::Net::SocketAddress(host, port), Poco::Timespan(kTimeoutSeconds, 0));
    socket.setReceiveTimeout(Poco::Timespan(kTimeoutSeconds, 0));
    socket.setSendTimeout(Poco::Timespan(kTimeoutSeconds, 0));
  } catch (const Poco::Exception& e) {
    return failed(e.displayText());
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return failed(openssl_error("TLS"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get()) != 1
                      : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1)
    return failed(openssl_error(ca_file.empty() ? "the system's certificate authorities" : ca_file.c_str()));
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  if (!ssl) return failed(openssl_error("TLS"));
  // The certificate must name the host (or the address) connected to.
  in6_addr address6{};
  in_addr address4{};
  const bool is_address = inet_pton(AF_INET, host.c_str(), &address4) == 1 || inet_pton(AF_INET6, host.c_str(), &address6) == 1;
  if (is_address) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
    SSL_set1_host(ssl.get(), host.c_str());
  }
  SSL_set_fd(ssl.get(), socket.impl()->sockfd());
  if (SSL_connect(ssl.get()) != 1) {
    long verified = SSL_get_verify_result(ssl.get());
    if (verified != X509_V_OK)
      return failed(std::string("the server's certificate does not verify: ") + X509_verify_cert_error_string(verified) +
                    (ca_file.empty() ? " (for a self-signed one, give it with --ca FILE)" : ""));
    return failed(openssl_error("the TLS handshake failed"));
  }
  for (std::size_t sent = 0; sent < request.size();) {
    int n = SSL_write(ssl.get(), request.data() + sent, static_cast<int>(request.size() - sent));
    if (n <= 0) return failed(openssl_error("sending the request"));
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char chunk[65536];
  for (;;) {
    int n = SSL_read(ssl.get(), chunk, sizeof chunk);
    if (n > 0) {
      answer.append(chunk, static_cast<std::size_t>(n));
      if (answer.size() > kMaxReply) return failed("the answer is larger than 64 MiB");
      continue;
    }
    int error = SSL_get_error(ssl.get(), n);
    // The end: close_notify, or the connection closed after a whole answer
    // (checked below against its length).
    if (error == SSL_ERROR_ZERO_RETURN || error == SSL_ERROR_SYSCALL) break;
    return failed(openssl_error("reading the answer"));
  }
  SSL_shutdown(ssl.get());
  auto head_end = answer.find("\r\n\r\n");
  if (head_end == std::string::npos) return failed("the answer ended before its head did");
  Poco::Net::HTTPResponse response;
  try {
    std::istringstream head(answer.substr(0, head_end + 4));
    response.read(head);
  } catch (const Poco::Exception& e) {
    return failed("a malformed answer: " + e.displayText());
  }
  std::string body = answer.substr(head_end + 4);
  if (response.getChunkedTransferEncoding()) {
    auto decoded = unchunked(body);
    if (!decoded) return failed("a malformed chunked answer");
    body = std::move(*decoded);
  } else if (response.hasContentLength()) {
    auto length = static_cast<std::size_t>(response.getContentLength64());
    if (body.size() < length) return failed("the answer ended early");
    body.resize(length);
  }
  return std::pair<int, std::string>{static_cast<int>(response.getStatus()), std::move(body)};
}

}  // namespace

sdk::Result<AdminReply> AdminClient::call(const std::string& method, const std::string& path, const sdk::Value& body) const {
  const std::string text = body.is_null() ? std::string() : sdk::to_json(body);
  AdminReply reply;
  std::string answer;
  if (tls_) {
    std::string request = method + " /api/v1/admin" + path + " HTTP/1.1\r\nHost: " + host_ + ":" + std::to_string(port_) +
                          "\r\nAuthorization: Bearer " + api_key_ + "\r\nAccept: application/json\r\nConnection: close\r\n";
    if (!body.is_null())
      request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) + "\r\n";
    request += "\r\n" + text;
    auto exchanged = exchange_tls(host_, port_, ca_file_, request);
    if (!exchanged) return exchanged.error();
    reply.status = exchanged->first;
    answer = std::move(exchanged->second);
  } else {
    try {
      Poco::Net::HTTPClientSession session(host_, port_);
      session.setTimeout(Poco::Timespan(kTimeoutSeconds, 0));
      Poco::Net::HTTPRequest request(method, "/api/v1/admin" + path, Poco::Net::HTTPMessage::HTTP_1_1);
      request.set("Authorization", "Bearer " + api_key_);
      request.set("Accept", "application/json");
      if (!body.is_null()) {
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(text.size()));
      }
      session.sendRequest(request) << text;
      Poco::Net::HTTPResponse response;
      std::istream& in = session.receiveResponse(response);
      char chunk[65536];
      while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
        answer.append(chunk, static_cast<std::size_t>(in.gcount()));
        if (answer.size() > kMaxReply)
          return sdk::make_error(sdk::ErrorKind::unavailable, server_ + ": the answer is larger than 64 MiB");
      }
      reply.status = static_cast<int>(response.getStatus());
    } catch (const Poco::Exception& e) {
      return sdk::make_error(sdk::ErrorKind::unavailable, server_ + ": " + e.displayText());
    }
  }
  if (auto parsed = kernel::parse_json(answer, 64, JsonStrictness::stored)) reply.body = std::move(*parsed);
  return reply;
}

sdk::Result<std::string> api_key_for(const std::string& server) {
  if (const char* key = std::getenv("PICLOUD_API_KEY"); key && *key) return std::string(key);
  std::string path;
  if (const char* p = std::getenv("PICLOUD_CREDENTIALS"); p && *p) {
    path = p;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    path = std::string(home) + "/.config/picloud/credentials";
  }
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0)
    return usage_error("no API key: set PICLOUD_API_KEY, or write it to " +
                       (path.empty() ? std::string("~/.config/picloud/credentials") : path) +
                       " (mode 0600) as:\n  [\"" + without_trailing_slash(server) + "\"]\n  api_key = \"...\"");
  if (st.st_mode & 077)
    return usage_error(path + " can be read by others (mode " + [&] {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return std::string(mode);
    }() + "): it holds API keys; chmod 600 " + path);
  try {
    toml::table credentials = toml::parse_file(path);
    const std::string wanted = without_trailing_slash(server);
    for (const auto& [name, entry] : credentials) {
      if (without_trailing_slash(std::string(name.str())) != wanted) continue;
      auto key = entry.as_table() ? (*entry.as_table())["api_key"].value<std::string>() : std::nullopt;
      if (!key || key->empty()) return usage_error(path + ": [\"" + wanted + "\"] has no api_key");
      return *key;
    }
    return usage_error(path + ": no entry for " + wanted + " (a table [\"" + wanted + "\"] with api_key = \"...\")");
  } catch (const toml::parse_error& e) {
    return usage_error(path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
}

}  // namespace picloud::kernel::deploy
