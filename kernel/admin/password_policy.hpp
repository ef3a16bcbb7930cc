// What a password must not be, checked wherever one is set: the first owner
// (command line or environment), a new user, a password change and a reset.
// After NIST SP 800-63B (5.1.1.2): a minimum length and no composition rules,
// but no password that attackers try first. Refused, each with its reason:
//   - fewer than 12 characters, or more than 1024 bytes;
//   - the user name, or any password containing it (for names of 3
//     characters or more; for "jane@example.com" also "jane");
//   - one character repeated, or a few characters repeated ("abcabcabcabc");
//   - a simple sequence: letters or digits in order (either way) or a run
//     along a keyboard row ("abcdefghijkl", "0987654321098", "qwertyuiop[]");
//   - a commonly used password (kernel/admin/common_passwords.txt, built in),
//     ignoring case, also with digits or symbols put before or after it and
//     with the usual letter swaps (@ for a, 0 for o, ...): "P@ssw0rd2024!".
#pragma once

#include <string_view>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::admin {

// invalid_argument with a message saying why, e.g. "the password is too
// common (found in a list of commonly used passwords)".
sdk::Result<void> check_password_policy(std::string_view password, std::string_view username);

}  // namespace picloud::kernel::admin
