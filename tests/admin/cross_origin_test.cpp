// Cross-site request forgery against the admin API, through real HTTP: a
// page of another origin (a sibling app's subdomain is the same *site*, so
// SameSite=Strict lets the cookie through) must not run a script, sign the
// user out or sign the browser in. What browsers send is played by hand:
// Origin and Sec-Fetch-Site. Tools that send neither, and API keys, go on
// working.
#include "fixture.hpp"

using namespace picloud;
using namespace picloud::test;

namespace {

using Headers = std::map<std::string, std::string>;

class CrossOrigin : public ::testing::Test {
 protected:
  void SetUp() override {
    pc_ = &shared_instance(Backend::sqlite, false);
    if (!made_) {
      auto app = pc_->post("/apps", pc_->owner_key, R"({"slug":"csrf","hostnames":["csrf.localhost"]})");
      ASSERT_EQ(app.status, 201) << app.body;
      auto script = pc_->post("/apps/csrf/scripts", pc_->owner_key,
                              R"({"name":"job","source":"void handle(request@ q, response@ s) { s.text(\"ran\"); }"})");
      ASSERT_EQ(script.status, 201) << script.body;
      made_ = true;
    }
  }
  // This server's own origin, as a browser on its page would send it.
  std::string own() const { return "http://127.0.0.1:" + std::to_string(pc_->port()); }
  // A run of the script the way a forged form post sends it: no body worth
  // reading, Content-Type text/plain (no CORS preflight needed).
  Reply run(const Creds& who, Headers headers) {
    headers["Content-Type"] = "text/plain";
    return pc_->call("POST", "/apps/csrf/scripts/job/run", who, "", headers);
  }
  std::int64_t runs_recorded() {
    pc_->kernel().admin()->executions().flush();
    auto r = pc_->db().query("SELECT count(*) FROM executions e JOIN apps a ON a.id = e.app_id WHERE a.slug = 'csrf'");
    return r ? r->rows[0][0].as_int() : -1;
  }

  Instance* pc_ = nullptr;
  static bool made_;
};
bool CrossOrigin::made_ = false;

TEST_F(CrossOrigin, AForeignPageCannotRunAScriptWithTheSessionCookie) {
  Creds session = pc_->login("owner");
  std::int64_t before = runs_recorded();
  for (const Headers& forged : std::vector<Headers>{
           {{"Origin", "http://evil.localhost:" + std::to_string(pc_->port())}, {"Sec-Fetch-Site", "same-site"}},
           {{"Origin", "http://evil.example"}},
           {{"Origin", "http://127.0.0.1:1"}},           // another port
           {{"Origin", "null"}},                         // a sandboxed frame, a data: URL
           {{"Sec-Fetch-Site", "cross-site"}},           // no Origin, but another site
           {{"Sec-Fetch-Site", "same-site"}},            // no Origin, a sibling subdomain
           {{"Origin", own()}, {"Sec-Fetch-Site", "cross-site"}},
           {{"Origin", own()}, {"X-Forwarded-Proto", "https"}},  // the page was http, the server https
       }) {
    auto r = run(session, forged);
    std::string shown;
    for (const auto& [k, v] : forged) shown += k + ": " + v + "; ";
    EXPECT_EQ(r.status, 403) << shown << r.body;
    EXPECT_EQ(r.code(), "cross_origin") << shown << r.body;
  }
  auto named = run(session, {{"Origin", "http://evil.example"}});
  EXPECT_NE(named.message().find("'http://evil.example'"), std::string::npos) << named.body;
  EXPECT_NE(named.message().find("'" + own() + "'"), std::string::npos) << named.body;
  EXPECT_EQ(runs_recorded(), before) << "a refused run recorded nothing";

  // The server's own pages, and tools that send neither header, may.
  for (const Headers& fine : std::vector<Headers>{
           {{"Origin", own()}},
           {{"Origin", own()}, {"Sec-Fetch-Site", "same-origin"}},
           {{"Origin", "HTTP://127.0.0.1:" + std::to_string(pc_->port())}},
           {},
       }) {
    auto r = run(session, fine);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json["response"]["body"].string_or(""), "ran") << r.body;
  }
  EXPECT_EQ(runs_recorded(), before + 4);
  // Behind a proxy that says https, the https origin is the server's own (the
  // session is then the __Host- cookie, which this plain-HTTP session is not:
  // the origin check passes and the request is merely not signed in).
  auto https = run(session, {{"Origin", "https://127.0.0.1:" + std::to_string(pc_->port())}, {"X-Forwarded-Proto", "https"}});
  EXPECT_EQ(https.status, 401) << https.body;
  EXPECT_NE(https.code(), "cross_origin") << https.body;
  // Reading is not refused: another origin cannot read the answer anyway.
  EXPECT_EQ(pc_->call("GET", "/me", session, "", {{"Origin", "http://evil.example"}, {"Sec-Fetch-Site", "cross-site"}})
                .status,
            200);
}

TEST_F(CrossOrigin, ApiKeysAreNotConcerned) {
  auto r = run(pc_->owner_key, {{"Origin", "http://evil.example"}, {"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(CrossOrigin, AForeignPageCannotSignTheUserOut) {
  Creds session = pc_->login("owner");
  auto forged = pc_->call("POST", "/logout", session, "",
                          {{"Content-Type", "text/plain"}, {"Origin", "http://evil.localhost"}, {"Sec-Fetch-Site", "same-site"}});
  EXPECT_EQ(forged.status, 403) << forged.body;
  EXPECT_EQ(forged.headers.count("set-cookie"), 0u) << "the cookie is not cleared";
  EXPECT_EQ(pc_->get("/me", session).status, 200) << "the session is still valid";
  auto mine = pc_->call("POST", "/logout", session, "", {{"Origin", own()}, {"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(mine.status, 204) << mine.body;
  EXPECT_EQ(pc_->get("/me", session).status, 401);
}

// Login CSRF: a foreign page signing the browser in to the attacker's
// account would have the victim's next actions recorded there.
TEST_F(CrossOrigin, AForeignPageCannotSignTheBrowserIn) {
  const std::string body = R"({"username":"owner","password":")" + kPassword + R"("})";
  auto forged = pc_->call("POST", "/login", {}, body, {{"Origin", "http://evil.example"}});
  EXPECT_EQ(forged.status, 403) << forged.body;
  EXPECT_EQ(forged.code(), "cross_origin");
  EXPECT_EQ(forged.headers.count("set-cookie"), 0u);
  EXPECT_EQ(pc_->call("POST", "/login", {}, body, {{"Sec-Fetch-Site", "cross-site"}}).status, 403);
  EXPECT_EQ(pc_->call("POST", "/login", {}, body, {{"Origin", own()}, {"Sec-Fetch-Site", "same-origin"}}).status, 200);
  EXPECT_EQ(pc_->call("POST", "/login", {}, body).status, 200) << "tools send no Origin";
}

}  // namespace
