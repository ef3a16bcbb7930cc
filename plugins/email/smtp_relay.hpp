// The operator's SMTP relay, reached through Poco's SMTP client: plain,
// STARTTLS or implicit TLS (TLS in its own module, loaded on first use),
// AUTH when a user is configured, and connections kept for the next
// message (checked with RSET before reuse, closed after idle_ms).
//
// deliver() reports what happened instead of failing: the relay's reply, and
// whether it was final (5xx) or may work later (4xx, a timeout, a refused
// connection, a broken TLS handshake). A delivery whose outcome is unknown
// (the connection broke after the message was sent) counts as "may work
// later": the message goes again with the same Message-ID.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <picloud/sdk/error.hpp>

#include "tls_module.hpp"

namespace picloud::email {

class RelaySession;  // Poco's SMTP session, with its socket reachable (STARTTLS)

enum class RelayTls { none, starttls, implicit };

struct RelayConfig {
  std::string host;
  int port = 587;
  RelayTls tls = RelayTls::starttls;
  std::string user, password;  // AUTH PLAIN when user is set
  std::string helo;            // the name this server greets with
  std::string ca_file;         // trusted besides the system's store
  std::string tls_module;      // <plugin dir>/email/tls.so
  std::int64_t timeout_ms = 30000;  // per connection and per command
  std::int64_t idle_ms = 30000;     // an unused connection is closed after this
  std::size_t max_idle = 4;
};

struct Delivery {
  bool ok = false;
  bool final = false;  // refused for good (5xx); else it may work later
  std::string reply;   // the relay's last reply, or why it could not be reached
};

class SmtpRelay {
 public:
  explicit SmtpRelay(RelayConfig config);
  ~SmtpRelay();

  // Start-up checks: the TLS module's file is there when TLS is used.
  sdk::Result<void> check() const;
  // Sends `content` (a whole RFC 5322 message, CRLF line ends) from `sender`
  // to `recipients`, ending by `deadline_ms` (sdk::monotonic_ms()): every
  // command waits at most timeout_ms and never past the deadline, so an
  // attempt cannot outlive the job's lease however slow the relay is.
  Delivery deliver(const std::string& sender, const std::vector<std::string>& recipients, const std::string& content,
                   std::int64_t deadline_ms);
  // Closes connections idle longer than idle_ms.
  void close_idle();
  const RelayConfig& config() const { return config_; }

 private:
  struct Idle;
  std::unique_ptr<RelaySession> take_idle(std::int64_t deadline_ms);
  std::unique_ptr<RelaySession> connect(std::int64_t deadline_ms, std::string& failure);
  // The wait for the next command: timeout_ms, cut to what the deadline leaves.
  std::int64_t wait_ms(std::int64_t deadline_ms) const;
  std::string secure(Poco::Net::StreamSocket& socket, Poco::Net::StreamSocket& secured);

  const RelayConfig config_;
  std::mutex mutex_;
  std::vector<Idle> idle_;
  TlsSecureFn tls_ = nullptr;
};

}  // namespace picloud::email
