// The realtime benchmark's subscribers: N server-sent-event streams held
// by one thread (epoll), and publishes timed from the moment this program
// sends them to the moment each subscriber reads the event.
//
//   sse_fanout PORT HOST TOPIC SUBSCRIBERS PUBLISHES API_KEY APP HOLD_S
//
// Opens SUBSCRIBERS streams of GET /_picloud/realtime/topics/TOPIC on
// Host: HOST, waits until all are open, prints "open", then waits for a line
// on standard input (the script measures memory meanwhile); then publishes
// PUBLISHES events one at a time through the admin API (on localhost),
// each when the previous one reached every subscriber, and prints the
// latency distribution of all deliveries and of each publish's last one;
// then keeps the streams open, reading what comes, for HOLD_S seconds.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int connect_to(int port, bool blocking) {
  int fd = ::socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (r != 0 && errno != EINPROGRESS) {
    std::perror("connect");
    std::exit(1);
  }
  return fd;
}

struct Subscriber {
  int fd = -1;
  bool open = false;
  std::string in;
};

// POSTs an event whose message is the send time (µs); waits for 202.
void publish(int port, const std::string& key, const std::string& app, const std::string& topic) {
  int fd = connect_to(port, true);
  std::string body = "{\"message\":{\"sent_us\":" + std::to_string(now_us()) + "}}";
  std::string req = "POST /api/v1/admin/apps/" + app + "/realtime/topics/" + topic +
                    "/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + key +
                    "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  ::send(fd, req.data(), req.size(), 0);
  char buf[4096];
  std::string reply;
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  if (reply.compare(0, 12, "HTTP/1.1 202") != 0) {
    std::cerr << "publish failed: " << reply.substr(0, 300) << "\n";
    std::exit(1);
  }
}

double pct(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::cerr << "usage: sse_fanout PORT HOST TOPIC SUBSCRIBERS PUBLISHES API_KEY APP HOLD_S\n";
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string host = argv[2], topic = argv[3], key = argv[6], app = argv[7];
  const int n = std::atoi(argv[4]), publishes = std::atoi(argv[5]);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  int ep = epoll_create1(0);
  std::vector<Subscriber> subs(static_cast<std::size_t>(n));
  const std::string request = "GET /_picloud/realtime/topics/" + topic + " HTTP/1.1\r\nHost: " + host +
                              "\r\nAccept: text/event-stream\r\n\r\n";
  int opened = 0;
  std::vector<epoll_event> events(1024);
  auto pump = [&](int timeout_ms, auto&& on_data) {
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int i = 0; i < k; ++i) {
      auto& s = subs[events[i].data.u32];
      char buf[16384];
      for (;;) {
        ssize_t got = ::recv(s.fd, buf, sizeof buf, 0);
        if (got > 0) {
          s.in.append(buf, static_cast<std::size_t>(got));
          continue;
        }
        if (got == 0) {
          std::cerr << "a stream closed\n";
          std::exit(1);
        }
        break;
      }
      on_data(s);
    }
  };
  // Connect in waves the listener's backlog takes.
  for (int started = 0; started < n;) {
    int wave = std::min(n - started, 500);
    for (int i = started; i < started + wave; ++i) {
      auto& s = subs[static_cast<std::size_t>(i)];
      s.fd = connect_to(port, true);
      ::send(s.fd, request.data(), request.size(), 0);
      fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK);
      epoll_event ev{EPOLLIN, {.u32 = static_cast<std::uint32_t>(i)}};
      epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
    }
    started += wave;
    auto deadline = now_us() + 30'000'000;
    while (opened < started && now_us() < deadline)
      pump(100, [&](Subscriber& s) {
        if (!s.open && s.in.find("\r\n\r\n") != std::string::npos) {
          if (s.in.compare(0, 12, "HTTP/1.1 200") != 0) {
            std::cerr << "subscribe failed: " << s.in.substr(0, 300) << "\n";
            std::exit(1);
          }
          s.open = true;
          s.in.erase(0, s.in.find("\r\n\r\n") + 4);
          ++opened;
        }
      });
    if (opened < started) {
      std::cerr << "only " << opened << " of " << started << " streams opened\n";
      return 1;
    }
  }
  std::cout << "open " << opened << std::endl;
  std::string line;
  std::getline(std::cin, line);

  std::vector<std::int64_t> all, last_per_publish;
  all.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(publishes));
  for (int p = 0; p < publishes; ++p) {
    for (auto& s : subs) s.in.clear();
    publish(port, key, app, topic);
    int got = 0;
    std::int64_t latest = 0;
    auto deadline = now_us() + 30'000'000;
    while (got < n && now_us() < deadline)
      pump(100, [&](Subscriber& s) {
        auto at = s.in.find("\"sent_us\":");
        auto end = s.in.find("\n\n");
        if (at == std::string::npos || end == std::string::npos) return;
        const std::int64_t lat = now_us() - std::atoll(s.in.c_str() + at + 10);
        all.push_back(lat);
        latest = std::max(latest, lat);
        s.in.clear();
        ++got;
      });
    if (got < n) {
      std::cerr << "publish " << p << " reached " << got << " of " << n << " subscribers\n";
      return 1;
    }
    last_per_publish.push_back(latest);
  }
  std::printf("deliveries %zu: p50 %.2f ms, p99 %.2f ms, max %.2f ms; last subscriber per publish: p50 %.2f ms, p99 %.2f ms\n",
              all.size(), pct(all, 0.50), pct(all, 0.99), pct(all, 1.0), pct(last_per_publish, 0.50),
              pct(last_per_publish, 0.99));
  std::fflush(stdout);
  const auto hold_until = now_us() + std::atoll(argv[8]) * 1'000'000;
  while (now_us() < hold_until) pump(100, [](Subscriber& s) { s.in.clear(); });
  return 0;
}
