// The keyring reads its key file again for a key id it lacks — a rotation
// on another node — but only when the file changed: the id comes from
// whoever sends a signature.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "kernel/db/migrations.hpp"
#include "kernel/keyring/keyring.hpp"
#include "kernel/log.hpp"
#include "support.hpp"

using namespace picloud;
namespace keyring = picloud::kernel::keyring;

namespace {

const std::string kKeyA(32, 'a');
const std::string kKeyB(32, 'b');

struct KeyringOnSqlite {
  test::TestDatabase tdb{test::Backend::sqlite};
  std::unique_ptr<kernel::db::Database> db = tdb.open();
  std::unique_ptr<keyring::Keyring> keyring;

  explicit KeyringOnSqlite(keyring::KeySet keys) {
    kernel::db::MigrationRunner runner(*db);
    kernel::ComponentLogger log("test");
    auto files = runner.discover(test::source_dir() + "/migrations/kernel");
    if (!files || !runner.apply("kernel", *files, log)) throw std::runtime_error("kernel migrations failed");
    auto opened = keyring::Keyring::open(std::move(keys), *db);
    if (!opened) throw std::runtime_error(opened.error().message);
    keyring = std::move(*opened);
  }
};

keyring::KeySet key_set(std::map<std::string, std::string> keys, const std::string& active, const std::string& source,
                        bool from_file) {
  return keyring::KeySet{std::move(keys), active, source, from_file};
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(KeyringReload, AKeyIdItLacksReadsTheKeyFileAgainOnlyWhenTheFileChanged) {
  test::TempDir dir;
  const std::string file = dir.file("keyring.keys");
  const std::string a = keyring::key_id(kKeyA), b = keyring::key_id(kKeyB);
  ASSERT_TRUE(keyring::write_key_file(file, key_set({{a, kKeyA}}, a, file, true), true));
  auto settings = keyring::KeyringSettings{"", file, true};
  auto keys = keyring::load_keys(settings, sdk::Dialect::sqlite);
  ASSERT_TRUE(keys) << keys.error().message;
  KeyringOnSqlite node(std::move(*keys));
  // A signature by key B, which this node's file does not hold yet.
  KeyringOnSqlite elsewhere(key_set({{b, kKeyB}}, b, "the environment", false));
  auto signature = elsewhere.keyring->sign("app", "test", "data");
  ASSERT_TRUE(signature) << signature.error().message;
  EXPECT_FALSE(node.keyring->verify("app", "test", "data", *signature));

  // The file made readable by others: the read it takes fails, and is
  // tried once, not once per signature.
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  testing::internal::CaptureStderr();
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(node.keyring->verify("app", "test", "data", *signature));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(occurrences(log, "the key file could not be read again"), 1u) << log;

  // Rotated (key B written into the file, as `picloud keys rotate` does):
  // the next signature by B verifies without a restart.
  ASSERT_TRUE(keyring::write_key_file(file, key_set({{a, kKeyA}, {b, kKeyB}}, b, file, true)));
  EXPECT_TRUE(node.keyring->verify("app", "test", "data", *signature));
}
