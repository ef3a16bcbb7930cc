// Sign-in, sessions, passwords, API keys and users, through real HTTP.
#include <atomic>
#include <thread>

#include "fixture.hpp"

using namespace picloud;
using namespace picloud::test;

namespace {

class Identity : public ::testing::TestWithParam<Backend> {};

TEST_P(Identity, SignInSetsAStrictCookieAndSignOutEndsTheSession) {
  Instance& pc = shared_instance(GetParam(), false);
  auto bad = pc.post("/login", {}, R"({"username":"owner","password":"wrong password!!"})");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.code(), "unauthorized");
  EXPECT_EQ(bad.headers.count("set-cookie"), 0u);
  auto unknown = pc.post("/login", {}, R"({"username":"nobody-at-all","password":"wrong password!!"})");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.message(), bad.message()) << "an unknown name must read like a wrong password";

  auto ok = pc.post("/login", {}, R"({"username":"OWNER","password":")" + kPassword + R"("})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json["user"]["username"].as_string(), "owner");
  EXPECT_TRUE(ok.json["user"]["owner"].as_bool());
  const std::string cookie = ok.headers["set-cookie"];
  EXPECT_EQ(cookie.rfind("picloud_session=", 0), 0u) << cookie;
  for (const char* attr : {"; HttpOnly", "; SameSite=Strict", "; Path=/api/v1/admin", "; Max-Age=604800"})
    EXPECT_NE(cookie.find(attr), std::string::npos) << attr << " missing in " << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "no TLS, no Secure: " << cookie;
  EXPECT_EQ(ok.headers["cache-control"], "no-store");
  Creds session{cookie.substr(0, cookie.find(';')), ""};
  auto me = pc.get("/me", session);
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.json["auth"].as_string(), "session");
  EXPECT_EQ(me.json["scopes"].size(), 7u);

  // Behind a TLS proxy the cookie is Secure.
  auto tls = pc.call("POST", "/login", {}, R"({"username":"owner","password":")" + kPassword + R"("})",
                     {{"X-Forwarded-Proto", "https"}});
  EXPECT_NE(tls.headers["set-cookie"].find("; Secure"), std::string::npos) << tls.headers["set-cookie"];

  auto out = pc.call("POST", "/logout", session);
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(out.headers["set-cookie"].find("Max-Age=0"), std::string::npos);
  auto after = pc.get("/me", session);
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.headers["www-authenticate"], "Bearer realm=\"picloud\"");
  // An API key cannot sign a session out.
  EXPECT_EQ(pc.call("POST", "/logout", pc.owner_key).status, 403);
}

TEST_P(Identity, SessionsExpireWhenIdle) {
  Instance& pc = shared_instance(GetParam(), false);
  Creds s = pc.login("owner");
  ASSERT_EQ(pc.get("/me", s).status, 200);
  // Idle past the timeout (12 hours by default).
  ASSERT_TRUE(pc.db().execute("UPDATE sessions SET last_seen_at = last_seen_at - ? WHERE token_hash <> ''",
                              {std::int64_t{13} * 3600 * 1000}));
  pc.kernel().admin()->access_changed();
  auto r = pc.get("/me", s);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.message().find("expired"), std::string::npos) << r.body;
  pc.owner = pc.login("owner");  // the shared owner session went with it
}

TEST_P(Identity, BadSignInBodiesAreRefusedByName) {
  Instance& pc = shared_instance(GetParam(), false);
  struct Case {
    std::string body, content_type;
    int status;
    std::string code;
  };
  std::vector<Case> cases{
      {R"({"username":"owner"})", "application/json", 400, "missing_field"},
      {R"({"username":"owner","password":42})", "application/json", 400, "invalid_field"},
      {R"({"username":"owner","password":"x","remember":true})", "application/json", 400, "unknown_field"},
      {R"({"username":"owner",)", "application/json", 400, "bad_request"},
      {R"(["owner"])", "application/json", 400, "bad_request"},
      {"username=owner&password=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
      {std::string(40, '[') + std::string(40, ']'), "application/json", 400, "bad_request"},
  };
  for (const auto& c : cases) {
    auto r = pc.call("POST", "/login", {}, c.body, {{"Content-Type", c.content_type}});
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    EXPECT_EQ(r.code(), c.code) << c.body << " -> " << r.body;
  }
  auto named = pc.call("POST", "/login", {}, R"({"username":"owner","password":42})");
  EXPECT_EQ(named.json["error"]["details"]["field"].as_string(), "password");
}

TEST_P(Identity, FailedSignInsLockTheAccountForAWhile) {
  Instance& pc = shared_instance(GetParam(), false);
  pc.make_user("locksmith");
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(pc.post("/login", {}, R"({"username":"locksmith","password":"not the password"})").status, 401);
  // Even the right password is refused now, without a hash being computed.
  auto r = pc.post("/login", {}, R"({"username":"locksmith","password":")" + kPassword + R"("})");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.code(), "rate_limited");
  EXPECT_GT(std::stoi(r.headers["retry-after"]), 800);
  // Other accounts are not affected.
  EXPECT_EQ(pc.post("/login", {}, R"({"username":"owner","password":")" + kPassword + R"("})").status, 200);
}

TEST(IdentityLimits, FailedSignInsFromOneAddressAreLimited) {
  Instance pc(Backend::sqlite, {{"PICLOUD_ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS", "3"}});
  for (const char* name : {"a1", "a2", "a3"})
    EXPECT_EQ(pc.post("/login", {}, R"({"username":")" + std::string(name) + R"(","password":"whatever at all"})").status, 401);
  auto r = pc.post("/login", {}, R"({"username":"owner","password":")" + kPassword + R"("})");
  EXPECT_EQ(r.status, 429) << r.body;
}

// Sign-ins sent all at once are counted as they are admitted, not as they
// fail: no more than the limit get their password checked. With one hash at
// a time and 4 waiting, the rest are turned away at once (503) rather than
// holding server workers, and those do not count against the limits.
TEST(IdentityLimits, ConcurrentSignInsCannotPassTheLimitOrPileUp) {
  Instance pc(Backend::sqlite, {{"PICLOUD_ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"},
                                {"PICLOUD_ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS", "1000"},
                                {"PICLOUD_ADMIN_PASSWORD_HASH_CONCURRENCY", "1"}});
  auto burst = [&](const std::string& user, int n) {
    std::vector<int> statuses(static_cast<std::size_t>(n));
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
      threads.emplace_back([&, i] {
        statuses[static_cast<std::size_t>(i)] =
            pc.post("/login", {}, R"({"username":")" + user + R"(","password":"not the password"})").status;
      });
    for (auto& t : threads) t.join();
    std::map<int, int> count;
    for (int s : statuses) ++count[s];
    return count;
  };
  // (Unknown names cost a verification too, and are limited the same way.)
  auto rushed = burst("rusher", 12);
  EXPECT_EQ(rushed[401], 5) << "only the admitted attempts were checked";
  EXPECT_EQ(rushed[429], 7);

  // 20 distinct accounts at once: one hash runs, 4 wait, the rest are refused.
  std::vector<std::thread> threads;
  std::map<int, int> count;
  std::mutex m;
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([&, i] {
      int status = pc.post("/login", {}, R"({"username":"nobody)" + std::to_string(i) + R"(","password":"not the password"})").status;
      std::lock_guard lock(m);
      ++count[status];
    });
  for (auto& t : threads) t.join();
  EXPECT_GE(count[503], 1) << "beyond the waiting room, refused at once";
  std::string seen;
  for (auto [status, n] : count) seen += std::to_string(status) + "×" + std::to_string(n) + " ";
  EXPECT_EQ(count[401] + count[503], 20) << seen;
  // Refused attempts did not count: a refused account may still sign in.
  EXPECT_EQ(pc.post("/login", {}, R"({"username":"owner","password":")" + kPassword + R"("})").status, 200);
}

TEST_P(Identity, PasswordChangeNeedsTheCurrentOneAndEndsOtherSessions) {
  Instance& pc = shared_instance(GetParam(), false);
  pc.make_user("pat");
  Creds here = pc.login("pat"), elsewhere = pc.login("pat");
  auto wrong = pc.call("PUT", "/me/password", here, R"({"current_password":"not it at all","new_password":"a brand new secret"})");
  EXPECT_EQ(wrong.status, 403);
  auto short_one = pc.call("PUT", "/me/password", here, R"({"current_password":")" + kPassword + R"(","new_password":"short"})");
  EXPECT_EQ(short_one.status, 400);
  EXPECT_EQ(short_one.json["error"]["details"]["field"].as_string(), "new_password");
  auto ok = pc.call("PUT", "/me/password", here, R"({"current_password":")" + kPassword + R"(","new_password":"a brand new secret"})");
  EXPECT_EQ(ok.status, 204) << ok.body;
  EXPECT_EQ(pc.get("/me", here).status, 200);
  EXPECT_EQ(pc.get("/me", elsewhere).status, 401);
  EXPECT_EQ(pc.post("/login", {}, R"({"username":"pat","password":")" + kPassword + R"("})").status, 401);
  EXPECT_NO_THROW(pc.login("pat", "a brand new secret"));
}

TEST_P(Identity, ApiKeysAreShownOnceScopedRevocableAndTracked) {
  Instance& pc = shared_instance(GetParam(), false);
  auto made = pc.post("/keys", pc.owner, R"({"name":"deploy","scopes":["app:read","script:write"],"expires_in_days":30})");
  ASSERT_EQ(made.status, 201) << made.body;
  std::string key = made.json["key"].as_string();
  EXPECT_EQ(key.rfind("pcl_" + made.json["prefix"].as_string().substr(4) + "_", 0), 0u) << key;
  EXPECT_EQ(made.json["scopes"], sdk::Value::array({"app:read", "script:write"}));
  EXPECT_TRUE(made.json["expires_at"].is_string());
  EXPECT_TRUE(made.json["last_used_at"].is_null());
  // The secret is stored hashed only.
  auto stored = pc.db().query("SELECT secret_hash FROM api_keys WHERE id = ?", {made.json["id"]});
  ASSERT_TRUE(stored && stored->size() == 1);
  EXPECT_EQ(key.find(stored->rows[0][0].as_string()), std::string::npos);
  EXPECT_EQ(stored->rows[0][0].as_string().size(), 64u);

  Creds creds{"", key};
  auto me = pc.get("/me", creds);
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.json["auth"].as_string(), "api_key");
  EXPECT_EQ(me.json["scopes"], sdk::Value::array({"app:read", "script:write"}));
  EXPECT_EQ(pc.get("/users", creds).status, 403);
  // A key cannot make keys.
  EXPECT_EQ(pc.post("/keys", creds, R"({"name":"x","scopes":["app:read"]})").status, 403);

  bool listed = false;
  auto listing = pc.get("/keys?limit=200", pc.owner);
  for (const auto& k : listing.json["items"].as_array()) {
    EXPECT_FALSE(k.has("key")) << "a key's secret is shown once";
    if (k["id"] == made.json["id"]) {
      listed = true;
      EXPECT_TRUE(k["last_used_at"].is_string()) << "last use is recorded";
      EXPECT_EQ(k["status"].as_string(), "active");
    }
  }
  EXPECT_TRUE(listed) << listing.body;

  EXPECT_EQ(pc.call("DELETE", "/keys/" + made.json["id"].as_string(), pc.owner).status, 204);
  auto revoked = pc.get("/me", creds);
  EXPECT_EQ(revoked.status, 401);
  EXPECT_NE(revoked.message().find("revoked"), std::string::npos);
  // Revoking twice is fine; another user's key is not found.
  EXPECT_EQ(pc.call("DELETE", "/keys/" + made.json["id"].as_string(), pc.owner).status, 204);
  pc.make_user("kim");
  Creds kim = pc.login("kim");
  EXPECT_EQ(pc.call("DELETE", "/keys/" + made.json["id"].as_string(), kim).status, 404);

  auto expiring = pc.post("/keys", pc.owner, R"({"name":"old","scopes":["app:read"],"expires_in_days":1})");
  ASSERT_TRUE(pc.db().execute("UPDATE api_keys SET expires_at = ? WHERE id = ?", {1000, expiring.json["id"]}));
  pc.kernel().admin()->access_changed();
  auto expired = pc.get("/me", Creds{"", expiring.json["key"].as_string()});
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.message().find("expired"), std::string::npos);

  for (const std::string body : {R"({"name":"x","scopes":[]})", R"({"name":"x","scopes":["app:everything"]})",
                                 R"({"name":"x","scopes":["app:read","app:read"]})", R"({"name":"","scopes":["app:read"]})",
                                 R"({"name":"x","scopes":["app:read"],"expires_in_days":0})",
                                 R"({"name":"x","scopes":"app:read"})"}) {
    auto r = pc.post("/keys", pc.owner, body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(r.code(), "invalid_field") << body;
  }
}

TEST_P(Identity, TheOwnerManagesUsers) {
  Instance& pc = shared_instance(GetParam(), false);
  auto made = pc.post("/users", pc.owner_key, R"({"username":"Uma","password":")" + kPassword + R"("})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.json["username"].as_string(), "uma");
  EXPECT_FALSE(made.json["owner"].as_bool());
  EXPECT_EQ(made.json.size(), 4u) << "no password hash in the answer: " << made.body;
  auto again = pc.post("/users", pc.owner_key, R"({"username":"uma","password":")" + kPassword + R"("})");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(pc.post("/users", pc.owner_key, R"({"username":"bad name","password":")" + kPassword + R"("})").status, 400);
  EXPECT_EQ(pc.post("/users", pc.owner_key, R"({"username":"ursula","password":"too short"})").status, 400);
  EXPECT_EQ(pc.get("/users/uma", pc.owner_key).json["id"], made.json["id"]);

  // Pages of users: every user once, in creation order.
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 50; ++page) {
    auto r = pc.get("/users?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), pc.owner_key);
    ASSERT_EQ(r.status, 200) << r.body;
    for (const auto& u : r.json["items"].as_array()) seen.push_back(u["id"].as_string());
    if (r.json["next_cursor"].is_null()) break;
    cursor = r.json["next_cursor"].as_string();
  }
  auto count = pc.db().query("SELECT count(*) FROM users");
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()), count->rows[0][0].as_int());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(pc.get("/users?limit=0", pc.owner_key).status, 400);
  EXPECT_EQ(pc.get("/users?cursor=%%%", pc.owner_key).status, 400);
  EXPECT_EQ(pc.get("/users?sort=name", pc.owner_key).code(), "unknown_parameter");

  // Only owner: cannot be demoted or deleted; nobody deletes themselves.
  auto me = pc.get("/me", pc.owner_key).json["user"]["id"].as_string();
  EXPECT_EQ(pc.call("PATCH", "/users/" + me, pc.owner_key, R"({"owner":false})").status, 409);
  EXPECT_EQ(pc.call("DELETE", "/users/" + me, pc.owner_key).status, 409);

  // A password reset by the owner ends the user's sessions.
  Creds uma = pc.login("uma");
  EXPECT_EQ(pc.call("PATCH", "/users/uma", pc.owner_key, R"({"password":"reset by the owner"})").status, 200);
  EXPECT_EQ(pc.get("/me", uma).status, 401);
  Creds uma_again = pc.login("uma", "reset by the owner");
  // ...not the keys made before: the owner lists and revokes those.
  Creds uma_key = pc.make_key(uma_again, "app:read");
  EXPECT_EQ(pc.call("PATCH", "/users/uma", pc.owner_key, R"({"password":"reset by the owner again"})").status, 200);
  EXPECT_EQ(pc.get("/me", uma_key).status, 200);
  auto uma_keys = pc.get("/users/uma/keys", pc.owner_key);
  ASSERT_EQ(uma_keys.status, 200) << uma_keys.body;
  ASSERT_EQ(uma_keys.json["items"].size(), 1u) << uma_keys.body;
  const sdk::Value listed = uma_keys.json["items"][0];
  EXPECT_FALSE(listed.has("key")) << "a key's secret is shown once";
  EXPECT_EQ(listed["status"].as_string(), "active");
  EXPECT_EQ(uma_key.key.rfind(listed["prefix"].as_string(), 0), 0u);
  const std::string uma_key_id = listed["id"].as_string();
  pc.make_user("ulrich");
  EXPECT_EQ(pc.call("DELETE", "/users/ulrich/keys/" + uma_key_id, pc.owner_key).status, 404) << "another user's key";
  EXPECT_EQ(pc.call("DELETE", "/users/uma/keys/not-an-id", pc.owner_key).status, 404);
  EXPECT_EQ(pc.call("DELETE", "/users/uma/keys/" + uma_key_id, pc.owner_key).status, 204);
  EXPECT_EQ(pc.get("/me", uma_key).status, 401);
  EXPECT_EQ(pc.get("/users/uma/keys", pc.owner_key).json["items"][0]["status"].as_string(), "revoked");
  EXPECT_EQ(pc.get("/users/nobody/keys", pc.owner_key).status, 404);
  uma_again = pc.login("uma", "reset by the owner again");
  EXPECT_EQ(pc.call("DELETE", "/users/uma", pc.owner_key).status, 204);
  EXPECT_EQ(pc.get("/me", uma_again).status, 401);
  EXPECT_EQ(pc.get("/users/uma", pc.owner_key).status, 404);

  // Two owners demoting each other (or one deleting the other) at the same
  // moment: one wins, the instance always keeps an owner.
  auto& identity = pc.kernel().admin()->identity();
  auto owners = [&] { return pc.db().query("SELECT count(*) FROM users WHERE is_owner = 1")->rows[0][0].as_int(); };
  for (int round = 0; round < 20; ++round) {
    if (pc.get("/users/olga", pc.owner_key).status == 404)
      ASSERT_EQ(pc.post("/users", pc.owner_key, R"({"username":"olga","password":"a long enough password"})").status, 201);
    auto olga = pc.get("/users/olga", pc.owner_key).json["id"].as_string();
    ASSERT_TRUE(pc.db().execute("UPDATE users SET is_owner = 1 WHERE id IN (?, ?)", {me, olga}));
    std::atomic<int> changed{0};
    std::thread a([&] {
      auto r = identity.demote_owner(me);
      if (r && *r) ++changed;
    });
    std::thread b([&] {
      auto r = round % 2 == 0 ? identity.demote_owner(olga) : identity.delete_user_keeping_an_owner(olga);
      if (r && *r) ++changed;
    });
    a.join();
    b.join();
    EXPECT_EQ(changed.load(), 1) << "round " << round;
    EXPECT_EQ(owners(), 1) << "round " << round;
    ASSERT_TRUE(pc.db().execute("UPDATE users SET is_owner = 1 WHERE id = ?", {me}));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Identity, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
