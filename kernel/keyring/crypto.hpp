// The keyring's primitives, each a thin call into OpenSSL's EVP interface:
// HKDF-SHA256, AES-256-GCM and HMAC-SHA256. Nothing here is hand-rolled;
// the tests check each against published vectors (RFC 5869, the GCM
// specification's test cases, RFC 4231).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace picloud::kernel::keyring {

inline constexpr std::size_t kKeyBytes = 32;    // AES-256, HMAC-SHA256 keys
inline constexpr std::size_t kNonceBytes = 12;  // GCM's 96-bit nonce
inline constexpr std::size_t kTagBytes = 16;

// RFC 5869 with SHA-256: `length` bytes of output keying material.
std::string hkdf_sha256(std::string_view key, std::string_view salt, std::string_view info, std::size_t length);

// AES-256-GCM: ciphertext followed by the 16-byte tag.
std::string aes256gcm_seal(std::string_view key, std::string_view nonce, std::string_view aad,
                           std::string_view plaintext);
// The plaintext, or nothing when the tag does not verify (a wrong key,
// nonce or associated data, or altered bytes).
std::optional<std::string> aes256gcm_open(std::string_view key, std::string_view nonce, std::string_view aad,
                                          std::string_view sealed);

std::string hmac_sha256(std::string_view key, std::string_view data);

// `size` bytes from the operating system's CSPRNG (getrandom(2), which blocks
// only until the kernel's pool is first seeded). Not OpenSSL's RAND_bytes:
// its generator, set up on first use, keeps about half a megabyte resident,
// and a first start (which makes the master key) would pay it for good.
std::string random_bytes(std::size_t size);

}  // namespace picloud::kernel::keyring
