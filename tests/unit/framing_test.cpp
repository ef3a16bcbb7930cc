// Request framing from partial input: the header block's end, the framing
// headers, and the chunked decoder fed in arbitrary pieces.
#include "kernel/http/framing.hpp"

#include <Poco/Net/HTTPRequest.h>
#include <gtest/gtest.h>

using namespace picloud::kernel::http;

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
  EXPECT_EQ(parse_head("POST / HTTP/1.1\r\n" + headers + "\r\n", head), "");
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
