// HTTP routes a plugin registers with the kernel's router.
//
// Every route names the capability it requires. `kPublic` means anyone may
// call it; any other capability must be declared (by the kernel, or by the
// plugin with PluginContext::add_capability) and is checked by the kernel
// before the request body is read and before the handler runs:
//   401  no credentials, or bad, expired or revoked ones
//   403  signed in, but the role or the API key's scopes do not allow it
//   404  the app named by the route's `{app}` parameter does not exist, or the
//        caller is not a member of it (other apps' existence is not revealed)
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "picloud/sdk/error.hpp"

namespace picloud::sdk {

inline constexpr std::string_view kPublic = "public";

struct HttpRequest {
  std::string method;  // upper case
  std::string path;    // decoded path, without the query string
  std::string query;   // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
  std::map<std::string, std::string> params;  // path parameters matched by the route
  std::string body;
  std::string remote_address;
  std::string request_id;
  // The signed-in user's id once the route's capability
  // was checked (empty on public routes). For a route with an `{app}`
  // parameter, params["app"] then holds the app's id even when the caller
  // named the app by its slug.
  std::string principal;
  // On a RouteHosts::apps route: the app serving the request's Host.
  std::string app_id;
  // A route with spool_body: the body in an unlinked file (pread it; valid
  // until the handler returns, the kernel closes it), and `body` is empty.
  // A plugin keeping the bytes may link the file into place (linkat of
  // /proc/self/fd/<fd>) on the same file system instead of copying. -1
  // otherwise.
  int body_fd = -1;
  std::int64_t body_size = 0;  // of the body, wherever it is

  // First header with this (lower case) name, or empty.
  std::string_view header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
};

// A response body the server sends as the client takes it, instead of one
// buffer (a 1 GiB download costs a few buffers of memory, and a slow client
// holds no worker): a file range sent with sendfile, or a producer the server
// pulls from whenever the socket can take more. The server drops the stream
// (destroying it) when it is done: sent, failed, or the client gone.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // The body's length, or -1 when unknown (sent chunked).
  virtual std::int64_t length() const = 0;
  // A file to send [offset(), offset() + length()) of, or -1 for a producer.
  virtual int file() const { return -1; }
  virtual std::int64_t offset() const { return 0; }
  // A producer's next bytes, at most `capacity`; 0 at the end. Runs on a
  // server worker: it may block briefly (disk, database), never on a
  // client. An error, or fewer bytes than length() in all, ends the
  // connection (the status is sent already).
  virtual Result<std::size_t> read(char* buffer, std::size_t capacity) = 0;
};

// `length` bytes of `fd` from `offset`, sent with sendfile. The stream owns
// the descriptor and closes it.
class FileBody final : public BodyStream {
 public:
  FileBody(int fd, std::int64_t offset, std::int64_t length) : fd_(fd), offset_(offset), length_(length) {}
  ~FileBody() override {
    if (fd_ >= 0) ::close(fd_);
  }
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;
  std::int64_t length() const override { return length_; }
  int file() const override { return fd_; }
  std::int64_t offset() const override { return offset_; }
  Result<std::size_t> read(char* buffer, std::size_t capacity) override {
    if (length_ - read_ <= 0) return std::size_t{0};
    auto want = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(capacity), length_ - read_));
    ssize_t n = ::pread(fd_, buffer, want, offset_ + read_);
    if (n < 0) return make_error(ErrorKind::internal, "cannot read the response body's file");
    read_ += n;
    return static_cast<std::size_t>(n);
  }

 private:
  int fd_;
  std::int64_t offset_, length_, read_ = 0;
};

// A producer from a function: `length` bytes (-1: unknown) that `next`
// yields a piece at a time (0: the end).
class GeneratedBody final : public BodyStream {
 public:
  using Next = std::function<Result<std::size_t>(char* buffer, std::size_t capacity)>;
  GeneratedBody(std::int64_t length, Next next) : length_(length), next_(std::move(next)) {}
  std::int64_t length() const override { return length_; }
  Result<std::size_t> read(char* buffer, std::size_t capacity) override { return next_(buffer, capacity); }

 private:
  std::int64_t length_;
  Next next_;
};

// A connection taken over after a response's head, for a long-lived stream
// such as server-sent events (picloud.h, pc_takeover, has the contract).
// The kernel's stream loop holds it (no thread per connection); writes
// never block: what the client has not taken yet waits in a bounded buffer.
enum class StreamEnd : std::uint32_t {
  refused = 0,      // never opened: too many streams, or the server is stopping
  client_gone = 1,  // the client closed it, or a write failed
  closed = 2,       // the plugin closed it
  shutdown = 3,     // the server is stopping; the farewell was sent
};
enum class StreamWrite : std::uint32_t {
  written = 0,  // sent, or queued behind earlier bytes
  full = 1,     // not queued: the client is more than max_buffer_bytes behind
  gone = 2,     // not queued: closing or closed
};

class LiveStream {
 public:
  virtual ~LiveStream() = default;
  virtual StreamWrite write(std::string_view bytes) = 0;
  // Sends `last` (even past the buffer's bound), then closes once it is
  // flushed (or after 5 s). closed() follows, from the stream loop.
  virtual void close(std::string_view last = {}) = 0;
};

class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // The head is on its way; `stream` is valid until closed() returns.
  virtual void opened(LiveStream& stream) = 0;
  // Once, on the stream loop's thread (never from inside write or close).
  virtual void closed(StreamEnd why) = 0;
  std::string farewell;                // sent before closing at shutdown
  std::uint64_t max_buffer_bytes = 0;  // 0: 64 KiB
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, the body comes from here and `body` is ignored.
  std::shared_ptr<BodyStream> stream = {};
  // When set, the connection is taken over after the head (and `body`, its
  // first bytes); GET routes on app hosts only.
  std::shared_ptr<StreamHandler> takeover = {};

  static HttpResponse text(int status, std::string body) {
    return HttpResponse{status, {{"content-type", "text/plain; charset=utf-8"}}, std::move(body)};
  }
  static HttpResponse json(int status, std::string body) {
    return HttpResponse{status, {{"content-type", "application/json"}}, std::move(body)};
  }
};

// The HTTP exchange a script run answers, as a plugin function that takes
// the run's response sees it (ScriptType::response, CallContext::http).
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  // The request the run answers.
  virtual const HttpRequest& request() const = 0;
  // Sets the run's response: `response`'s status, and its body or stream;
  // its headers replace the script's headers of the same names, the
  // script's other headers stay. A body the script sets afterwards replaces
  // the stream. Only during the call that was given the exchange.
  virtual Result<void> respond(HttpResponse response) = 0;
};

// Who may use a capability. The app-scoped levels need the route's
// path to have an `{app}` parameter; the instance owner passes every level.
enum class Access {
  signed_in,   // any signed-in user or API key
  app_viewer,  // a member of the app with at least this role
  app_editor,
  app_admin,
  owner,       // the instance owner only
};

// A capability a plugin declares for its admin routes. `scope` is
// the API-key scope it needs: one of app:read, app:write, app:admin,
// script:read, script:write, logs:read, users:admin — or empty when any key
// of the user will do. Names are "<plugin>.<name>".
struct Capability {
  std::string name;
  Access access = Access::owner;
  std::string scope;
  std::string description;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Where a route answers.
//   admin  on the admin API's hosts ([admin] hostnames and IP addresses);
//          on an app's host the path stays the app's (never shadowed).
//   apps   on every app's hosts, under the prefix reserved for plugins:
//          path "/x" answers at "/_picloud/<plugin>/x", with
//          HttpRequest::app_id the app of the Host header. Public only: the
//          plugin authenticates such requests itself (signed URLs, webhook
//          secrets, tokens). No app may route a path under "/_picloud/".
enum class RouteHosts { admin, apps };
inline constexpr std::string_view kPluginRoutePrefix = "/_picloud/";

struct HttpRoute {
  std::string method;  // GET, POST, ... or "*" for any
  // Exact path ("/a/b"), prefix ("/a/*"), or with parameters ("/a/{id}").
  std::string path;
  std::string capability;  // kPublic or a capability name
  HttpHandler handler;
  RouteHosts hosts = RouteHosts::admin;
  // Request bodies written to a file as they arrive (HttpRequest::body_fd)
  // instead of kept in memory: for uploads of any size.
  bool spool_body = false;
  // The largest request body the route takes (413 beyond); 0: the server's
  // [server] max_body_bytes.
  std::int64_t max_body_bytes = 0;
};

}  // namespace picloud::sdk
