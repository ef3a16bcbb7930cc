#include "fixture.hpp"

#include <sstream>

namespace picloud::test {

Instance::Instance(Backend backend, std::map<std::string, std::string> extra_env,
                   const std::function<void(kernel::Settings&)>& adjust) {
  database_ = std::make_unique<TestDatabase>(backend);
  port_ = free_port();
  std::map<std::string, std::string> env{
      {"PICLOUD_SERVER_PORT", std::to_string(port_)},
      // Its own: spooled request bodies and plugins' files land there.
      {"PICLOUD_SERVER_DATA_DIR", dir_.path()},
      {"PICLOUD_DATABASE_URL", database_->url()},
      {"PICLOUD_DATABASE_MIGRATIONS_PATH", source_dir() + "/migrations"},
      {"PICLOUD_PLUGINS_SEARCH_PATH", test_plugin_dir()},
      {"PICLOUD_PLUGINS_ENABLED", "t_good"},
      {"PICLOUD_OWNER_USERNAME", "owner"},
      {"PICLOUD_OWNER_PASSWORD", kPassword},
      {"PICLOUD_LOG_LEVEL", "warn"},
      // Every test request comes from 127.0.0.1: the per-address limit is
      // tested on its own.
      {"PICLOUD_ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS", "100000"},
      {"PICLOUD_EXECUTIONS_FLUSH_INTERVAL_MS", "50"},
      {"PICLOUD_KEYRING_KEY", kKeyringKey},
  };
  for (auto& [k, v] : extra_env) env[k] = v;
  std::vector<std::string> lines;
  for (const auto& [k, v] : env) lines.push_back(k + "=" + v);
  auto config = kernel::Config::load("", lines);
  if (!config) throw std::runtime_error(config.error().message);
  config_ = std::make_unique<kernel::Config>(std::move(*config));
  auto settings = kernel::read_settings(*config_, source_dir());
  if (!settings) throw std::runtime_error(settings.error().message);
  if (adjust) adjust(*settings);
  kernel_ = std::make_unique<kernel::Kernel>(*config_, std::move(*settings));
  if (auto r = kernel_->start(); !r) throw std::runtime_error("start-up failed: " + r.error().message);
}

Instance::~Instance() { kernel_->stop(); }

Reply Instance::call(const std::string& method, const std::string& path, const Creds& who, const std::string& body,
                     std::map<std::string, std::string> headers) {
  if (!body.empty() && !headers.count("Content-Type")) headers["Content-Type"] = "application/json";
  if (!who.cookie.empty()) headers["Cookie"] = who.cookie;
  if (!who.key.empty()) headers["Authorization"] = "Bearer " + who.key;
  if (!admin_host.empty() && !headers.count("Host")) headers["Host"] = admin_host;
  auto r = http(method, port_, path.rfind("/api/", 0) == 0 || path.rfind("/t_good", 0) == 0 || path.rfind("/t_events", 0) == 0 ? path : kAdmin + path,
                body, headers);
  Reply out{r.status, r.headers, r.body, kernel::admin::parse_stored_json(r.body)};
  return out;
}

Creds Instance::login(const std::string& username, const std::string& password) {
  auto r = call("POST", "/login", {}, R"({"username":")" + username + R"(","password":")" + password + R"("})");
  if (r.status != 200) throw std::runtime_error("login of " + username + " failed: " + r.body);
  auto cookie = r.headers["set-cookie"];
  return Creds{cookie.substr(0, cookie.find(';')), ""};
}

Creds Instance::make_key(const Creds& session, const std::string& scopes) {
  std::string list;
  std::istringstream in(scopes);
  for (std::string s; in >> s;) list += (list.empty() ? "\"" : ",\"") + s + "\"";
  auto r = call("POST", "/keys", session, R"({"name":"test","scopes":[)" + list + "]}");
  if (r.status != 201) throw std::runtime_error("key creation failed: " + r.body);
  return Creds{"", r.json["key"].as_string()};
}

std::string Instance::make_user(const std::string& username) {
  auto r = call("POST", "/users", owner_key,
                R"({"username":")" + username + R"(","password":")" + kPassword + R"("})");
  if (r.status != 201) throw std::runtime_error("user creation failed: " + r.body);
  return r.json["id"].as_string();
}

void Instance::cast_owner() {
  owner = login("owner");
  owner_key = make_key(owner, all_scopes());
}

void Instance::cast() {
  for (const char* name : {"alice", "eddie", "vera", "oscar"}) make_user(name);
  auto app = [&](const std::string& slug) {
    auto r = call("POST", "/apps", owner_key, R"({"slug":")" + slug + R"(","hostnames":[")" + slug + R"(.localhost"]})");
    if (r.status != 201) throw std::runtime_error("app creation failed: " + r.body);
    return r.json["id"].as_string();
  };
  alpha_id = app("alpha");
  bravo_id = app("bravo");
  auto member = [&](const std::string& slug, const std::string& user, const std::string& role) {
    auto r = call("PUT", "/apps/" + slug + "/members/" + user, owner_key, R"({"role":")" + role + R"("})");
    if (r.status != 201) throw std::runtime_error("membership failed: " + r.body);
  };
  member("alpha", "alice", "admin");
  member("alpha", "eddie", "editor");
  member("alpha", "vera", "viewer");
  member("bravo", "oscar", "admin");
  alice_session = login("alice");
  alice = make_key(alice_session, all_scopes());
  eddie = make_key(login("eddie"), all_scopes());
  vera_session = login("vera");
  vera = make_key(vera_session, all_scopes());
  oscar = make_key(login("oscar"), all_scopes());
}

namespace {
std::map<Backend, std::unique_ptr<Instance>>& instances() {
  static std::map<Backend, std::unique_ptr<Instance>> all;
  return all;
}
// Stops the shared instances before the process starts tearing down.
class SharedInstances final : public ::testing::Environment {
 public:
  void TearDown() override { instances().clear(); }
};
const auto* const kRegistered = ::testing::AddGlobalTestEnvironment(new SharedInstances);
}  // namespace

Instance& shared_instance(Backend backend, bool whole_cast) {
  (void)kRegistered;
  auto& slot = instances()[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(backend);
    slot->cast_owner();
  }
  if (whole_cast && slot->alpha_id.empty()) slot->cast();
  return *slot;
}

}  // namespace picloud::test
