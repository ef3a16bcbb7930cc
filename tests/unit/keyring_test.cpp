// The keyring's primitives against published vectors, and its envelope,
// key file and key parsing rules.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "kernel/keyring/crypto.hpp"
#include "kernel/keyring/keyring.hpp"
#include "support.hpp"

using namespace picloud;
using namespace picloud::kernel::keyring;

namespace {

std::string unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}
std::string hex(const std::string& raw) {
  static const char d[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) out += {d[c >> 4], d[c & 15]};
  return out;
}

TEST(KeyringCrypto, HkdfSha256MatchesRfc5869TestCase1) {
  std::string okm = hkdf_sha256(std::string(22, '\x0b'), unhex("000102030405060708090a0b0c"),
                                unhex("f0f1f2f3f4f5f6f7f8f9"), 42);
  EXPECT_EQ(hex(okm), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(KeyringCrypto, Aes256GcmMatchesTheGcmSpecificationsTestCases) {
  // Test cases 13 and 14: the zero key and nonce, no data and one zero block.
  std::string zero_key(32, '\0'), zero_nonce(12, '\0');
  EXPECT_EQ(hex(aes256gcm_seal(zero_key, zero_nonce, "", "")), "530f8afbc74536b9a963b4f1c4cb738b");
  EXPECT_EQ(hex(aes256gcm_seal(zero_key, zero_nonce, "", std::string(16, '\0'))),
            "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  // Test case 16: associated data and a plaintext that is not whole blocks.
  std::string key = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  std::string nonce = unhex("cafebabefacedbaddecaf888");
  std::string aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  std::string pt = unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
      "ba637b39");
  std::string sealed = aes256gcm_seal(key, nonce, aad, pt);
  EXPECT_EQ(hex(sealed),
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba"
            "7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b");
  auto opened = aes256gcm_open(key, nonce, aad, sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, pt);
  // Any other associated data, or one flipped bit, and it does not open.
  EXPECT_FALSE(aes256gcm_open(key, nonce, aad + "x", sealed));
  sealed[3] ^= 1;
  EXPECT_FALSE(aes256gcm_open(key, nonce, aad, sealed));
}

TEST(KeyringCrypto, HmacSha256MatchesRfc4231TestCase2) {
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(KeyringKeys, KeysAreBase64Of32BytesAndNamedByAVerifier) {
  std::string key = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  auto decoded = decode_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "test");
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, key);
  // The URL alphabet, no padding, a trailing newline: the same key.
  EXPECT_EQ(*decode_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", "test"), key);
  for (const char* bad : {"", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==" /* 31 bytes */,
                          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==" /* 34 */, "not base64 at all!!"}) {
    auto r = decode_key(bad, "PICLOUD_KEYRING_KEY");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("not base64 of 32 bytes"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("PICLOUD_KEYRING_KEY"), std::string::npos);
  }
  // HKDF-SHA256(key, salt "picloud keyring v1", info "key id"), 8 bytes:
  // computed independently of OpenSSL.
  EXPECT_EQ(key_id(key), "723451b8ba081a90");
  EXPECT_NE(key_id(key), key_id(std::string(32, 'x')));
}

TEST(KeyringKeys, AKeyFileIsCreatedPrivateOnSqliteAndRefusedWhenOthersCanReadIt) {
  test::TempDir dir;
  KeyringSettings settings;
  settings.key_file = dir.path() + "/data/keyring.keys";
  auto made = load_keys(settings, sdk::Dialect::sqlite);
  ASSERT_TRUE(made) << made.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(settings.key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Read back: the same key.
  auto again = load_keys(settings, sdk::Dialect::sqlite);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->active, made->active);
  EXPECT_EQ(again->keys, made->keys);
  ::chmod(settings.key_file.c_str(), 0644);
  auto open_to_all = load_keys(settings, sdk::Dialect::sqlite);
  ASSERT_FALSE(open_to_all);
  EXPECT_NE(open_to_all.error().message.find("readable by others (mode 0644); make it private: chmod 600"),
            std::string::npos)
      << open_to_all.error().message;
  // PostgreSQL: no node mints its own key.
  KeyringSettings none;
  none.key_file = dir.path() + "/absent.keys";
  auto pg = load_keys(none, sdk::Dialect::postgres);
  ASSERT_FALSE(pg);
  EXPECT_NE(pg.error().message.find("on PostgreSQL the master key must be given"), std::string::npos);
  // A key file the operator named must exist.
  none.key_file_explicit = true;
  auto named = load_keys(none, sdk::Dialect::sqlite);
  ASSERT_FALSE(named);
  EXPECT_NE(named.error().message.find("does not exist"), std::string::npos);
}

TEST(KeyringKeys, AnAlteredKeyFileLineIsRefusedNamingTheLine) {
  test::TempDir dir;
  std::string key = std::string(32, 'k');
  std::string id = key_id(key);
  KeySet set;
  set.keys[id] = key;
  set.active = id;
  std::string path = dir.path() + "/k.keys";
  ASSERT_TRUE(write_key_file(path, set));
  std::string text = test::read_file(path);
  text.replace(text.find("key " + id), 4 + id.size(), "key 0000000000000000");
  dir.write("k.keys", text);
  ::chmod(path.c_str(), 0600);
  KeyringSettings s;
  s.key_file = path;
  auto r = load_keys(s, sdk::Dialect::sqlite);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("line 4: the key's id is " + id + ", not 0000000000000000"), std::string::npos)
      << r.error().message;
}

}  // namespace
