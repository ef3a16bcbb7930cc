#include "secrets_store.hpp"

#include <algorithm>

#include "picloud/sdk/json.hpp"
#include "picloud/sdk/json_parse.hpp"

namespace picloud::secrets {

using sdk::ErrorKind;
using sdk::make_error;

sdk::Result<void> check_name(std::string_view name) {
  if (name.empty()) return make_error(ErrorKind::invalid_argument, "secret name is empty");
  if (name.size() > kMaxName)
    return make_error(ErrorKind::invalid_argument,
                      "secret name is longer than " + std::to_string(kMaxName) + " characters");
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  };
  if (!std::all_of(name.begin(), name.end(), ok))
    return make_error(ErrorKind::invalid_argument,
                      "secret name '" + std::string(name) + "' may hold only letters, digits and _ - .");
  return {};
}

sdk::Result<void> SecretStore::set(std::string_view app, std::string_view name, const sdk::Value& value) {
  if (auto ok = check_name(name); !ok) return ok;
  if (value.is_null()) return make_error(ErrorKind::invalid_argument, "a secret's value cannot be null (delete it instead)");
  // The message names the part, never the value.
  if (auto bad = sdk::unstorable_part(value, "the value"); !bad.empty())
    return make_error(ErrorKind::invalid_argument, bad);
  std::string text = sdk::to_json(value);
  if (static_cast<std::int64_t>(text.size()) > max_value_)
    return make_error(ErrorKind::invalid_argument, "the value is " + std::to_string(text.size()) +
                                                       " bytes as JSON; a secret holds at most " +
                                                       std::to_string(max_value_) + " ([secrets] max_value_bytes)");
  return keyring_.put(nullptr, app, name, text);
}

sdk::Result<sdk::Value> SecretStore::get(std::string_view app, std::string_view name) {
  if (auto ok = check_name(name); !ok) return ok.error();
  auto text = keyring_.get(nullptr, app, name);
  if (!text) return text.error();
  if (!*text) return sdk::Value();
  auto value = sdk::parse_json(**text, 512);
  if (!value) return make_error(ErrorKind::internal, "corrupted", "the secret '" + std::string(name) + "' is not JSON");
  return value;
}

sdk::Result<bool> SecretStore::remove(std::string_view app, std::string_view name) {
  if (auto ok = check_name(name); !ok) return ok.error();
  return keyring_.remove(nullptr, app, name);
}

sdk::Result<std::vector<sdk::Keyring::Entry>> SecretStore::list(std::string_view app, std::string_view after,
                                                                 std::int64_t limit) {
  return keyring_.list(app, after, limit);
}

}  // namespace picloud::secrets
