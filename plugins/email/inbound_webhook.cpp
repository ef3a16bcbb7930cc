#include "inbound_webhook.hpp"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdio>

namespace picloud::email {
namespace {

using sdk::ErrorKind;
using sdk::HttpResponse;
using sdk::Result;
using sdk::Value;

constexpr const char* kKind = "email";

std::string secret_name(std::string_view trigger) { return "inbound:" + std::string(trigger); }

HttpResponse answer(int status, const std::string& code, const std::string& message) {
  return HttpResponse::json(status, sdk::to_json(Value::object({{"error", Value::object({{"code", code}, {"message", message}})}})));
}

std::string hex(const unsigned char* data, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string mac(const std::string& secret, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return hex(out, len);
}

// "t=<digits>,v1=<hex>" in any order; false when either is missing.
bool parse_signature(std::string_view header, std::int64_t& timestamp, std::string& v1) {
  bool have_t = false;
  std::size_t at = 0;
  while (at <= header.size()) {
    auto end = header.find(',', at);
    if (end == std::string_view::npos) end = header.size();
    std::string_view part = header.substr(at, end - at);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.rfind("t=", 0) == 0) {
      auto [p, ec] = std::from_chars(part.data() + 2, part.data() + part.size(), timestamp);
      have_t = ec == std::errc() && p == part.data() + part.size();
    } else if (part.rfind("v1=", 0) == 0) {
      v1 = std::string(part.substr(3));
    }
    at = end + 1;
  }
  return have_t && !v1.empty();
}

}  // namespace

std::string InboundWebhook::signature(const std::string& secret, std::int64_t timestamp, const std::string& body) {
  return "t=" + std::to_string(timestamp) + ",v1=" + mac(secret, std::to_string(timestamp) + "." + body);
}

Result<void> InboundWebhook::declare(sdk::PluginContext& ctx) {
  ctx_ = &ctx;
  sdk::TriggerKind kind{
      kKind,
      "runs a script for each message the app receives through the kind's webhook",
      {"received"},
      [](const Value& filter) -> Result<Value> {
        if (!filter.is_null() && !(filter.is_object() && filter.as_object().empty()))
          return sdk::make_error(ErrorKind::invalid_argument,
                                 "an email trigger takes no filter: it runs for every message its webhook receives");
        return Value(sdk::Object{});
      },
      [](const Value&, const sdk::Event&) { return true; },
      {{"from", "the sender, as the message gives it"},
       {"to", "the recipients (a list)"},
       {"cc", "the copied recipients (a list)"},
       {"subject", "the subject, decoded"},
       {"text", "the plain text body"},
       {"html", "the HTML body"},
       {"message_id", "the Message-ID header"},
       {"headers", "every header, by lower-case name (the first of each)"},
       {"attachments", "[{name, type, size, content_base64}]"}},
      [this](sdk::Transaction& tx, std::string_view app, std::string_view trigger, const Value&) {
        return created(tx, app, trigger);
      },
      [this](sdk::Transaction& tx, std::string_view app, std::string_view trigger) -> Result<void> {
        if (!keyring_) return sdk::make_error(ErrorKind::unavailable, "the keyring is not available");
        auto r = keyring_->remove(&tx, app, secret_name(trigger));
        if (!r) return r.error();
        return {};
      }};
  // No filter: the form has no fields (the webhook's URL and secret come
  // in the creation's answer).
  kind.filter_schema = Value::object({{"type", "object"}, {"properties", Value::object()}});
  if (auto r = ctx.trigger_kinds()->declare(std::move(kind)); !r) return r;
  sdk::HttpRoute route{"POST", "/inbound/{trigger}", std::string(sdk::kPublic),
                       [this](const sdk::HttpRequest& req) { return handle(req); }};
  // App-host routes read bodies as apps' routes do, up to [server]
  // max_body_bytes; the handler applies the lower inbound limit.
  route.hosts = sdk::RouteHosts::apps;
  return ctx.add_route(std::move(route));
}

void InboundWebhook::start(sdk::PluginContext& ctx) {
  keyring_ = ctx.keyring();
  events_ = ctx.events();
}

Result<Value> InboundWebhook::created(sdk::Transaction& tx, std::string_view app, std::string_view trigger) {
  if (!keyring_) return sdk::make_error(ErrorKind::unavailable, "the keyring is not available");
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return sdk::make_error(ErrorKind::internal, "no random bytes for the secret");
  const std::string secret = "whsec_" + hex(raw, sizeof raw);
  if (auto r = keyring_->put(&tx, app, secret_name(trigger), secret); !r) return r.error();
  const std::string path = std::string(sdk::kPluginRoutePrefix) + "email/inbound/" + std::string(trigger);
  sdk::Array urls;
  if (auto info = ctx_->find_app(app))
    for (const auto& host : info->hostnames) urls.emplace_back("https://" + host + path);
  return Value::object({{"webhook_path", path},
                        {"webhook_urls", Value(std::move(urls))},
                        {"signing_secret", secret},
                        {"signature_header", "X-PiCloud-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" "
                                             "with the signing secret>"},
                        {"content_types", Value::array({"application/json", "message/rfc822"})}});
}

HttpResponse InboundWebhook::handle(const sdk::HttpRequest& req) {
  const std::string trigger = req.params.count("trigger") ? req.params.at("trigger") : "";
  if (req.app_id.empty() || !keyring_ || !events_) return answer(404, "not_found", "no email trigger here");
  auto secret = keyring_->get(nullptr, req.app_id, secret_name(trigger));
  if (!secret) return answer(503, "unavailable", "the webhook cannot read its secret now; try again");
  if (!*secret) return answer(404, "not_found", "no email trigger '" + trigger + "' on this app");
  if (static_cast<std::int64_t>(req.body.size()) > settings_.max_bytes)
    return answer(413, "too_large", "the message is larger than " + std::to_string(settings_.max_bytes) +
                                        " bytes ([email] inbound_max_bytes)");

  std::int64_t timestamp = 0;
  std::string given;
  if (!parse_signature(req.header("x-picloud-signature"), timestamp, given))
    return answer(401, "signature_missing", "X-PiCloud-Signature: t=<unix seconds>,v1=<hex> is required");
  const std::int64_t now = sdk::wall_clock_ms() / 1000;
  if (timestamp < now - settings_.tolerance_s || timestamp > now + settings_.tolerance_s)
    return answer(401, "signature_expired", "the signature's timestamp is more than " +
                                                std::to_string(settings_.tolerance_s) + " s from now (a replay?)");
  const std::string expected = mac(**secret, std::to_string(timestamp) + "." + req.body);
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0)
    return answer(401, "signature_invalid", "the signature does not match the body");

  std::string type(req.header("content-type"));
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Result<Value> message = sdk::make_error(ErrorKind::invalid_argument, "");
  if (type == "application/json") {
    auto body = sdk::parse_json(req.body, 32, sdk::JsonStrictness::request);
    if (!body) return answer(422, "malformed_message", body.error().message);
    message = read_inbound_json(*body, settings_.limits);
  } else if (type == "message/rfc822") {
    message = read_inbound_mime(req.body, settings_.limits);
  } else {
    return answer(415, "unsupported_media_type", "send application/json or message/rfc822, not '" + type + "'");
  }
  if (!message) return answer(422, message.error().code.empty() ? "malformed_message" : message.error().code, message.error().message);

  int matched = 0;
  auto queued = ctx_->database().transaction([&](sdk::Transaction& tx) -> Result<void> {
    sdk::CallContext call;
    call.app_id = req.app_id;
    auto n = events_->emit(tx, call, {kKind, "received", std::move(*message), trigger});
    if (!n) return n.error();
    matched = *n;
    return {};
  });
  if (!queued) return answer(503, "unavailable", "the message could not be queued: " + queued.error().message);
  if (matched == 0) return answer(404, "not_found", "email trigger '" + trigger + "' is disabled or gone");
  return HttpResponse::json(202, sdk::to_json(Value::object({{"accepted", true}})));
}

}  // namespace picloud::email
