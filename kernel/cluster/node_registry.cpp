#include "kernel/cluster/node_registry.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "kernel/admin/secrets.hpp"
#include "kernel/cluster/notifier.hpp"
#include "kernel/db/leader.hpp"
#include "kernel/dispatch/outbox_signal.hpp"
#include "kernel/log.hpp"
#include "kernel/version.hpp"

namespace picloud::kernel::cluster {
namespace {

// Nodes dead this long are forgotten.
constexpr std::int64_t kForgetAfterMs = 3600 * 1000;

// The database's clock in ms since the epoch, as SQL.
std::string now_sql(sdk::Dialect dialect) {
  return dialect == sdk::Dialect::postgres ? "(extract(epoch from clock_timestamp()) * 1000)::bigint"
                                           : "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
}

std::string machine_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

}  // namespace

NodeRegistry::NodeRegistry(db::Database& db, Notifier& notifier, dispatch::OutboxSignal& outbox,
                           MetricsRegistry& metrics, NodeSettings settings)
    : db_(db),
      notifier_(notifier),
      outbox_(outbox),
      settings_(settings),
      id_(admin::random_hex(8)),
      released_(metrics.counter("picloud_cluster_leases_released_total",
                                "claimed outbox rows of dead nodes given back to be run again")),
      beat_failures_(metrics.counter("picloud_cluster_heartbeat_failures_total",
                                     "heartbeats this node could not write")) {
  metrics.gauge("picloud_cluster_peers_alive", "whether another node of this database is alive (1) or not (0)",
                [this] { return notifier_.peers_alive() ? 1.0 : 0.0; });
}

NodeRegistry::~NodeRegistry() { stop(); }

sdk::Result<std::unique_ptr<SqliteServeLock>> SqliteServeLock::take(const std::string& sqlite_path) {
  const std::string path = sqlite_path + ".serve-lock";
  // Read-only is enough for flock, and lets a lock file another user left
  // behind still be taken.
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return sdk::make_error(sdk::ErrorKind::unavailable, "cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return sdk::make_error(sdk::ErrorKind::conflict,
                           "another picloud serves " + sqlite_path + " (it holds " + path +
                               "): a SQLite database serves one node; use PostgreSQL for several");
  }
  return std::unique_ptr<SqliteServeLock>(new SqliteServeLock(fd));
}

SqliteServeLock::~SqliteServeLock() { ::close(fd_); }

sdk::Result<void> NodeRegistry::start(const std::string& address) {
  {
    std::lock_guard lock(mutex_);
    address_ = address;
  }
  const bool sqlite = db_.dialect() == sdk::Dialect::sqlite;
  if (auto r = write_row(); !r) return r;
  registered_ = true;
  beating_since_ = std::chrono::steady_clock::now();
  if (sqlite) {
    // Every other row is a process that is gone (this one holds the serve
    // lock, SqliteServeLock): what it had claimed runs again now, not at its
    // lease's end.
    if (auto r = release_dead_nodes(); !r)
      write_log(LogLevel::warn, "cluster", "the runs claimed by an earlier process could not be given back; they run "
                                           "again when their lease ends", {{"error", r.error().message}});
    notifier_.set_peers_alive(false);
    return {};
  }
  if (auto r = count_peers(); !r)
    write_log(LogLevel::warn, "cluster", "could not count the other nodes", {{"error", r.error().message}});
  // Tells the others a node is here (they poke it from now on, without
  // waiting for their next beat to see it).
  notifier_.poke("kernel.nodes");
  std::lock_guard lock(mutex_);
  stopping_ = false;
  thread_ = std::thread([this] { beat_loop(); });
  return {};
}

void NodeRegistry::set_address(const std::string& address) {
  {
    std::lock_guard lock(mutex_);
    if (address == address_) return;
    address_ = address;
  }
  if (auto r = db_.execute("UPDATE nodes SET address = ? WHERE id = ?", {address, id_}); !r)
    write_log(LogLevel::warn, "cluster", "this node's address could not be written", {{"error", r.error().message}});
}

void NodeRegistry::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!registered_) return;
  // Gone at once from every node's list (a killed node is noticed by its
  // beats stopping instead).
  if (auto r = db_.execute("DELETE FROM nodes WHERE id = ?", {id_}); !r)
    write_log(LogLevel::warn, "cluster", "this node's row could not be deleted; it will show as dead",
              {{"node", id_}, {"error", r.error().message}});
}

void NodeRegistry::beat_loop() {
  pthread_setname_np(pthread_self(), "picloud-nodes");
  bool failing = false;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::milliseconds(settings_.heartbeat_ms), [&] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    auto r = write_row();
    if (!r) {
      beat_failures_.inc();
      if (!failing)
        write_log(LogLevel::warn, "cluster", "heartbeat failed; other nodes will take this node's claimed runs over "
                                             "if it goes on failing",
                  {{"node", id_}, {"timeout_ms", std::to_string(settings_.timeout_ms)}, {"error", r.error().message}});
    } else if (failing) {
      write_log(LogLevel::info, "cluster", "heartbeat written again", {{"node", id_}});
    }
    if (!r)
      beating_since_ = {};
    else if (failing || beating_since_ == std::chrono::steady_clock::time_point{})
      beating_since_ = std::chrono::steady_clock::now();
    failing = !r;
    if (r) {
      if (auto p = count_peers(); !p)
        write_log(LogLevel::debug, "cluster", "could not count the other nodes", {{"error", p.error().message}});
      // Only a node that has itself beaten steadily for a whole timeout
      // judges the others: after an outage every beat is old.
      if (std::chrono::steady_clock::now() - beating_since_ >= std::chrono::milliseconds(settings_.timeout_ms))
        if (auto d = release_dead_nodes(); !d)
          write_log(LogLevel::warn, "cluster", "could not look for dead nodes", {{"error", d.error().message}});
    }
    lock.lock();
  }
}

sdk::Result<void> NodeRegistry::write_row() {
  const std::string now = now_sql(db_.dialect());
  std::string address;
  {
    std::lock_guard lock(mutex_);
    address = address_;
  }
  return db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto updated = tx.execute("UPDATE nodes SET heartbeat_at = " + now + ", address = ?, released_at = NULL WHERE id = ?",
                              {address, id_});
    if (!updated) return updated.error();
    if (*updated > 0) return {};
    // The first beat, or a node back from being taken for dead long enough
    // to be forgotten.
    auto inserted = tx.execute(
        "INSERT INTO nodes (id, address, host_name, version, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, " +
            now + ", " + now + ")",
        {id_, address, machine_name(), std::string(PICLOUD_VERSION), static_cast<std::int64_t>(::getpid())});
    if (!inserted) return inserted.error();
    return {};
  });
}

sdk::Result<void> NodeRegistry::count_peers() {
  auto peers = db_.query("SELECT count(*) FROM nodes WHERE id <> ? AND heartbeat_at >= " + now_sql(db_.dialect()) +
                             " - ? AND released_at IS NULL",
                         {id_, std::int64_t{settings_.timeout_ms}});
  if (!peers) return peers.error();
  notifier_.set_peers_alive(peers->rows[0][0].as_int() > 0);
  return {};
}

sdk::Result<void> NodeRegistry::release_dead_nodes() {
  const bool sqlite = db_.dialect() == sdk::Dialect::sqlite;
  const std::string now = now_sql(db_.dialect());
  // On SQLite every other row is dead (this process holds the lock).
  const std::string dead_rule =
      sqlite ? "id <> ?" : "heartbeat_at < " + now + " - ? AND released_at IS NULL";
  const sdk::Value dead_param = sqlite ? sdk::Value(id_) : sdk::Value(std::int64_t{settings_.timeout_ms});
  std::vector<std::pair<std::string, std::int64_t>> released;
  auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    released.clear();
    auto leading = db::lead(tx, db_.dialect(), db::LeaderJob::node_sweep);
    if (!leading) return leading.error();
    if (!*leading) return {};
    auto dead = tx.query("SELECT id FROM nodes WHERE " + dead_rule, {dead_param});
    if (!dead) return dead.error();
    for (const auto& row : dead->rows) {
      const std::string id = row[0].as_string();
      // Marked first, on the same rule: a beat that committed since the
      // SELECT keeps its node alive (the row lock orders the two), and its
      // leases stay its own.
      auto marked = tx.execute("UPDATE nodes SET released_at = " + now + " WHERE id = ? AND " + dead_rule,
                               {id, dead_param});
      if (!marked) return marked.error();
      if (*marked == 0) continue;
      // Lease owners are "<node id>-<worker>"; ids are hex digits, so the
      // pattern has no wildcard of its own.
      auto given = tx.execute("UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner LIKE ?",
                              {id + "-%"});
      if (!given) return given.error();
      released.emplace_back(id, *given);
    }
    auto forget = sqlite ? tx.execute("DELETE FROM nodes WHERE id <> ?", {id_})
                         : tx.execute("DELETE FROM nodes WHERE heartbeat_at < " + now + " - ?", {kForgetAfterMs});
    if (!forget) return forget.error();
    std::int64_t total = 0;
    for (const auto& [_, n] : released) total += n;
    if (total > 0) db::Database::after_commit(tx, [this] { outbox_.notify(); });
    return {};
  });
  if (!r) return r;
  for (const auto& [id, n] : released) {
    released_.inc(static_cast<std::uint64_t>(n));
    if (n > 0 || !sqlite)
      write_log(LogLevel::warn, "cluster",
                sqlite ? "an earlier process ended without stopping: its claimed runs were given back to run again"
                       : "a node stopped beating: its claimed runs were given back to be run again",
                {{"node", id}, {"runs", std::to_string(n)}});
  }
  return {};
}

sdk::Result<std::vector<NodeInfo>> NodeRegistry::list() const {
  const std::string now = now_sql(db_.dialect());
  auto rows = db_.query("SELECT id, address, host_name, version, pid, started_at, heartbeat_at, released_at, " + now +
                        " - heartbeat_at FROM nodes ORDER BY started_at, id");
  if (!rows) return rows.error();
  std::vector<NodeInfo> out;
  for (const auto& row : rows->rows) {
    NodeInfo n;
    n.id = row[0].as_string();
    n.address = row[1].as_string();
    n.host_name = row[2].as_string();
    n.version = row[3].as_string();
    n.pid = row[4].as_int();
    n.started_at_ms = row[5].as_int();
    n.heartbeat_at_ms = row[6].as_int();
    n.released_at_ms = row[7].is_null() ? 0 : row[7].as_int();
    n.age_ms = row[8].as_int();
    // SQLite does not beat: its one node is alive while it serves.
    n.beats = db_.dialect() != sdk::Dialect::sqlite;
    n.alive = n.beats ? n.age_ms <= settings_.timeout_ms && n.released_at_ms == 0 : n.id == id_;
    if (n.id == id_)
      out.insert(out.begin(), std::move(n));
    else
      out.push_back(std::move(n));
  }
  return out;
}

}  // namespace picloud::kernel::cluster
