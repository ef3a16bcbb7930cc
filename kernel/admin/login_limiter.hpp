// Failed sign-ins, counted per account and per client address in fixed
// windows. Once a key reaches its limit, sign-in for it is refused (429)
// until the window ends — before any password is checked, so a flood costs
// no hashing. Counts live in this process only (see docs/admin-api.md).
//
// An attempt counts as failed from the moment it is admitted, and is taken
// back when it succeeds: otherwise many attempts sent at once would all be
// admitted before the first failure was counted (a password check takes
// a noticeable fraction of a second).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace picloud::kernel::admin {

struct LoginLimits {
  int per_account = 5;
  int per_address = 20;
  std::int64_t window_s = 15 * 60;
};

class LoginLimiter {
 public:
  explicit LoginLimiter(LoginLimits limits) : limits_(limits) {}
  // Seconds until sign-in may be tried again; 0 when the attempt may go
  // ahead, and it then counts as a failure until succeeded() or withdrawn().
  std::int64_t admit(const std::string& account, const std::string& address, std::int64_t now_ms);
  // The admitted attempt succeeded: the account's count is cleared, the
  // address's loses this attempt.
  void succeeded(const std::string& account, const std::string& address);
  // The admitted attempt was never checked (e.g. the server was too busy).
  void withdrawn(const std::string& account, const std::string& address);

 private:
  struct Window {
    std::int64_t start_ms = 0;
    int failures = 0;
  };
  std::int64_t blocked(std::map<std::string, Window>& table, const std::string& key, int limit, std::int64_t now_ms);
  void count(std::map<std::string, Window>& table, const std::string& key, std::int64_t now_ms);
  static void uncount(std::map<std::string, Window>& table, const std::string& key);

  LoginLimits limits_;
  std::mutex mutex_;
  std::map<std::string, Window> accounts_, addresses_;
};

}  // namespace picloud::kernel::admin
