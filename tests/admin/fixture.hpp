// A running PiCloud (in this process, real HTTP over loopback, a real SQLite
// file or PostgreSQL database, the t_good plugin loaded) with a cast of
// users, one per backend, shared by a test suite: password hashing is
// deliberately slow, so users are made once.
//
//   owner   the instance owner (created from PICLOUD_OWNER_* on start)
//   alice   admin of app "alpha"      eddie   editor of "alpha"
//   vera    viewer of "alpha"         oscar   admin of app "bravo" only
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "kernel/admin/api_support.hpp"
#include "kernel/config.hpp"
#include "kernel/kernel.hpp"
#include "kernel/settings.hpp"
#include "support.hpp"

namespace picloud::test {

inline const std::string kPassword = "correct horse battery staple";
inline const std::string kAdmin = "/api/v1/admin";

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  sdk::Value json;  // the parsed body (null when not JSON)
  std::string code() const { return json["error"]["code"].string_or(""); }
  std::string message() const { return json["error"]["message"].string_or(""); }
};

// Credentials: a session cookie, an API key, or nothing.
struct Creds {
  std::string cookie;  // "picloud_session=..."
  std::string key;     // "pcl_..."
};

class Instance {
 public:
  // `adjust` may change the settings read from the environment before the
  // kernel starts (hooks only a test can set, such as the database's flush).
  explicit Instance(Backend backend, std::map<std::string, std::string> extra_env = {},
                    const std::function<void(kernel::Settings&)>& adjust = {});
  ~Instance();

  int port() const { return port_; }
  // The database this instance serves (another Instance can share it, as a
  // second node: pass it as PICLOUD_DATABASE_URL).
  const std::string& database_url() const { return database_->url(); }
  kernel::Kernel& kernel() { return *kernel_; }
  sdk::Database& db() { return *kernel_->database(); }

  // `path` starting with "/api/" is used as is, else it is under /api/v1/admin.
  Reply call(const std::string& method, const std::string& path, const Creds& who = {}, const std::string& body = "",
             std::map<std::string, std::string> headers = {});
  // The Host header call() sends unless told otherwise (empty: the client's
  // default, 127.0.0.1:port). Set it where IP addresses are not admin hosts.
  std::string admin_host;
  Reply get(const std::string& path, const Creds& who) { return call("GET", path, who); }
  Reply post(const std::string& path, const Creds& who, const std::string& body) { return call("POST", path, who, body); }

  Creds login(const std::string& username, const std::string& password = kPassword);
  // A key of `who` (a session) with these scopes (space separated).
  Creds make_key(const Creds& session, const std::string& scopes);
  std::string make_user(const std::string& username);  // by the owner; returns the id

  // The cast: cast_owner() signs the owner in; cast() adds the others and
  // the apps alpha and bravo.
  Creds owner, owner_key, alice, alice_session, eddie, vera, vera_session, oscar;
  std::string alpha_id, bravo_id;
  void cast_owner();
  void cast();

 private:
  TempDir dir_;
  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<kernel::Config> config_;
  std::unique_ptr<kernel::Kernel> kernel_;
  int port_ = 0;
};

// One Instance per backend, made on first use and kept for the process;
// `whole_cast` also makes the users and apps beyond the owner.
Instance& shared_instance(Backend backend, bool whole_cast = true);

inline std::string all_scopes() {
  return "app:read app:write app:admin script:read script:write logs:read users:admin";
}

}  // namespace picloud::test
