// Reading /proc/locks for who has a SQLite database locked (the live
// probe is exercised against a real exclusive server in backup_test.cpp).
#include "kernel/db/sqlite_holder.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>

using picloud::kernel::db::is_exclusive_hold;
using picloud::kernel::db::parse_proc_locks;

TEST(SqliteHolder, ProcLocksLinesAreReadAndOthersLeftOut) {
  std::istringstream text(
      "1: POSIX  ADVISORY  WRITE 4242 fe:00:10952944 1073741826 1073742335\n"
      "1: -> POSIX  ADVISORY  WRITE 4343 fe:00:10952944 1073741826 1073742335\n"
      "2: POSIX  ADVISORY  READ 4444 08:11:77 1073741826 1073742335\n"
      "3: OFDLCK ADVISORY  WRITE -1 fe:00:99 0 EOF\n"
      "4: FLOCK  ADVISORY  WRITE 4545 fe:00:98 0 EOF\n"
      "5: POSIX  ADVISORY  WRITE 4646 fe:00:97 0 EOF\n"
      "6: POSIX  ADVISORY  WRITE 4747 nonsense 1 2\n"
      "7: POSIX  ADVISORY  WRITE 4848 fe:00:96 1073741825 1073742335\n"
      "garbage\n");
  auto locks = parse_proc_locks(text);
  ASSERT_EQ(locks.size(), 4u);
  EXPECT_EQ(locks[0].pid, 4242);
  EXPECT_TRUE(locks[0].write);
  EXPECT_EQ(locks[0].major, 0xfeu);
  EXPECT_EQ(locks[0].minor, 0u);
  EXPECT_EQ(locks[0].inode, 10952944u);
  EXPECT_EQ(locks[0].first, 1073741826);
  EXPECT_EQ(locks[0].last, 1073742335);
  EXPECT_EQ(locks[1].pid, 4444);  // the waiter's line holds nothing
  EXPECT_FALSE(locks[1].write);
  EXPECT_EQ(locks[1].major, 8u);
  EXPECT_EQ(locks[1].minor, 0x11u);
  EXPECT_EQ(locks[2].pid, 4646);
  EXPECT_EQ(locks[2].last, std::numeric_limits<long long>::max());
  EXPECT_EQ(locks[3].pid, 4848);
}

TEST(SqliteHolder, OnlyAWriteLockOnExactlyTheSharedRangeIsAnExclusiveHold) {
  std::istringstream text(
      "1: POSIX  ADVISORY  WRITE 1 fe:00:5 1073741826 1073742335\n"   // unix-excl
      "2: POSIX  ADVISORY  WRITE 2 fe:00:5 1073741825 1073742335\n"   // SQLite's own EXCLUSIVE: reserved + shared
      "3: POSIX  ADVISORY  READ 3 fe:00:5 1073741826 1073742335\n"    // a reader
      "4: POSIX  ADVISORY  WRITE 4 fe:00:5 0 EOF\n");                 // someone else's whole-file lock
  auto locks = parse_proc_locks(text);
  ASSERT_EQ(locks.size(), 4u);
  EXPECT_TRUE(is_exclusive_hold(locks[0]));
  EXPECT_FALSE(is_exclusive_hold(locks[1]));
  EXPECT_FALSE(is_exclusive_hold(locks[2]));
  EXPECT_FALSE(is_exclusive_hold(locks[3]));
}
