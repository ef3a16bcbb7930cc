#include "kernel/deploy/admin_client.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include <sys/stat.h>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>

#include <cstdlib>
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

sdk::Result<AdminClient> AdminClient::open(const std::string& server, std::string api_key, bool insecure) {
  AdminClient c;
  c.server_ = without_trailing_slash(server);
  try {
    Poco::URI uri(c.server_);
    if (uri.getScheme() == "https")
      return usage_error("--server " + server +
                         ": this picloud reaches the admin API over http only; run it on the server's machine "
                         "(http://localhost:PORT) or through an SSH tunnel");
    if (uri.getScheme() != "http" || uri.getHost().empty())
      return usage_error("--server " + server + ": expected http://HOST[:PORT]");
    if (!uri.getPath().empty() && uri.getPath() != "/")
      return usage_error("--server " + server + ": give the server's address without a path");
    c.host_ = uri.getHost();
    c.port_ = uri.getPort();
    // The key would cross a network in the clear.
    const bool loopback = c.host_ == "localhost" || c.host_.rfind("127.", 0) == 0 || c.host_ == "::1" ||
                          c.host_ == "[::1]" || c.host_.ends_with(".localhost");
    if (!loopback && !insecure)
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

sdk::Result<AdminReply> AdminClient::call(const std::string& method, const std::string& path, const sdk::Value& body) const {
  try {
    Poco::Net::HTTPClientSession session(host_, port_);
    session.setTimeout(Poco::Timespan(300, 0));  // a large deploy compiles every script
    Poco::Net::HTTPRequest request(method, "/api/v1/admin" + path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + api_key_);
    request.set("Accept", "application/json");
    std::string text = body.is_null() ? std::string() : sdk::to_json(body);
    if (!body.is_null()) {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(text.size()));
    }
    session.sendRequest(request) << text;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    // An admin answer is at most a whole app (the deploy's limit is 16 MiB).
    constexpr std::size_t kMaxReply = 64 << 20;
    std::string answer;
    char chunk[65536];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
      answer.append(chunk, static_cast<std::size_t>(in.gcount()));
      if (answer.size() > kMaxReply)
        return sdk::make_error(sdk::ErrorKind::unavailable, server_ + ": the answer is larger than 64 MiB");
    }
    AdminReply reply;
    reply.status = static_cast<int>(response.getStatus());
    if (auto parsed = kernel::parse_json(answer, 64, JsonStrictness::stored)) reply.body = std::move(*parsed);
    return reply;
  } catch (const Poco::Exception& e) {
    return sdk::make_error(sdk::ErrorKind::unavailable, server_ + ": " + e.displayText());
  }
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
