// The sign-in limiter: guessing is slowed per address, per user name and
// address, and for a user name under attack from many addresses — yet a
// stranger cannot lock a user out, and made-up user names cannot grow its
// memory. Unit tests with explicit time, and one through real HTTP from two
// client addresses.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include "fixture.hpp"
#include "kernel/admin/login_limiter.hpp"

using namespace picloud;
using namespace picloud::test;
using kernel::admin::LoginLimiter;
using kernel::admin::LoginLimits;

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kStart = 1'000'000'000;

LoginLimits limits() {
  LoginLimits l;
  l.per_account = 5;
  l.per_address = 20;
  l.per_account_total = 100;
  l.window_s = 15 * 60;
  return l;
}

TEST(LoginLimiter, AStrangerCannotLockTheOwnerOut) {
  LoginLimiter limiter(limits());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.admit("owner", "203.0.113.7", kStart + i), 0) << i;
  // The guesser's address is stopped for the rest of its window...
  EXPECT_EQ(limiter.admit("owner", "203.0.113.7", kStart + kMinute), 14 * 60);
  // ...the owner, from an address with no failures, is not.
  EXPECT_EQ(limiter.admit("owner", "198.51.100.1", kStart + kMinute), 0);
  limiter.succeeded("owner", "198.51.100.1");
  // A success elsewhere does not free the guesser.
  EXPECT_GT(limiter.admit("owner", "203.0.113.7", kStart + 2 * kMinute), 0);
  // Once the window has ended, the guesser may try again.
  EXPECT_EQ(limiter.admit("owner", "203.0.113.7", kStart + 15 * kMinute), 0);
}

TEST(LoginLimiter, OneAddressCannotTryManyNamesInstead) {
  LoginLimiter limiter(limits());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(limiter.admit("name" + std::to_string(i), "203.0.113.7", kStart), 0) << i;
  EXPECT_GT(limiter.admit("owner", "203.0.113.7", kStart), 0);
  EXPECT_EQ(limiter.admit("owner", "198.51.100.1", kStart), 0);
}

// Many addresses, five guesses each, would give a botnet 5 × addresses
// guesses per window. Past the name's total, each address gets one.
TEST(LoginLimiter, ANameUnderDistributedAttackGetsOneGuessPerAddress) {
  auto l = limits();
  l.per_account_total = 10;
  LoginLimiter limiter(l);
  auto bot = [](int i) { return "203.0.113." + std::to_string(i); };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.admit("owner", bot(i), kStart), 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.admit("owner", bot(i), kStart), 0) << "below the total: a second guess";
  // The total (10) is reached: an address that failed gets no more...
  for (int i = 0; i < 5; ++i) EXPECT_GT(limiter.admit("owner", bot(i), kStart + kMinute), 0) << i;
  // ...a new address gets one guess, then no more...
  EXPECT_EQ(limiter.admit("owner", bot(50), kStart + kMinute), 0);
  EXPECT_GT(limiter.admit("owner", bot(50), kStart + kMinute), 0);
  // ...and the owner from a clean address still signs in.
  EXPECT_EQ(limiter.admit("owner", "198.51.100.1", kStart + kMinute), 0);
  limiter.succeeded("owner", "198.51.100.1");
  EXPECT_EQ(limiter.admit("owner", "198.51.100.1", kStart + 2 * kMinute), 0);
  limiter.succeeded("owner", "198.51.100.1");
  // Other names are not under attack.
  EXPECT_EQ(limiter.admit("alice", bot(0), kStart + kMinute), 0);
  // When the name's window ends, so does the strain.
  EXPECT_EQ(limiter.admit("owner", bot(0), kStart + 15 * kMinute), 0);
}

TEST(LoginLimiter, WithdrawnAttemptsDoNotCount) {
  LoginLimiter limiter(limits());
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(limiter.admit("owner", "203.0.113.7", kStart), 0) << i;
    limiter.withdrawn("owner", "203.0.113.7");
  }
  EXPECT_EQ(limiter.entries(), 0u);
}

// "2001:db8:<n>::" — the n-th /64 of a /48.
std::string ipv6_network(int n) {
  char text[32];
  std::snprintf(text, sizeof text, "2001:db8:0:%x::", n);
  return text;
}

// An IPv6 /64 is one client: a host usually holds a whole one, so counting
// its addresses apart would give an attacker 2^64 fresh ones.
TEST(LoginLimiter, AnIpv6NetworkCountsAsOneAddress) {
  LoginLimiter limiter(limits());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.admit("owner", ipv6_network(7) + std::to_string(i + 1), kStart), 0) << i;
  EXPECT_GT(limiter.admit("owner", ipv6_network(7) + "abcd:1", kStart), 0);
  EXPECT_GT(limiter.admit("owner", "2001:DB8:0:7:ffff:ffff:ffff:ffff", kStart), 0) << "any spelling of the network";
  EXPECT_EQ(limiter.admit("owner", ipv6_network(8) + "1", kStart), 0) << "the next /64 is another client";
  // An IPv4 client seen through an IPv6 socket is its IPv4 address.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.admit("admin", "203.0.113.9", kStart), 0) << i;
  EXPECT_GT(limiter.admit("admin", "::ffff:203.0.113.9", kStart), 0);
  // Success from the network forgets its failures on the name.
  limiter.succeeded("owner", ipv6_network(7) + "99");
  EXPECT_EQ(limiter.admit("owner", ipv6_network(7) + "2", kStart), 0);
}

// An attacker sending made-up names from ever new addresses (an IPv6 block
// has plenty of /64s) fills no more than the cap, and the limits still hold for the
// keys that are kept.
TEST(LoginLimiter, MadeUpNamesCannotGrowMemoryWithoutBound) {
  auto l = limits();
  l.max_entries = 1000;
  LoginLimiter limiter(l);
  for (int i = 0; i < 20'000; ++i)
    ASSERT_EQ(limiter.admit("random-" + std::to_string(i), ipv6_network(i) + "1", kStart + i), 0);
  EXPECT_LE(limiter.entries(), 3 * l.max_entries);
  for (int i = 0; i < 5; ++i) limiter.admit("owner", "203.0.113.7", kStart + 20'000);
  EXPECT_GT(limiter.admit("owner", "203.0.113.7", kStart + 20'001), 0) << "the newest windows are kept";
  // Windows that ended make room before any live one is dropped.
  for (int i = 0; i < 10; ++i) limiter.admit("late-" + std::to_string(i), "2001:db8:1::1", kStart + 16 * kMinute);
  EXPECT_LE(limiter.entries(), 3 * 10u + 3);
}

// An HTTP exchange from a chosen loopback address (all of 127.0.0.0/8 is
// the loopback interface), as the server sees clients.
HttpResult post_from(const std::string& address, int port, const std::string& path, const std::string& body) {
  HttpResult result;
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress::IPv4);
  socket.impl()->bind(Poco::Net::SocketAddress(address, 0));
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  Poco::Net::HTTPClientSession session(socket);
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req("POST", path, Poco::Net::HTTPMessage::HTTP_1_1);
  req.setHost("127.0.0.1", static_cast<Poco::UInt16>(port));
  req.setContentType("application/json");
  req.setContentLength64(static_cast<Poco::Int64>(body.size()));
  session.sendRequest(req) << body;
  Poco::Net::HTTPResponse res;
  std::istream& in = session.receiveResponse(res);
  result.status = res.getStatus();
  Poco::StreamCopier::copyToString(in, result.body);
  return result;
}

TEST(LoginLimiterHttp, GuessesFromOneAddressDoNotLockOutAnother) {
  Instance& pc = shared_instance(Backend::sqlite, false);
  pc.make_user("rosalind");
  auto login = [&](const std::string& from, const std::string& password) {
    return post_from(from, pc.port(), kAdmin + "/login",
                     R"({"username":"Rosalind","password":")" + password + R"("})");
  };
  for (int i = 0; i < 6; ++i) {
    auto r = login("127.0.0.2", "not the password");
    EXPECT_EQ(r.status, i < 5 ? 401 : 429) << i << r.body;
  }
  // The right password from the guessing address is refused, unchecked.
  EXPECT_EQ(login("127.0.0.2", kPassword).status, 429);
  // From another address it goes through.
  auto ok = login("127.0.0.3", kPassword);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(login("127.0.0.2", kPassword).status, 429) << "the guesser stays locked";
}

}  // namespace
