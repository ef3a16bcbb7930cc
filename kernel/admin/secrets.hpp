// The small cryptographic pieces identity is built from: random tokens,
// digests, constant-time comparison, time-ordered ids and password hashes.
// All of it is OpenSSL; nothing here is hand-rolled cryptography.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::admin {

// `size` bytes from the system CSPRNG, as unpadded base64url text.
std::string random_token(std::size_t size);
// Lower-case hex of `size` random bytes.
std::string random_hex(std::size_t size);
// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
// Time depends only on the lengths, never on where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

std::string base64url_encode(std::string_view data);
// Empty optional-like result: false when `text` is not unpadded base64url.
bool base64url_decode(std::string_view text, std::string& out);

// A UUIDv7: 48 bits of Unix milliseconds, then randomness. Ids made later
// sort later (monotonic within this process), so "ORDER BY id" is creation
// order and a cursor can be the last id seen.
std::string new_id();
bool looks_like_id(std::string_view text);

// Milliseconds since the Unix epoch, and its RFC 3339 UTC form.
std::int64_t now_ms();
std::string format_time(std::int64_t ms);

// Passwords: scrypt at OWASP's parameters (N = 2^17, r = 8, p = 1, 128 MiB of
// memory per hash), stored in PHC string form:
//   $scrypt$ln=17,r=8,p=1$<salt>$<hash>     (salt and hash base64url)
// At most `concurrency` hashes run at once (each takes ~128 MiB); the rest
// wait. Verifications (what unauthenticated sign-ins cost) wait only while
// fewer than 4 × `concurrency` are waiting (a few seconds of work); beyond
// that they throw PasswordCheckBusy at once, so a flood of sign-ins cannot
// hold every HTTP worker in this queue.
struct PasswordCheckBusy : std::runtime_error {
  PasswordCheckBusy() : std::runtime_error("too many password checks at once") {}
};

class PasswordHasher {
 public:
  explicit PasswordHasher(int concurrency) : concurrency_(concurrency < 1 ? 1 : concurrency) {}
  sdk::Result<std::string> hash(std::string_view password);
  // True when `password` matches `stored`; a malformed `stored` never matches.
  bool verify(std::string_view password, std::string_view stored);
  // Spends the time of one verification, for an unknown user name, so the
  // answer's timing does not tell which names exist.
  void waste_one_verification(std::string_view password);

 private:
  // Runs scrypt under the concurrency bound; false when OpenSSL fails.
  // With `bounded_wait`, throws PasswordCheckBusy when the queue is full.
  bool derive(std::string_view password, std::string_view salt, int log_n, int r, int p, unsigned char* out,
              std::size_t out_size, bool bounded_wait);

  int concurrency_;
  int busy_ = 0;
  int waiting_ = 0;
  std::mutex mutex_;
  std::condition_variable freed_;
};

}  // namespace picloud::kernel::admin
