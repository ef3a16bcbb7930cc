#include "kernel/keyring/crypto.hpp"

#include <sys/random.h>

#include <cerrno>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>
#include <stdexcept>

namespace picloud::kernel::keyring {
namespace {

// OpenSSL failing here means a broken library or no memory: not an input
// error, so it throws (the host boundary turns it into an internal error).
[[noreturn]] void failed(const char* what) { throw std::runtime_error(std::string("OpenSSL failed: ") + what); }

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

struct CipherFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Cipher = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

// A cipher context set up for AES-256-GCM with `key`, `nonce` and the
// associated data `aad`, to encrypt or decrypt.
Cipher gcm(bool encrypt, std::string_view key, std::string_view nonce, std::string_view aad) {
  if (key.size() != kKeyBytes) throw std::invalid_argument("AES-256-GCM needs a 32-byte key");
  if (nonce.size() != kNonceBytes) throw std::invalid_argument("AES-256-GCM needs a 12-byte nonce");
  Cipher c(EVP_CIPHER_CTX_new());
  if (!c) failed("cipher context");
  if (EVP_CipherInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_CipherInit_ex(c.get(), nullptr, nullptr, bytes(key), bytes(nonce), encrypt ? 1 : 0) != 1)
    failed("AES-256-GCM set-up");
  int n = 0;
  if (!aad.empty() && EVP_CipherUpdate(c.get(), nullptr, &n, bytes(aad), static_cast<int>(aad.size())) != 1)
    failed("AES-256-GCM associated data");
  return c;
}

}  // namespace

std::string hkdf_sha256(std::string_view key, std::string_view salt, std::string_view info, std::size_t length) {
  // Fetched once: looking an algorithm up in OpenSSL's providers costs more
  // than the derivation itself. (Kept for the process's life.)
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (!kdf) failed("HKDF is not available");
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf), EVP_KDF_CTX_free);
  if (!ctx) failed("HKDF context");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(key.data()), key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
      OSSL_PARAM_construct_end()};
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), length, params) != 1) failed("HKDF");
  return out;
}

std::string aes256gcm_seal(std::string_view key, std::string_view nonce, std::string_view aad,
                           std::string_view plaintext) {
  Cipher c = gcm(true, key, nonce, aad);
  int n = 0;
  std::string out(plaintext.size() + kTagBytes, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int written = 0;
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(c.get(), dst, &written, bytes(plaintext), static_cast<int>(plaintext.size())) != 1)
    failed("AES-256-GCM encryption");
  if (EVP_EncryptFinal_ex(c.get(), dst + written, &n) != 1) failed("AES-256-GCM final");
  written += n;
  if (EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), dst + written) != 1)
    failed("AES-256-GCM tag");
  out.resize(static_cast<std::size_t>(written) + kTagBytes);
  return out;
}

std::optional<std::string> aes256gcm_open(std::string_view key, std::string_view nonce, std::string_view aad,
                                          std::string_view sealed) {
  Cipher c = gcm(false, key, nonce, aad);
  if (sealed.size() < kTagBytes) return std::nullopt;
  std::string_view body = sealed.substr(0, sealed.size() - kTagBytes);
  std::string tag(sealed.substr(sealed.size() - kTagBytes));
  int n = 0;
  std::string out(body.size(), '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int written = 0;
  if (!body.empty() && EVP_DecryptUpdate(c.get(), dst, &written, bytes(body), static_cast<int>(body.size())) != 1)
    return std::nullopt;
  if (EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag.data()) != 1)
    failed("AES-256-GCM tag");
  if (EVP_DecryptFinal_ex(c.get(), dst + written, &n) != 1) return std::nullopt;  // the tag did not verify
  out.resize(static_cast<std::size_t>(written + n));
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);  // fetched once, as HKDF
  if (!mac) failed("HMAC is not available");
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_new(mac), EVP_MAC_CTX_free);
  if (!ctx) failed("HMAC context");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t length = 0;
  if (EVP_MAC_init(ctx.get(), bytes(key), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), bytes(data), data.size()) != 1 || EVP_MAC_final(ctx.get(), out, &length, sizeof out) != 1)
    failed("HMAC-SHA256");
  return std::string(reinterpret_cast<char*>(out), length);
}

std::string random_bytes(std::size_t size) {
  std::string out(size, '\0');
  std::size_t filled = 0;
  while (filled < size) {
    ssize_t got = ::getrandom(out.data() + filled, size - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      failed("the random generator (getrandom)");
    }
    filled += static_cast<std::size_t>(got);
  }
  return out;
}

}  // namespace picloud::kernel::keyring
