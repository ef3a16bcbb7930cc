#include "kernel/http/framing.hpp"

#include <Poco/Exception.h>
#include <Poco/MemoryStream.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/NumberParser.h>
#include <Poco/String.h>

#include <cctype>

namespace picloud::kernel::http {

std::size_t header_block_end(std::string_view in) {
  std::size_t start = 0;
  while (start < in.size() && (in[start] == '\r' || in[start] == '\n')) ++start;
  // Lines end in CRLF; a bare LF is tolerated (as Poco's parser does).
  for (std::size_t i = in.find('\n', start); i != std::string_view::npos; i = in.find('\n', i + 1)) {
    if (i + 1 < in.size() && in[i + 1] == '\n') return i + 2;
    if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') return i + 3;
  }
  return 0;
}

std::string parse_head(std::string_view block, Poco::Net::HTTPRequest& head) {
  try {
    Poco::MemoryInputStream stream(block.data(), block.size());
    head.read(stream);
  } catch (const Poco::Exception& e) {
    return e.displayText();
  }
  const auto& version = head.getVersion();
  if (version != Poco::Net::HTTPMessage::HTTP_1_1 && version != Poco::Net::HTTPMessage::HTTP_1_0)
    return "unsupported protocol version '" + version.substr(0, 16) + "'";
  return {};
}

BodyFraming body_framing(const Poco::Net::HTTPRequest& head) {
  BodyFraming f;
  const bool has_length = head.has(Poco::Net::HTTPMessage::CONTENT_LENGTH);
  const bool has_coding = head.has(Poco::Net::HTTPMessage::TRANSFER_ENCODING);
  if (has_length && has_coding) {
    f.error = "both Content-Length and Transfer-Encoding are set";
    return f;
  }
  if (has_coding) {
    if (Poco::icompare(Poco::trim(head.get(Poco::Net::HTTPMessage::TRANSFER_ENCODING)), "chunked") != 0) {
      f.error = "unsupported Transfer-Encoding (only chunked is accepted)";
      return f;
    }
    f.kind = BodyFraming::chunked;
    return f;
  }
  if (has_length) {
    const std::string& text = head.get(Poco::Net::HTTPMessage::CONTENT_LENGTH);
    Poco::UInt64 n = 0;
    bool digits = !text.empty() && text.size() <= 18;
    for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!digits || !Poco::NumberParser::tryParseUnsigned64(text, n)) {
      f.error = "the Content-Length is not a number";
      return f;
    }
    f.length = static_cast<std::int64_t>(n);
    f.kind = f.length > 0 ? BodyFraming::fixed : BodyFraming::none;
  }
  return f;
}

Progress ChunkedDecoder::fail(std::string why) {
  error_ = std::move(why);
  return Progress::failed;
}

Progress ChunkedDecoder::feed(std::string& in, std::string& body, std::int64_t max_body) {
  constexpr std::size_t kMaxLine = 4096;  // a size line or a trailer field
  std::size_t pos = 0;
  Progress result = Progress::need_more;
  while (result == Progress::need_more) {
    std::string_view rest(in.data() + pos, in.size() - pos);
    if (state_ == State::data) {
      if (rest.empty()) break;
      std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
      body.append(rest.data(), take);
      pos += take;
      remaining_ -= take;
      if (remaining_ == 0) state_ = State::data_end;
      continue;
    }
    auto eol = rest.find('\n');
    if (eol == std::string_view::npos) {
      if (rest.size() > kMaxLine) result = fail("a chunk line is too long");
      break;
    }
    std::string_view line = rest.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos += eol + 1;
    switch (state_) {
      case State::size_line: {
        line = line.substr(0, line.find(';'));  // extensions are ignored
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
        if (line.empty() || line.size() > 15) {
          result = fail("a chunk size is malformed");
          break;
        }
        std::uint64_t size = 0;
        for (char c : line) {
          int digit = std::isdigit(static_cast<unsigned char>(c))   ? c - '0'
                      : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                      : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                               : -1;
          if (digit < 0) {
            size = UINT64_MAX;
            break;
          }
          size = size * 16 + static_cast<std::uint64_t>(digit);
        }
        if (size == UINT64_MAX) {
          result = fail("a chunk size is malformed");
        } else if (static_cast<std::uint64_t>(max_body) < body.size() + size) {
          too_large_ = true;
          result = fail("the body is too large");
        } else if (size == 0) {
          state_ = State::trailer;
        } else {
          remaining_ = size;
          state_ = State::data;
        }
        break;
      }
      case State::data_end:
        if (!line.empty()) result = fail("a chunk does not end where its size says");
        else state_ = State::size_line;
        break;
      case State::trailer:
        if (line.empty()) result = Progress::done;
        break;
      case State::data:
        break;
    }
  }
  in.erase(0, pos);
  return result;
}

}  // namespace picloud::kernel::http
