#include "tokens.hpp"

#include <algorithm>

namespace picloud::realtime {
namespace {

using sdk::ErrorKind;
using sdk::Value;

constexpr std::string_view kDomain = "rt1.";  // what the signature covers starts with this
constexpr std::size_t kMaxToken = 8192;

sdk::Error bad(std::string why) { return sdk::make_error(ErrorKind::invalid_argument, "invalid_token", std::move(why)); }

}  // namespace

sdk::Result<std::string> Tokens::mint(std::string_view app_id, const std::vector<std::string>& topics, std::int64_t ttl_s,
                                      std::int64_t now_s) const {
  if (topics.empty()) return sdk::make_error(ErrorKind::invalid_argument, "a token names at least one topic");
  if (topics.size() > limits_.max_topics)
    return sdk::make_error(ErrorKind::invalid_argument,
                           "a token names at most " + std::to_string(limits_.max_topics) + " topics");
  ttl_s = std::clamp(ttl_s, limits_.min_ttl_s, limits_.max_ttl_s);
  sdk::Array names;
  for (const auto& t : topics) names.push_back(t);
  const std::string payload = sdk::base64url_encode(sdk::to_json(Value::object(
      {{"app", std::string(app_id)}, {"topics", Value(std::move(names))}, {"iat", now_s}, {"exp", now_s + ttl_s}})));
  auto signature = keyring_.sign(app_id, std::string(kDomain) + payload);
  if (!signature) return signature.error();
  return payload + "." + sdk::base64url_encode(*signature);
}

sdk::Result<TokenGrant> Tokens::verify(std::string_view app_id, std::string_view token, std::int64_t now_s) const {
  if (token.empty() || token.size() > kMaxToken) return bad("the token is empty or too long");
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return bad("the token is malformed");
  const std::string_view payload_part = token.substr(0, dot);
  auto signature = sdk::base64url_decode(token.substr(dot + 1));
  if (!signature) return bad("the token is malformed");
  // The signature first: nothing of an unsigned payload is read.
  if (!keyring_.verify(app_id, std::string(kDomain) + std::string(payload_part), *signature))
    return bad("the token's signature does not hold for this app");
  auto text = sdk::base64url_decode(payload_part);
  if (!text) return bad("the token is malformed");
  auto payload = sdk::parse_json(*text);
  if (!payload || !payload->is_object()) return bad("the token is malformed");
  const Value& p = *payload;
  if (p["app"].string_or("") != app_id) return bad("the token was made for another app");
  TokenGrant grant;
  grant.expires_at_s = p["exp"].int_or(0);
  if (grant.expires_at_s <= now_s) return sdk::make_error(ErrorKind::invalid_argument, "token_expired", "the token has expired");
  if (!p["topics"].is_array()) return bad("the token is malformed");
  for (const auto& t : p["topics"].as_array()) grant.topics.push_back(t.string_or(""));
  return grant;
}

}  // namespace picloud::realtime
