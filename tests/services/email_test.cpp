// The email plugin end to end: scripts send through a real SMTP server
// (Debian's aiosmtpd, tests/services/smtp_server.py) over plain text,
// STARTTLS with AUTH and implicit TLS; what it received is read back with
// Python's own mail parser (parse_mail.py). Delivery goes through the
// kernel's outbox: a relay that is down is retried and the message sent once
// it is back; a refusal dead-letters it. Bad messages change nothing.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/hmac.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "http_test_server.hpp"
#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;
using V = sdk::Value;

namespace {

const char* kPython = "/usr/bin/python3";  // Debian's, where python3-aiosmtpd is

// A real SMTP server in a child process; stopped when this goes.
class SmtpServer {
 public:
  explicit SmtpServer(int port, std::vector<std::string> extra = {}) : port_(port) {
    std::vector<std::string> args{kPython, source_dir() + "/tests/services/smtp_server.py", "--port",
                                  std::to_string(port), "--out", dir_.path()};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(kPython, argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!std::filesystem::exists(dir_.path() + "/ready") && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    if (!std::filesystem::exists(dir_.path() + "/ready")) throw std::runtime_error("the SMTP test server did not start");
  }
  ~SmtpServer() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  int port() const { return port_; }
  // How many messages it took.
  std::size_t count() const {
    std::size_t n = 0;
    while (std::filesystem::exists(dir_.path() + "/" + std::to_string(n + 1) + ".eml")) ++n;
    return n;
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (count() < n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    return count() >= n;
  }
  // Message n (1-based) as a mail client reads it, and its envelope.
  V parsed(std::size_t n) const {
    std::string out = run_output(std::string(kPython) + " " + source_dir() + "/tests/services/parse_mail.py " + file(n, "eml"));
    return kernel::admin::parse_stored_json(out);
  }
  V envelope(std::size_t n) const { return kernel::admin::parse_stored_json(read_file(file(n, "json"))); }
  std::string raw(std::size_t n) const { return read_file(file(n, "eml")); }

 private:
  std::string file(std::size_t n, const char* ext) const { return dir_.path() + "/" + std::to_string(n) + "." + ext; }
  static std::string run_output(const std::string& command) {
    std::string out;
    FILE* p = ::popen(command.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    while (std::size_t got = std::fread(buf, 1, sizeof buf, p)) out.append(buf, got);
    ::pclose(p);
    return out;
  }
  TempDir dir_;
  int port_;
  pid_t pid_ = -1;
};

TestCertificates& certificates() {
  static TestCertificates c;
  return c;
}

std::map<std::string, std::string> email_env(int port, std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env{
      {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir()},
      {"PICLOUD_PLUGINS_ENABLED", "email"},
      {"PICLOUD_EMAIL_SMTP_HOST", "127.0.0.1"},
      {"PICLOUD_EMAIL_SMTP_PORT", std::to_string(port)},
      {"PICLOUD_EMAIL_SMTP_TLS", "none"},
      {"PICLOUD_EMAIL_HELO_NAME", "mail.picloud.test"},
      {"PICLOUD_EMAIL_TIMEOUT_MS", "3000"},
      {"PICLOUD_EMAIL_RETRY_BASE_MS", "300"},
      {"PICLOUD_EMAIL_RETRY_MAX_ATTEMPTS", "4"},
      {"PICLOUD_EMAIL_MAX_MESSAGE_BYTES", "200000"},
      {"PICLOUD_EMAIL_MAX_RECIPIENTS", "5"},
      {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

const char* kDriver = R"(
void handle(request@ req, response@ res) {
  json a = json::parse(req.body);
  string op = a.get_string("op");
  if (op == "send") res.text(email::send(a["message"]));
  else if (op == "send_now") res.text(email::send_now(a["message"]));
  else if (op == "status") res.json(email::status(a.get_string("id")));
  else throw("unknown op " + op);
})";

struct MailApp {
  Instance& pc;
  std::string slug;
  std::string id;
  DriverReply drive(const V& args) { return drive_at(pc, slug, "/mail", args); }
  std::string send(const V& message, const char* op = "send") {
    auto r = drive(V::object({{"op", op}, {"message", message}}));
    EXPECT_EQ(r.status, 200) << sdk::to_json(message) << " -> " << r.body;
    return r.body;
  }
  std::string refused(const V& message, const char* op = "send") {
    auto r = drive(V::object({{"op", op}, {"message", message}}));
    EXPECT_EQ(r.status, 502) << sdk::to_json(message) << " -> " << r.body;
    return r.error();
  }
  V status(const std::string& message_id) { return drive(V::object({{"op", "status"}, {"id", message_id}})).json; }
  bool wait_status(const std::string& message_id, const std::string& want, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (status(message_id)["status"].string_or("") == want) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
};

MailApp mail_app(Instance& pc, const std::string& slug) {
  std::string id = make_app(pc, slug);
  save_script(pc, slug, "mail", kDriver);
  bind_route(pc, slug, R"({"script":"mail","path":"/mail","methods":["POST"]})");
  return {pc, slug, id};
}

V simple(const std::string& to, const std::string& subject = "Hello") {
  return V::object({{"from", "Shop <shop@example.com>"}, {"to", to}, {"subject", subject}, {"text", "Hi there."}});
}

class EmailBackends : public ::testing::TestWithParam<Backend> {};

TEST_P(EmailBackends, AScriptsMessageArrivesOnceAsAMailClientReadsIt) {
  SmtpServer smtp(free_port());
  Instance pc(GetParam(), email_env(smtp.port()));
  pc.cast_owner();
  auto app = mail_app(pc, "shop");
  V message = V::object(
      {{"from", "Grüße Shop <shop@example.com>"},
       {"to", V::array({"ann@example.com", "Bob <bob@example.org>"})},
       {"cc", "carol@example.com"},
       {"bcc", "audit@example.com"},
       {"reply_to", "help@example.com"},
       {"subject", "Bestellung Nr. 7 — bestätigt"},
       {"text", "Hello Ann,\nyour order is on its way.\n.\nA line with a lone dot above."},
       {"html", "<p>Hello <b>Ann</b></p>"},
       {"headers", V::object({{"X-Campaign", "autumn"}})},
       {"attachments", V::array({V::object({{"name", "note.txt"}, {"type", "text/plain"}, {"content", "a note"}}),
                                 V::object({{"name", "bytes.bin"}, {"content_base64", "AAECA/8="}})})}});
  std::string id = app.send(message);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(app.wait_status(id, "sent"));
  ASSERT_TRUE(smtp.wait_for(1));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(smtp.count(), 1u) << "delivered once";

  V env = smtp.envelope(1);
  EXPECT_EQ(env["from"], V("shop@example.com"));
  EXPECT_EQ(env["to"], V::array({"ann@example.com", "bob@example.org", "carol@example.com", "audit@example.com"}));
  V m = smtp.parsed(1);
  EXPECT_EQ(m["defects"], V(0)) << sdk::to_json(m);
  EXPECT_EQ(m["subject"], V("Bestellung Nr. 7 — bestätigt"));
  EXPECT_EQ(m["from"], V("Grüße Shop <shop@example.com>"));
  EXPECT_EQ(m["to"], V("ann@example.com, Bob <bob@example.org>"));
  EXPECT_EQ(m["cc"], V("carol@example.com"));
  EXPECT_TRUE(m["bcc"].is_null()) << "Bcc is in the envelope only";
  EXPECT_EQ(m["reply_to"], V("help@example.com"));
  EXPECT_EQ(m["campaign"], V("autumn"));
  EXPECT_EQ(m["message_id"], V("<" + id + "@mail.picloud.test>"));
  EXPECT_EQ(m["top_type"], V("multipart/mixed"));
  const auto& parts = m["parts"];
  ASSERT_EQ(parts.size(), 4u) << sdk::to_json(m);
  EXPECT_EQ(parts[std::size_t{0}]["type"], V("text/plain"));
  EXPECT_EQ(parts[std::size_t{0}]["content"],
            V("Hello Ann,\nyour order is on its way.\n.\nA line with a lone dot above."));
  EXPECT_EQ(parts[std::size_t{1}]["type"], V("text/html"));
  EXPECT_EQ(parts[std::size_t{2}]["filename"], V("note.txt"));
  EXPECT_EQ(parts[std::size_t{2}]["content"], V("a note"));
  EXPECT_EQ(parts[std::size_t{3}]["filename"], V("bytes.bin"));
  EXPECT_EQ(parts[std::size_t{3}]["type"], V("application/octet-stream"));
  // parse_mail.py shows bytes as Latin-1 text: \xff arrives as U+00FF.
  EXPECT_EQ(parts[std::size_t{3}]["content"], V(std::string("\x00\x01\x02\x03\xc3\xbf", 6)));
  EXPECT_EQ(smtp.raw(1).find("audit@example.com"), std::string::npos);

  V status = app.status(id);
  EXPECT_EQ(status["attempts"], V(1));
  EXPECT_TRUE(contains(status["last_outcome"].string_or(""), "250"));
  EXPECT_TRUE(app.status("nope").is_null());
  // Another app does not see this one's messages.
  auto other = mail_app(pc, "other");
  EXPECT_TRUE(other.status(id).is_null());

  // Text alone is text/plain; both bodies alone are multipart/alternative.
  std::string plain = app.send(simple("ann@example.com", "plain"));
  V both = simple("ann@example.com", "both");
  both.as_object()["html"] = V("<p>hi</p>");
  app.send(both);
  ASSERT_TRUE(smtp.wait_for(3));
  std::map<std::string, std::string> types;
  for (std::size_t n = 2; n <= 3; ++n) types[smtp.parsed(n)["subject"].string_or("")] = smtp.parsed(n)["top_type"].string_or("");
  EXPECT_EQ(types["plain"], "text/plain");
  EXPECT_EQ(types["both"], "multipart/alternative");
}

INSTANTIATE_TEST_SUITE_P(Backends, EmailBackends, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

TEST(Email, BadMessagesAreRefusedAndChangeNothing) {
  SmtpServer smtp(free_port());
  Instance pc(Backend::sqlite, email_env(smtp.port(), {{"PICLOUD_EMAIL_ALLOWED_FROM_DOMAINS", "example.com, shop.example"}}));
  pc.cast_owner();
  auto app = mail_app(pc, "bad");
  auto with = [](const std::string& field, V value) {
    V m = simple("ann@example.com");
    m.as_object()[field] = std::move(value);
    return m;
  };
  auto without = [](const std::string& field) {
    V m = simple("ann@example.com");
    m.as_object().erase(field);
    return m;
  };
  EXPECT_TRUE(contains(app.refused(with("subject", V("Hi\r\nBcc: victim@example.com"))), "subject: may not hold control characters"));
  EXPECT_TRUE(contains(app.refused(with("subject", V("Hi\nX: y"))), "control characters"));
  EXPECT_TRUE(contains(app.refused(with("from", V("shop@example.com\r\nBcc: x@example.com"))), "from: an address may not hold control"));
  EXPECT_TRUE(contains(app.refused(with("to", V("ann@example.com>\r\nX: y"))), "control characters"));
  EXPECT_TRUE(contains(app.refused(with("headers", V::object({{"X-Tag", "a\r\nBcc: x@example.com"}}))), "headers.X-Tag: may not hold control"));
  EXPECT_TRUE(contains(app.refused(with("headers", V::object({{"Bcc", "x@example.com"}}))), "headers.Bcc: cannot be set"));
  EXPECT_TRUE(contains(app.refused(with("headers", V::object({{"Content-Type", "text/evil"}}))), "cannot be set"));
  EXPECT_TRUE(contains(app.refused(with("headers", V::object({{"X Bad", "v"}}))), "is not a header name"));
  EXPECT_TRUE(contains(app.refused(with("to", V("not an address"))), "is not an address"));
  EXPECT_TRUE(contains(app.refused(with("to", V("a@b..c"))), "is not an address"));
  EXPECT_TRUE(contains(app.refused(with("to", V::array({}))), "to: needs at least one address"));
  EXPECT_TRUE(contains(app.refused(with("to", V(7))), "to: must be an address or a list"));
  EXPECT_TRUE(contains(app.refused(without("to")), "to: is required"));
  EXPECT_TRUE(contains(app.refused(without("subject")), "subject: is required"));
  EXPECT_TRUE(contains(app.refused(without("text")), "needs a text or an html body"));
  EXPECT_TRUE(contains(app.refused(with("colour", V("red"))), "colour: is not a field of a message"));
  EXPECT_TRUE(contains(app.refused(with("to", V::array({"a@example.com", "b@example.com", "c@example.com", "d@example.com",
                                                        "e@example.com", "f@example.com"}))),
                       "at most 5 recipients"));
  EXPECT_TRUE(contains(app.refused(with("from", V("someone@elsewhere.org"))), "allowed domains"));
  EXPECT_TRUE(contains(app.refused(with("attachments", V::array({V::object({{"name", "../x"}, {"content", "a"}})}))), "slashes"));
  EXPECT_TRUE(contains(app.refused(with("attachments", V::array({V::object({{"name", "x"}, {"content_base64", "***"}})}))), "is not base64"));
  EXPECT_TRUE(contains(app.refused(with("attachments", V::array({V::object({{"name", "x"}, {"type", "text/html\r\nX: y"}, {"content", "a"}})}))), "media type"));
  EXPECT_TRUE(contains(app.refused(with("attachments", V::array({V::object({{"name", "big"}, {"content", std::string(300000, 'a')}})}))), "larger than the message cap"));
  EXPECT_TRUE(contains(app.refused(V::array({})), "message: must be an object"));
  EXPECT_TRUE(contains(app.refused(with("to", V("a@b..c")), "send_now"), "is not an address"));

  auto stored = pc.db().query("SELECT count(*) FROM email_messages");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->rows[0][0].as_int(), 0);
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox", {}, 0));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(smtp.count(), 0u);
}

TEST(Email, ARelayThatIsDownIsRetriedAndTheMessageSentOnceItIsBack) {
  const int port = free_port();
  Instance pc(Backend::sqlite, email_env(port));
  pc.cast_owner();
  auto app = mail_app(pc, "later");
  std::string id = app.send(simple("ann@example.com", "patience"));
  // Nobody listens: the first attempt fails and the message waits.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (app.status(id)["attempts"].int_or(0) < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  V first = app.status(id);
  ASSERT_EQ(first["status"], V("queued")) << sdk::to_json(first);
  EXPECT_TRUE(contains(first["last_outcome"].string_or(""), "could not be reached")) << sdk::to_json(first);
  SmtpServer smtp(port);
  ASSERT_TRUE(app.wait_status(id, "sent", 10s)) << sdk::to_json(app.status(id));
  ASSERT_TRUE(smtp.wait_for(1));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(smtp.count(), 1u);
  EXPECT_GE(app.status(id)["attempts"].int_or(0), 2);
  // Each attempt's outcome is kept.
  auto attempts = pc.db().query("SELECT outcome FROM email_attempts WHERE message_id = ? ORDER BY attempt", {id});
  ASSERT_TRUE(attempts && attempts->size() >= 2);
  EXPECT_EQ(attempts->rows.front()[0].as_string(), "retry");
  EXPECT_EQ(attempts->rows.back()[0].as_string(), "sent");

  // A recipient refused for now is tried every attempt, then dead-lettered;
  // one refused for good is dead-lettered at once.
  std::string temp = app.send(simple("tempfail@example.com", "temp"));
  std::string perm = app.send(simple("reject@example.com", "perm"));
  ASSERT_TRUE(app.wait_status(perm, "failed", 5s));
  EXPECT_EQ(app.status(perm)["attempts"], V(1));
  EXPECT_TRUE(contains(app.status(perm)["last_outcome"].string_or(""), "550"));
  ASSERT_TRUE(app.wait_status(temp, "failed", 15s)) << sdk::to_json(app.status(temp));
  EXPECT_EQ(app.status(temp)["attempts"], V(4));
  auto letters = pc.get("/apps/later/dead_letters?source=email.send", pc.owner_key);
  ASSERT_EQ(letters.status, 200);
  EXPECT_EQ(letters.json["items"].size(), 2u) << letters.body;
  EXPECT_EQ(smtp.count(), 1u);
}

TEST(Email, StartTlsWithAuthAndImplicitTlsReachTheRelay) {
  auto& certs = certificates();
  SmtpServer starttls(free_port(), {"--cert", certs.cert("localhost"), "--key", certs.key("localhost"), "--auth", "mailer:s3cret"});
  SmtpServer implicit(free_port(), {"--cert", certs.cert("localhost"), "--key", certs.key("localhost"), "--implicit"});
  std::map<std::string, std::string> tls{{"PICLOUD_EMAIL_SMTP_TLS", "starttls"},
                                         {"PICLOUD_EMAIL_SMTP_HOST", "localhost"},
                                         {"PICLOUD_EMAIL_CA_FILE", certs.ca_file()},
                                         {"PICLOUD_EMAIL_SMTP_USER", "mailer"},
                                         {"PICLOUD_EMAIL_SMTP_PASSWORD", "s3cret"}};
  {
    Instance pc(Backend::sqlite, email_env(starttls.port(), tls));
    pc.cast_owner();
    auto app = mail_app(pc, "tls");
    std::string id = app.send(simple("ann@example.com", "secure"), "send_now");
    EXPECT_EQ(app.status(id)["status"], V("sent"));
    // The connection is kept for the next message.
    app.send(simple("bob@example.com", "again"), "send_now");
    ASSERT_TRUE(starttls.wait_for(2));
    EXPECT_EQ(starttls.envelope(1)["auth"], V("mailer"));
    EXPECT_EQ(starttls.envelope(1)["tls"], V(true));
    EXPECT_EQ(starttls.parsed(2)["subject"], V("again"));
  }
  {
    auto wrong = tls;
    wrong["PICLOUD_EMAIL_SMTP_PASSWORD"] = "wrong";
    Instance pc(Backend::sqlite, email_env(starttls.port(), wrong));
    pc.cast_owner();
    auto app = mail_app(pc, "tls-wrong");
    EXPECT_TRUE(contains(app.refused(simple("ann@example.com"), "send_now"), "refused the session"));
  }
  {
    auto untrusted = tls;
    untrusted.erase("PICLOUD_EMAIL_CA_FILE");
    Instance pc(Backend::sqlite, email_env(starttls.port(), untrusted));
    pc.cast_owner();
    auto app = mail_app(pc, "tls-untrusted");
    EXPECT_TRUE(contains(app.refused(simple("ann@example.com"), "send_now"), "TLS"));
  }
  {
    Instance pc(Backend::sqlite, email_env(implicit.port(), {{"PICLOUD_EMAIL_SMTP_TLS", "implicit"},
                                                             {"PICLOUD_EMAIL_SMTP_HOST", "localhost"},
                                                             {"PICLOUD_EMAIL_CA_FILE", certs.ca_file()}}));
    pc.cast_owner();
    auto app = mail_app(pc, "implicit");
    app.send(simple("ann@example.com", "wrapped"));
    ASSERT_TRUE(implicit.wait_for(1));
    EXPECT_EQ(implicit.envelope(1)["tls"], V(true));
  }
  EXPECT_EQ(starttls.count(), 2u);
}

TEST(Email, TheGuidesExampleSends) {
  SmtpServer smtp(free_port());
  Instance pc(Backend::sqlite, email_env(smtp.port(), {{"PICLOUD_PLUGINS_ENABLED", "email,kv"}}));
  pc.cast_owner();
  make_app(pc, "guide");
  auto examples = guide_examples("email.md");
  ASSERT_EQ(examples.size(), 2u);
  save_script(pc, "guide", "order", examples[0]);
  // The inbound handler compiles and can be bound to an email trigger.
  save_script(pc, "guide", "inbox", examples[1]);
  ASSERT_EQ(pc.post("/apps/guide/triggers/email", pc.owner_key, R"({"script":"inbox"})").status, 201);
  bind_route(pc, "guide", R"({"script":"order","path":"/order","methods":["POST"]})");
  auto r = on(pc, "guide.localhost", "POST", "/order", R"({"email":"ann@example.com","id":"A-7"})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(smtp.wait_for(1));
  EXPECT_EQ(smtp.parsed(1)["subject"], V("Your order A-7"));
  EXPECT_EQ(smtp.envelope(1)["to"], V::array({"ann@example.com"}));
}

TEST(Email, AnAppPastItsHourlyLimitIsRefused) {
  SmtpServer smtp(free_port());
  Instance pc(Backend::sqlite, email_env(smtp.port(), {{"PICLOUD_EMAIL_MAX_MESSAGES_PER_APP_PER_HOUR", "2"}}));
  pc.cast_owner();
  auto app = mail_app(pc, "busy");
  app.send(simple("ann@example.com", "one"));
  app.send(simple("ann@example.com", "two"), "send_now");
  EXPECT_TRUE(contains(app.refused(simple("ann@example.com", "three")), "2 messages in the last hour"));
  EXPECT_TRUE(contains(app.refused(simple("ann@example.com", "three"), "send_now"), "its limit"));
  // Another app has its own.
  auto other = mail_app(pc, "quiet");
  other.send(simple("ann@example.com", "mine"));
  ASSERT_TRUE(smtp.wait_for(3));
}

TEST(Email, WithoutARelayEverySendSaysNotConfigured) {
  Instance pc(Backend::sqlite, email_env(1, {{"PICLOUD_EMAIL_SMTP_HOST", ""}}));
  pc.cast_owner();
  auto app = mail_app(pc, "off");
  EXPECT_TRUE(contains(app.refused(simple("ann@example.com")), "email is not configured"));
  EXPECT_TRUE(contains(app.refused(simple("ann@example.com"), "send_now"), "email is not configured"));
}

// ---- inbound ------------------------------------------------------------------

std::string hmac_hex(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) hex += {digits[out[i] >> 4], digits[out[i] & 15]};
  return hex;
}

std::int64_t unix_now() { return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count(); }

const char* kMime =
    "From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.org>\r\n"
    "To: support@shop.example, \"Sales, Team\" <sales@shop.example>\r\n"
    "Subject: =?utf-8?b?UsO8Y2tmcmFnZQ==?= about order 7\r\n"
    "Message-ID: <abc@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=C3=BC=C3=9Fe, where is my order?\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>where is my order?</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Disposition: attachment; filename=\"receipt.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--outer--\r\n";

class Inbound : public ::testing::TestWithParam<Backend> {};

TEST_P(Inbound, SignedMessagesReachTheTriggersHandlerAndEverythingElseIsRefused) {
  Instance pc(GetParam(), email_env(1, {{"PICLOUD_EMAIL_SMTP_HOST", ""},
                                        {"PICLOUD_PLUGINS_ENABLED", "email,kv"},
                                        {"PICLOUD_EMAIL_INBOUND_MAX_BYTES", "65536"}}));
  pc.cast_owner();
  make_app(pc, "desk");
  save_script(pc, "desk", "inbox", R"(
void on_event(event@ e) { kv::collection("inbox").set(e.data.get_string("message_id"), e.data); })");
  save_script(pc, "desk", "read", R"(
void handle(request@ req, response@ res) { res.json(kv::collection("inbox").get(req.query.get_string("k"))); })");
  bind_route(pc, "desk", R"({"script":"read","path":"/read"})");
  auto made = pc.post("/apps/desk/triggers/email", pc.owner_key, R"({"script":"inbox"})");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string trigger = made.json["id"].as_string();
  const std::string secret = made.json["setup"]["signing_secret"].string_or("");
  const std::string path = "/_picloud/email/inbound/" + trigger;
  ASSERT_FALSE(secret.empty()) << made.body;
  EXPECT_EQ(made.json["setup"]["webhook_path"], V(path));
  EXPECT_EQ(made.json["setup"]["webhook_urls"], V::array({"https://desk.localhost" + path}));
  EXPECT_FALSE(pc.get("/apps/desk/triggers/email/" + trigger, pc.owner_key).json.has("setup")) << "shown once";
  EXPECT_EQ(pc.post("/apps/desk/triggers/email", pc.owner_key, R"({"script":"inbox","filter":{"to":"x"}})").status, 400);

  auto post = [&](const std::string& body, const std::string& type, std::int64_t t, const std::string& key,
                  const std::string& at = "", const std::string& host = "desk.localhost") {
    std::map<std::string, std::string> headers{{"Content-Type", type}};
    if (!key.empty()) headers.emplace("X-PiCloud-Signature", "t=" + std::to_string(t) + ",v1=" + hmac_hex(key, std::to_string(t) + "." + body));
    return on(pc, host, "POST", at.empty() ? path : at, body, headers);
  };
  auto read = [&](const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    V got;
    while (std::chrono::steady_clock::now() < deadline) {
      got = kernel::admin::parse_stored_json(on(pc, "desk.localhost", "GET", "/read?k=" + id).body);
      if (!got.is_null()) break;
      std::this_thread::sleep_for(30ms);
    }
    return got;
  };

  // The generic JSON shape.
  const std::string json_body =
      R"({"from":"Ann <ann@example.com>","to":"support@shop.example","cc":["boss@shop.example"],"subject":"Hi",)"
      R"("text":"Hello","message_id":"<j1@example.com>","headers":{"X-Spam-Score":"0.1"},)"
      R"("attachments":[{"name":"a.txt","type":"text/plain","content_base64":"aGk="}]})";
  auto accepted = post(json_body, "application/json", unix_now(), secret);
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  V j = read("<j1@example.com>");
  EXPECT_EQ(j["from"], V("Ann <ann@example.com>"));
  EXPECT_EQ(j["to"], V::array({"support@shop.example"}));
  EXPECT_EQ(j["cc"], V::array({"boss@shop.example"}));
  EXPECT_EQ(j["source"], V("email"));
  EXPECT_EQ(j["op"], V("received"));
  EXPECT_EQ(j["headers"]["x-spam-score"], V("0.1"));
  EXPECT_EQ(j["attachments"][std::size_t{0}]["content_base64"], V("aGk="));
  EXPECT_EQ(j["attachments"][std::size_t{0}]["size"], V(2));

  // A raw message, parsed as a mail client would.
  ASSERT_EQ(post(kMime, "message/rfc822", unix_now(), secret).status, 202);
  V m = read("<abc@example.org>");
  EXPECT_EQ(m["from"], V("Jürgen <jurgen@example.org>"));
  EXPECT_EQ(m["to"], V::array({"support@shop.example", "\"Sales, Team\" <sales@shop.example>"}));
  EXPECT_EQ(m["subject"], V("Rückfrage about order 7"));
  EXPECT_EQ(m["text"], V("Grüße, where is my order?"));
  EXPECT_EQ(m["html"], V("<p>where is my order?</p>"));
  ASSERT_EQ(m["attachments"].size(), 1u) << sdk::to_json(m);
  EXPECT_EQ(m["attachments"][std::size_t{0}]["name"], V("receipt.pdf"));
  EXPECT_EQ(m["attachments"][std::size_t{0}]["type"], V("application/pdf"));
  EXPECT_EQ(m["attachments"][std::size_t{0}]["content_base64"], V("JVBERi0xLjQK"));

  // Refusals change nothing.
  auto queued = [&] {
    auto rows = pc.db().query("SELECT count(*) FROM outbox");
    return rows ? rows->rows[0][0].as_int() : -1;
  };
  ASSERT_TRUE(wait_count(pc, "SELECT count(*) FROM outbox", {}, 0));
  const std::string other = R"({"from":"x@example.com","to":"y@example.com","message_id":"<refused>"})";
  EXPECT_EQ(post(other, "application/json", unix_now(), "").status, 401);                       // unsigned
  EXPECT_EQ(post(other, "application/json", unix_now(), "whsec_wrong").status, 401);            // wrong key
  EXPECT_EQ(post(other, "application/json", unix_now() - 1000, secret).status, 401);            // too old: a replay
  EXPECT_EQ(post(other, "application/json", unix_now() + 1000, secret).status, 401);            // from the future
  {
    std::map<std::string, std::string> h{{"Content-Type", "application/json"},
                                                       {"X-PiCloud-Signature", "t=" + std::to_string(unix_now()) + ",v1=" +
                                                                                   hmac_hex(secret, std::to_string(unix_now()) + "." + other)}};
    EXPECT_EQ(on(pc, "desk.localhost", "POST", path, other + " ", h).status, 401) << "a body changed after signing";
  }
  EXPECT_EQ(post(other, "application/json", unix_now(), secret, "/_picloud/email/inbound/nope").status, 404);
  EXPECT_EQ(post("{\"from\":", "application/json", unix_now(), secret).status, 422);
  EXPECT_EQ(post(R"({"from":"x@example.com"})", "application/json", unix_now(), secret).status, 422);  // no to
  EXPECT_EQ(post(R"({"from":"x@example.com","to":"y@example.com","colour":1})", "application/json", unix_now(), secret).status, 422);
  EXPECT_EQ(post("just some text\r\n\r\nno headers", "message/rfc822", unix_now(), secret).status, 422);
  EXPECT_EQ(post(other, "text/plain", unix_now(), secret).status, 415);
  EXPECT_EQ(post(std::string(70000, 'a'), "message/rfc822", unix_now(), secret).status, 413);
  // Another app's host does not know this trigger.
  make_app(pc, "other-desk");
  EXPECT_EQ(post(other, "application/json", unix_now(), secret, "", "other-desk.localhost").status, 404);
  // A disabled trigger takes nothing; a deleted one's secret is gone with it.
  ASSERT_EQ(pc.call("PATCH", "/apps/desk/triggers/email/" + trigger, pc.owner_key, R"({"enabled":false})").status, 200);
  EXPECT_EQ(post(other, "application/json", unix_now(), secret).status, 404);
  ASSERT_EQ(pc.call("DELETE", "/apps/desk/triggers/email/" + trigger, pc.owner_key).status, 204);
  EXPECT_EQ(post(other, "application/json", unix_now(), secret).status, 404);
  auto sealed = pc.db().query("SELECT count(*) FROM sealed_values WHERE name = ?", {"inbound:" + trigger});
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->rows[0][0].as_int(), 0);
  EXPECT_EQ(queued(), 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(on(pc, "desk.localhost", "GET", "/read?k=<refused>").body == "null");
}

INSTANTIATE_TEST_SUITE_P(Backends, Inbound, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
