// Fuzzes the http plugin's URL reading (plugins/http/target_url.*): the
// SSRF guard judges the host this parser decides, so there must be exactly
// one reading of every URL and nothing unsafe in what it hands on.
//
// Invariants, any breach of which aborts:
//   - nothing crashes or trips ASan/UBSan;
//   - an accepted URL has a host, a port in 1-65535 and a target of
//     printable ASCII that starts with '/' (nothing that could split the
//     request line or add a header);
//   - an address host is the canonical text of its address, and a name host
//     is one inet_aton() would not take for an address (so the resolver can
//     never be handed an address the guard did not see as one);
//   - reading an accepted URL's own text again gives the same URL;
//   - a redirect Location, resolved against a fixed base, obeys the same.
//
// Input: the first byte chooses parse_url or resolve_location; the rest is
// the URL or the Location.
#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "target_url.hpp"

using namespace picloud::http;

namespace {

void check(bool ok, const char* what, std::string_view input) {
  if (!ok) {
    std::fprintf(stderr, "url invariant broken: %s (input %.*s)\n", what, static_cast<int>(input.size()), input.data());
    std::abort();
  }
}

void check_url(const TargetUrl& url, std::string_view input) {
  check(!url.host.empty(), "empty host", input);
  check(url.port >= 1 && url.port <= 65535, "port out of range", input);
  check(!url.target.empty() && url.target[0] == '/', "target does not start with /", input);
  for (unsigned char c : url.target) check(c >= 0x21 && c <= 0x7e, "target byte outside printable ASCII", input);
  if (url.literal) {
    check(url.host == to_string(*url.literal), "address host not canonical", input);
  } else {
    for (char c : url.host)
      check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.', "odd byte in a name",
            input);
    in_addr ignored{};
    check(inet_aton(url.host.c_str(), &ignored) == 0, "a name inet_aton reads as an address", input);
  }
  auto again = parse_url(url.text());
  check(bool(again), "an accepted URL's text is refused", input);
  check(again->host == url.host && again->port == url.port && again->target == url.target && again->https == url.https,
        "reading the URL's text again changes it", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    static const TargetUrl base = *parse_url("https://api.example.com:8443/v1/items?page=2");
    if (auto url = resolve_location(base, input)) check_url(*url, input);
  } else {
    if (auto url = parse_url(input)) check_url(*url, input);
  }
  return 0;
}
