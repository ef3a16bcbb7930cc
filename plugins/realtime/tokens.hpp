// Subscriber tokens: what a script gives a browser so it may subscribe to
// some of the app's token-mode topics until a time.
//
//   <base64url(payload)>.<base64url(signature)>
//   payload   {"app": "<app id>", "topics": ["a", "b"], "iat": <unix s>, "exp": <unix s>}
//   signature the keyring's HMAC-SHA256 for this plugin and the app over
//             "rt1." + the payload part (the key's id comes first, so the
//             master key can rotate and old tokens still verify)
//
// Nothing is stored: a token is good until it expires (TTLs are short), or
// until the key that signed it leaves the key file and the nodes restart
// (docs/realtime.md).
#pragma once

#include <cstdint>
#include <picloud/sdk.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace picloud::realtime {

struct TokenLimits {
  std::int64_t min_ttl_s = 10;
  std::int64_t max_ttl_s = 86400;
  std::size_t max_topics = 100;
};

struct TokenGrant {
  std::vector<std::string> topics;
  std::int64_t expires_at_s = 0;
};

class Tokens {
 public:
  Tokens(sdk::Keyring& keyring, TokenLimits limits) : keyring_(keyring), limits_(limits) {}
  // ttl_s is clamped into [min_ttl_s, max_ttl_s].
  sdk::Result<std::string> mint(std::string_view app_id, const std::vector<std::string>& topics, std::int64_t ttl_s,
                                std::int64_t now_s) const;
  // The grant of a token made for `app_id`; invalid_argument saying why
  // not (malformed, not this app's, expired) otherwise.
  sdk::Result<TokenGrant> verify(std::string_view app_id, std::string_view token, std::int64_t now_s) const;
  const TokenLimits& limits() const { return limits_; }

 private:
  sdk::Keyring& keyring_;
  TokenLimits limits_;
};

}  // namespace picloud::realtime
