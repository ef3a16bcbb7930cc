#include <gtest/gtest.h>

#include "kernel/config.hpp"
#include "kernel/settings.hpp"
#include "support.hpp"

using namespace picloud;
using namespace picloud::kernel;

namespace {

Config load(const std::string& ini, const std::vector<std::string>& env = {}) {
  static test::TempDir dir;
  static int n = 0;
  std::string name = "c" + std::to_string(++n) + ".ini";
  dir.write(name, ini);
  auto c = Config::load(dir.file(name), env);
  if (!c) throw std::runtime_error(c.error().message);
  return std::move(*c);
}

}  // namespace

TEST(Config, DefaultsWithoutAFile) {
  auto c = Config::load("", {});
  ASSERT_TRUE(c.ok());
  auto s = read_settings(*c, "/opt/picloud/bin");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->http.host, "127.0.0.1");
  EXPECT_EQ(s->http.port, 8080);
  EXPECT_EQ(s->database_url.dialect, sdk::Dialect::sqlite);
  EXPECT_EQ(s->database_url.sqlite_path, "./data/picloud.db");
  EXPECT_TRUE(s->plugins.enable_all);
  ASSERT_EQ(s->plugins.search_path.size(), 2u);
  EXPECT_EQ(s->plugins.search_path[0], "/opt/picloud/bin/plugins");
  EXPECT_EQ(s->log_level, LogLevel::info);
}

TEST(Config, ShippedDefaultFileMatchesBuiltInDefaults) {
  auto c = Config::load(test::source_dir() + "/config/picloud.ini", {});
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto s = read_settings(*c, "/x");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->http.port, 8080);
  EXPECT_EQ(s->database_url.sqlite_path, "./data/picloud.db");
  EXPECT_TRUE(s->database.group_commit);
  EXPECT_EQ(s->database.group.max_wait.count(), 0);
  EXPECT_EQ(s->database.group.interval.count(), 1000);
  EXPECT_EQ(s->database.group.max_batch, 64u);
  EXPECT_FALSE(s->database.connection.exclusive_locking);
  EXPECT_TRUE(c->unread_keys().empty());
}

TEST(Config, GroupCommitCanBeTurnedOffAndItsBoundsAreChecked) {
  auto off = load("[database]\ngroup_commit = false\ngroup_commit_max_wait_us = 250\n");
  auto s = read_settings(off, "/x");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(s->database.group_commit);
  EXPECT_EQ(s->database.group.max_wait.count(), 250);
  auto long_wait = load("[database]\ngroup_commit_max_wait_us = 20000\n");
  auto too_long = read_settings(long_wait, "/x");
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().message.find("group_commit_max_wait_us"), std::string::npos) << too_long.error().message;
  auto unpaced_config = load("[database]\ngroup_commit_interval_us = 0\n");
  auto unpaced = read_settings(unpaced_config, "/x");
  ASSERT_TRUE(unpaced.ok()) << unpaced.error().message;
  EXPECT_EQ(unpaced->database.group.interval.count(), 0);
  auto slow_config = load("[database]\ngroup_commit_interval_us = 200000\n");
  auto slow = read_settings(slow_config, "/x");
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.error().message.find("group_commit_interval_us"), std::string::npos) << slow.error().message;
  auto sometimes = load("[database]\ngroup_commit = sometimes\n");
  auto not_bool = read_settings(sometimes, "/x");
  ASSERT_FALSE(not_bool.ok());
  EXPECT_NE(not_bool.error().message.find("group_commit"), std::string::npos) << not_bool.error().message;
}

TEST(Config, SqliteLockingIsSharedOrExclusive) {
  auto exclusive = load("[database]\nsqlite_locking = exclusive\n");
  auto s = read_settings(exclusive, "/x");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->database.connection.exclusive_locking);
  auto shared_config = load("[database]\nsqlite_locking = shared\n");
  auto shared = read_settings(shared_config, "/x");
  ASSERT_TRUE(shared.ok()) << shared.error().message;
  EXPECT_FALSE(shared->database.connection.exclusive_locking);
  auto private_config = load("[database]\nsqlite_locking = private\n");
  auto bad = read_settings(private_config, "/x");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("sqlite_locking"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("exclusive"), std::string::npos) << bad.error().message;
}

TEST(Config, EnvironmentOverridesFile) {
  auto c = load("[server]\nport = 9000\n[database]\nbusy_timeout_ms = 100\n",
                {"PICLOUD_SERVER_PORT=9100", "PATH=/bin", "PICLOUD_DATABASE_URL=postgresql://u:pw@db:6543/app"});
  auto s = read_settings(c, "/x");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->http.port, 9100);
  EXPECT_EQ(s->database.connection.busy_timeout_ms, 100);
  EXPECT_EQ(s->database_url.dialect, sdk::Dialect::postgres);
  EXPECT_EQ(s->database_url.display, "postgresql://u:***@db:6543/app");
  EXPECT_NE(s->database_url.postgres_connection.find("host='db' port=6543 dbname='app' user='u' password='pw'"),
            std::string::npos);
}

// 0.1.0 called [server]'s listener keys [http]: a config or environment
// written for it still works, each such key with a warning, and [server]
// wins where both are given. The name http is free for a plugin.
TEST(Config, ListenerKeysUnderTheOldHttpSectionStillWorkWithAWarning) {
  auto c = load("[http]\nport = 9000\nthreads = 8\n[server]\nthreads = 16\n", {"PICLOUD_HTTP_MAX_BODY_BYTES=2048"});
  auto s = read_settings(c, "/x");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->http.port, 9000);
  EXPECT_EQ(s->http.threads, 16);
  EXPECT_EQ(s->http.max_body_bytes, 2048);
  std::string warnings;
  for (const auto& w : s->warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("[http] port (from "), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("is read as [server] port"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("PICLOUD_SERVER_PORT"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("[http] max_body_bytes (from environment PICLOUD_HTTP_MAX_BODY_BYTES)"), std::string::npos)
      << warnings;
  EXPECT_EQ(warnings.find("threads"), std::string::npos) << "[server] threads was given: " << warnings;
  EXPECT_EQ(s->warnings.size(), 2u) << warnings;
  EXPECT_TRUE(c.unread_keys({}).size() == 1u && c.unread_keys({})[0].rfind("[http] threads", 0) == 0)
      << "the shadowed [http] key is unread";
  for (const auto& name : s->plugins.reserved_names) EXPECT_NE(name, "http");
  auto fresh = load("[server]\nport = 9001\n");
  auto f = read_settings(fresh, "/x");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->warnings.empty());
}

TEST(Config, InvalidValueNamesKeyAndWhatIsAllowed) {
  auto c = load("[server]\nport = eighty\n");
  auto s = read_settings(c, "/x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("[server] port = 'eighty'"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("an integer from 0 to 65535"), std::string::npos) << s.error().message;

  auto c2 = load("", {"PICLOUD_LOG_LEVEL=loud"});
  auto s2 = read_settings(c2, "/x");
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(s2.error().message.find("environment PICLOUD_LOG_LEVEL"), std::string::npos) << s2.error().message;
  EXPECT_NE(s2.error().message.find("one of: debug, info, warn, error"), std::string::npos);

  auto c3 = load("[server]\nport = 70000\n");
  EXPECT_FALSE(read_settings(c3, "/x").ok());
  auto c4 = load("[plugins]\nenabled = kv, *\n");
  EXPECT_FALSE(read_settings(c4, "/x").ok());
}

TEST(Config, UnreadKeysAreReportedByName) {
  auto c = load("[server]\nprot = 1\nport = 1\n[kv]\nmax = 3\n[nobody]\nx = 1\n", {"PICLOUD_SERVER_TYPO=1", "PICLOUD_CONFIG=/x"});
  ASSERT_TRUE(read_settings(c, "/x").ok());
  auto unread = c.unread_keys({"kv"});
  std::string all;
  for (const auto& k : unread) all += k + ";";
  EXPECT_NE(all.find("[server] prot"), std::string::npos) << all;
  EXPECT_NE(all.find("[nobody] x"), std::string::npos) << all;
  EXPECT_NE(all.find("PICLOUD_SERVER_TYPO"), std::string::npos) << all;
  EXPECT_EQ(all.find("[server] port"), std::string::npos) << all;
  EXPECT_EQ(all.find("[kv]"), std::string::npos) << all;
  EXPECT_EQ(all.find("PICLOUD_CONFIG"), std::string::npos) << all;
}

TEST(Config, PluginSectionReadsTypedValues) {
  auto c = load("[kv]\nlimit = 5\nflag = yes\nbad = maybe\n", {"PICLOUD_KV_NAME=env"});
  PluginConfigSection kv(c, "kv");
  EXPECT_EQ(*kv.get_int("limit", 1, 1, 10), 5);
  EXPECT_EQ(*kv.get_int("absent", 3, 1, 10), 3);
  EXPECT_FALSE(kv.get_int("limit", 1, 6, 10).ok());
  EXPECT_TRUE(*kv.get_bool("flag", false));
  EXPECT_FALSE(kv.get_bool("bad", false).ok());
  EXPECT_EQ(*kv.get_string("name", "x"), "env");
  EXPECT_TRUE(kv.has("limit"));
  EXPECT_FALSE(kv.has("nothing"));
}

TEST(Config, TheFileFormat) {
  auto c = load("\xEF\xBB\xBF; a comment\n# another\n\n  [Server]  ; trailing comment\n  PORT=9002 \r\n"
                "host = 0.0.0.0\n[kv]\nname = a ; b = c\nname = twice\nempty =\n");
  EXPECT_EQ(*c.get_int("server", "port", 0, 0, 65535), 9002);
  EXPECT_EQ(*c.get_string("SERVER", "Host", ""), "0.0.0.0");
  EXPECT_EQ(*c.get_string("kv", "name", ""), "twice");  // the last one given
  EXPECT_EQ(*c.get_string("kv", "empty", "fallback"), "");
  static test::TempDir dir;
  auto refused = [&](const std::string& ini, const std::string& part) {
    dir.write("bad.ini", ini);
    auto r = Config::load(dir.file("bad.ini"), {});
    ASSERT_FALSE(r.ok()) << ini;
    EXPECT_NE(r.error().message.find(part), std::string::npos) << r.error().message;
  };
  refused("[server\nport = 1\n", "line 1: a section header without its closing ]");
  refused("[server]\nport 8080\n", "line 2: expected `key = value`");
  refused("port = 8080\n[server]\n", "line 1: 'port' is not under a [section]");
  refused("[server] port = 1\n", "line 1: text after the section header");
  refused("[]\n", "an empty section name");
  refused("[kv]\n= 3\n", "line 2: a value without a key");
}

TEST(Config, TlsNeedsBothFilesAndMakesTheSessionCookieSecure) {
  auto both_file = load("[server]\ntls_cert = /etc/picloud/cert.pem\ntls_key = /etc/picloud/key.pem\n");
  auto both = read_settings(both_file, "/x");
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_EQ(both->http.tls_cert, "/etc/picloud/cert.pem");
  EXPECT_EQ(both->http.tls_key, "/etc/picloud/key.pem");
  // auto: every request on a TLS listener is HTTPS.
  EXPECT_EQ(both->admin.identity.cookie_secure, admin::CookieSecure::always);
  auto never_file = load("[server]\ntls_cert = c.pem\ntls_key = k.pem\n[admin]\ncookie_secure = never\n");
  auto never = read_settings(never_file, "/x");
  ASSERT_TRUE(never.ok());
  EXPECT_EQ(never->admin.identity.cookie_secure, admin::CookieSecure::never);
  auto plain_file = load("");
  auto plain = read_settings(plain_file, "/x");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->admin.identity.cookie_secure, admin::CookieSecure::auto_detect);
  for (const char* half : {"[server]\ntls_cert = c.pem\n", "[server]\ntls_key = k.pem\n"}) {
    auto half_file = load(half);
    auto r = read_settings(half_file, "/x");
    ASSERT_FALSE(r.ok()) << half;
    EXPECT_NE(r.error().message.find("set both"), std::string::npos) << r.error().message;
  }
}

TEST(Config, MissingFileIsAnError) {
  auto c = Config::load("/nonexistent/picloud.ini", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/nonexistent/picloud.ini"), std::string::npos);
}

TEST(DatabaseUrl, RejectsMalformedUrls) {
  for (const char* bad : {"mysql://x/y", "sqlite:", "postgresql://", "postgresql://host", "postgresql://host/",
                          "postgresql://host:99999999/db", "postgresql://host/a/b", "postgresql://host/db?bad-key=1",
                          "nonsense"}) {
    auto r = kernel::db::parse_database_url(bad, 5);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) EXPECT_NE(r.error().message.find("[database] url"), std::string::npos) << r.error().message;
  }
  auto ok = kernel::db::parse_database_url("sqlite:///var/lib/picloud/p.db", 5);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->sqlite_path, "/var/lib/picloud/p.db");
  auto pg = kernel::db::parse_database_url("postgres://h/db?sslmode=require&connect_timeout=2", 5);
  ASSERT_TRUE(pg.ok());
  EXPECT_NE(pg->postgres_connection.find("sslmode='require'"), std::string::npos);
  EXPECT_EQ(pg->postgres_connection.find("connect_timeout='2'") == std::string::npos, false);
  EXPECT_EQ(pg->postgres_connection.find("connect_timeout=5"), std::string::npos);
}
