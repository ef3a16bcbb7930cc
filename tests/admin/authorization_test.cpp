// Every admin endpoint, tried by every kind of caller: the allowed roles, a
// lesser role, a member of another app, no credentials, an expired and a
// revoked key, a key lacking the scope, and API keys on session-only
// endpoints. Requests that would change something carry a body the handler
// refuses (or name a missing resource), so an allowed call changes nothing
// and a refused one is told apart by its status.
#include <atomic>
#include <thread>

#include "../e2e/raw_http.hpp"
#include "fixture.hpp"

using namespace picloud;
using namespace picloud::test;

namespace {

enum class Level { signed_in, viewer, editor, admin, owner };

struct Endpoint {
  std::string method, path, body;
  Level level;
  std::string scope;  // empty: any key
  bool session_only = false;
};

enum class Outcome { allowed, unauthorized, forbidden, hidden };

std::string name(Outcome o) {
  switch (o) {
    case Outcome::allowed: return "allowed";
    case Outcome::unauthorized: return "401";
    case Outcome::forbidden: return "403";
    case Outcome::hidden: return "404 (app hidden)";
  }
  return "?";
}

Outcome outcome_of(const Reply& r) {
  if (r.status == 401) return Outcome::unauthorized;
  if (r.status == 403 && r.code() == "forbidden") return Outcome::forbidden;
  if (r.status == 404 && r.message().rfind("app '", 0) == 0) return Outcome::hidden;
  return Outcome::allowed;
}

struct Caller {
  std::string label;
  Creds creds;
  bool valid = true;      // credentials accepted at all
  bool owner = false;
  int alpha_role = 0;     // 0 none, 1 viewer, 2 editor, 3 admin
  bool via_key = true;
  std::string scopes = all_scopes();
};

Outcome expected(const Endpoint& e, const Caller& c) {
  if (!c.valid) return Outcome::unauthorized;
  if (e.session_only && c.via_key) return Outcome::forbidden;
  if (c.via_key && !e.scope.empty() && c.scopes.find(e.scope) == std::string::npos) return Outcome::forbidden;
  switch (e.level) {
    case Level::signed_in: return Outcome::allowed;
    case Level::owner: return c.owner ? Outcome::allowed : Outcome::forbidden;
    default: break;
  }
  int role = c.owner ? 3 : c.alpha_role;
  if (role == 0) return Outcome::hidden;
  int needed = e.level == Level::viewer ? 1 : e.level == Level::editor ? 2 : 3;
  return role >= needed ? Outcome::allowed : Outcome::forbidden;
}

class Authorization : public ::testing::TestWithParam<Backend> {};

TEST_P(Authorization, EveryEndpointAgainstEveryCaller) {
  Instance& pc = shared_instance(GetParam());
  // Resources to point at.
  auto script = pc.post("/apps/alpha/scripts", pc.owner_key,
                        R"({"name":"authz_probe","source":"void handle(request@ q, response@ s) { s.text(\"x\"); }"})");
  ASSERT_EQ(script.status, 201) << script.body;
  std::string sid = script.json["id"].as_string();
  auto route = pc.post("/apps/alpha/routes", pc.owner_key, R"({"script":"authz_probe","path":"/authz-probe"})");
  ASSERT_EQ(route.status, 201) << route.body;
  std::string rid = route.json["id"].as_string();
  std::string owner_id = pc.get("/me", pc.owner_key).json["user"]["id"].as_string();
  const std::string missing = "00000000-0000-7000-8000-000000000000";
  const std::string bad = R"({"no_such_field":1})";

  std::vector<Endpoint> endpoints{
      {"GET", "/me", "", Level::signed_in, ""},
      {"PUT", "/me/password", bad, Level::signed_in, "", true},
      {"GET", "/keys", "", Level::signed_in, "", true},
      {"POST", "/keys", bad, Level::signed_in, "", true},
      {"DELETE", "/keys/" + missing, "", Level::signed_in, "", true},
      {"GET", "/users", "", Level::owner, "users:admin"},
      {"POST", "/users", bad, Level::owner, "users:admin"},
      {"GET", "/users/" + owner_id, "", Level::owner, "users:admin"},
      {"PATCH", "/users/" + owner_id, bad, Level::owner, "users:admin"},
      {"DELETE", "/users/nobody", "", Level::owner, "users:admin"},
      {"GET", "/users/" + owner_id + "/keys", "", Level::owner, "users:admin"},
      {"DELETE", "/users/" + owner_id + "/keys/" + missing, "", Level::owner, "users:admin"},
      {"GET", "/apps", "", Level::signed_in, "app:read"},
      {"POST", "/apps", bad, Level::owner, "app:admin"},
      {"GET", "/apps/alpha", "", Level::viewer, "app:read"},
      {"PATCH", "/apps/alpha", bad, Level::admin, "app:write"},
      {"GET", "/apps/alpha/members", "", Level::viewer, "app:read"},
      {"PUT", "/apps/alpha/members/nobody", bad, Level::admin, "app:admin"},
      {"DELETE", "/apps/alpha/members/nobody", "", Level::admin, "app:admin"},
      {"GET", "/apps/alpha/scripts", "", Level::viewer, "script:read"},
      {"POST", "/apps/alpha/scripts", bad, Level::editor, "script:write"},
      {"GET", "/apps/alpha/scripts/" + sid, "", Level::viewer, "script:read"},
      {"PATCH", "/apps/alpha/scripts/" + sid, bad, Level::editor, "script:write"},
      {"DELETE", "/apps/alpha/scripts/nothing", "", Level::editor, "script:write"},
      {"GET", "/apps/alpha/routes", "", Level::viewer, "app:read"},
      {"POST", "/apps/alpha/routes", bad, Level::editor, "app:write"},
      {"GET", "/apps/alpha/routes/" + rid, "", Level::viewer, "app:read"},
      {"PATCH", "/apps/alpha/routes/" + rid, bad, Level::editor, "app:write"},
      {"DELETE", "/apps/alpha/routes/" + missing, "", Level::editor, "app:write"},
      {"GET", "/apps/alpha/executions", "", Level::viewer, "logs:read"},
      {"GET", "/apps/alpha/executions/" + missing, "", Level::viewer, "logs:read"},
      {"GET", "/apps/alpha/scripts/" + sid + "/executions", "", Level::viewer, "logs:read"},
      // A plugin's admin routes get the same checks.
      {"GET", "/api/v1/admin/apps/alpha/t_good", "", Level::viewer, "script:read"},
      {"GET", "/t_good/secret", "", Level::owner, "app:admin"},
  };

  auto expired = pc.make_key(pc.alice_session, all_scopes());
  ASSERT_TRUE(pc.db().execute("UPDATE api_keys SET expires_at = 1 WHERE lookup = ?", {expired.key.substr(4, 16)}));
  auto revoked = pc.make_key(pc.alice_session, all_scopes());
  auto keys = pc.get("/keys?limit=200", pc.alice_session);
  for (const auto& k : keys.json["items"].as_array())
    if (revoked.key.rfind(k["prefix"].as_string(), 0) == 0)
      ASSERT_EQ(pc.call("DELETE", "/keys/" + k["id"].as_string(), pc.alice_session).status, 204);
  auto narrow = pc.make_key(pc.owner, "logs:read");

  std::vector<Caller> callers{
      {"owner session", pc.owner, true, true, 0, false},
      {"owner key", pc.owner_key, true, true},
      {"owner key with logs:read only", narrow, true, true, 0, true, "logs:read"},
      {"alice (admin) key", pc.alice, true, false, 3},
      {"alice (admin) session", pc.alice_session, true, false, 3, false},
      {"eddie (editor) key", pc.eddie, true, false, 2},
      {"vera (viewer) key", pc.vera, true, false, 1},
      {"vera (viewer) session", pc.vera_session, true, false, 1, false},
      {"oscar (other app's admin) key", pc.oscar, true, false, 0},
      {"nobody", {}, false},
      {"expired key", expired, false},
      {"revoked key", revoked, false},
      {"garbage key", Creds{"", "pcl_0123456789abcdef_nope"}, false},
      {"forged cookie", Creds{"picloud_session=forged", ""}, false},
  };

  int checked = 0;
  for (const auto& e : endpoints) {
    for (const auto& c : callers) {
      auto r = pc.call(e.method, e.path, c.creds, e.body);
      Outcome want = expected(e, c), got = outcome_of(r);
      EXPECT_EQ(name(got), name(want)) << c.label << ": " << e.method << " " << e.path << " -> " << r.status << " "
                                       << r.body;
      if (want == Outcome::allowed && !e.body.empty()) {
        // The probe body is refused after the check, naming the field.
        EXPECT_EQ(r.status, 400) << c.label << ": " << e.method << " " << e.path << " " << r.body;
      }
      if (want != Outcome::allowed) EXPECT_EQ(r.json["error"]["details"].type(), sdk::ValueType::object) << r.body;
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(endpoints.size() * callers.size()));
}

// Deleting an app, the one probe that cannot be made harmless: each caller
// gets a fresh app with the same members; a refused delete leaves it there.
TEST_P(Authorization, DeletingAnAppNeedsItsAdmin) {
  Instance& pc = shared_instance(GetParam());
  struct Case {
    std::string label;
    Creds creds;
    int status;
  };
  std::vector<Case> cases{{"nobody", {}, 401},           {"vera (viewer)", pc.vera, 403},
                          {"eddie (editor)", pc.eddie, 403}, {"oscar (other app)", pc.oscar, 404},
                          {"alice (admin)", pc.alice, 204},  {"owner", pc.owner_key, 204}};
  int n = 0;
  for (const auto& c : cases) {
    std::string slug = "doomed-" + std::to_string(n++);
    ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":")" + slug + R"("})").status, 201);
    for (auto [user, role] : {std::pair{"alice", "admin"}, {"eddie", "editor"}, {"vera", "viewer"}})
      ASSERT_EQ(pc.call("PUT", "/apps/" + slug + "/members/" + user, pc.owner_key, R"({"role":")" + std::string(role) + R"("})").status, 201);
    auto r = pc.call("DELETE", "/apps/" + slug, c.creds);
    EXPECT_EQ(r.status, c.status) << c.label << ": " << r.body;
    EXPECT_EQ(pc.get("/apps/" + slug, pc.owner_key).status, c.status == 204 ? 404 : 200) << c.label;
  }
}

// The check runs when a request's head arrives; its handler runs once the
// body is in, perhaps on another worker. What the check established (the
// user, the app) must go with the request, never be another request's:
// bodies arrive in two parts, from two users of two apps at once.
TEST_P(Authorization, AHandlerActsForItsOwnRequestWhateverThreadRunsIt) {
  Instance& pc = shared_instance(GetParam());
  using namespace test::raw_http;
  auto create = [&](const Creds& who, const std::string& app, const std::string& name) {
    std::string body = R"({"name":")" + name + R"(","source":"void handle(request@ q, response@ s) { s.text(\"x\"); }"})";
    std::string head = "POST /api/v1/admin/apps/" + app + "/scripts HTTP/1.1\r\nHost: localhost\r\n"
                       "Authorization: Bearer " + who.key + "\r\nContent-Type: application/json\r\n"
                       "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    int fd = connect_to(pc.port());
    if (fd < 0) return 0;
    send_all(fd, head + body.substr(0, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    send_all(fd, body.substr(10));
    auto r = read_response(fd);
    ::close(fd);
    return r.status;
  };
  std::atomic<int> created{0};
  // Names of this run only (the instance is shared, and tests may repeat).
  static int run = 0;
  const std::string tag = "race" + std::to_string(++run) + "r";
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      const bool alice = t % 2 == 0;
      for (int i = 0; i < 8; ++i) {
        std::string name = std::string(alice ? "a" : "o") + tag + std::to_string(t) + "x" + std::to_string(i);
        if (create(alice ? pc.alice : pc.oscar, alice ? "alpha" : "bravo", name) == 201) ++created;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 48);
  auto in = [&](const std::string& app_id, const std::string& prefix) {
    auto rows = pc.db().query("SELECT count(*) FROM scripts WHERE app_id = ? AND name LIKE ?", {app_id, prefix + tag + "%"});
    return rows ? rows->rows[0][0].as_int() : -1;
  };
  EXPECT_EQ(in(pc.alpha_id, "a"), 24);
  EXPECT_EQ(in(pc.bravo_id, "o"), 24);
  EXPECT_EQ(in(pc.alpha_id, "o") + in(pc.bravo_id, "a"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Authorization, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
