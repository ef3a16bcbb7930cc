// The migration runner on SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include "kernel/db/migrations.hpp"
#include "kernel/log.hpp"
#include "support.hpp"

using namespace picloud;
using picloud::test::Backend;

class MigrationsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<test::TestDatabase>(GetParam());
    db_ = tdb_->open();
    dialect_ = std::string(sdk::to_string(db_->dialect()));
  }
  void write(const std::string& file, const std::string& sql) { dir_.write("comp/" + dialect_ + "/" + file, sql); }
  std::string dir() const { return dir_.file("comp"); }

  std::unique_ptr<test::TestDatabase> tdb_;
  std::unique_ptr<kernel::db::Database> db_;
  std::string dialect_;
  test::TempDir dir_;
  kernel::ComponentLogger log_{"test"};
};

TEST_P(MigrationsTest, AppliesInOrderOnceAndRecordsThem) {
  write("0002_add.sql", "ALTER TABLE notes ADD COLUMN body TEXT;");
  write("0001_create.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY);\nCREATE INDEX notes_id ON notes (id);");
  dir_.write("comp/" + dialect_ + "/README.txt", "ignored: not .sql");
  kernel::db::MigrationRunner runner(*db_);
  auto files = runner.discover(dir());
  ASSERT_TRUE(files.ok()) << files.error().message;
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].version, 1);
  EXPECT_EQ((*files)[1].name, "add");

  auto applied = runner.apply("comp", *files, log_);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(*applied, 2);
  EXPECT_TRUE(db_->execute("INSERT INTO notes (id, body) VALUES (1, 'x')").ok());

  auto again = runner.apply("comp", *files, log_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);

  auto rows = db_->query("SELECT component, version, name, checksum FROM schema_migrations ORDER BY version");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->rows[0][0], sdk::Value("comp"));
  EXPECT_EQ(rows->rows[1][2], sdk::Value("add"));
  EXPECT_EQ(rows->rows[0][3].as_string().size(), 64u);

  auto status = runner.status("comp", *files);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->size(), 2u);
  EXPECT_TRUE((*status)[1].applied);
}

TEST_P(MigrationsTest, ChangedChecksumRefusesNamingTheFile) {
  write("0001_create.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY);");
  kernel::db::MigrationRunner runner(*db_);
  ASSERT_TRUE(runner.apply("comp", *runner.discover(dir()), log_).ok());
  write("0001_create.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, extra TEXT);");
  write("0002_more.sql", "CREATE TABLE more (id INTEGER);");
  auto r = runner.apply("comp", *runner.discover(dir()), log_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("0001_create.sql was changed after it was applied"), std::string::npos)
      << r.error().message;
  // Nothing after the changed file ran.
  EXPECT_FALSE(db_->query("SELECT * FROM more").ok());
}

// A node of an older version must not run on a schema a newer one moved
// forward: it refuses to start instead of misreading tables it never knew.
TEST_P(MigrationsTest, ASchemaNewerThanTheFilesIsRefused) {
  write("0001_create.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY);");
  write("0002_more.sql", "CREATE TABLE more (id INTEGER);");
  kernel::db::MigrationRunner runner(*db_);
  ASSERT_TRUE(runner.apply("comp", *runner.discover(dir()), log_).ok());
  auto older = *runner.discover(dir());
  older.pop_back();  // what a node one version back ships
  auto r = runner.apply("comp", older, log_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, sdk::ErrorKind::conflict);
  EXPECT_NE(r.error().message.find("the database's comp schema is at version 2, newer than this PiCloud knows (1)"),
            std::string::npos)
      << r.error().message;
  // The same version as the database's goes on starting.
  EXPECT_TRUE(runner.apply("comp", *runner.discover(dir()), log_).ok());
}

TEST_P(MigrationsTest, FailingMigrationRollsBackAndNamesFileAndError) {
  write("0001_ok.sql", "CREATE TABLE a (id INTEGER);");
  write("0002_bad.sql", "CREATE TABLE b (id INTEGER);\nINSERT INTO nowhere VALUES (1);");
  kernel::db::MigrationRunner runner(*db_);
  auto r = runner.apply("comp", *runner.discover(dir()), log_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("0002_bad.sql failed and was rolled back"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("nowhere"), std::string::npos) << r.error().message;
  EXPECT_TRUE(db_->query("SELECT * FROM a").ok());
  EXPECT_FALSE(db_->query("SELECT * FROM b").ok()) << "table b must have been rolled back";
  auto rows = db_->query("SELECT version FROM schema_migrations");
  ASSERT_EQ(rows->size(), 1u);
}

TEST_P(MigrationsTest, BadFileNamesAndDuplicatesAreRefused) {
  kernel::db::MigrationRunner runner(*db_);
  auto none = runner.discover(dir_.file("absent"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  write("1_short.sql", "SELECT 1;");
  auto bad = runner.discover(dir());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("1_short.sql"), std::string::npos);

  test::TempDir other;
  other.write("c/" + dialect_ + "/0001_a.sql", "SELECT 1;");
  other.write("c/" + dialect_ + "/00001_b.sql", "SELECT 1;");
  auto dup = runner.discover(other.file("c"));
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("same version"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, MigrationsTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return test::backend_name(info.param); });
