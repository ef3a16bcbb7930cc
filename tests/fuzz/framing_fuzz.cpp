// Fuzzes request framing (kernel/http/framing.*): arbitrary bytes read as a
// connection's input, the way the server reads it (header block, head,
// body framing, body), delivered in pieces at random split points.
//
// Invariants, any breach of which aborts:
//   - nothing crashes or trips ASan/UBSan;
//   - the same bytes give the same requests (method, target, body) and the
//     same final outcome however they are split: framing never depends on
//     how the bytes arrived, so there are never two readings of one stream;
//   - an accepted request has at most one of Content-Length and
//     Transfer-Encoding, one Host at most, and a Content-Length equal to its
//     body's size; its target is a path or '*'.
//
// Input: the first 8 bytes seed the split points, the rest is the stream.
#include <Poco/Net/HTTPRequest.h>
#include <Poco/String.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/http/framing.hpp"

using namespace picloud::kernel::http;

namespace {

constexpr std::size_t kMaxHeader = 8 << 10;
constexpr std::int64_t kMaxBody = 64 << 10;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "framing invariant broken: %s\n", what);
    std::abort();
  }
}

// What a connection's input amounted to: the requests read, then how it ended.
struct Reading {
  std::vector<std::string> requests;  // method, target and body of each
  std::string end;                    // "eof", "incomplete", or the refusal
  bool operator==(const Reading&) const = default;
};

// Reads requests as kernel/http/server.cpp does, from `pieces` in order.
Reading read_stream(const std::vector<std::string_view>& pieces) {
  Reading out;
  std::string in;
  enum { head, body } phase = head;
  std::unique_ptr<Poco::Net::HTTPRequest> head_of;
  BodyFraming framing;
  ChunkedDecoder chunked;
  std::string content;
  auto accept = [&] {
    const auto& request = *head_of;
    check(framing.kind != BodyFraming::chunked || !request.has("Content-Length"), "chunked with a Content-Length");
    if (request.has("Content-Length")) {
      check(std::stoll(request.get("Content-Length")) == static_cast<long long>(content.size()),
            "Content-Length differs from the body's size");
    }
    const std::string& uri = request.getURI();
    check(!uri.empty() && (uri[0] == '/' || uri == "*"), "a target that is neither a path nor '*'");
    out.requests.push_back(request.getMethod() + " " + uri + "\n" + content);
    phase = head;
  };
  for (std::size_t p = 0; p <= pieces.size(); ++p) {
    const bool eof = p == pieces.size();
    if (!eof) in.append(pieces[p]);
    for (;;) {
      if (phase == head) {
        std::size_t end = header_block_end(in);
        if (end > kMaxHeader || (end == 0 && in.size() > kMaxHeader)) return out.end = "431", out;
        if (end == 0) {
          if (!eof) break;
          out.end = in.find_first_not_of("\r\n") == std::string::npos ? "eof" : "incomplete head";
          return out;
        }
        head_of = std::make_unique<Poco::Net::HTTPRequest>();
        auto& request = *head_of;
        std::string error = parse_head(std::string_view(in).substr(0, end), request);
        in.erase(0, end);
        if (!error.empty()) return out.end = "400 " + error, out;
        int hosts = 0;
        for (const auto& [name, value] : request) hosts += Poco::icompare(name, "host") == 0;
        check(hosts <= 1, "two Host headers accepted");
        framing = body_framing(request);
        if (!framing.error.empty()) return out.end = "400 " + framing.error, out;
        check(!(request.has("Content-Length") && request.has("Transfer-Encoding")), "both framings accepted");
        content.clear();
        chunked = ChunkedDecoder();
        if (framing.kind == BodyFraming::none) {
          accept();
          continue;
        }
        if (framing.kind == BodyFraming::fixed && framing.length > kMaxBody) return out.end = "413", out;
        phase = body;
      }
      if (framing.kind == BodyFraming::chunked) {
        Progress progress = chunked.feed(in, content, kMaxBody);
        if (progress == Progress::failed) return out.end = "400 " + chunked.error(), out;
        check(static_cast<std::int64_t>(content.size()) <= kMaxBody, "a body past its limit");
        if (progress == Progress::need_more) {
          if (eof) return out.end = "incomplete body", out;
          break;
        }
      } else {
        std::size_t take = std::min(static_cast<std::size_t>(framing.length) - content.size(), in.size());
        content.append(in, 0, take);
        in.erase(0, take);
        if (static_cast<std::int64_t>(content.size()) < framing.length) {
          if (eof) return out.end = "incomplete body", out;
          break;
        }
      }
      accept();
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t seed = 0;
  for (int i = 0; i < 8; ++i) seed = seed << 8 | data[i];
  std::string_view stream(reinterpret_cast<const char*>(data) + 8, size - 8);

  Reading whole = read_stream({stream});
  // Split at random points (up to 16 pieces), and one byte at a time for
  // short inputs.
  std::mt19937_64 rng(seed);
  std::vector<std::string_view> pieces;
  for (std::size_t pos = 0; pos < stream.size();) {
    std::size_t n = std::min<std::size_t>(stream.size() - pos, 1 + rng() % (stream.size() / 8 + 2));
    pieces.push_back(stream.substr(pos, n));
    pos += n;
  }
  check(read_stream(pieces) == whole, "the reading depends on where the input was split");
  if (stream.size() <= 512) {
    pieces.clear();
    for (std::size_t i = 0; i < stream.size(); ++i) pieces.push_back(stream.substr(i, 1));
    check(read_stream(pieces) == whole, "the reading depends on where the input was split (byte by byte)");
  }
  return 0;
}
