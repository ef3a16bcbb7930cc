// The email plugin: outbound mail for scripts (email::send, send_now,
// status) through the operator's SMTP relay, delivered by "email.send" jobs
// in the kernel's outbox (mailer.hpp), and inbound mail as the `email`
// trigger kind with its signed webhook (inbound_webhook.hpp). docs/email.md
// says it all.
//
// Config ([email], or PICLOUD_EMAIL_<KEY>):
//   smtp_host            the relay; empty: email is off (every send fails
//                        with not_configured; logged at start-up)
//   smtp_port            587 (465 is usual for implicit TLS)
//   smtp_tls             starttls (default) | implicit | none
//   smtp_user            AUTH PLAIN with this user when set (never over
//                        smtp_tls = none)
//   smtp_password        or smtp_password_file (a file holding it): like the
//                        database URL, from the environment or a file, never
//                        the config file's text in a repository
//   helo_name            the name PiCloud greets the relay with, and the
//                        Message-ID's domain (default: this host's name)
//   ca_file              a CA bundle trusted besides the system's
//   timeout_ms           per connection and command (30000; an attempt may
//                        take three times this in all)
//   max_messages_per_app_per_hour   an app's sends past this fail with
//                        rate_limited (1000; 0: no limit)
//   retention_days       sent and failed messages kept for email::status (7)
//   max_message_bytes    the whole message, attachments included (25 MiB)
//   max_recipients       to + cc + bcc (50)
//   allowed_from_domains comma-separated; empty: any From domain
//   retry_max_attempts   delivery attempts before a dead letter (8)
//   retry_base_ms        first retry delay, doubled each time (30000)
//   inbound_max_bytes    the largest message the inbound webhook takes (25 MiB)
//   inbound_tolerance_s  how far a webhook signature's time may be from now (300)
#include <unistd.h>

#include <fstream>
#include <memory>
#include <picloud/sdk.hpp>
#include <sstream>

#include "inbound_webhook.hpp"
#include "mailer.hpp"

namespace {

using namespace picloud;
using sdk::ErrorKind;
using sdk::Result;
using sdk::ScriptType;
using sdk::Value;

constexpr const char* kSendCapability = "email.send";

Result<void> config_error(const std::string& message) {
  return sdk::make_error(ErrorKind::invalid_argument, "[email] " + message);
}

class EmailPlugin final : public sdk::Plugin {
 public:
  Result<void> configure(sdk::PluginContext& ctx) override {
    auto& config = ctx.config();
    auto host = config.get_string("smtp_host", "");
    if (!host) return host.error();
    email::MessageLimits limits;
    auto max_bytes = config.get_int("max_message_bytes", 25 << 20, 1024, 100 << 20);
    auto max_rcpts = config.get_int("max_recipients", 50, 1, 1000);
    auto allowed = config.get_string("allowed_from_domains", "");
    auto attempts = config.get_int("retry_max_attempts", 8, 1, 100);
    auto base = config.get_int("retry_base_ms", 30000, 1, 3600000);
    auto timeout = config.get_int("timeout_ms", 30000, 100, 200000);
    auto per_hour = config.get_int("max_messages_per_app_per_hour", 1000, 0, 10000000);
    auto retention = config.get_int("retention_days", 7, 1, 3650);
    for (auto* r : {&max_bytes, &max_rcpts, &attempts, &base, &timeout, &per_hour, &retention})
      if (!*r) return r->error();
    if (!allowed) return allowed.error();
    limits.max_message_bytes = static_cast<std::size_t>(*max_bytes);
    limits.max_recipients = static_cast<std::size_t>(*max_rcpts);
    for (auto& domain : sdk::split_list(*allowed)) {
      for (auto& c : domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      limits.allowed_from_domains.push_back(std::move(domain));
    }

    // Read and checked even while off, so a typo is found before it matters.
    auto made = relay_config(ctx, *host, *timeout);
    if (!made) return made.error();
    const std::string helo_name = made->helo;
    std::unique_ptr<email::SmtpRelay> relay;
    if (!host->empty()) {
      relay = std::make_unique<email::SmtpRelay>(std::move(*made));
      if (auto r = relay->check(); !r) return r;
    } else {
      ctx.logger().info("email is off: [email] smtp_host is not set; scripts' sends fail with not_configured");
    }
    if (auto r = ctx.add_capability({kSendCapability, sdk::Access::app_editor, "app:write", "send email from an app's scripts"});
        !r)
      return r;
    mailer_ = std::make_unique<email::Mailer>(ctx.database(), ctx.jobs(), std::move(relay), std::move(limits),
                                              helo_name, static_cast<int>(*attempts), *per_hour, &ctx.logger());
    retention_days_ = *retention;
    if (!ctx.jobs()) return sdk::make_error(ErrorKind::unavailable, "email needs the kernel's jobs (ABI 2.0)");
    if (auto r = ctx.jobs()->declare({email::kSendJob, "delivers a queued message to the SMTP relay",
                                      // One attempt: a few commands' waits (relay.deliver
                                      // keeps within it).
                                      {.timeout_ms = 3 * *timeout, .max_attempts = static_cast<int>(*attempts),
                                       .retry_base_ms = *base},
                                      [this](const sdk::Job& job) { return mailer_->run_job(job); }});
        !r)
      return r;
    if (auto r = ctx.on_app_deleted([this](sdk::Transaction& tx, std::string_view app) { return mailer_->delete_app(tx, app); });
        !r)
      return r;
    email::InboundSettings inbound;
    auto inbound_max = config.get_int("inbound_max_bytes", 25 << 20, 1024, 100 << 20);
    auto tolerance = config.get_int("inbound_tolerance_s", 300, 10, 86400);
    if (!inbound_max) return inbound_max.error();
    if (!tolerance) return tolerance.error();
    inbound.max_bytes = *inbound_max;
    inbound.tolerance_s = *tolerance;
    inbound_ = std::make_unique<email::InboundWebhook>(inbound);
    if (auto r = inbound_->declare(ctx); !r) return r;
    return declare_script_api(*ctx.script_api(), *ctx.access());
  }

  Result<void> start(sdk::PluginContext& ctx) override {
    inbound_->start(ctx);
    if (mailer_->configured()) ctx.tasks().every("close-idle", 10000, [this] { mailer_->close_idle(); });
    // Sent and failed messages are kept retention_days for email::status,
    // then deleted (queued ones stay until their job ends).
    ctx.tasks().every_on_one_node("sweep", 3600 * 1000, [this](sdk::Transaction& tx) -> Result<void> {
      auto n = mailer_->sweep(tx, sdk::wall_clock_ms() - retention_days_ * 24 * 3600 * 1000);
      if (!n) return n.error();
      return {};
    });
    return {};
  }
  void stop() override {}

 private:
  Result<email::RelayConfig> relay_config(sdk::PluginContext& ctx, const std::string& host, std::int64_t timeout) {
    auto& config = ctx.config();
    email::RelayConfig rc;
    rc.host = host;
    rc.timeout_ms = timeout;
    auto tls = config.get_string("smtp_tls", "starttls");
    if (!tls) return tls.error();
    if (*tls == "starttls") rc.tls = email::RelayTls::starttls;
    else if (*tls == "implicit") rc.tls = email::RelayTls::implicit;
    else if (*tls == "none") rc.tls = email::RelayTls::none;
    else return config_error("smtp_tls must be starttls, implicit or none, not '" + *tls + "'").error();
    auto port = config.get_int("smtp_port", rc.tls == email::RelayTls::implicit ? 465 : 587, 1, 65535);
    if (!port) return port.error();
    rc.port = static_cast<int>(*port);
    auto user = config.get_string("smtp_user", "");
    auto password = config.get_string("smtp_password", "");
    auto password_file = config.get_string("smtp_password_file", "");
    auto ca = config.get_string("ca_file", "");
    auto helo = config.get_string("helo_name", "");
    for (auto* r : {&user, &password, &password_file, &ca, &helo})
      if (!*r) return r->error();
    rc.user = *user;
    rc.password = *password;
    if (!password_file->empty()) {
      if (!password->empty()) return config_error("set smtp_password or smtp_password_file, not both").error();
      std::ifstream in(*password_file);
      if (!in) return config_error("smtp_password_file " + *password_file + " cannot be read").error();
      std::getline(in, rc.password);
    }
    if (!rc.user.empty() && rc.password.empty()) return config_error("smtp_user is set but no password").error();
    if (!rc.user.empty() && rc.tls == email::RelayTls::none)
      return config_error("smtp_user needs TLS (smtp_tls = starttls or implicit): a password is never sent in plain text")
          .error();
    rc.ca_file = *ca;
    if (!rc.ca_file.empty() && ::access(rc.ca_file.c_str(), R_OK) != 0)
      return config_error("ca_file " + rc.ca_file + " cannot be read").error();
    rc.helo = *helo;
    if (rc.helo.empty()) {
      char name[256] = {};
      rc.helo = ::gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "localhost";
    }
    if (!email::valid_address("postmaster@" + rc.helo)) return config_error("helo_name '" + rc.helo + "' is not a host name").error();
    rc.tls_module = std::string(ctx.install_dir()) + "/email/tls.so";
    return rc;
  }

  Result<void> declare_script_api(sdk::ScriptApi& api, sdk::AccessControl& access) {
    auto* mailer = mailer_.get();
    auto* acl = &access;
    auto add = [&](std::string name, ScriptType param_type, std::string param, ScriptType result, bool capability,
                   std::string doc, std::function<Result<Value>(const sdk::CallContext&, const Value&)> body) {
      return api.add_function({"email", std::move(name), {{std::move(param), param_type}}, result, "",
                               [acl, capability, body = std::move(body)](const sdk::CallContext& call,
                                                                         std::span<const Value> args) -> Result<Value> {
                                 if (capability)
                                   if (auto ok = acl->require(call, kSendCapability); !ok) return ok.error();
                                 return body(call, args[0]);
                               },
                               std::move(doc)});
    };
    if (auto r = add("send", ScriptType::json, "message", ScriptType::string, true,
                     "Queues a message (from, to, cc, bcc, reply_to, subject, text and/or html, headers, attachments) "
                     "for delivery with retries; returns its id.",
                     [mailer](const sdk::CallContext& call, const Value& m) -> Result<Value> {
                       auto id = mailer->send(call, m);
                       if (!id) return id.error();
                       return Value(std::move(*id));
                     });
        !r)
      return r;
    if (auto r = add("send_now", ScriptType::json, "message", ScriptType::string, true,
                     "Delivers a message to the relay before returning (within the run's time); returns its id or "
                     "throws the relay's refusal.",
                     [mailer](const sdk::CallContext& call, const Value& m) -> Result<Value> {
                       auto id = mailer->send_now(call, m);
                       if (!id) return id.error();
                       return Value(std::move(*id));
                     });
        !r)
      return r;
    return add("status", ScriptType::string, "id", ScriptType::json, false,
               "How a message of this app stands: {id, status (queued, sending, sent, failed), attempts, "
               "last_outcome, created_at, sent_at, size}; null when there is none.",
               [mailer](const sdk::CallContext& call, const Value& id) -> Result<Value> {
                 return mailer->status(call.app_id, id.string_or(""));
               });
  }

  std::unique_ptr<email::Mailer> mailer_;
  std::unique_ptr<email::InboundWebhook> inbound_;
  std::int64_t retention_days_ = 7;
};

}  // namespace

PICLOUD_PLUGIN(EmailPlugin, "email", "0.1.0", "", "")
