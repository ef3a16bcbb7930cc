// Outbound mail: a script's message is checked and composed at once, kept in
// email_messages, and delivered by an "email.send" job through the kernel's
// outbox — queued in the same transaction as the message, so a message is
// never lost and a slow or down relay never holds a script up. Each attempt's
// SMTP outcome is recorded; a retry sends the same bytes (same Message-ID).
// send_now delivers at once, bounded by the run's time, for a script that
// must know the relay's answer.
#pragma once

#include <memory>
#include <string>

#include <picloud/sdk.hpp>

#include "message.hpp"
#include "smtp_relay.hpp"

namespace picloud::email {

inline constexpr const char* kSendJob = "email.send";

class Mailer {
 public:
  // relay null: not configured; every send fails with "not_configured".
  Mailer(sdk::Database& db, sdk::Jobs* jobs, std::unique_ptr<SmtpRelay> relay, MessageLimits limits,
         std::string id_domain, int max_attempts, std::int64_t max_per_hour, sdk::Logger* log);

  // Queues the message; returns its id. Past the app's hourly limit:
  // unavailable, "rate_limited".
  sdk::Result<std::string> send(const sdk::CallContext& call, const sdk::Value& message);
  // Delivers the message before returning (within the run's time); returns
  // its id, or the relay's refusal.
  sdk::Result<std::string> send_now(const sdk::CallContext& call, const sdk::Value& message);
  // {id, status, attempts, last_outcome, created_at, sent_at} of the app's
  // message, or null.
  sdk::Result<sdk::Value> status(std::string_view app_id, const std::string& id);
  // One attempt of an email.send job.
  sdk::Result<void> run_job(const sdk::Job& job);
  sdk::Result<void> delete_app(sdk::Transaction& tx, std::string_view app_id);
  // Deletes messages sent or failed before `cutoff_ms`, with their attempts.
  sdk::Result<std::int64_t> sweep(sdk::Transaction& tx, std::int64_t cutoff_ms);
  void close_idle() {
    if (relay_) relay_->close_idle();
  }
  bool configured() const { return relay_ != nullptr; }

 private:
  struct Prepared {
    std::string id, sender, content;
    std::vector<std::string> recipients;
    // The email_messages row (kInsertMessage's parameters).
    sdk::Params row(std::string_view app_id, const char* status) const;
  };
  sdk::Result<Prepared> prepare(const sdk::CallContext& call, const sdk::Value& message);
  // Records an attempt's outcome on the message; `final` marks it failed.
  sdk::Result<void> record(const std::string& id, const Delivery& d, bool final);

  sdk::Database& db_;
  sdk::Jobs* jobs_;
  std::unique_ptr<SmtpRelay> relay_;
  MessageLimits limits_;
  std::string id_domain_;
  int max_attempts_;
  std::int64_t max_per_hour_;  // 0: no limit
  sdk::Logger* log_;
};

}  // namespace picloud::email
