// Round-trip cost of the kernel database layer on SQLite and PostgreSQL:
// a point SELECT, and a one-row write transaction, from one thread.
//
//   db_bench <database url> [iterations]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernel/db/database.hpp"

using namespace picloud;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: db_bench <database url> [iterations]\n");
    return 2;
  }
  int n = argc > 2 ? std::atoi(argv[2]) : 5000;
  auto url = kernel::db::parse_database_url(argv[1], 5);
  if (!url) return std::fprintf(stderr, "%s\n", url.error().message.c_str()), 1;
  auto opened = kernel::db::Database::open(*url, {});
  if (!opened) return std::fprintf(stderr, "%s\n", opened.error().message.c_str()), 1;
  auto& db = **opened;
  (void)db.execute("DROP TABLE IF EXISTS bench_kv");
  if (auto r = db.execute("CREATE TABLE bench_kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)"); !r)
    return std::fprintf(stderr, "%s\n", r.error().message.c_str()), 1;
  for (int i = 0; i < 1000; ++i) (void)db.execute("INSERT INTO bench_kv (k, v) VALUES (?, ?)", {"k" + std::to_string(i), "value"});

  auto measure = [&](const char* what, auto&& op) {
    for (int i = 0; i < n / 10; ++i) op(i);  // warm-up
    auto start = Clock::now();
    for (int i = 0; i < n; ++i)
      if (!op(i)) {
        std::fprintf(stderr, "%s failed\n", what);
        std::exit(1);
      }
    double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / n;
    std::printf("%-10s %-40s %8.1f us/op  %9.0f op/s\n", std::string(sdk::to_string(db.dialect())).c_str(), what, us,
                1e6 / us);
  };
  measure("point SELECT by primary key", [&](int i) {
    auto r = db.query("SELECT v FROM bench_kv WHERE k = ?", {"k" + std::to_string(i % 1000)});
    return r.ok() && r->size() == 1;
  });
  measure("write transaction (one UPSERT)", [&](int i) {
    return db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
             auto r = tx.execute(
                 "INSERT INTO bench_kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                 {"w" + std::to_string(i % 100), "v" + std::to_string(i)});
             if (!r) return r.error();
             return {};
           })
        .ok();
  });
  (void)db.execute("DROP TABLE bench_kv");
  return 0;
}
