// Failed sign-ins, counted in fixed windows so that guessing passwords is
// slow — without letting a stranger lock a user out by guessing wrong on
// purpose. Three counts:
//
//   user name + address  `per_account` failures (5) lock that name for that
//                        address only: whoever guesses from A is stopped;
//                        the owner signing in from B is not.
//   address              `per_address` failures (20), all names together:
//                        one address cannot try many names instead.
//   user name            `per_account_total` failures (100) from all
//                        addresses together mark the name as under a
//                        distributed attack: from then until the window
//                        ends, an address that has failed on the name
//                        gets no further attempt. So a guesser with many
//                        addresses gets one guess per address per window
//                        instead of five, while a correct password from an
//                        address with no recent failure still goes through.
//
// An IPv6 address counts with the rest of its /64 (a host or a network is
// usually handed a whole /64, so one attacker has 2^64 addresses in it); an
// IPv4-mapped one as its IPv4 address.
//
// A refused attempt is answered 429 before any password is checked, so a
// flood costs no hashing. An attempt counts as failed from the moment it is
// admitted, and is taken back when it succeeds: otherwise many attempts sent
// at once would all be admitted before the first failure was counted (a
// password check takes a noticeable fraction of a second).
//
// Memory is bounded: each table holds at most `max_entries` keys (user
// names an attacker makes up included). A new key first drops the windows
// that have ended, then, if the table is still full, the window that began
// first. Forgetting a live window that way takes `max_entries` admitted
// attempts — each a password check, at most a few per second — so within
// one window an attacker cannot flush the count that stops them. Counts live
// in this process only (see docs/admin-api.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace picloud::kernel::admin {

struct LoginLimits {
  int per_account = 5;          // per user name and address
  int per_address = 20;         // per address, all names
  int per_account_total = 100;  // per user name, all addresses
  std::int64_t window_s = 15 * 60;
  std::size_t max_entries = 10'000;  // per table
};

class LoginLimiter {
 public:
  explicit LoginLimiter(LoginLimits limits) : limits_(limits) {}
  // Seconds until sign-in may be tried again; 0 when the attempt may go
  // ahead, and it then counts as a failure until succeeded() or withdrawn().
  // `account` is the user name as the client typed it, lower-cased.
  std::int64_t admit(const std::string& account, const std::string& address, std::int64_t now_ms);
  // The admitted attempt succeeded: this address's failures on the name are
  // forgotten; the address's and the name's totals lose this attempt.
  void succeeded(const std::string& account, const std::string& address);
  // The admitted attempt was never checked (e.g. the server was too busy).
  void withdrawn(const std::string& account, const std::string& address);

  // Keys held (for tests of the memory bound).
  std::size_t entries();

 private:
  struct Window {
    std::int64_t start_ms = 0;
    int failures = 0;
  };
  using Table = std::map<std::string, Window>;
  // The live window of `key`, or null (an ended one is dropped).
  Window* live(Table& table, const std::string& key, std::int64_t now_ms);
  std::int64_t seconds_left(const Window& w, std::int64_t now_ms) const;
  void count(Table& table, const std::string& key, std::int64_t now_ms);
  void make_room(Table& table, std::int64_t now_ms);
  static void uncount(Table& table, const std::string& key);
  static std::string pair_key(const std::string& account, const std::string& address);
  // What the counts are kept under for a client's address (see above).
  static std::string address_group(const std::string& address);

  LoginLimits limits_;
  std::mutex mutex_;
  Table pairs_, addresses_, accounts_;
};

}  // namespace picloud::kernel::admin
