// A test plugin for request and response bodies that do not fit in memory:
//   PUT  /t_stream/spooled   (spooled, up to 1 GiB) answers "<size> <sum>"
//   POST /t_stream/small     (buffered, up to 100 bytes) answers "<size> <sum>"
//   GET  /t_stream/generated?size=N   N bytes from a producer, length known
//   GET  /t_stream/chunked?size=N     the same, length unknown (chunked)
//   GET  /t_stream/file?size=N        N bytes from a file, by sendfile
//   GET  /t_stream/broken[?chunked]   1 MiB (announced, or chunked), fails after 64 KiB
//   GET  /t_stream/events             takes the connection over (server-sent
//        events): "one" at once; then, from another thread, "two", an event
//        of 200,000 letters a-z repeated, and "bye" as it closes
// Byte i of every generated body is i % 251; <sum> is the sum of the bytes
// received, so both sides check content without keeping it.
#include <picloud/sdk.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace {

using namespace picloud::sdk;

std::int64_t size_param(const HttpRequest& req) {
  auto at = req.query.find("size=");
  return at == std::string::npos ? 0 : std::atoll(req.query.c_str() + at + 5);
}

// Bytes [from, from + n) of the pattern.
void pattern(char* out, std::int64_t from, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((from + static_cast<std::int64_t>(i)) % 251);
}

std::shared_ptr<BodyStream> generated(std::int64_t size, bool known_length, std::int64_t fail_after = -1) {
  auto sent = std::make_shared<std::int64_t>(0);
  return std::make_shared<GeneratedBody>(
      known_length ? size : -1, [size, sent, fail_after](char* buffer, std::size_t capacity) -> Result<std::size_t> {
        if (fail_after >= 0 && *sent >= fail_after) return make_error(ErrorKind::unavailable, "the source went away");
        auto n = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(capacity), size - *sent));
        pattern(buffer, *sent, n);
        *sent += static_cast<std::int64_t>(n);
        return n;
      });
}

HttpResponse sum_of(std::int64_t size, std::uint64_t sum) {
  return HttpResponse::text(200, std::to_string(size) + " " + std::to_string(sum));
}

// Events written from another thread than the one that opened the stream,
// as a publish would; the stream is used only while it is open.
class Events final : public StreamHandler, public std::enable_shared_from_this<Events> {
 public:
  Events() { max_buffer_bytes = 1 << 20; }
  void opened(LiveStream& stream) override {
    {
      std::lock_guard lock(mutex_);
      stream_ = &stream;
    }
    stream.write("data: one\n\n");
    std::thread([self = shared_from_this()] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::lock_guard lock(self->mutex_);
      if (!self->stream_) return;
      self->stream_->write("data: two\n\n");
      std::string big = "data: ";
      for (int i = 0; i < 200000; ++i) big.push_back(static_cast<char>('a' + i % 26));
      self->stream_->write(big + "\n\n");
      self->stream_->close("data: bye\n\n");
    }).detach();
  }
  void closed(StreamEnd) override {
    std::lock_guard lock(mutex_);
    stream_ = nullptr;
  }

 private:
  std::mutex mutex_;
  LiveStream* stream_ = nullptr;
};

class StreamPlugin final : public Plugin {
 public:
  Result<void> configure(PluginContext& ctx) override {
    auto add = [&](HttpRoute route) { return ctx.add_route(std::move(route)); };
    // App-host routes go through the data plane, which cannot spool.
    HttpRoute on_app_hosts{"PUT", "/upload", std::string(kPublic), [](const HttpRequest&) { return HttpResponse{}; }};
    on_app_hosts.hosts = RouteHosts::apps;
    on_app_hosts.spool_body = true;
    auto refused = add(std::move(on_app_hosts));
    if (refused || refused.error().message.find("cannot spool") == std::string::npos)
      return make_error(ErrorKind::internal, "an app-host route was allowed to spool, or refused for another reason");
    HttpRoute spooled{"PUT", "/t_stream/spooled", std::string(kPublic), [](const HttpRequest& req) {
                        if (req.body_fd < 0 || !req.body.empty()) return HttpResponse::text(500, "not spooled");
                        std::uint64_t sum = 0;
                        std::string buffer(1 << 16, '\0');
                        std::int64_t at = 0;
                        for (;;) {
                          ssize_t n = ::pread(req.body_fd, buffer.data(), buffer.size(), at);
                          if (n < 0) return HttpResponse::text(500, "cannot read the body");
                          if (n == 0) break;
                          for (ssize_t i = 0; i < n; ++i) sum += static_cast<unsigned char>(buffer[i]);
                          at += n;
                        }
                        if (at != req.body_size) return HttpResponse::text(500, "size differs");
                        return sum_of(at, sum);
                      }};
    spooled.spool_body = true;
    spooled.max_body_bytes = std::int64_t{1} << 30;
    if (auto r = add(std::move(spooled)); !r) return r;

    HttpRoute small{"POST", "/t_stream/small", std::string(kPublic), [](const HttpRequest& req) {
                      std::uint64_t sum = 0;
                      for (unsigned char ch : req.body) sum += ch;
                      if (req.body_fd >= 0 || req.body_size != static_cast<std::int64_t>(req.body.size()))
                        return HttpResponse::text(500, "not buffered");
                      return sum_of(req.body_size, sum);
                    }};
    small.max_body_bytes = 100;
    if (auto r = add(std::move(small)); !r) return r;

    if (auto r = add({"GET", "/t_stream/generated", std::string(kPublic), [](const HttpRequest& req) {
                        HttpResponse res{200, {{"content-type", "application/octet-stream"}}, ""};
                        res.stream = generated(size_param(req), true);
                        return res;
                      }});
        !r)
      return r;
    if (auto r = add({"GET", "/t_stream/chunked", std::string(kPublic), [](const HttpRequest& req) {
                        HttpResponse res{200, {{"content-type", "application/octet-stream"}}, ""};
                        res.stream = generated(size_param(req), false);
                        return res;
                      }});
        !r)
      return r;
    if (auto r = add({"GET", "/t_stream/broken", std::string(kPublic), [](const HttpRequest& req) {
                        HttpResponse res{200, {}, ""};
                        // ?chunked: of unknown length
                        res.stream = generated(1 << 20, req.query.find("chunked") == std::string::npos, 64 << 10);
                        return res;
                      }});
        !r)
      return r;
    if (auto r = add({"GET", "/t_stream/events", std::string(kPublic), [](const HttpRequest&) {
                        HttpResponse res{200, {{"content-type", "text/event-stream"}}, ""};
                        res.takeover = std::make_shared<Events>();
                        return res;
                      }});
        !r)
      return r;
    auto data_dir = ctx.data_dir();
    if (!data_dir) return data_dir.error();
    std::string dir = *data_dir;
    return add({"GET", "/t_stream/file", std::string(kPublic), [dir](const HttpRequest& req) {
                  // A file of the pattern, unlinked at once: the stream's
                  // descriptor is all that is left of it.
                  std::string path = dir + "/t_stream-XXXXXX";
                  int fd = ::mkstemp(path.data());
                  if (fd < 0) return HttpResponse::text(500, "cannot create a file");
                  ::unlink(path.c_str());
                  std::int64_t size = size_param(req);
                  std::string chunk(1 << 16, '\0');
                  for (std::int64_t at = 0; at < size;) {
                    auto n = static_cast<std::size_t>(std::min<std::int64_t>(chunk.size(), size - at));
                    pattern(chunk.data(), at, n);
                    if (::pwrite(fd, chunk.data(), n, at) != static_cast<ssize_t>(n)) {
                      ::close(fd);
                      return HttpResponse::text(500, "cannot write the file");
                    }
                    at += static_cast<std::int64_t>(n);
                  }
                  HttpResponse res{200, {{"content-type", "application/octet-stream"}}, ""};
                  res.stream = std::make_shared<FileBody>(fd, 0, size);
                  return res;
                }});
  }
  Result<void> start(PluginContext&) override { return {}; }
  void stop() override {}
};

}  // namespace

PICLOUD_PLUGIN(StreamPlugin, "t_stream", "1.0.0", "", "")
