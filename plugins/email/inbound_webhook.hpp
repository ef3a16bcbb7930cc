// Inbound mail: the `email` trigger kind and its webhook. Creating an email
// trigger makes a signing secret (sealed by the keyring, shown once in the
// creation's "setup" with the webhook's URL); a provider (Postmark,
// SendGrid, Mailgun, SES through a small relay) POSTs each received message
// to
//
//   POST https://<app host>/_picloud/email/inbound/<trigger>
//   X-PiCloud-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// as JSON or as message/rfc822 (inbound_message.hpp). The webhook checks the
// signature in constant time and the timestamp against a tolerance (a
// replay outside it is refused), reads the message, and queues the event
// for that trigger alone through the outbox (with the trigger's retries and
// dead letters): 202, or 401 (signature missing, wrong or expired), 404 (no
// such email trigger on this app's host, or disabled), 413 (too large),
// 415 (another content type), 422 (unreadable message).
#pragma once

#include <cstdint>
#include <string>

#include <picloud/sdk.hpp>

#include "inbound_message.hpp"

namespace picloud::email {

struct InboundSettings {
  std::int64_t max_bytes = 25 << 20;      // a request's body
  std::int64_t tolerance_s = 300;         // how far the timestamp may be from now
  InboundLimits limits;
};

class InboundWebhook {
 public:
  explicit InboundWebhook(InboundSettings settings) : settings_(settings) {}

  // In configure(): the trigger kind and the route.
  sdk::Result<void> declare(sdk::PluginContext& ctx);
  // In start(): what the webhook needs at run time.
  void start(sdk::PluginContext& ctx);

  sdk::HttpResponse handle(const sdk::HttpRequest& request);

  // "t=<ts>,v1=<hex>" for `body` at `timestamp` with `secret` (for tests and
  // the docs' senders).
  static std::string signature(const std::string& secret, std::int64_t timestamp, const std::string& body);

 private:
  sdk::Result<sdk::Value> created(sdk::Transaction& tx, std::string_view app, std::string_view trigger);

  InboundSettings settings_;
  sdk::PluginContext* ctx_ = nullptr;
  sdk::Keyring* keyring_ = nullptr;
  sdk::EventSink* events_ = nullptr;
};

}  // namespace picloud::email
