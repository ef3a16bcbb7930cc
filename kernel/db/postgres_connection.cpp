// PostgreSQL statements on the libpq handle of a session opened by Poco's connector.

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <list>
#include <unordered_map>

#include "kernel/db/connection.hpp"
#include "kernel/db/notification_listener.hpp"
#include "kernel/db/postgres_driver.hpp"
#include "kernel/db/sql.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::db {
namespace {

using sdk::ErrorKind;

// Type OIDs from PostgreSQL's pg_type catalogue (stable across versions).
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700,
              kFloat8 = 701, kNumeric = 1700;

ErrorKind kind_of_sqlstate(const char* state) {
  if (!state) return ErrorKind::unavailable;  // no result at all: connection trouble
  std::string_view s(state);
  if (s == "23505") return ErrorKind::conflict;                          // unique_violation
  if (s.rfind("23", 0) == 0) return ErrorKind::invalid_argument;         // other integrity violations
  if (s == "40001" || s == "40P01" || s == "55P03") return ErrorKind::unavailable;  // retryable
  if (s.rfind("08", 0) == 0 || s.rfind("57", 0) == 0 || s.rfind("53", 0) == 0) return ErrorKind::unavailable;
  if (s.rfind("22", 0) == 0) return ErrorKind::invalid_argument;         // data exceptions
  return ErrorKind::internal;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

sdk::Value decode(Oid type, const char* text, int length) {
  std::string_view v(text, static_cast<std::size_t>(length));
  switch (type) {
    case kBool: return sdk::Value(v == "t");
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid: {
      std::int64_t i = 0;
      std::from_chars(v.data(), v.data() + v.size(), i);
      return sdk::Value(i);
    }
    case kFloat4:
    case kFloat8: return sdk::Value(std::strtod(std::string(v).c_str(), nullptr));
    case kNumeric: {  // integral values (sum(), count over numeric) stay integers when they fit
      std::int64_t i = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
      if (ec == std::errc() && end == v.data() + v.size()) return sdk::Value(i);
      return sdk::Value(std::strtod(std::string(v).c_str(), nullptr));
    }
    case kBytea: {  // text output of bytea is hex: \x0a1b...
      sdk::Bytes out;
      if (v.size() >= 2 && v[0] == '\\' && v[1] == 'x') {
        out.reserve((v.size() - 2) / 2);
        for (std::size_t i = 2; i + 1 < v.size(); i += 2)
          out.push_back(static_cast<std::uint8_t>(hex_digit(v[i]) * 16 + hex_digit(v[i + 1])));
      }
      return sdk::Value(std::move(out));
    }
    default: return sdk::Value(std::string(v));
  }
}

class PostgresConnection final : public Connection {
 public:
  PostgresConnection(const PostgresDriver& driver, PostgresSessionHandle session)
      : pq_(&driver), session_(std::move(session)), conn_(session_.connection()) {}

  sdk::Result<sdk::Rows> query(std::string_view sql, const sdk::Params& params) override {
    sdk::Rows out;
    auto r = run(sql, params, &out);
    if (!r) return r.error();
    return out;
  }

  sdk::Result<std::int64_t> execute(std::string_view sql, const sdk::Params& params) override {
    return run(sql, params, nullptr);
  }

  // Scripts are PiCloud's own SQL without parameters (migrations, BEGIN,
  // COMMIT): their errors keep PostgreSQL's primary message, which names the
  // schema object at fault, so a failed migration says why. The detail and
  // the statement's text, which may quote values, stay in the log.
  sdk::Result<void> execute_script(std::string_view sql) override {
    PGresult* res = pq_->exec(conn_, std::string(sql).c_str());
    auto r = check(res, sql);
    if (!r) {
      const char* primary = res ? pq_->result_error_field(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
      sdk::Error e = r.error();
      if (primary) e.message = std::string(primary) + " — " + e.message;
      pq_->clear(res);
      return e;
    }
    pq_->clear(res);
    return {};
  }

  bool healthy() const override { return !broken_ && pq_->status(conn_) == CONNECTION_OK; }
  void mark_broken() override { broken_ = true; }

 private:
  sdk::Result<std::int64_t> check(PGresult* res, std::string_view sql) {
    auto status = res ? pq_->result_status(res) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      const char* affected = pq_->cmd_tuples(res);
      return affected && *affected ? std::strtoll(affected, nullptr, 10) : 0;
    }
    const char* state = res ? pq_->result_error_field(res, PG_DIAG_SQLSTATE) : nullptr;
    const char* constraint = res ? pq_->result_error_field(res, PG_DIAG_CONSTRAINT_NAME) : nullptr;
    std::string message = res ? pq_->result_error_message(res) : pq_->error_message(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return statement_error(kind_of_sqlstate(state), state ? "SQLSTATE " + std::string(state) : "no result",
                           constraint ? constraint : "", message, sql);
  }

  sdk::Result<std::int64_t> run(std::string_view sql, const sdk::Params& params, sdk::Rows* out) {
    std::size_t count = 0;
    std::string text = number_placeholders(sql, count);
    if (auto counted = check_parameter_count(count, params.size()); !counted) return counted.error();
    if (auto text_ok = check_storable_text(params); !text_ok) return text_ok.error();
    // Text format for everything but bytes, which go binary (no escaping).
    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size()), formats(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto& p = params[i];
      switch (p.type()) {
        case sdk::ValueType::null: values[i] = nullptr; continue;
        case sdk::ValueType::boolean: storage[i] = p.as_bool() ? "true" : "false"; break;
        case sdk::ValueType::integer: storage[i] = std::to_string(p.as_int()); break;
        case sdk::ValueType::number: {
          char buf[32];
          auto [end, ec] = std::to_chars(buf, buf + sizeof buf, p.as_float());
          storage[i].assign(buf, end);
          break;
        }
        case sdk::ValueType::string: storage[i] = p.as_string(); break;
        case sdk::ValueType::bytes:
          storage[i].assign(p.as_bytes().begin(), p.as_bytes().end());
          formats[i] = 1;
          break;
        case sdk::ValueType::array:
        case sdk::ValueType::object: storage[i] = sdk::to_json(p); break;
      }
      values[i] = storage[i].data();
      lengths[i] = static_cast<int>(storage[i].size());
    }
    auto exec = [&](const std::string& name) {
      return pq_->exec_prepared(conn_, name.c_str(), static_cast<int>(params.size()), values.data(), lengths.data(),
                            formats.data(), 0);
    };
    auto name = prepared(text, static_cast<int>(params.size()), sql);
    if (!name) return name.error();
    PGresult* res = exec(*name);
    if (stale_plan(res)) {
      // The schema changed under a cached plan: prepare again, once.
      pq_->clear(res);
      forget(text);
      name = prepared(text, static_cast<int>(params.size()), sql);
      if (!name) return name.error();
      res = exec(*name);
    }
    auto r = check(res, sql);
    if (r && out && pq_->result_status(res) == PGRES_TUPLES_OK) {
      int columns = pq_->nfields(res), rows = pq_->ntuples(res);
      for (int c = 0; c < columns; ++c) out->columns.emplace_back(pq_->fname(res, c));
      out->rows.reserve(static_cast<std::size_t>(rows));
      for (int row = 0; row < rows; ++row) {
        auto& values_out = out->rows.emplace_back();
        values_out.reserve(static_cast<std::size_t>(columns));
        for (int c = 0; c < columns; ++c) {
          if (pq_->getisnull(res, row, c))
            values_out.emplace_back();
          else
            values_out.push_back(decode(pq_->ftype(res, c), pq_->getvalue(res, row, c), pq_->getlength(res, row, c)));
        }
      }
    }
    pq_->clear(res);
    return r;
  }

  // Prepared statements, by SQL text: a statement is parsed and planned once
  // per connection instead of on every call (PQexecParams prepares an
  // unnamed statement each time).
  sdk::Result<std::string> prepared(const std::string& text, int n_params, std::string_view sql) {
    if (auto it = statements_.find(text); it != statements_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.name;
    }
    std::string name = "picloud_" + std::to_string(++next_statement_);
    PGresult* res = pq_->prepare(conn_, name.c_str(), text.c_str(), n_params, nullptr);
    auto r = check(res, sql);
    pq_->clear(res);
    if (!r) return r.error();
    if (statements_.size() >= kCacheSize) forget(lru_.back());
    lru_.push_front(text);
    statements_.emplace(text, Statement{name, lru_.begin()});
    return name;
  }

  void forget(const std::string& text) {
    auto it = statements_.find(text);
    if (it == statements_.end()) return;
    // Fails harmlessly inside an aborted transaction; the statement then
    // lives until the connection closes.
    pq_->clear(pq_->exec(conn_, ("DEALLOCATE " + it->second.name).c_str()));
    lru_.erase(it->second.lru);
    statements_.erase(it);
  }

  // "cached plan must not change result type" (0A000) or a statement the
  // server no longer knows (26000).
  bool stale_plan(PGresult* res) const {
    if (!res || pq_->result_status(res) != PGRES_FATAL_ERROR) return false;
    const char* state = pq_->result_error_field(res, PG_DIAG_SQLSTATE);
    return state && (std::strcmp(state, "0A000") == 0 || std::strcmp(state, "26000") == 0);
  }

  struct Statement {
    std::string name;
    std::list<std::string>::iterator lru;
  };
  static constexpr std::size_t kCacheSize = 64;

  const PostgresDriver* pq_;  // libpq, through picloud_postgres.so
  PostgresSessionHandle session_;
  PGconn* conn_ = nullptr;
  std::unordered_map<std::string, Statement> statements_;
  bool broken_ = false;
  std::list<std::string> lru_;
  std::uint64_t next_statement_ = 0;
};

}  // namespace

sdk::Result<std::unique_ptr<Connection>> open_postgres_connection(const DatabaseUrl& url, const ConnectionOptions&) {
  auto driver = postgres_driver();
  if (!driver) return driver.error();
  auto session = PostgresSessionHandle::open(**driver, url.postgres_connection);
  if (!session)
    return sdk::make_error(ErrorKind::unavailable,
                           "cannot connect to PostgreSQL at " + url.display + ": " + session.error().message);
  auto conn = std::make_unique<PostgresConnection>(**driver, std::move(*session));
  // JIT off: every query PiCloud runs is short, while the JIT compiler can
  // spend seconds on one with many subqueries (a docs filter reaching into
  // arrays), which the planner's row estimates make look expensive.
  auto r = conn->execute_script("SET client_min_messages = warning; SET jit = off");
  if (!r) return r.error();
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace picloud::kernel::db

// ---- LISTEN ---------------------------------------------------------------------

namespace picloud::kernel::db {
namespace {

class PostgresListener final : public NotificationListener {
 public:
  PostgresListener(const PostgresDriver& driver, PostgresSessionHandle session)
      : pq_(&driver), session_(std::move(session)), conn_(session_.connection()) {}

  sdk::Result<void> listen(std::string_view channel) {
    std::string sql = "LISTEN " + std::string(channel);
    PGresult* r = pq_->exec(conn_, sql.c_str());
    const bool ok = r && pq_->result_status(r) == PGRES_COMMAND_OK;
    std::string why = ok ? "" : pq_->error_message(conn_);
    if (r) pq_->clear(r);
    if (!ok) return sdk::make_error(ErrorKind::unavailable, "LISTEN failed: " + why);
    return {};
  }

  sdk::Result<void> wait(int timeout_ms, std::vector<std::string>& payloads) override {
    if (take(payloads)) return {};
    const int fd = pq_->socket(conn_);
    if (fd < 0 || pq_->status(conn_) != CONNECTION_OK)
      return sdk::make_error(ErrorKind::unavailable, "the listening connection is closed");
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) return sdk::make_error(ErrorKind::unavailable, std::string("poll: ") + std::strerror(errno));
    if (n <= 0) return {};
    if (!pq_->consume_input(conn_) || pq_->status(conn_) != CONNECTION_OK)
      return sdk::make_error(ErrorKind::unavailable, std::string("the listening connection broke: ") + pq_->error_message(conn_));
    take(payloads);
    return {};
  }

 private:
  bool take(std::vector<std::string>& payloads) {
    bool any = false;
    while (PGnotify* note = pq_->notifies(conn_)) {
      payloads.emplace_back(note->extra ? note->extra : "");
      pq_->freemem(note);
      any = true;
    }
    return any;
  }
  const PostgresDriver* pq_;
  PostgresSessionHandle session_;
  PGconn* conn_;
};

}  // namespace

sdk::Result<std::unique_ptr<NotificationListener>> open_notification_listener(const DatabaseUrl& url,
                                                                              std::string_view channel) {
  if (url.dialect != sdk::Dialect::postgres)
    return sdk::make_error(ErrorKind::invalid_argument, "notifications need PostgreSQL");
  auto driver = postgres_driver();
  if (!driver) return driver.error();
  // A connection that only listens sends nothing for hours: TCP keepalives
  // tell a dead server (a failover, a cut network) from a quiet one.
  std::string conn = url.postgres_connection;
  if (conn.find("keepalives") == std::string::npos)
    conn += " keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=3";
  auto session = PostgresSessionHandle::open(**driver, conn);
  if (!session)
    return sdk::make_error(ErrorKind::unavailable,
                           "cannot connect to PostgreSQL at " + url.display + ": " + session.error().message);
  auto listener = std::make_unique<PostgresListener>(**driver, std::move(*session));
  if (auto r = listener->listen(channel); !r) return r.error();
  return std::unique_ptr<NotificationListener>(std::move(listener));
}

}  // namespace picloud::kernel::db
