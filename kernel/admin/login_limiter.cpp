#include "kernel/admin/login_limiter.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace picloud::kernel::admin {

std::string LoginLimiter::address_group(const std::string& address) {
  in6_addr v6{};
  if (address.find(':') == std::string::npos || inet_pton(AF_INET6, address.c_str(), &v6) != 1) return address;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    char v4[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &v6.s6_addr[12], v4, sizeof v4);
    return v4;
  }
  // One host or one network is usually given a whole /64: count it as one.
  std::fill(std::begin(v6.s6_addr) + 8, std::end(v6.s6_addr), 0);
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(AF_INET6, &v6, text, sizeof text);
  return std::string(text) + "/64";
}

std::string LoginLimiter::pair_key(const std::string& account, const std::string& address) {
  // A user name never holds a newline (nor does an address), so pairs cannot collide.
  return account + '\n' + address;
}

LoginLimiter::Window* LoginLimiter::live(Table& table, const std::string& key, std::int64_t now_ms) {
  auto it = table.find(key);
  if (it == table.end()) return nullptr;
  if (it->second.start_ms + limits_.window_s * 1000 <= now_ms) {
    table.erase(it);
    return nullptr;
  }
  return &it->second;
}

std::int64_t LoginLimiter::seconds_left(const Window& w, std::int64_t now_ms) const {
  return std::max<std::int64_t>(1, (w.start_ms + limits_.window_s * 1000 - now_ms + 999) / 1000);
}

void LoginLimiter::make_room(Table& table, std::int64_t now_ms) {
  if (table.size() < limits_.max_entries) return;
  for (auto it = table.begin(); it != table.end();)
    it = it->second.start_ms + limits_.window_s * 1000 <= now_ms ? table.erase(it) : std::next(it);
  while (!table.empty() && table.size() >= limits_.max_entries)
    table.erase(std::min_element(table.begin(), table.end(),
                                 [](const auto& a, const auto& b) { return a.second.start_ms < b.second.start_ms; }));
}

void LoginLimiter::count(Table& table, const std::string& key, std::int64_t now_ms) {
  Window* w = live(table, key, now_ms);
  if (!w) {
    make_room(table, now_ms);
    w = &table[key];
    *w = Window{now_ms, 0};
  }
  ++w->failures;
}

void LoginLimiter::uncount(Table& table, const std::string& key) {
  auto it = table.find(key);
  if (it != table.end() && --it->second.failures <= 0) table.erase(it);
}

std::int64_t LoginLimiter::admit(const std::string& account, const std::string& client_address, std::int64_t now_ms) {
  const std::string address = address_group(client_address);
  std::lock_guard lock(mutex_);
  std::string pair = pair_key(account, address);
  std::int64_t wait = 0;
  Window* mine = live(pairs_, pair, now_ms);
  if (mine && mine->failures >= limits_.per_account) wait = seconds_left(*mine, now_ms);
  if (Window* from = live(addresses_, address, now_ms); from && from->failures >= limits_.per_address)
    wait = std::max(wait, seconds_left(*from, now_ms));
  // Under attack from many addresses: no second try for an address that
  // failed already, until its own window or the name's ends.
  if (Window* name = live(accounts_, account, now_ms); name && name->failures >= limits_.per_account_total && mine)
    wait = std::max(wait, std::min(seconds_left(*mine, now_ms), seconds_left(*name, now_ms)));
  if (wait > 0) return wait;
  count(pairs_, pair, now_ms);
  count(addresses_, address, now_ms);
  count(accounts_, account, now_ms);
  return 0;
}

void LoginLimiter::succeeded(const std::string& account, const std::string& client_address) {
  const std::string address = address_group(client_address);
  std::lock_guard lock(mutex_);
  pairs_.erase(pair_key(account, address));
  uncount(addresses_, address);
  uncount(accounts_, account);
}

void LoginLimiter::withdrawn(const std::string& account, const std::string& client_address) {
  const std::string address = address_group(client_address);
  std::lock_guard lock(mutex_);
  uncount(pairs_, pair_key(account, address));
  uncount(addresses_, address);
  uncount(accounts_, account);
}

std::size_t LoginLimiter::entries() {
  std::lock_guard lock(mutex_);
  return pairs_.size() + addresses_.size() + accounts_.size();
}

}  // namespace picloud::kernel::admin
