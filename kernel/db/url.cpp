#include "kernel/db/url.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

namespace picloud::kernel::db {
namespace {

sdk::Error bad(const std::string& url, const std::string& why) {
  return sdk::make_error(sdk::ErrorKind::invalid_argument,
                         "config: [database] url '" + url + "' is not valid: " + why +
                             " (expected sqlite:<path> or postgresql://user:password@host:port/dbname)");
}

// libpq keyword=value quoting: single quotes, backslash-escaped.
std::string quote(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

sdk::Result<DatabaseUrl> parse_database_url(const std::string& url, int connect_timeout_s) {
  DatabaseUrl out;
  if (url.rfind("sqlite:", 0) == 0) {
    std::string path = url.substr(7);
    if (path.rfind("//", 0) == 0) path = path.substr(2);
    if (path.empty()) return bad(url, "the SQLite file path is empty");
    out.dialect = sdk::Dialect::sqlite;
    out.sqlite_path = path;
    out.display = "sqlite:" + path;
    return out;
  }
  if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0)
    return bad(url, "unknown scheme");
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception& e) {
    return bad(url, e.message());
  }
  if (uri.getHost().empty()) return bad(url, "no host");
  std::string dbname = uri.getPath();
  if (!dbname.empty() && dbname[0] == '/') dbname.erase(0, 1);
  if (dbname.empty()) return bad(url, "no database name after the host");
  if (dbname.find('/') != std::string::npos) return bad(url, "the database name contains '/'");

  std::string conn = "host=" + quote(uri.getHost()) + " port=" + std::to_string(uri.getPort() ? uri.getPort() : 5432) +
                     " dbname=" + quote(dbname);
  std::string user, password, info = uri.getUserInfo();
  if (auto colon = info.find(':'); colon != std::string::npos) {
    user = info.substr(0, colon);
    password = info.substr(colon + 1);
  } else {
    user = info;
  }
  if (!user.empty()) conn += " user=" + quote(user);
  if (!password.empty()) conn += " password=" + quote(password);
  bool has_timeout = false;
  for (const auto& [k, v] : uri.getQueryParameters()) {
    if (k.empty() || k.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos)
      return bad(url, "bad query parameter '" + k + "'");
    if (k == "connect_timeout") has_timeout = true;
    conn += " " + k + "=" + quote(v);
  }
  if (!has_timeout) conn += " connect_timeout=" + std::to_string(connect_timeout_s);

  out.dialect = sdk::Dialect::postgres;
  out.postgres_connection = conn;
  out.display = uri.getScheme() + "://" + (user.empty() ? "" : user + (password.empty() ? "@" : ":***@")) +
                uri.getHost() + ":" + std::to_string(uri.getPort() ? uri.getPort() : 5432) + "/" + dbname;
  return out;
}

}  // namespace picloud::kernel::db
