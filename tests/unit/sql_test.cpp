#include <gtest/gtest.h>

#include "kernel/db/sql.hpp"

using picloud::kernel::db::count_placeholders;
using picloud::kernel::db::number_placeholders;

TEST(Placeholders, NumbersOutsideQuotesAndComments) {
  std::size_t n = 0;
  EXPECT_EQ(number_placeholders("SELECT ? , ?", n), "SELECT $1 , $2");
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(number_placeholders("SELECT '?', \"a?\", ? -- ?\n, ? /* ? */", n),
            "SELECT '?', \"a?\", $1 -- ?\n, $2 /* ? */");
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(number_placeholders("SELECT 'it''s ?', ?", n), "SELECT 'it''s ?', $1");
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(number_placeholders("SELECT 'unterminated ?", n), "SELECT 'unterminated ?");
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(count_placeholders("INSERT INTO t VALUES (?, ?, '?')"), 2u);
  EXPECT_EQ(count_placeholders("SELECT 1 - 2 / 3"), 0u);
}
