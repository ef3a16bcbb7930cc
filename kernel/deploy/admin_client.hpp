// The admin API as the command line reaches it: JSON over HTTP with an API
// key, for `picloud deploy` and `picloud export`.
#pragma once

#include <string>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel::deploy {

struct AdminReply {
  int status = 0;
  sdk::Value body;  // the parsed JSON answer (null when it was not JSON)
  // The error's code and message when status >= 400.
  std::string error_code() const;
  std::string error_message() const;
};

class AdminClient {
 public:
  // `server` is "https://host[:port]" or "http://host[:port]" (the admin
  // API's address, as the browser would reach the dashboard); `api_key` an
  // API key of a user. Over https the server's certificate is checked
  // against the system's CAs, or against `ca_file` when given (a
  // self-signed one). Plain http to a host other than this machine is
  // refused unless `insecure`: the key would cross the network in the clear.
  static sdk::Result<AdminClient> open(const std::string& server, std::string api_key, bool insecure = false,
                                       std::string ca_file = {});

  // METHOD /api/v1/admin + path, with a JSON body unless null. A reply of
  // any status is a success here; an error is a connection that failed.
  sdk::Result<AdminReply> call(const std::string& method, const std::string& path, const sdk::Value& body = {}) const;

  const std::string& server() const { return server_; }

 private:
  std::string server_, host_, api_key_, ca_file_;
  unsigned short port_ = 0;
  bool tls_ = false;
};

// The API key for `server`: $PICLOUD_API_KEY, else the credentials file
// ($PICLOUD_CREDENTIALS, else ~/.config/picloud/credentials), a TOML file
// of tables named by server URL with an api_key each, which must not be
// readable by group or others.
sdk::Result<std::string> api_key_for(const std::string& server);

}  // namespace picloud::kernel::deploy
