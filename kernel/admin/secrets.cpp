#include "kernel/admin/secrets.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace picloud::kernel::admin {
namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void fill_random(unsigned char* out, std::size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) throw std::runtime_error("the system's random source failed");
}

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

// OWASP's scrypt parameters, and bounds on what a stored hash may ask for
// (a tampered row must not make verification take minutes or gigabytes).
constexpr int kLogN = 17, kR = 8, kP = 1;
constexpr std::size_t kSaltBytes = 16, kHashBytes = 32;
constexpr int kMaxLogN = 20, kMaxR = 32, kMaxP = 4;

}  // namespace

std::string random_token(std::size_t size) {
  std::string raw(size, '\0');
  fill_random(reinterpret_cast<unsigned char*>(raw.data()), size);
  return base64url_encode(raw);
}

std::string random_hex(std::size_t size) {
  std::string raw(size, '\0');
  fill_random(reinterpret_cast<unsigned char*>(raw.data()), size);
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), size);
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return to_hex(digest, sizeof digest);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64url_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : data) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64Url[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kBase64Url[(acc << (6 - bits)) & 63]);
  return out;
}

bool base64url_decode(std::string_view text, std::string& out) {
  out.clear();
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
            : c == '_'             ? 63
                                   : -1;
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return bits < 6;  // a lone trailing character cannot encode a byte
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_time(std::int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return out;
}

std::string new_id() {
  // 48-bit millisecond time, 4-bit version, 12-bit sequence, 2-bit variant,
  // 62 random bits. Within one millisecond the sequence counts up, so ids
  // this process makes are strictly increasing.
  static std::atomic<std::uint64_t> last{0};  // (ms << 12) | sequence
  std::uint64_t now = static_cast<std::uint64_t>(now_ms()) << 12;
  std::uint64_t prev = last.load(), next = 0;
  do next = now > prev ? now : prev + 1;
  while (!last.compare_exchange_weak(prev, next));
  // Ids are not secrets, so their random bits come from a per-thread buffer
  // refilled in blocks: one RAND_bytes call (which checks the process id, a
  // system call, every time) per 100 ids instead of one per id.
  thread_local unsigned char pool[1024];
  thread_local std::size_t pool_used = sizeof pool;
  if (pool_used + 10 > sizeof pool) {
    fill_random(pool, sizeof pool);
    pool_used = 0;
  }
  unsigned char b[16];
  std::memcpy(b + 6, pool + pool_used, 10);
  pool_used += 10;
  std::uint64_t ms = next >> 12, seq = next & 0xfff;
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | (seq >> 8));
  b[7] = static_cast<unsigned char>(seq & 0xff);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char digits[] = "0123456789abcdef";
  std::string id(36, '-');
  for (std::size_t i = 0, out = 0; i < sizeof b; ++i, ++out) {
    if (out == 8 || out == 13 || out == 18 || out == 23) ++out;
    id[out++] = digits[b[i] >> 4];
    id[out] = digits[b[i] & 0xf];
  }
  return id;
}

bool looks_like_id(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool PasswordHasher::derive(std::string_view password, std::string_view salt, int log_n, int r, int p,
                            unsigned char* out, std::size_t out_size, bool bounded_wait) {
  {
    std::unique_lock lock(mutex_);
    if (busy_ >= concurrency_ && bounded_wait && waiting_ >= 4 * concurrency_) throw PasswordCheckBusy();
    ++waiting_;
    freed_.wait(lock, [&] { return busy_ < concurrency_; });
    --waiting_;
    ++busy_;
  }
  std::uint64_t n = std::uint64_t{1} << log_n;
  // scrypt needs 128 * r * N bytes (plus a little); OpenSSL refuses more than
  // max_mem, whose default (32 MiB) is below OWASP's parameters.
  std::uint64_t max_mem = 128 * static_cast<std::uint64_t>(r) * n * static_cast<std::uint64_t>(p) + (1 << 20);
  int ok = EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                          salt.size(), n, static_cast<std::uint64_t>(r), static_cast<std::uint64_t>(p), max_mem, out,
                          out_size);
  {
    std::lock_guard lock(mutex_);
    --busy_;
  }
  freed_.notify_one();
  return ok == 1;
}

sdk::Result<std::string> PasswordHasher::hash(std::string_view password) {
  std::string salt(kSaltBytes, '\0');
  fill_random(reinterpret_cast<unsigned char*>(salt.data()), salt.size());
  std::string digest(kHashBytes, '\0');
  if (!derive(password, salt, kLogN, kR, kP, reinterpret_cast<unsigned char*>(digest.data()), digest.size(), false))
    return sdk::make_error(sdk::ErrorKind::internal, "password hashing failed (scrypt)");
  return "$scrypt$ln=" + std::to_string(kLogN) + ",r=" + std::to_string(kR) + ",p=" + std::to_string(kP) + "$" +
         base64url_encode(salt) + "$" + base64url_encode(digest);
}

bool PasswordHasher::verify(std::string_view password, std::string_view stored) {
  int log_n = 0, r = 0, p = 0, consumed = 0;
  std::string text(stored);
  if (std::sscanf(text.c_str(), "$scrypt$ln=%d,r=%d,p=%d$%n", &log_n, &r, &p, &consumed) != 3 || consumed == 0)
    return false;
  if (log_n < 1 || log_n > kMaxLogN || r < 1 || r > kMaxR || p < 1 || p > kMaxP) return false;
  std::string_view rest = std::string_view(text).substr(static_cast<std::size_t>(consumed));
  auto dollar = rest.find('$');
  if (dollar == std::string_view::npos) return false;
  std::string salt, expected;
  if (!base64url_decode(rest.substr(0, dollar), salt) || !base64url_decode(rest.substr(dollar + 1), expected))
    return false;
  if (salt.empty() || expected.size() < 16 || expected.size() > 64) return false;
  std::string actual(expected.size(), '\0');
  if (!derive(password, salt, log_n, r, p, reinterpret_cast<unsigned char*>(actual.data()), actual.size(), true))
    return false;
  return constant_time_equal(actual, expected);
}

void PasswordHasher::waste_one_verification(std::string_view password) {
  unsigned char sink[kHashBytes];
  derive(password, "picloud-no-such-user", kLogN, kR, kP, sink, sizeof sink, true);
}

}  // namespace picloud::kernel::admin
