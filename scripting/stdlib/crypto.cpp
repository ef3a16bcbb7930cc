// crypto:: (SHA-256, HMAC-SHA-256, constant-time comparison) and random::
// (from the operating system's CSPRNG through OpenSSL), on OpenSSL.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdio>

#include "scripting/bytes.hpp"
#include "scripting/stdlib/stdlib.hpp"

namespace picloud::scripting {
namespace {

std::string to_hex(const unsigned char* data, unsigned int size) {
  return hex_text(std::string_view(reinterpret_cast<const char*>(data), size));
}

std::string sha256_view(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1)
    throw ScriptException("crypto: sha256 failed");
  return to_hex(digest, length);
}

std::string hmac_view(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
            message.size(), digest, &length))
    throw ScriptException("crypto: hmac_sha256 failed");
  return to_hex(digest, length);
}

std::string sha256(const std::string& s) { return sha256_view(s); }
std::string sha256_bytes(const CScriptArray& b) { return sha256_view(bytes_view(b)); }
std::string hmac_sha256(const std::string& key, const std::string& message) { return hmac_view(key, message); }
std::string hmac_sha256_bytes(const CScriptArray& key, const CScriptArray& message) {
  return hmac_view(bytes_view(key), bytes_view(message));
}

// Time depends only on the lengths, never on where the inputs differ.
bool equals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void fill_random(void* out, std::size_t size) {
  if (RAND_bytes(static_cast<unsigned char*>(out), static_cast<int>(size)) != 1)
    throw ScriptException("random: the system's random source failed");
}


// Uniform in [min, max], both included, without modulo bias.
std::int64_t integer(std::int64_t min, std::int64_t max) {
  if (min > max) throw ScriptException("random: integer(min, max) needs min <= max");
  std::uint64_t span = static_cast<std::uint64_t>(max) - static_cast<std::uint64_t>(min);
  std::uint64_t draw = 0;
  if (span == UINT64_MAX) {
    fill_random(&draw, sizeof draw);
  } else {
    std::uint64_t range = span + 1;
    std::uint64_t limit = UINT64_MAX - UINT64_MAX % range;  // reject the partial top bucket
    do fill_random(&draw, sizeof draw);
    while (draw >= limit);
    draw %= range;
  }
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(min) + draw);
}

CScriptArray* random_bytes(std::int64_t count) {
  constexpr std::int64_t kMax = 1 << 20;
  if (count < 0 || count > kMax) throw ScriptException("random: bytes(count) needs 0 <= count <= 1048576");
  std::string data(static_cast<std::size_t>(count), '\0');
  fill_random(data.data(), data.size());
  return make_bytes(data);
}

void fn(asIScriptEngine* e, const char* decl, const asSFuncPtr& f) {
  check_registration(e->RegisterGlobalFunction(decl, f, asCALL_GENERIC), decl);
}

}  // namespace

std::string random_uuid() {
  unsigned char b[16];
  fill_random(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

void register_crypto(asIScriptEngine* e) {
  check_registration(e->SetDefaultNamespace("crypto"), "namespace crypto");
  fn(e, "string sha256(const string &in data)", WRAP_FN(sha256));
  fn(e, "string sha256(const array<uint8> &in data)", WRAP_FN(sha256_bytes));
  fn(e, "string hmac_sha256(const string &in key, const string &in message)", WRAP_FN(hmac_sha256));
  fn(e, "string hmac_sha256(const array<uint8> &in key, const array<uint8> &in message)",
     WRAP_FN(hmac_sha256_bytes));
  fn(e, "bool equals(const string &in a, const string &in b)", WRAP_FN(equals));
  check_registration(e->SetDefaultNamespace("random"), "namespace random");
  fn(e, "string uuid()", WRAP_FN(random_uuid));
  fn(e, "int64 integer(int64 min, int64 max)", WRAP_FN(integer));
  fn(e, "array<uint8>@ bytes(int64 count)", WRAP_FN(random_bytes));
  check_registration(e->SetDefaultNamespace(""), "namespace");
}

}  // namespace picloud::scripting
