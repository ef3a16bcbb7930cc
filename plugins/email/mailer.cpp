#include "mailer.hpp"

#include <algorithm>

namespace picloud::email {

using sdk::ErrorKind;
using sdk::Result;
using sdk::Value;

namespace {

sdk::Error not_configured() {
  return sdk::make_error(ErrorKind::unavailable, "not_configured",
                         "email is not configured on this server: the operator sets [email] smtp_host");
}

std::string text_of(const sdk::Bytes& b) { return std::string(b.begin(), b.end()); }

constexpr const char* kInsertMessage =
    "INSERT INTO email_messages (id, app_id, sender, recipients, content, size, status, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

// The stored recipients (a JSON array) as the envelope's list.
std::vector<std::string> recipients_from(const std::string& json) {
  std::vector<std::string> out;
  auto list = sdk::parse_json(json, 4, sdk::JsonStrictness::stored);
  if (list && list->is_array())
    for (const auto& r : list->as_array()) out.push_back(r.string_or(""));
  return out;
}

}  // namespace

Mailer::Mailer(sdk::Database& db, sdk::Jobs* jobs, std::unique_ptr<SmtpRelay> relay, MessageLimits limits,
               std::string id_domain, int max_attempts, std::int64_t max_per_hour, sdk::Logger* log)
    : db_(db),
      jobs_(jobs),
      relay_(std::move(relay)),
      limits_(std::move(limits)),
      id_domain_(std::move(id_domain)),
      max_attempts_(max_attempts),
      max_per_hour_(max_per_hour),
      log_(log) {}

Result<Mailer::Prepared> Mailer::prepare(const sdk::CallContext& call, const Value& message) {
  if (!relay_) return not_configured();
  if (call.app_id.empty()) return sdk::make_error(ErrorKind::invalid_argument, "email: a message belongs to an app");
  auto spec = read_message(message, limits_);
  if (!spec) return spec.error();
  if (max_per_hour_ > 0) {
    auto sent = db_.query("SELECT count(*) FROM email_messages WHERE app_id = ? AND created_at > ?",
                          {std::string(call.app_id), sdk::wall_clock_ms() - 3600 * 1000});
    if (!sent) return sent.error();
    if (sent->rows[0][0].as_int() >= max_per_hour_)
      return sdk::make_error(ErrorKind::unavailable, "rate_limited",
                             "email: this app sent " + std::to_string(max_per_hour_) +
                                 " messages in the last hour, its limit ([email] max_messages_per_app_per_hour)");
  }
  Prepared p;
  p.id = sdk::time_ordered_id();
  auto content = compose(*spec, p.id, id_domain_, sdk::wall_clock_ms() / 1000, limits_);
  if (!content) return content.error();
  p.content = std::move(*content);
  p.sender = spec->from.address;
  p.recipients = spec->recipients();
  return p;
}

sdk::Params Mailer::Prepared::row(std::string_view app_id, const char* status) const {
  sdk::Array list(recipients.begin(), recipients.end());
  return {id,
          std::string(app_id),
          sender,
          sdk::to_json(Value(std::move(list))),
          sdk::Bytes(content.begin(), content.end()),
          static_cast<std::int64_t>(content.size()),
          status,
          sdk::wall_clock_ms()};
}

Result<std::string> Mailer::send(const sdk::CallContext& call, const Value& message) {
  auto p = prepare(call, message);
  if (!p) return p.error();
  auto done = db_.transaction([&](sdk::Transaction& tx) -> Result<void> {
    auto r = tx.execute(kInsertMessage, p->row(call.app_id, "queued"));
    if (!r) return r.error();
    auto job = jobs_->enqueue(tx, call.app_id, kSendJob, Value::object({{"message", p->id}}));
    if (!job) return job.error();
    return {};
  });
  if (!done) return done.error();
  return p->id;
}

Result<std::string> Mailer::send_now(const sdk::CallContext& call, const Value& message) {
  auto p = prepare(call, message);
  if (!p) return p.error();
  auto stored = db_.execute(kInsertMessage, p->row(call.app_id, "sending"));
  if (!stored) return stored.error();
  // Within the run's time (outside a run: three command timeouts).
  const std::int64_t deadline =
      call.deadline_ms ? call.deadline_ms : sdk::monotonic_ms() + 3 * relay_->config().timeout_ms;
  Delivery d = relay_->deliver(p->sender, p->recipients, p->content, deadline);
  if (auto r = record(p->id, d, !d.ok); !r) return r.error();
  if (!d.ok)
    return sdk::make_error(d.final ? ErrorKind::invalid_argument : ErrorKind::unavailable,
                           d.final ? "rejected" : "relay_unavailable", "email: " + d.reply);
  return p->id;
}

Result<void> Mailer::record(const std::string& id, const Delivery& d, bool final) {
  const std::int64_t now = sdk::wall_clock_ms();
  const char* outcome = d.ok ? "sent" : final ? "failed" : "retry";
  return db_.transaction([&](sdk::Transaction& tx) -> Result<void> {
    auto n = tx.query("SELECT attempts FROM email_messages WHERE id = ?", {id});
    if (!n) return n.error();
    if (n->empty()) return {};  // its app was deleted meanwhile
    const std::int64_t attempt = n->rows[0][0].as_int() + 1;
    auto a = tx.execute("INSERT INTO email_attempts (message_id, attempt, at, outcome, reply) VALUES (?, ?, ?, ?, ?)",
                        {id, attempt, now, outcome, d.reply});
    if (!a) return a.error();
    auto u = tx.execute(
        "UPDATE email_messages SET attempts = ?, last_outcome = ?, status = ?, sent_at = ? WHERE id = ?",
        {attempt, d.reply, d.ok ? "sent" : final ? "failed" : "queued", d.ok ? Value(now) : Value(), id});
    if (!u) return u.error();
    return {};
  });
}

Result<void> Mailer::run_job(const sdk::Job& job) {
  const std::string id = job.payload["message"].string_or("");
  auto rows = db_.query("SELECT sender, recipients, content, status FROM email_messages WHERE id = ? AND app_id = ?",
                        {id, job.app_id});
  if (!rows) return rows.error();  // the database is down: tried again
  if (rows->empty())
    return sdk::make_error(ErrorKind::not_found, "message_gone", "message " + id + " is no longer stored (its app was deleted?)");
  const auto& row = rows->rows[0];
  // A replayed job of a message already sent sends nothing.
  if (row[3].string_or("") == "sent") return {};
  if (!relay_) {
    // Switched off since it was queued: the attempt is recorded like any.
    Delivery off{false, false, "email is not configured on this server"};
    if (auto r = record(id, off, job.attempt >= max_attempts_); !r) return r.error();
    return not_configured();
  }
  const std::vector<std::string> rcpts = recipients_from(row[1].as_string());
  const std::string content = row[2].is_bytes() ? text_of(row[2].as_bytes()) : row[2].string_or("");
  Delivery d = relay_->deliver(row[0].as_string(), rcpts, content, job.deadline_ms);
  const bool final = d.final || (!d.ok && job.attempt >= max_attempts_);
  if (auto r = record(id, d, final); !r) {
    if (log_) log_->warn("email: an attempt's outcome could not be recorded", {{"message", id}, {"error", r.error().message}});
  }
  if (d.ok) {
    if (log_) log_->info("email sent", {{"app", job.app_id}, {"message", id}, {"attempt", std::to_string(job.attempt)}});
    return {};
  }
  if (d.final) return sdk::make_error(ErrorKind::invalid_argument, "rejected", d.reply);
  return sdk::make_error(ErrorKind::unavailable, "relay_unavailable", d.reply);
}

Result<Value> Mailer::status(std::string_view app_id, const std::string& id) {
  auto rows = db_.query(
      "SELECT id, status, attempts, last_outcome, created_at, sent_at, size FROM email_messages WHERE app_id = ? AND id = ?",
      {std::string(app_id), id});
  if (!rows) return rows.error();
  if (rows->empty()) return Value();
  const auto& r = rows->rows[0];
  return Value::object({{"id", r[0]},
                        {"status", r[1]},
                        {"attempts", r[2]},
                        {"last_outcome", r[3]},
                        {"created_at", sdk::rfc3339(r[4].as_int())},
                        {"sent_at", r[5].is_null() ? Value() : Value(sdk::rfc3339(r[5].as_int()))},
                        {"size", r[6]}});
}

Result<std::int64_t> Mailer::sweep(sdk::Transaction& tx, std::int64_t cutoff_ms) {
  // Finished messages only: a queued one still waits for its job.
  auto a = tx.execute(
      "DELETE FROM email_attempts WHERE message_id IN (SELECT id FROM email_messages WHERE status IN ('sent', 'failed') "
      "AND created_at < ?)",
      {cutoff_ms});
  if (!a) return a.error();
  auto m = tx.execute("DELETE FROM email_messages WHERE status IN ('sent', 'failed') AND created_at < ?", {cutoff_ms});
  if (!m) return m.error();
  return *m;
}

Result<void> Mailer::delete_app(sdk::Transaction& tx, std::string_view app_id) {
  auto a = tx.execute("DELETE FROM email_attempts WHERE message_id IN (SELECT id FROM email_messages WHERE app_id = ?)",
                      {std::string(app_id)});
  if (!a) return a.error();
  auto m = tx.execute("DELETE FROM email_messages WHERE app_id = ?", {std::string(app_id)});
  if (!m) return m.error();
  return {};
}

}  // namespace picloud::email
