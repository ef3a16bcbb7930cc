#include "kernel/admin/password_policy.hpp"

#include <array>
#include <string>
#include <unordered_set>

namespace picloud::kernel::admin {

// The list's text, embedded at build time from common_passwords.txt.
extern const char* const kCommonPasswords;

namespace {

constexpr std::size_t kMinLength = 12;
constexpr std::size_t kMaxBytes = 1024;
constexpr std::size_t kMinNameInPassword = 3;  // shorter names occur in too many good passwords

const std::unordered_set<std::string>& common_passwords() {
  static const auto set = [] {
    std::unordered_set<std::string> out;
    std::string_view text = kCommonPasswords;
    while (!text.empty()) {
      auto end = text.find('\n');
      std::string_view line = text.substr(0, end);
      text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      if (!line.empty() && line.front() != '#') out.emplace(line);
    }
    return out;
  }();
  return set;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Digits, punctuation and spaces, which people put around a word to pass
// composition rules. Bytes of non-ASCII letters are not among them.
bool is_affix(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x80 && !std::isalpha(u);
}

// The usual swaps of a letter for a look-alike digit or symbol; `one` is
// what '1' stands for (i or l).
std::string unswapped(std::string_view text, char one) {
  std::string out(text);
  for (auto& c : out) switch (c) {
      case '@':
      case '4': c = 'a'; break;
      case '0': c = 'o'; break;
      case '3': c = 'e'; break;
      case '1': c = one; break;
      case '!': c = 'i'; break;
      case '$':
      case '5': c = 's'; break;
      case '7': c = 't'; break;
      default: break;
    }
  return out;
}

enum class Common { no, listed, listed_with_additions };

Common how_common(const std::string& lowered) {
  const auto& list = common_passwords();
  if (list.count(lowered)) return Common::listed;
  std::size_t first = 0, last = lowered.size();
  while (first < last && is_affix(lowered[first])) ++first;
  while (last > first && is_affix(lowered[last - 1])) --last;
  if (first == last) return Common::no;
  std::string core = lowered.substr(first, last - first);
  bool found = list.count(core) || list.count(unswapped(core, 'i')) || list.count(unswapped(core, 'l'));
  return found ? Common::listed_with_additions : Common::no;
}

// The length of the piece the text repeats, or 0 when it repeats none.
std::size_t repeated_unit(std::string_view text) {
  for (std::size_t unit = 1; unit <= text.size() / 2; ++unit) {
    if (text.size() % unit != 0) continue;
    bool all = true;
    for (std::size_t i = unit; i < text.size() && all; ++i) all = text[i] == text[i - unit];
    if (all) return unit;
  }
  return 0;
}

// Letters or digits in order, up or down (digits wrap: ...8901...).
bool is_run(std::string_view text, int step) {
  for (std::size_t i = 1; i < text.size(); ++i) {
    char a = text[i - 1], b = text[i];
    bool digits = std::isdigit(static_cast<unsigned char>(a)) && std::isdigit(static_cast<unsigned char>(b));
    bool letters = a >= 'a' && a <= 'z' && b >= 'a' && b <= 'z';
    if (digits ? (a - '0' + step + 10) % 10 != b - '0' : !letters || b - a != step) return false;
  }
  return true;
}

bool along_keyboard(const std::string& text) {
  static const std::array<std::string, 8> rows = {
      "`1234567890-=",  "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./", "qwertyuiopasdfghjklzxcvbnm",
      "1234567890qwertyuiopasdfghjklzxcvbnm", "qwertzuiopasdfghjklyxcvbnm", "azertyuiopqsdfghjklmwxcvbn"};
  for (const auto& row : rows)
    if (row.find(text) != std::string::npos || std::string(row.rbegin(), row.rend()).find(text) != std::string::npos)
      return true;
  return false;
}

sdk::Error refused(std::string message) { return sdk::make_error(sdk::ErrorKind::invalid_argument, std::move(message)); }

}  // namespace

sdk::Result<void> check_password_policy(std::string_view password, std::string_view username) {
  if (password.size() < kMinLength) return refused("a password needs at least 12 characters");
  if (password.size() > kMaxBytes) return refused("a password has at most 1024 bytes");
  std::string lowered = lower(password);
  std::string name = lower(username);
  std::string local = name.substr(0, name.find('@'));
  for (const auto& n : {name, local})
    if (n.size() >= kMinNameInPassword && lowered.find(n) != std::string::npos)
      return refused("the password must not contain the user name");
  if (auto unit = repeated_unit(lowered); unit == 1) return refused("the password is one character repeated");
  else if (unit > 0)
    return refused("the password is a few characters repeated");
  if (is_run(lowered, 1) || is_run(lowered, -1) || along_keyboard(lowered))
    return refused("the password is a simple sequence (letters or digits in order, or a row of the keyboard)");
  switch (how_common(lowered)) {
    case Common::listed: return refused("the password is too common (found in a list of commonly used passwords)");
    case Common::listed_with_additions:
      return refused("the password is too common (a password from a list of commonly used ones, with digits or "
                     "symbols added or letters swapped for look-alikes)");
    case Common::no: break;
  }
  return {};
}

}  // namespace picloud::kernel::admin
