#include "smtp_relay.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <algorithm>
#include <sstream>

#include <picloud/sdk/script.hpp>

namespace picloud::email {

using Poco::Net::SMTPClientSession;

class RelaySession : public SMTPClientSession {
 public:
  using SMTPClientSession::SMTPClientSession;
  using SMTPClientSession::isPositiveCompletion;
  using SMTPClientSession::isPositiveIntermediate;
  // STARTTLS swaps the dialog's socket for the secured one.
  Poco::Net::DialogSocket& dialog() { return socket(); }
};

struct SmtpRelay::Idle {
  std::unique_ptr<RelaySession> session;
  std::int64_t since_ms = 0;
};

namespace {

Poco::Timespan span(std::int64_t ms) { return Poco::Timespan(std::max<std::int64_t>(ms, 1) * 1000); }

void close_quietly(std::unique_ptr<RelaySession>& s) {
  if (!s) return;
  try {
    s->close();  // QUIT
  } catch (...) {
  }
  s.reset();
}

}  // namespace

SmtpRelay::SmtpRelay(RelayConfig config) : config_(std::move(config)) {}

SmtpRelay::~SmtpRelay() {
  std::lock_guard lock(mutex_);
  for (auto& i : idle_) close_quietly(i.session);
}

sdk::Result<void> SmtpRelay::check() const {
  if (config_.tls != RelayTls::none && ::access(config_.tls_module.c_str(), R_OK) != 0)
    return sdk::make_error(sdk::ErrorKind::unavailable,
                           "email: the TLS module " + config_.tls_module + " is missing (reinstall PiCloud)");
  return {};
}

std::string SmtpRelay::secure(Poco::Net::StreamSocket& socket, Poco::Net::StreamSocket& secured) {
  {
    std::lock_guard lock(mutex_);
    if (!tls_) {
      void* module = ::dlopen(config_.tls_module.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!module) return std::string("the TLS module could not be loaded: ") + ::dlerror();
      tls_ = reinterpret_cast<TlsSecureFn>(::dlsym(module, kTlsSecureSymbol));
      if (!tls_) return "the TLS module has no entry point";
    }
  }
  return tls_(socket, config_.host, config_.ca_file, secured);
}

std::int64_t SmtpRelay::wait_ms(std::int64_t deadline_ms) const {
  return std::min(config_.timeout_ms, deadline_ms - sdk::monotonic_ms());
}

std::unique_ptr<RelaySession> SmtpRelay::take_idle(std::int64_t deadline_ms) {
  for (;;) {
    Idle idle;
    {
      std::lock_guard lock(mutex_);
      if (idle_.empty()) return nullptr;
      idle = std::move(idle_.back());
      idle_.pop_back();
    }
    const std::int64_t wait = std::min<std::int64_t>(wait_ms(deadline_ms), 5000);
    if (sdk::monotonic_ms() - idle.since_ms > config_.idle_ms || wait < 1) {
      close_quietly(idle.session);
      continue;
    }
    try {
      // The relay may have dropped it meanwhile: RSET answers 250 when not.
      idle.session->setTimeout(span(wait));
      std::string response;
      if (RelaySession::isPositiveCompletion(idle.session->sendCommand("RSET", response))) return std::move(idle.session);
    } catch (...) {
    }
    close_quietly(idle.session);
  }
}

namespace {
struct OutOfTime {};
}  // namespace

std::unique_ptr<RelaySession> SmtpRelay::connect(std::int64_t deadline_ms, std::string& failure) {
  auto left = [&] {
    std::int64_t w = wait_ms(deadline_ms);
    if (w < 1) throw OutOfTime{};
    return w;
  };
  try {
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress(config_.host, static_cast<Poco::UInt16>(config_.port)), span(left()));
    socket.setReceiveTimeout(span(left()));
    socket.setSendTimeout(span(left()));
    std::unique_ptr<RelaySession> smtp;
    if (config_.tls == RelayTls::implicit) {
      Poco::Net::StreamSocket secured;
      if (auto e = secure(socket, secured); !e.empty()) {
        failure = e;
        return nullptr;
      }
      smtp = std::make_unique<RelaySession>(secured);
    } else {
      smtp = std::make_unique<RelaySession>(socket);
    }
    smtp->setTimeout(span(left()));
    if (config_.tls == RelayTls::starttls) {
      smtp->login(config_.helo);
      std::string response;
      smtp->setTimeout(span(left()));
      int status = smtp->sendCommand("STARTTLS", response);
      if (status != 220) {
        failure = "the relay refused STARTTLS: " + response;
        close_quietly(smtp);
        return nullptr;
      }
      Poco::Net::StreamSocket plain(smtp->dialog());
      plain.setReceiveTimeout(span(left()));
      plain.setSendTimeout(span(left()));
      Poco::Net::StreamSocket secured;
      if (auto e = secure(plain, secured); !e.empty()) {
        failure = e;
        return nullptr;
      }
      smtp->dialog() = secured;
    }
    smtp->setTimeout(span(left()));
    if (config_.user.empty())
      smtp->login(config_.helo);
    else
      smtp->login(config_.helo, SMTPClientSession::AUTH_PLAIN, config_.user, config_.password);
    return smtp;
  } catch (const OutOfTime&) {
    failure = "the relay took longer than the attempt's time";
  } catch (const Poco::Net::SMTPException& e) {
    failure = "the relay refused the session: " + e.displayText();
  } catch (const Poco::TimeoutException&) {
    failure = "the relay did not answer in time";
  } catch (const Poco::Exception& e) {
    failure = "the relay could not be reached: " + e.displayText();
  } catch (const std::exception& e) {
    failure = std::string("the relay could not be reached: ") + e.what();
  }
  return nullptr;
}

Delivery SmtpRelay::deliver(const std::string& sender, const std::vector<std::string>& recipients,
                            const std::string& content, std::int64_t deadline_ms) {
  Delivery d;
  auto smtp = take_idle(deadline_ms);
  if (!smtp) {
    smtp = connect(deadline_ms, d.reply);
    if (!smtp) return d;
  }
  // One command at a time, each bounded by what the deadline leaves.
  auto command = [&](const std::string& line) {
    std::int64_t w = wait_ms(deadline_ms);
    if (w < 1) throw OutOfTime{};
    smtp->setTimeout(span(w));
    std::string response;
    int status = smtp->sendCommand(line, response);
    if (!RelaySession::isPositiveCompletion(status) && !RelaySession::isPositiveIntermediate(status))
      throw Poco::Net::SMTPException(line.substr(0, line.find(':')) + " refused", response, status);
  };
  bool sent_body = false;
  try {
    command("MAIL FROM:<" + sender + ">");
    for (const auto& r : recipients) command("RCPT TO:<" + r + ">");
    command("DATA");
    std::int64_t w = wait_ms(deadline_ms);
    if (w < 1) throw OutOfTime{};
    smtp->setTimeout(span(w));
    std::istringstream body(content);
    sent_body = true;
    smtp->sendMessage(body);
    d.ok = true;
    d.reply = "250 accepted";
  } catch (const Poco::Net::SMTPException& e) {
    d.final = e.code() >= 500 && e.code() < 600;
    d.reply = e.displayText();
    // The session stays usable after a refusal; RSET checks it on reuse.
  } catch (const OutOfTime&) {
    d.reply = sent_body ? "the relay took longer than the attempt's time (the message may or may not have been taken)"
                        : "the relay took longer than the attempt's time";
    close_quietly(smtp);
  } catch (const Poco::TimeoutException&) {
    d.reply = sent_body ? "the relay did not answer in time (the message may or may not have been taken)"
                        : "the relay did not answer in time";
    close_quietly(smtp);
  } catch (const Poco::Exception& e) {
    d.reply = "the connection to the relay broke: " + e.displayText();
    close_quietly(smtp);
  }
  if (smtp) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < config_.max_idle)
      idle_.push_back(Idle{std::move(smtp), sdk::monotonic_ms()});
    else
      close_quietly(smtp);
  }
  return d;
}

void SmtpRelay::close_idle() {
  std::vector<Idle> stale;
  {
    std::lock_guard lock(mutex_);
    const std::int64_t now = sdk::monotonic_ms();
    auto keep = std::partition(idle_.begin(), idle_.end(), [&](const Idle& i) { return now - i.since_ms <= config_.idle_ms; });
    std::move(keep, idle_.end(), std::back_inserter(stale));
    idle_.erase(keep, idle_.end());
  }
  for (auto& i : stale) close_quietly(i.session);
}

}  // namespace picloud::email
