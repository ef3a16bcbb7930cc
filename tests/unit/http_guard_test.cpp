// The http plugin's SSRF guard, as pure functions: how every category of
// address is judged, how every spelling of a host is read, and how the
// operator's allow and deny rules combine. No packet is sent here; the
// end-to-end guard tests run in a network namespace (tests/e2e/http_guard_*).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "address_guard.hpp"
#include "target_url.hpp"

using namespace picloud::http;
using ::testing::HasSubstr;

namespace {

IpAddress ip(const char* text) {
  auto a = parse_ip(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(IpAddress{});
}

struct Classified {
  const char* address;
  AddressCategory category;
};

TEST(HttpGuard, EveryCategoryOfAddressIsRecognised) {
  using C = AddressCategory;
  const Classified table[] = {
      {"0.0.0.0", C::unspecified},          {"0.1.2.3", C::unspecified},
      {"127.0.0.1", C::loopback},           {"127.255.255.254", C::loopback},
      {"10.0.0.1", C::private_network},     {"172.16.0.1", C::private_network},
      {"172.31.255.255", C::private_network}, {"192.168.1.1", C::private_network},
      {"100.64.0.1", C::shared_address},    {"100.127.255.255", C::shared_address},
      {"169.254.169.254", C::link_local},   {"169.254.0.1", C::link_local},
      {"192.0.0.8", C::protocol_assignment}, {"192.0.2.1", C::documentation},
      {"198.51.100.7", C::documentation},   {"203.0.113.9", C::documentation},
      {"198.18.0.1", C::benchmarking},      {"198.19.255.255", C::benchmarking},
      {"224.0.0.1", C::multicast},          {"239.255.255.250", C::multicast},
      {"240.0.0.1", C::reserved},           {"255.255.255.254", C::reserved},
      {"255.255.255.255", C::broadcast},    {"192.88.99.1", C::reserved},
      {"::", C::unspecified},               {"::1", C::loopback},
      {"fc00::1", C::unique_local},         {"fd12:3456::1", C::unique_local},
      {"fe80::1", C::link_local},           {"febf::1", C::link_local},
      {"fec0::1", C::site_local},           {"ff02::1", C::multicast},
      {"2001:db8::1", C::documentation},    {"2001:2::1", C::benchmarking},
      {"3fff::1", C::documentation},        {"3fff:fff::1", C::documentation},
      {"2001::1", C::reserved},             {"64:ff9b:1::1", C::reserved},
      {"100::1", C::reserved},              {"4000::1", C::reserved},
      // IPv6 that carries IPv4: judged by the IPv4 address.
      {"::ffff:127.0.0.1", C::loopback},    {"::ffff:10.1.2.3", C::private_network},
      {"::ffff:169.254.169.254", C::link_local}, {"::ffff:0:192.168.0.1", C::private_network},
      {"::10.0.0.1", C::private_network},   {"::0.0.0.2", C::unspecified},
      {"64:ff9b::10.0.0.1", C::private_network}, {"64:ff9b::7f00:1", C::loopback},
      {"2002:a9fe:a9fe::", C::link_local},  {"2002:c0a8:0101::1", C::private_network},
      // Public addresses pass, in every form.
      {"8.8.8.8", C::public_address},       {"1.1.1.1", C::public_address},
      {"172.32.0.1", C::public_address},    {"100.128.0.1", C::public_address},
      {"2606:4700:4700::1111", C::public_address}, {"::ffff:8.8.8.8", C::public_address},
      {"3fff:1000::1", C::public_address},
      {"64:ff9b::808:808", C::public_address}, {"2002:808:808::1", C::public_address},
  };
  for (const auto& row : table)
    EXPECT_EQ(describe(classify(ip(row.address))), describe(row.category)) << row.address;
}

TEST(HttpGuard, RefusalsNameTheCategoryNeverTheAddress) {
  AddressGuard guard({});
  auto refused = guard.check_address("internal.example", ip("10.1.2.3"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "blocked: private address");
  EXPECT_EQ(refused.error().code, "blocked");
  EXPECT_EQ(refused.error().kind, picloud::sdk::ErrorKind::forbidden);
  EXPECT_EQ(guard.check_address("x", ip("169.254.169.254")).error().message, "blocked: link-local address");
  EXPECT_TRUE(guard.check_address("example.com", ip("93.184.216.34")));
}

TEST(HttpGuard, OperatorRulesAllowAndDeny) {
  GuardRules rules;
  rules.allow_cidrs = {*parse_cidr("10.20.0.0/16")};
  rules.deny_cidrs = {*parse_cidr("93.184.216.0/24"), *parse_cidr("10.20.30.0/24")};
  rules.allow_hosts = {"*.corp.internal"};
  rules.deny_hosts = {"evil.example", "*.tracker.example"};
  rules.deny_ports = {22, 25};
  AddressGuard guard(rules);
  EXPECT_TRUE(guard.check_address("svc", ip("10.20.1.1")));               // allowed CIDR
  EXPECT_FALSE(guard.check_address("svc", ip("10.20.30.1")));             // deny wins over allow
  EXPECT_FALSE(guard.check_address("svc", ip("10.21.0.1")));              // outside the allowed range
  EXPECT_FALSE(guard.check_address("svc", ip("::ffff:10.20.30.1")));      // deny sees through IPv6 forms
  EXPECT_EQ(guard.check_address("example.com", ip("93.184.216.34")).error().message, "blocked: denied address");
  EXPECT_TRUE(guard.check_address("api.corp.internal", ip("192.168.5.5")));  // allowed name
  EXPECT_FALSE(guard.check_address("corp.internal", ip("192.168.5.5")));     // the pattern is for names under it
  EXPECT_EQ(guard.check_host("evil.example", 443).error().message, "blocked: denied host");
  EXPECT_FALSE(guard.check_host("a.b.tracker.example", 443));
  EXPECT_EQ(guard.check_host("example.com", 22).error().message, "blocked: port 22 is not allowed");
  EXPECT_TRUE(guard.check_host("example.com", 8443));

  GuardRules only_tls;
  only_tls.allow_ports = {443};
  EXPECT_FALSE(AddressGuard(only_tls).check_host("example.com", 80));
  EXPECT_TRUE(AddressGuard(only_tls).check_host("example.com", 443));

  GuardRules dev;
  dev.allow_private = true;
  dev.deny_cidrs = {*parse_cidr("169.254.169.254")};
  EXPECT_TRUE(AddressGuard(dev).check_address("localhost", ip("127.0.0.1")));
  EXPECT_FALSE(AddressGuard(dev).check_address("metadata", ip("169.254.169.254")));  // deny still wins
}

TEST(HttpGuard, TheMachinesOwnAddressesAreRefusedWhateverTheirCategory) {
  AddressGuard guard({});
  guard.set_local_addresses({ip("93.184.216.34"), ip("2606:4700::6810:84e5")});
  EXPECT_EQ(guard.check_address("me.example", ip("93.184.216.34")).error().message,
            "blocked: address of this machine");
  EXPECT_FALSE(guard.check_address("me.example", ip("::ffff:93.184.216.34")));
  EXPECT_FALSE(guard.check_address("me.example", ip("2606:4700::6810:84e5")));
  EXPECT_TRUE(guard.check_address("other.example", ip("93.184.216.35")));
  // Read from the interfaces: loopback is always among them.
  guard.refresh_local_addresses();
  EXPECT_TRUE(guard.check_address("other.example", ip("93.184.216.34")));
  GuardRules allowed;
  allowed.allow_cidrs = {*parse_cidr("93.184.216.34")};
  AddressGuard operator_says(allowed);
  operator_says.set_local_addresses({ip("93.184.216.34")});
  EXPECT_TRUE(operator_says.check_address("me.example", ip("93.184.216.34")));
}

TEST(HttpGuard, CidrsParseAndRefuseNonsense) {
  EXPECT_TRUE(parse_cidr("10.0.0.0/8")->contains(ip("10.255.0.1")));
  EXPECT_FALSE(parse_cidr("10.0.0.0/8")->contains(ip("11.0.0.1")));
  EXPECT_TRUE(parse_cidr("10.1.2.3/8")->contains(ip("10.9.9.9")));  // host bits ignored
  EXPECT_TRUE(parse_cidr("fd00::/8")->contains(ip("fd12::1")));
  EXPECT_FALSE(parse_cidr("fd00::/8")->contains(ip("10.0.0.1")));
  EXPECT_TRUE(parse_cidr("0.0.0.0/0")->contains(ip("8.8.8.8")));
  EXPECT_TRUE(parse_cidr("1.2.3.4")->contains(ip("1.2.3.4")));
  EXPECT_FALSE(parse_cidr("1.2.3.4")->contains(ip("1.2.3.5")));
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "fd00::/129", "x/8", "10.0.0.0/8x", "010.0.0.0/8"})
    EXPECT_FALSE(parse_cidr(bad)) << bad;
}

struct Spelling {
  const char* url;
  const char* host;  // as the guard sees it
  int port;
};

TEST(HttpUrl, EverySpellingOfAnAddressIsReadAsTheAddress) {
  const Spelling table[] = {
      {"http://127.0.0.1/", "127.0.0.1", 80},
      {"http://2130706433/", "127.0.0.1", 80},        // one decimal number
      {"http://0x7f000001/", "127.0.0.1", 80},        // one hex number
      {"http://017700000001/", "127.0.0.1", 80},      // one octal number
      {"http://0177.0.0.1/", "127.0.0.1", 80},        // octal part
      {"http://0x7f.0.0.1/", "127.0.0.1", 80},        // hex part
      {"http://0X7F.0x0.0.0X1/", "127.0.0.1", 80},
      {"http://127.1/", "127.0.0.1", 80},             // short forms
      {"http://127.0.1/", "127.0.0.1", 80},
      {"http://0x7f.1/", "127.0.0.1", 80},
      {"http://127.0.0.1./", "127.0.0.1", 80},        // trailing dot
      {"http://%31%32%37.0.0.1/", "127.0.0.1", 80},   // percent-encoded digits
      {"http://0/", "0.0.0.0", 80},
      {"http://169.254.43518/", "169.254.169.254", 80},
      {"http://0251.0376.0251.0376/", "169.254.169.254", 80},
      {"http://0xa9fea9fe/", "169.254.169.254", 80},
      {"http://10.0.0.1:8080/x", "10.0.0.1", 8080},
      {"http://[::1]/", "::1", 80},
      {"http://[0:0:0:0:0:0:0:1]:81/", "::1", 81},
      {"http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", 80},
      {"http://[::FFFF:7F00:1]/", "::ffff:127.0.0.1", 80},
      {"http://[fe80::1%25eth0]/", "fe80::1", 80},    // zone id dropped, address judged
      {"http://[fe80::1%eth0]/", "fe80::1", 80},
      {"https://EXAMPLE.com./a", "example.com", 443},
      {"HTTPS://Example.COM:8443", "example.com", 8443},
      {"http://localhost:/", "localhost", 80},
  };
  for (const auto& row : table) {
    auto url = parse_url(row.url);
    ASSERT_TRUE(url) << row.url << ": " << url.error().message;
    EXPECT_EQ(url->host, row.host) << row.url;
    EXPECT_EQ(url->port, row.port) << row.url;
  }
  // What the guard then says of a few of them.
  AddressGuard guard({});
  for (const char* text : {"http://2130706433/", "http://0x7f.1/", "http://[::ffff:7f00:1]/", "http://127.0.0.1./"}) {
    auto url = parse_url(text);
    ASSERT_TRUE(url && url->literal) << text;
    EXPECT_EQ(guard.check_address(url->host, *url->literal).error().message, "blocked: loopback address") << text;
  }
}

TEST(HttpUrl, WhatCannotBeReadOneWayIsRefused) {
  const char* bad[] = {
      "example.com",                       // no scheme
      "http:example.com",                  // no //
      "http://",                           // no host
      "http://user:pass@example.com/",     // credentials
      "http://example.com@127.0.0.1/",
      "http://exa mple.com/",
      "http://example.com\\@127.0.0.1/",
      "http://ex\tample.com/",
      "http://example.com/\r\nHost: x",
      "http://example.com:0/",
      "http://example.com:65536/",
      "http://example.com:8o/",
      "http://256.0.0.1/",                 // meant as IPv4, out of range
      "http://1.2.3.4.5/",
      "http://0x100000000/",
      "http://1.08/",                      // 08 is not octal
      "http://example.123/",               // ends in a number: IPv4 or nothing
      "http://[::1/",
      "http://[1.2.3.4]/",
      "http://[::1]x/",
      "http://::1/",
      "http://b\xc3\xbc" "cher.de/",          // non-ASCII: punycode it
      "http://a..b/",
      "http://%zz.com/",
      "http://ex%00ample.com/",
  };
  for (const char* text : bad) {
    auto url = parse_url(text);
    EXPECT_FALSE(url) << text << " parsed as " << (url ? url->text() : "");
    if (!url) EXPECT_EQ(url.error().kind, picloud::sdk::ErrorKind::invalid_argument) << text;
  }
  for (const char* scheme : {"ftp://example.com/", "file:///etc/passwd", "gopher://x/", "data:text/plain,x",
                             "javascript:alert(1)"}) {
    auto url = parse_url(scheme);
    ASSERT_FALSE(url) << scheme;
    EXPECT_EQ(url.error().code, "blocked") << scheme;
  }
}

TEST(HttpUrl, TargetsAreSentAsPrintableAscii) {
  EXPECT_EQ(parse_url("http://x.com")->target, "/");
  EXPECT_EQ(parse_url("http://x.com?a=1")->target, "/?a=1");
  EXPECT_EQ(parse_url("http://x.com/a b?c=d e#frag")->target, "/a%20b?c=d%20e");
  EXPECT_EQ(parse_url("http://x.com/caf\xc3\xa9")->target, "/caf%C3%A9");
  EXPECT_EQ(parse_url("http://x.com/%41\"<>")->target, "/%41%22%3C%3E");
  EXPECT_EQ(parse_url("http://x.com:80/")->authority(), "x.com");
  EXPECT_EQ(parse_url("https://x.com:80/")->authority(), "x.com:80");
  EXPECT_EQ(parse_url("http://[::1]:8080/")->authority(), "[::1]:8080");
  EXPECT_EQ(parse_url("https://X.com/p")->origin(), "https://x.com");
}

TEST(HttpUrl, TheLengthCapHoldsForTheUrlAsSent) {
  // 6,000 bytes that each become "%XX": short enough to read, three times
  // too long to send. Accepting it would hand on a URL that reading its own
  // text again refuses.
  std::string escaped = "http://x.com/" + std::string(6000, '\xe9');
  auto url = parse_url(escaped);
  ASSERT_FALSE(url);
  EXPECT_EQ(url.error().code, "invalid_url");
  EXPECT_THAT(url.error().message, HasSubstr("once encoded"));
  auto base = *parse_url("https://api.example.com/v1/items");
  EXPECT_FALSE(resolve_location(base, std::string(6000, '\xe9')));

  std::string plain = "http://x.com/" + std::string(16 * 1024 - 13, 'a');
  auto longest = parse_url(plain);
  ASSERT_TRUE(longest);
  EXPECT_EQ(longest->text(), plain);
  EXPECT_FALSE(parse_url(plain + "a"));
}

TEST(HttpUrl, RedirectLocationsResolveAgainstTheirBase) {
  auto base = *parse_url("https://api.example.com/v1/items?page=2");
  auto at = [&](const char* location) {
    auto r = resolve_location(base, location);
    return r ? r->text() : "error: " + r.error().message;
  };
  EXPECT_EQ(at("https://other.example/x"), "https://other.example/x");
  EXPECT_EQ(at("//cdn.example/y"), "https://cdn.example/y");
  EXPECT_EQ(at("/root"), "https://api.example.com/root");
  EXPECT_EQ(at("next"), "https://api.example.com/v1/next");
  EXPECT_EQ(at("?page=3"), "https://api.example.com/v1/items?page=3");
  EXPECT_EQ(at("  /trimmed "), "https://api.example.com/trimmed");
  EXPECT_EQ(at("http://2130706433/"), "http://127.0.0.1/");
  EXPECT_EQ(at("ftp://x/"), "error: blocked: scheme 'ftp' is not allowed (http and https are)");
  EXPECT_FALSE(resolve_location(base, ""));
}

}  // namespace
