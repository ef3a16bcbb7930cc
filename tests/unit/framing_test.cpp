// Request framing from partial input: the header block's end, the framing
// headers, and the chunked decoder fed in arbitrary pieces; and every shape of
// request a front proxy could read differently, refused.
#include "kernel/http/framing.hpp"

#include <Poco/Net/HTTPRequest.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace picloud::kernel::http;
using namespace std::string_literals;

TEST(Framing, HeaderBlockEndsAtTheFirstEmptyLine) {
  EXPECT_EQ(header_block_end("GET / HTTP/1.1\r\nHost: x\r\n"), 0u);
  EXPECT_EQ(header_block_end("GET / HTTP/1.1\r\nHost: x\r\n\r"), 0u);
  std::string full = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(header_block_end(full + "body"), full.size());
  EXPECT_EQ(header_block_end("GET / HTTP/1.1\nHost: x\n\nrest"), std::string("GET / HTTP/1.1\nHost: x\n\n").size());
  // Blank lines before a request line are skipped, not taken for its end.
  EXPECT_EQ(header_block_end("\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 4 + std::string("GET / HTTP/1.1\r\n\r\n").size());
  EXPECT_EQ(header_block_end("\r\n\r\n"), 0u);
}

TEST(Framing, ParsesAHeadAndRefusesBadOnes) {
  Poco::Net::HTTPRequest head;
  EXPECT_EQ(parse_head("POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", head), "");
  EXPECT_EQ(head.get("Host"), "x");
  EXPECT_EQ(head.getMethod(), "POST");
  EXPECT_EQ(head.getURI(), "/a?b=1");
  Poco::Net::HTTPRequest other;
  EXPECT_NE(parse_head("GET / HTTP/2.0\r\n\r\n", other).find("unsupported protocol version"), std::string::npos);
  Poco::Net::HTTPRequest garbage;
  EXPECT_NE(parse_head("THIS IS NOT HTTP\r\n\r\n", garbage), "");
}

namespace {
BodyFraming framing_of(const std::string& headers) {
  Poco::Net::HTTPRequest head;
  EXPECT_EQ(parse_head("POST / HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n", head), "");
  return body_framing(head);
}
}  // namespace

TEST(Framing, BodyFramingHeadersAreChecked) {
  EXPECT_EQ(framing_of("").kind, BodyFraming::none);
  EXPECT_EQ(framing_of("Content-Length: 0\r\n").kind, BodyFraming::none);
  auto fixed = framing_of("Content-Length: 12\r\n");
  EXPECT_EQ(fixed.kind, BodyFraming::fixed);
  EXPECT_EQ(fixed.length, 12);
  EXPECT_EQ(framing_of("Transfer-Encoding: Chunked\r\n").kind, BodyFraming::chunked);
  for (const char* bad : {"Content-Length: 12a\r\n", "Content-Length: -1\r\n", "Content-Length: \r\n",
                          "Content-Length: 99999999999999999999\r\n", "Transfer-Encoding: gzip, chunked\r\n",
                          "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"})
    EXPECT_FALSE(framing_of(bad).error.empty()) << bad;
}

TEST(Framing, ChunkedBodyDecodesFromAnyPieces) {
  const std::string wire = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  // Every split point, and one byte at a time.
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    ChunkedDecoder decoder;
    std::string in = wire.substr(0, split), body;
    auto first = decoder.feed(in, body, 1000);
    ASSERT_NE(first, Progress::failed) << split;
    Progress result = first;
    in += wire.substr(split);
    if (first == Progress::need_more) result = decoder.feed(in, body, 1000);
    ASSERT_EQ(result, Progress::done) << split;
    EXPECT_EQ(body, "helloabcdefghijklmnopqrstuvwxyz");
    EXPECT_EQ(in, "NEXT") << "bytes after the body stay for the next request";
  }
  ChunkedDecoder decoder;
  std::string in, body;
  Progress result = Progress::need_more;
  for (char c : wire) {
    in.push_back(c);
    result = decoder.feed(in, body, 1000);
    if (result != Progress::need_more) break;
  }
  EXPECT_EQ(result, Progress::done);
  EXPECT_EQ(body, "helloabcdefghijklmnopqrstuvwxyz");
}

TEST(Framing, ChunkedBodyErrors) {
  auto run = [](std::string in, std::int64_t max = 1000) {
    ChunkedDecoder decoder;
    std::string body;
    auto result = decoder.feed(in, body, max);
    return std::make_pair(result, decoder);
  };
  EXPECT_EQ(run("zz\r\nhello\r\n").first, Progress::failed);
  EXPECT_EQ(run("\r\n").first, Progress::failed);
  EXPECT_EQ(run("3\r\nhello\r\n").first, Progress::failed) << "data longer than the chunk size";
  EXPECT_EQ(run("fffffffffffffffff\r\n").first, Progress::failed) << "size overflow";
  EXPECT_EQ(run(std::string(5000, '1')).first, Progress::failed) << "endless size line";
  auto [result, decoder] = run("14\r\n01234567890123456789\r\n0\r\n\r\n", 16);
  EXPECT_EQ(result, Progress::failed);
  EXPECT_TRUE(decoder.too_large());
  auto [ok, fits] = run("10\r\n0123456789abcdef\r\n0\r\n\r\n", 16);
  EXPECT_EQ(ok, Progress::done);
  EXPECT_FALSE(fits.too_large());
}

namespace {
// The reason parse_head gives for `block`, or "" when it is accepted.
std::string head_error(const std::string& block) {
  Poco::Net::HTTPRequest head;
  return parse_head(block, head);
}
std::string framing_error(const std::string& block) {
  Poco::Net::HTTPRequest head;
  std::string error = parse_head(block, head);
  EXPECT_EQ(error, "") << block;
  return body_framing(head).error;
}
std::string chunked_error(std::string in) {
  ChunkedDecoder decoder;
  std::string body;
  auto result = decoder.feed(in, body, 1 << 20);
  return result == Progress::failed ? decoder.error() : "";
}
}  // namespace

// Each case is a request a proxy in front could frame or route differently
// than we would; each one was accepted before (Poco's lenient parser, first
// value wins) and is refused now, with a reason naming the problem.
TEST(Framing, HeadShapesAProxyCouldReadDifferentlyAreRefused) {
  struct Case {
    const char* what;
    std::string block, reason;
  };
  const std::vector<Case> cases{
      {"two Host headers", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: app.localhost\r\n\r\n", "2 Host headers"},
      {"two Host headers, other case", "GET / HTTP/1.1\r\nHost: a\r\nhOST: a\r\n\r\n", "2 Host headers"},
      {"no Host in HTTP/1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n", "needs a Host header"},
      {"a Host that is no host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "is not a host"},
      {"a Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "is not a host"},
      {"a Host list", "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", "is not a host"},
      {"space before the colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", "whitespace between the header name"},
      {"tab before the colon", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length\t: 5\r\n\r\n", "whitespace between the header name"},
      {"a line without a colon", "GET / HTTP/1.1\r\nHost: x\r\nJust some text\r\n\r\n", "has no colon"},
      {"obsolete line folding", "POST / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n", "obsolete line folding"},
      {"folding with a tab", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tmore\r\n\r\n", "obsolete line folding"},
      {"a name that is no token", "GET / HTTP/1.1\r\nHost: x\r\nX(a): 1\r\n\r\n", "is not a token"},
      {"an empty name", "GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n", "empty name"},
      {"NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"s, "control character in its value"},
      {"a bare CR in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", "control character in its value"},
      {"DEL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7f\r\n\r\n", "control character in its value"},
      {"ESC in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: \x1b[1m\r\n\r\n", "control character in its value"},
      {"NUL in the method", "G\0T / HTTP/1.1\r\nHost: x\r\n\r\n"s, "is not a token"},
      {"a method that is no token", "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", "is not a token"},
      {"a long method", std::string(33, 'A') + " / HTTP/1.1\r\nHost: x\r\n\r\n", "longer than 32 bytes"},
      {"NUL in the target", "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n"s, "control character"},
      {"a tab in the target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", "control character"},
      {"DEL in the target", "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", "control character"},
      {"two spaces after the method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", "extra spaces"},
      {"a space after the version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", "extra spaces"},
      {"a space inside the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", "extra spaces"},
      {"a request line of two words", "GET /\r\nHost: x\r\n\r\n", "is not 'METHOD target HTTP/1.1'"},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "unsupported protocol version 'HTTP/2.0'"},
      {"HTTP/0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", "unsupported protocol version"},
      {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", "unsupported protocol version"},
      {"a lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", "unsupported protocol version"},
      {"a bare LF after the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", "bare LF"},
      {"a bare LF after a header", "GET / HTTP/1.1\r\nHost: x\n\r\n", "bare LF"},
      {"bare LFs only", "GET / HTTP/1.1\nHost: x\n\n", "bare LF"},
      {"a bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "bare LF"},
      {"absolute form naming another host", "GET http://127.0.0.1/api/v1/admin/me HTTP/1.1\r\nHost: app.localhost\r\n\r\n", "names '127.0.0.1' but Host is 'app.localhost'"},
      {"absolute form without Host", "GET http://a/ HTTP/1.0\r\n\r\n", "has no Host header"},
      {"absolute form with user information", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", "user information"},
      {"absolute form without authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", "authority is empty"},
      {"another scheme", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "neither a path nor an http(s) URL"},
      {"authority form", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", "neither a path nor an http(s) URL"},
      {"asterisk form on GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", "only for OPTIONS"},
      {"no empty line at the end", "GET / HTTP/1.1\r\nHost: x\r\n", "incomplete"},
  };
  for (const auto& c : cases) {
    std::string error = head_error(c.block);
    EXPECT_NE(error.find(c.reason), std::string::npos) << c.what << ": got '" << error << "'";
  }
  std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  EXPECT_NE(head_error(many + "\r\n").find("more than 100 header fields"), std::string::npos);
}

TEST(Framing, WellFormedHeadsAreAcceptedAsSent) {
  Poco::Net::HTTPRequest head;
  ASSERT_EQ(parse_head("\r\n\r\nGET /p?q=1 HTTP/1.1\r\nHost: App.Localhost:8080\r\nX-Tab:\t a\tb \t\r\n"
                       "X-Empty:\r\nX-Utf8: caf\xc3\xa9\r\nX-Words: =?utf-8?q?hi?=\r\n\r\n",
                       head),
            "");
  EXPECT_EQ(head.getMethod(), "GET");
  EXPECT_EQ(head.getURI(), "/p?q=1");
  EXPECT_EQ(head.getVersion(), "HTTP/1.1");
  EXPECT_EQ(head.get("X-Tab"), "a\tb") << "surrounding whitespace is not part of the value";
  EXPECT_EQ(head.get("X-Empty"), "");
  EXPECT_EQ(head.get("X-Utf8"), "caf\xc3\xa9");
  EXPECT_EQ(head.get("X-Words"), "=?utf-8?q?hi?=") << "values are taken as sent, not RFC 2047-decoded";
  // HTTP/1.0 needs no Host.
  Poco::Net::HTTPRequest old;
  EXPECT_EQ(parse_head("GET / HTTP/1.0\r\n\r\n", old), "");
  // An absolute URL naming the Host's authority is served as its path.
  Poco::Net::HTTPRequest absolute;
  ASSERT_EQ(parse_head("GET HTTP://app.localhost:8080/a/b?c=d HTTP/1.1\r\nHost: APP.localhost:8080\r\n\r\n", absolute), "");
  EXPECT_EQ(absolute.getURI(), "/a/b?c=d");
  Poco::Net::HTTPRequest bare;
  ASSERT_EQ(parse_head("GET https://a?x HTTP/1.1\r\nHost: a\r\n\r\n", bare), "");
  EXPECT_EQ(bare.getURI(), "/?x");
  Poco::Net::HTTPRequest options;
  EXPECT_EQ(parse_head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", options), "");
}

// Content-Length and Transfer-Encoding: one framing or a refusal, never a
// choice between two. Repeated Content-Length headers are refused even when
// they agree (RFC 9112 allows either; no real client sends them).
TEST(Framing, AmbiguousBodyFramingIsRefused) {
  const std::string post = "POST / HTTP/1.1\r\nHost: x\r\n";
  struct Case {
    const char* what;
    std::string block, reason;
  };
  const std::vector<Case> cases{
      {"two different lengths", post + "Content-Length: 5\r\nContent-Length: 44\r\n\r\n", "2 Content-Length headers"},
      {"two equal lengths", post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", "2 Content-Length headers"},
      {"a list of lengths", post + "Content-Length: 5, 5\r\n\r\n", "not a number"},
      {"a signed length", post + "Content-Length: +5\r\n\r\n", "not a number"},
      {"TE and CL", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "both Content-Length and Transfer-Encoding"},
      {"CL and TE", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "both Content-Length and Transfer-Encoding"},
      {"chunked then gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n", "unsupported Transfer-Encoding"},
      {"gzip then chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n", "unsupported Transfer-Encoding"},
      {"xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n", "unsupported Transfer-Encoding 'xchunked'"},
      {"chunked twice in a list", post + "Transfer-Encoding: chunked, chunked\r\n\r\n", "unsupported Transfer-Encoding"},
      {"an empty coding", post + "Transfer-Encoding:\r\n\r\n", "unsupported Transfer-Encoding"},
      {"two TE headers", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "2 Transfer-Encoding headers"},
      {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "not allowed in an HTTP/1.0 request"},
  };
  for (const auto& c : cases) {
    std::string error = framing_error(c.block);
    EXPECT_NE(error.find(c.reason), std::string::npos) << c.what << ": got '" << error << "'";
  }
  Poco::Net::HTTPRequest head;
  ASSERT_EQ(parse_head(post + "Transfer-Encoding: CHUNKED \r\n\r\n", head), "");
  EXPECT_EQ(body_framing(head).kind, BodyFraming::chunked) << "coding names are case-insensitive";
}

TEST(Framing, ChunkedFramingIsStrict) {
  struct Case {
    const char* what;
    std::string in, reason;
  };
  const std::vector<Case> cases{
      {"a bare LF after the size", "5\nhello\r\n0\r\n\r\n", "bare LF"},
      {"a bare LF after the data", "5\r\nhello\n0\r\n\r\n", "bare LF"},
      {"a bare LF ending the body", "0\r\n\n", "bare LF"},
      {"a bare LF inside an extension", "5;a\nb\r\nhello\r\n0\r\n\r\n", "bare LF"},
      {"a bare CR after the data", "5\r\nhello\r\r\n0\r\n\r\n", "does not end where its size says"},
      {"a bare CR in an extension", "5;a\rb\r\nhello\r\n0\r\n\r\n", "chunk extension is malformed"},
      {"an extension that is no token", "5;(x)\r\nhello\r\n0\r\n\r\n", "chunk extension is malformed"},
      {"an extension without a semicolon", "5 x\r\nhello\r\n0\r\n\r\n", "chunk extension is malformed"},
      {"an unterminated quoted extension", "5;a=\"x\r\nhello\r\n0\r\n\r\n", "chunk extension is malformed"},
      {"NUL in a quoted extension", "5;a=\"\0\"\r\nhello\r\n0\r\n\r\n"s, "chunk extension is malformed"},
      {"whitespace after the size", "5 \r\nhello\r\n0\r\n\r\n", "chunk extension is malformed"},
      {"a sign before the size", "+5\r\nhello\r\n0\r\n\r\n", "chunk size is malformed"},
      {"a 0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "chunk extension is malformed"},
      {"16 hex digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", "chunk size is malformed"},
      {"an overflowing size", "10000000000000000000005\r\nhello\r\n0\r\n\r\n", "chunk size is malformed"},
      {"a trailer without a colon", "0\r\nno colon\r\n\r\n", "trailer line is malformed"},
      {"a folded trailer", "0\r\nX: 1\r\n 2\r\n\r\n", "trailer line is malformed"},
      {"a trailer with a control character", "0\r\nX: a\x01\r\n\r\n", "trailer line is malformed"},
  };
  for (const auto& c : cases) {
    std::string error = chunked_error(c.in);
    EXPECT_NE(error.find(c.reason), std::string::npos) << c.what << ": got '" << error << "'";
  }
  std::string endless = "0\r\n";
  for (int i = 0; i < 1000; ++i) endless += "X-Trailer-" + std::to_string(i) + ": some value\r\n";
  EXPECT_NE(chunked_error(endless).find("trailer section is too large"), std::string::npos);
  // Extensions in their grammar are read and dropped.
  ChunkedDecoder decoder;
  std::string in = "5 ; a = b ;c;d=\"q \\\" ;\"\r\nhello\r\n0;last\r\nX-Sum: 1\r\n\r\n", body;
  EXPECT_EQ(decoder.feed(in, body, 100), Progress::done) << decoder.error();
  EXPECT_EQ(body, "hello");
}
