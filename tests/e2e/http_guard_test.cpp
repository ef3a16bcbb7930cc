// The http plugin's SSRF guard end to end, in a network namespace that
// http_guard_netns.sh makes: private, link-local, loopback and unique local
// addresses are on the namespace's only interface (lo), with this test's
// listener answering on all of them, and a test /etc/hosts names some. A
// guard that let a request through would reach the listener, and nothing
// else: no packet can leave the namespace.
//
// Each refused target is also shown to be reachable (with the development
// switch on), so a refusal is the guard's doing and not an unreachable
// address's.
//
// Every address here is the machine's own (all are on lo), which the guard
// refuses whatever its category: 11.0.0.1 stands for a public server and is
// let through by allow_cidrs; 12.0.0.1 stands for this machine's public
// address.
#include <Poco/Net/DatagramSocket.h>

#include <fstream>

#include "http_test_server.hpp"
#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;

namespace {

using V = sdk::Value;

// Refuses to run anywhere but in the namespace the script makes.
bool in_private_namespace() {
  if (!std::getenv("PICLOUD_IN_GUARD_NETNS")) return false;
  // /proc/net/dev lists the interfaces of this process's namespace.
  std::ifstream devices("/proc/net/dev");
  std::string line;
  int interfaces = 0;
  for (int n = 0; std::getline(devices, line); ++n) {
    if (n < 2) continue;  // the two header lines
    auto name = line.substr(0, line.find(':'));
    name.erase(0, name.find_first_not_of(' '));
    if (name != "lo") return false;
    ++interfaces;
  }
  return interfaces == 1;
}

const char* kDriver = R"(
void handle(request@ req, response@ res) {
  json a = req.json();
  int64 timeout = a.has("timeout_ms") ? a["timeout_ms"].as_int() : int64(3000);
  json options = {{"timeout_ms", timeout}};
  http::Response@ r = http::get(a.get_string("url"), options);
  json answer = {{"status", r.status}, {"body", r.text()}};
  res.json(answer);
})";

struct Guarded {
  std::unique_ptr<Instance> pc;
  std::string slug;

  Guarded(const std::string& name, bool allow_private) {
    pc = std::make_unique<Instance>(Backend::sqlite, std::map<std::string, std::string>{
                                                         {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir()},
                                                         {"PICLOUD_PLUGINS_ENABLED", "http"},
                                                         {"PICLOUD_HTTP_ALLOW_PRIVATE", allow_private ? "true" : "false"},
                                                         {"PICLOUD_HTTP_ALLOW_CIDRS", "11.0.0.1/32"},
                                                     });
    pc->cast_owner();
    slug = name;
    make_app(*pc, slug);
    save_script(*pc, slug, "fetch", kDriver);
    bind_route(*pc, slug, R"({"script":"fetch","path":"/fetch","methods":["POST"]})");
  }
  DriverReply get(const std::string& url) { return drive_at(*pc, slug, "/fetch", V::object({{"url", url}})); }
};

class HttpGuardInNamespace : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(in_private_namespace()) << "run through tests/e2e/http_guard_netns.sh: it makes the namespace";
    listener_ = new TestHttpServer("::", 0);  // every address of the namespace, IPv4 and IPv6
    guarded_ = new Guarded("guarded", false);
    open_ = new Guarded("open", true);
  }
  static void TearDownTestSuite() {
    delete open_;
    delete guarded_;
    delete listener_;
  }
  static std::string url(const std::string& host, const std::string& path = "/echo") {
    return "http://" + host + ":" + std::to_string(listener_->port()) + path;
  }
  static std::size_t reached() { return listener_->seen().size(); }

  static TestHttpServer* listener_;
  static Guarded* guarded_;
  static Guarded* open_;
};
TestHttpServer* HttpGuardInNamespace::listener_ = nullptr;
Guarded* HttpGuardInNamespace::guarded_ = nullptr;
Guarded* HttpGuardInNamespace::open_ = nullptr;

TEST_F(HttpGuardInNamespace, APublicAddressIsReachedByAddressAndByName) {
  auto before = reached();
  EXPECT_EQ(guarded_->get(url("11.0.0.1")).status, 200);
  auto by_name = guarded_->get(url("public.test"));
  EXPECT_EQ(by_name.status, 200) << by_name.body;
  EXPECT_EQ(reached(), before + 2);
  EXPECT_EQ(listener_->seen().back().local_address, "::ffff:11.0.0.1");
}

struct Target {
  std::string host;      // as written in the URL
  std::string category;  // what the refusal says
};

TEST_F(HttpGuardInNamespace, EveryInternalTargetIsRefusedThoughItIsReachable) {
  const Target table[] = {
      {"127.0.0.1", "loopback address"},
      {"localhost", "loopback address"},
      {"[::1]", "loopback address"},
      {"0.0.0.0", "unspecified address"},
      {"0", "unspecified address"},
      {"10.0.0.1", "private address"},
      {"167772161", "private address"},        // 10.0.0.1 as one number
      {"0xa.0.0.1", "private address"},
      {"012.0.0.1", "private address"},
      {"10.1", "private address"},             // 10.0.0.1, short
      {"10.0.0.1.", "private address"},
      {"%31%30.0.0.1", "private address"},
      {"[::ffff:10.0.0.1]", "private address"},
      {"[::ffff:a00:1]", "private address"},
      {"internal.test", "private address"},    // a name for a private address
      {"mixed.test", "private address"},       // one public, one private address
      {"172.16.0.1", "private address"},
      {"192.168.0.1", "private address"},
      {"100.64.0.1", "shared (carrier-grade NAT) address"},
      {"169.254.169.254", "link-local address"},
      {"metadata.test", "link-local address"},
      {"0xa9fea9fe", "link-local address"},
      {"192.0.0.1", "IETF protocol address"},
      {"198.18.0.1", "benchmarking address"},
      {"[fd00::1]", "unique local address"},
      {"[fc00::1]", "unique local address"},
      {"ula.test", "unique local address"},
      {"[fe80::1%25lo]", "link-local address"},
      {"[64:ff9b::a00:1]", "private address"},  // NAT64 of 10.0.0.1
      {"[2002:a00:1::1]", "private address"},   // 6to4 of 10.0.0.1
      {"224.0.0.1", "multicast address"},
      {"240.0.0.1", "reserved address"},
      {"255.255.255.255", "broadcast address"},
      {"12.0.0.1", "address of this machine"},  // public, but on an interface here
      {"self.test", "address of this machine"},
      {"[::ffff:12.0.0.1]", "address of this machine"},
  };
  auto before = reached();
  for (const auto& t : table) {
    auto r = guarded_->get(url(t.host));
    EXPECT_EQ(r.status, 502) << t.host << " -> " << r.body;
    EXPECT_TRUE(contains(r.error(), "forbidden: blocked: " + t.category)) << t.host;
    // The refusal names the category, never where the name pointed.
    for (const char* address : {"10.0.0.1", "169.254.169.254", "fd00::1", "127.0.0.1"})
      if (t.host.find(address) == std::string::npos)
        EXPECT_EQ(r.error().find(address), std::string::npos) << t.host << ": " << r.error();
  }
  EXPECT_EQ(reached(), before) << "a refused target was reached";

  // The same targets are there to be reached: the refusals were the guard's.
  for (const char* host : {"127.0.0.1", "localhost", "[::1]", "10.0.0.1", "0xa.0.0.1", "internal.test", "172.16.0.1",
                           "192.168.0.1", "100.64.0.1", "169.254.169.254", "metadata.test", "192.0.0.1", "198.18.0.1",
                           "[fd00::1]", "[fc00::1]", "ula.test", "0.0.0.0", "12.0.0.1", "self.test"}) {
    auto r = open_->get(url(host));
    EXPECT_EQ(r.status, 200) << host << " -> " << r.body;
  }
}

TEST_F(HttpGuardInNamespace, ANameNothingResolvesIsANetworkError) {
  // No resolver is reachable from the namespace, and the test hosts file
  // does not have it.
  auto r = guarded_->get(url("no-such-host.test"));
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_TRUE(contains(r.error(), "unavailable: network: the host name")) << r.body;
}

TEST_F(HttpGuardInNamespace, ARedirectToAnInternalAddressIsRefusedAtThatHop) {
  auto before = reached();
  for (const std::string& to : {std::string("http://10.0.0.1:") + std::to_string(listener_->port()) + "/echo",
                                std::string("http://internal.test:") + std::to_string(listener_->port()) + "/echo",
                                std::string("http://[::1]:") + std::to_string(listener_->port()) + "/echo",
                                std::string("http://169.254.169.254/latest/meta-data/")}) {
    std::string encoded;
    for (char c : to) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        encoded.push_back(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
        encoded += buf;
      }
    }
    auto r = guarded_->get(url("public.test", "/redirect?to=" + encoded));
    EXPECT_EQ(r.status, 502) << to << " -> " << r.body;
    EXPECT_TRUE(contains(r.error(), "forbidden: blocked:")) << to;
  }
  // Only the redirecting requests arrived, all on the public address.
  auto seen = listener_->seen();
  ASSERT_EQ(seen.size(), before + 4);
  for (auto i = before; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].local_address, "::ffff:11.0.0.1");
    EXPECT_EQ(seen[i].uri.rfind("/redirect", 0), 0u);
  }
}

// A name server that takes queries and never answers, on the namespace's
// loopback port 53 (the script's resolv.conf points there).
class SilentNameServer {
 public:
  SilentNameServer() : socket_(Poco::Net::SocketAddress("127.0.0.1", 53)) {}

 private:
  Poco::Net::DatagramSocket socket_;
};

// Last: the lookups it leaves hanging hold the app's share for 5 s more.
TEST_F(HttpGuardInNamespace, AnAppWhoseNameLookupsHangCannotHoldUpTheOthers) {
  SilentNameServer silent;
  make_app(*guarded_->pc, "neighbour");
  save_script(*guarded_->pc, "neighbour", "fetch", kDriver);
  bind_route(*guarded_->pc, "neighbour", R"({"script":"fetch","path":"/fetch","methods":["POST"]})");
  // Each lookup is given up after 100 ms, but goes on (the resolver waits 5
  // s): the app's 16 lookups in flight are soon all taken.
  std::string last;
  int refused = 0;
  for (int i = 0; i < 24; ++i) {
    auto r = drive_at(*guarded_->pc, guarded_->slug, "/fetch",
                      V::object({{"url", "http://hang" + std::to_string(i) + ".example:81/"}, {"timeout_ms", 100}}));
    EXPECT_EQ(r.status, 502) << r.body;
    last = r.error();
    refused += contains(r.error(), "network: too many host name lookups in progress") ? 1 : 0;
  }
  EXPECT_GE(refused, 8) << last;
  // Another app's lookups still run (this one answered from the hosts file).
  auto r = drive_at(*guarded_->pc, "neighbour", "/fetch", V::object({{"url", url("public.test")}}));
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
