// A raw HTTP/1.1 client for tests that move large bodies: requests sent
// as bytes, bodies of a fixed pattern sent and checked without being kept,
// responses framed by Content-Length, chunked or the connection's end.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace picloud::test::raw_http {

inline constexpr std::int64_t kMiB = 1 << 20;

inline int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

inline bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Bytes [from, from + n) of the pattern every t_stream body follows.
inline std::string pattern(std::int64_t from, std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((from + static_cast<std::int64_t>(i)) % 251);
  return out;
}

// Sends `size` bytes of the pattern as a body, 1 MiB at a time.
inline bool send_pattern(int fd, std::int64_t size) {
  // The pattern repeats every 251 bytes: one buffer serves every offset.
  std::string block = pattern(0, static_cast<std::size_t>(kMiB + 251));
  for (std::int64_t at = 0; at < size;) {
    auto n = static_cast<std::size_t>(std::min<std::int64_t>(kMiB, size - at));
    if (!send_all(fd, std::string_view(block).substr(static_cast<std::size_t>(at % 251), n))) return false;
    at += static_cast<std::int64_t>(n);
  }
  return true;
}

// A response read without keeping its body: the body's length and whether
// every byte followed the pattern.
struct Received {
  int status = 0;
  std::string head;
  std::int64_t length = 0;
  bool pattern_ok = true;
  bool complete = false;  // the framing's end was reached
  std::string body;       // the first KiB, for messages
};

class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  // More input; false at the end or on error.
  bool fill() {
    char buffer[1 << 16];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) failed_ = true;  // reset, or timed out: not a clean end
    if (n <= 0) return false;
    pending_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }
  std::string pending_;
  bool failed() const { return failed_; }

 private:
  int fd_;
  bool failed_ = false;
};

inline void take_body(Received& r, std::string_view bytes) {
  for (char ch : bytes) {
    if (static_cast<unsigned char>(ch) != r.length % 251) r.pattern_ok = false;
    if (r.body.size() < 1024) r.body.push_back(ch);
    ++r.length;
  }
}

// One response from `in` (which keeps what arrived past it, for the next).
inline Received read_response(Reader& in, bool head_request = false) {
  Received r;
  std::size_t end;
  while ((end = in.pending_.find("\r\n\r\n")) == std::string::npos)
    if (!in.fill()) return r;
  r.head = in.pending_.substr(0, end + 2);
  in.pending_.erase(0, end + 4);
  r.status = std::atoi(r.head.c_str() + 9);
  std::string lower = r.head;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (head_request) {
    // Nothing may follow the head (the request asked to close).
    while (in.fill()) {
    }
    r.complete = in.pending_.empty();
    return r;
  }
  if (auto at = lower.find("content-length: "); at != std::string::npos) {
    std::int64_t want = std::atoll(lower.c_str() + at + 16);
    for (;;) {
      auto n = static_cast<std::size_t>(std::min<std::int64_t>(want - r.length, static_cast<std::int64_t>(in.pending_.size())));
      take_body(r, std::string_view(in.pending_).substr(0, n));
      in.pending_.erase(0, n);
      if (r.length == want) break;
      if (!in.fill()) return r;
    }
    r.complete = true;
  } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
    for (;;) {
      std::size_t line;
      while ((line = in.pending_.find("\r\n")) == std::string::npos)
        if (!in.fill()) return r;
      std::int64_t size = std::strtoll(in.pending_.c_str(), nullptr, 16);
      in.pending_.erase(0, line + 2);
      while (static_cast<std::int64_t>(in.pending_.size()) < size + 2)
        if (!in.fill()) return r;
      take_body(r, std::string_view(in.pending_).substr(0, static_cast<std::size_t>(size)));
      in.pending_.erase(0, static_cast<std::size_t>(size) + 2);
      if (size == 0) break;
    }
    r.complete = true;
  } else {
    do {
      take_body(r, in.pending_);
      in.pending_.clear();
    } while (in.fill());
    r.complete = !in.failed();  // delimited by a clean close
  }
  return r;
}

inline Received read_response(int fd, bool head_request = false) {
  Reader in(fd);
  return read_response(in, head_request);
}

inline Received transfer(int port, const std::string& request, std::int64_t body_size = 0, bool head_request = false) {
  int fd = connect_to(port);
  if (fd < 0) return {};
  Received r;
  if (send_all(fd, request) && send_pattern(fd, body_size)) r = read_response(fd, head_request);
  ::close(fd);
  return r;
}

}  // namespace picloud::test::raw_http
