#include "kernel/plugins/host_api.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernel/http/server.hpp"
#include "kernel/json_text.hpp"
#include "kernel/log.hpp"
#include "picloud/sdk/access.hpp"
#include "picloud/sdk/c_values.hpp"
#include "picloud/sdk/cluster.hpp"
#include "picloud/sdk/jobs.hpp"
#include "picloud/sdk/triggers.hpp"

namespace picloud::kernel::plugins {
namespace {

using sdk::ErrorKind;
using sdk::Value;
using sdk::c::Answer;
using sdk::c::str;
using sdk::c::text;
using sdk::c::view;

// The smallest size a plugin may fill each struct with: up to the end of the
// struct's last field in ABI 2.0. Named by field, so appending fields in a
// minor leaves it alone; a reader checks an appended field with
// PICLOUD_SDK_HAS.
#define PICLOUD_END_OF(type, member) static_cast<std::uint32_t>(offsetof(type, member) + sizeof(type::member))
template <typename T>
constexpr std::uint32_t kMinimumSize = 0;
template <> constexpr std::uint32_t kMinimumSize<pc_route> = PICLOUD_END_OF(pc_route, user);
template <> constexpr std::uint32_t kMinimumSize<pc_capability> = PICLOUD_END_OF(pc_capability, description);
template <> constexpr std::uint32_t kMinimumSize<pc_http_response> = PICLOUD_END_OF(pc_http_response, body);
template <> constexpr std::uint32_t kMinimumSize<pc_script_param> = PICLOUD_END_OF(pc_script_param, default_value);
template <> constexpr std::uint32_t kMinimumSize<pc_script_function> = PICLOUD_END_OF(pc_script_function, doc);
template <> constexpr std::uint32_t kMinimumSize<pc_script_handle_type> = PICLOUD_END_OF(pc_script_handle_type, doc);
template <> constexpr std::uint32_t kMinimumSize<pc_trigger_kind> = PICLOUD_END_OF(pc_trigger_kind, event_field_count);
template <> constexpr std::uint32_t kMinimumSize<pc_event> = PICLOUD_END_OF(pc_event, payload);
template <> constexpr std::uint32_t kMinimumSize<pc_call> = PICLOUD_END_OF(pc_call, event);
template <> constexpr std::uint32_t kMinimumSize<pc_job_kind> = PICLOUD_END_OF(pc_job_kind, user);
template <> constexpr std::uint32_t kMinimumSize<pc_resource_kind> = PICLOUD_END_OF(pc_resource_kind, user);

// Whether a plugin's struct reaches `field`, a field appended after the
// struct's first fields (older plugins end before it).
#define PICLOUD_SDK_HAS(object, type, field) ((object).size >= offsetof(type, field) + sizeof(type::field))

// A list a plugin passes: its pointer may be null only when it is empty.
template <typename T>
sdk::Result<void> check_list(const T* items, std::size_t count, const char* what) {
  if (count && !items) return sdk::make_error(ErrorKind::invalid_argument, std::string(what) + " has no pointer for its " +
                                                                               std::to_string(count) + " items");
  return {};
}

template <typename T>
sdk::Result<void> check_struct(const T* p, const char* what) {
  static_assert(kMinimumSize<T> > 0, "name the struct's last ABI 2.0 field in kMinimumSize");
  if (!p) return sdk::make_error(ErrorKind::invalid_argument, std::string(what) + " is missing");
  if (p->size < kMinimumSize<T>)
    return sdk::make_error(ErrorKind::invalid_argument, "abi_mismatch",
                           std::string(what) + " is smaller (" + std::to_string(p->size) + " bytes) than in ABI 2.0 (" +
                               std::to_string(kMinimumSize<T>) + ")");
  return {};
}

// Runs a host function's body; its error, or what it threw, goes to `out`.
template <typename F>
pc_status host_call(const pc_out* out, F&& body) noexcept {
  try {
    sdk::Result<void> r = body();
    return r ? PC_OK : sdk::c::put_error(out, r.error());
  } catch (const std::exception& e) {
    try {
      return sdk::c::put_error(out, sdk::make_error(ErrorKind::internal, std::string("the kernel failed: ") + e.what()));
    } catch (...) {
      return PC_INTERNAL;
    }
  } catch (...) {
    return PC_INTERNAL;
  }
}

sdk::PluginContext& ctx(pc_plugin* p) { return plugin_context(p); }

sdk::Params params_of(const pc_value* params, std::size_t n) {
  if (n && !params) throw std::invalid_argument("the statement's parameters have no pointer");
  sdk::Params out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(sdk::c::to_value(params[i]));
  return out;
}

sdk::CallContext call_of(const pc_call& c) {
  sdk::CallContext call;
  call.app_id = view(c.app_id);
  call.principal = view(c.principal);
  call.script_id = view(c.script_id);
  call.execution_id = view(c.execution_id);
  call.trigger_depth = c.trigger_depth;
  if (PICLOUD_SDK_HAS(c, pc_call, deadline_ms)) call.deadline_ms = c.deadline_ms;
  return call;
}

// ---- core ----------------------------------------------------------------------

pc_str plugin_name(pc_plugin* p) { return str(ctx(p).plugin_name()); }

int log_enabled(pc_plugin* p, std::uint32_t level) {
  if (level > PC_LOG_ERROR) level = PC_LOG_ERROR;
  try {
    return ctx(p).logger().enabled(static_cast<sdk::LogLevel>(level)) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

void log(pc_plugin* p, std::uint32_t level, pc_str message, const pc_header* fields, std::size_t n) {
  if (level > PC_LOG_ERROR) level = PC_LOG_ERROR;
  try {
    sdk::LogFields f;
    if (!fields) n = 0;
    f.reserve(n);
    for (std::size_t i = 0; i < n; ++i) f.emplace_back(text(fields[i].name), text(fields[i].value));
    ctx(p).logger().log(static_cast<sdk::LogLevel>(level), view(message), f);
  } catch (...) {  // a log line that cannot be written is dropped
  }
}

int config_has(pc_plugin* p, pc_str key) {
  try {
    return ctx(p).config().has(view(key)) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

pc_status config_string(pc_plugin* p, pc_str key, pc_str fallback, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto v = ctx(p).config().get_string(view(key), view(fallback));
    if (!v) return v.error();
    sdk::c::put_value(out, Value(std::move(*v)));
    return {};
  });
}

pc_status config_int(pc_plugin* p, pc_str key, std::int64_t fallback, std::int64_t min, std::int64_t max,
                     const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto v = ctx(p).config().get_int(view(key), fallback, min, max);
    if (!v) return v.error();
    sdk::c::put_value(out, Value(*v));
    return {};
  });
}

pc_status config_bool(pc_plugin* p, pc_str key, int fallback, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto v = ctx(p).config().get_bool(view(key), fallback != 0);
    if (!v) return v.error();
    sdk::c::put_value(out, Value(*v));
    return {};
  });
}

// ---- database -------------------------------------------------------------------

std::uint32_t db_dialect(pc_plugin* p) {
  return ctx(p).database().dialect() == sdk::Dialect::postgres ? PC_DIALECT_POSTGRES : PC_DIALECT_SQLITE;
}

pc_status db_query(pc_plugin* p, pc_tx* tx, pc_str sql, const pc_value* params, std::size_t n, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto bound = params_of(params, n);
    auto rows = tx ? reinterpret_cast<sdk::Transaction*>(tx)->query(view(sql), bound)
                   : ctx(p).database().query(view(sql), bound);
    if (!rows) return rows.error();
    sdk::Array columns, table;
    columns.reserve(rows->columns.size());
    for (auto& c : rows->columns) columns.emplace_back(std::move(c));
    table.reserve(rows->rows.size());
    for (auto& row : rows->rows) table.emplace_back(std::move(row));
    sdk::c::put_value(out, Value(sdk::Object{{"columns", Value(std::move(columns))}, {"rows", Value(std::move(table))}}));
    return {};
  });
}

pc_status db_execute(pc_plugin* p, pc_tx* tx, pc_str sql, const pc_value* params, std::size_t n, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto bound = params_of(params, n);
    auto affected = tx ? reinterpret_cast<sdk::Transaction*>(tx)->execute(view(sql), bound)
                       : ctx(p).database().execute(view(sql), bound);
    if (!affected) return affected.error();
    sdk::c::put_value(out, Value(*affected));
    return {};
  });
}

pc_status db_transaction(pc_plugin* p, pc_status (*body)(void*, pc_tx*, const pc_out*), void* user,
                         const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (!body) return sdk::make_error(ErrorKind::invalid_argument, "the transaction has no body");
    return ctx(p).database().transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      Answer a;
      pc_status status = body(user, reinterpret_cast<pc_tx*>(&tx), a.out());
      return a.take_void(status);
    });
  });
}

// ---- routes and capabilities ------------------------------------------------------

// A plugin's response stream, as the server reads it. Closing it (once)
// is the kernel's: here, when the server drops the stream.
class PluginBodyStream final : public sdk::BodyStream {
 public:
  explicit PluginBodyStream(const pc_body_stream& s) : stream_(s) {}
  ~PluginBodyStream() override {
    if (stream_.fd >= 0) ::close(stream_.fd);
    if (stream_.close) stream_.close(stream_.user);
  }
  PluginBodyStream(const PluginBodyStream&) = delete;
  PluginBodyStream& operator=(const PluginBodyStream&) = delete;
  std::int64_t length() const override { return stream_.length < 0 ? -1 : stream_.length; }
  int file() const override { return stream_.fd; }
  std::int64_t offset() const override { return stream_.offset; }
  sdk::Result<std::size_t> read(char* buffer, std::size_t capacity) override {
    if (!stream_.read) return sdk::make_error(ErrorKind::internal, "the plugin's response stream has no read()");
    std::size_t produced = 0;
    Answer a;
    auto r = a.take_void(stream_.read(stream_.user, buffer, capacity, &produced, a.out()));
    if (!r) return r.error();
    return std::min(produced, capacity);
  }

 private:
  pc_body_stream stream_;
};

// A plugin's takeover (pc_takeover) as the server sees it. closed() reaches
// the plugin exactly once: from the stream loop, or here when the response
// was never sent.
class PluginTakeover final : public sdk::StreamHandler {
 public:
  explicit PluginTakeover(const pc_takeover& t) : takeover_(t) {
    farewell = text(t.farewell);
    max_buffer_bytes = t.max_buffer_bytes;
  }
  ~PluginTakeover() override {
    if (!closed_) takeover_.closed(takeover_.user, PC_STREAM_REFUSED);
  }
  PluginTakeover(const PluginTakeover&) = delete;
  PluginTakeover& operator=(const PluginTakeover&) = delete;
  void opened(sdk::LiveStream& stream) override {
    if (takeover_.opened) takeover_.opened(takeover_.user, reinterpret_cast<pc_stream*>(&stream));
  }
  void closed(sdk::StreamEnd why) override {
    if (closed_) return;
    closed_ = true;
    takeover_.closed(takeover_.user, static_cast<std::uint32_t>(why));
  }

 private:
  pc_takeover takeover_;
  bool closed_ = false;
};

std::uint32_t stream_write(pc_stream* stream, pc_str data) {
  if (!stream) return PC_STREAM_GONE;
  return static_cast<std::uint32_t>(reinterpret_cast<sdk::LiveStream*>(stream)->write(view(data)));
}
void stream_close(pc_stream* stream, pc_str last) {
  if (stream) reinterpret_cast<sdk::LiveStream*>(stream)->close(view(last));
}

// A request in C terms, borrowing from the kernel's.
class CRequest {
 public:
  explicit CRequest(const sdk::HttpRequest& req) {
    headers_.reserve(req.headers.size());
    for (const auto& [k, v] : req.headers) headers_.push_back(pc_header{str(k), str(v)});
    params_.reserve(req.params.size());
    for (const auto& [k, v] : req.params) params_.push_back(pc_header{str(k), str(v)});
    r_.size = sizeof r_;
    r_.method = str(req.method);
    r_.path = str(req.path);
    r_.query = str(req.query);
    r_.headers = headers_.data();
    r_.header_count = headers_.size();
    r_.params = params_.data();
    r_.param_count = params_.size();
    r_.body = str(req.body);
    r_.remote_address = str(req.remote_address);
    r_.request_id = str(req.request_id);
    r_.principal = str(req.principal);
    r_.app_id = str(req.app_id);
    r_.body_fd = req.body_fd;
    r_.body_size = req.body_fd >= 0 ? req.body_size : static_cast<std::int64_t>(req.body.size());
  }
  CRequest(const CRequest&) = delete;
  CRequest& operator=(const CRequest&) = delete;
  const pc_http_request* get() const { return &r_; }

 private:
  std::vector<pc_header> headers_, params_;
  pc_http_request r_{};
};

// A plugin's response in the kernel's terms; nothing when it is malformed.
// Its stream is the kernel's from here, whatever becomes of the response:
// closed at once when the response is refused or cannot be copied.
std::optional<sdk::HttpResponse> response_from(const pc_http_response* res) {
  if (!res) return std::nullopt;
  std::shared_ptr<PluginTakeover> takeover;
  if (PICLOUD_SDK_HAS(*res, pc_http_response, takeover) && res->takeover) {
    const pc_takeover& t = *res->takeover;
    if (t.size < PICLOUD_END_OF(pc_takeover, max_buffer_bytes) || !t.closed) return std::nullopt;  // cannot be told
    try {
      takeover = std::make_shared<PluginTakeover>(t);
    } catch (...) {
      t.closed(t.user, PC_STREAM_REFUSED);
      return std::nullopt;
    }
  }
  std::unique_ptr<PluginBodyStream> owned;
  if (PICLOUD_SDK_HAS(*res, pc_http_response, stream) && res->stream &&
      res->stream->size >= PICLOUD_END_OF(pc_body_stream, close)) {
    try {
      owned = std::make_unique<PluginBodyStream>(*res->stream);
    } catch (...) {  // no memory: give it back rather than unwind through C
      if (res->stream->fd >= 0) ::close(res->stream->fd);
      if (res->stream->close) res->stream->close(res->stream->user);
      return std::nullopt;
    }
  }
  if (res->size < kMinimumSize<pc_http_response> || (res->header_count && !res->headers)) return std::nullopt;
  try {
    sdk::HttpResponse response;
    std::shared_ptr<sdk::BodyStream> stream = std::move(owned);
    response.status = res->status;
    for (std::size_t i = 0; i < res->header_count; ++i)
      response.headers.emplace_back(text(res->headers[i].name), text(res->headers[i].value));
    response.body = text(res->body);
    response.stream = std::move(stream);
    response.takeover = std::move(takeover);
    return response;
  } catch (...) {
    return std::nullopt;
  }
}

sdk::HttpResponse call_route(pc_http_handler handler, void* user, const sdk::HttpRequest& req) {
  CRequest request(req);
  struct Reply {
    sdk::HttpResponse response;
    bool given = false;
  } reply;
  pc_responder responder{sizeof(pc_responder), &reply, [](void* user, const pc_http_response* res) {
                           auto* reply = static_cast<Reply*>(user);
                           auto response = response_from(res);
                           if (reply->given || !response) return;
                           reply->response = std::move(*response);
                           reply->given = true;
                         }};
  handler(user, request.get(), &responder);
  if (!reply.given || reply.response.status < 100 || reply.response.status > 599) {
    write_log(LogLevel::error, "server", "plugin route gave no valid response", {{"path", req.path}});
    return http::error_response(500, "internal", "internal error");
  }
  return std::move(reply.response);
}

pc_status add_route(pc_plugin* p, const pc_route* route, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (auto ok = check_struct(route, "the route"); !ok) return ok;
    if (!route->handler) return sdk::make_error(ErrorKind::invalid_argument, "the route has no handler");
    sdk::HttpRoute r;
    r.method = text(route->method);
    r.path = text(route->path);
    r.capability = text(route->capability);
    // Appended to pc_route after its first fields: read only when filled.
    const std::uint32_t hosts = PICLOUD_SDK_HAS(*route, pc_route, hosts) ? route->hosts : PC_ROUTE_ADMIN_HOSTS;
    if (hosts > PC_ROUTE_APP_HOSTS)
      return sdk::make_error(ErrorKind::invalid_argument, "route " + r.path + " has an unknown hosts value " + std::to_string(hosts));
    r.hosts = hosts == PC_ROUTE_APP_HOSTS ? sdk::RouteHosts::apps : sdk::RouteHosts::admin;
    if (PICLOUD_SDK_HAS(*route, pc_route, max_body_bytes)) {
      if (route->body > PC_BODY_SPOOLED)
        return sdk::make_error(ErrorKind::invalid_argument, "route " + r.path + " has an unknown body value " + std::to_string(route->body));
      if (route->max_body_bytes < 0)
        return sdk::make_error(ErrorKind::invalid_argument, "route " + r.path + " has a negative max_body_bytes");
      r.spool_body = route->body == PC_BODY_SPOOLED;
      r.max_body_bytes = route->max_body_bytes;
      // App-host routes are served through the data plane, which reads
      // bodies as apps' routes do (buffered, [server] max_body_bytes).
      if (r.hosts == sdk::RouteHosts::apps && (r.spool_body || r.max_body_bytes > 0))
        return sdk::make_error(ErrorKind::invalid_argument,
                               "route " + r.path + ": a route on app hosts cannot spool its body or set its own body limit");
    }
    r.handler = [handler = route->handler, user = route->user](const sdk::HttpRequest& req) {
      return call_route(handler, user, req);
    };
    return ctx(p).add_route(std::move(r));
  });
}

pc_status add_capability(pc_plugin* p, const pc_capability* cap, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (auto ok = check_struct(cap, "the capability"); !ok) return ok;
    if (cap->access > PC_ACCESS_OWNER)
      return sdk::make_error(ErrorKind::invalid_argument, "capability '" + text(cap->name) + "' has an unknown access level " +
                                                              std::to_string(cap->access));
    return ctx(p).add_capability(
        sdk::Capability{text(cap->name), static_cast<sdk::Access>(cap->access), text(cap->scope), text(cap->description)});
  });
}

// ---- scripts -------------------------------------------------------------------------

// Calls a plugin's script function with the kernel's values, borrowed.
sdk::Result<Value> call_script(pc_script_fn fn, void* user, const sdk::CallContext& call, const Value* self,
                               std::span<const Value> args) {
  sdk::c::CValues storage;
  pc_call c{};
  c.size = sizeof c;
  c.app_id = str(call.app_id);
  c.principal = str(call.principal);
  c.script_id = str(call.script_id);
  c.execution_id = str(call.execution_id);
  c.trigger_depth = call.trigger_depth;
  c.deadline_ms = call.deadline_ms;
  pc_value event{};
  if (call.event) {
    event = storage.make(*call.event);
    c.event = &event;
  }
  // Most calls take a few arguments: no allocation for them.
  std::array<pc_value, 8> inline_args;
  pc_value* cargs = args.size() <= inline_args.size() ? inline_args.data() : storage.values(args.size());
  for (std::size_t i = 0; i < args.size(); ++i) cargs[i] = storage.make(args[i]);
  pc_value cself{};
  if (self) cself = storage.make(*self);
  // A function given the run's response answers through its exchange.
  std::optional<CRequest> request;
  pc_http_exchange exchange{};
  if (call.http) {
    request.emplace(call.http->request());
    exchange.size = sizeof exchange;
    exchange.request = request->get();
    exchange.user = call.http;
    exchange.respond = [](void* user, const pc_http_response* res, const pc_out* out) -> pc_status {
      auto response = response_from(res);
      return host_call(out, [&]() -> sdk::Result<void> {
        if (!response) return sdk::make_error(ErrorKind::invalid_argument, "the response is malformed");
        return static_cast<sdk::HttpExchange*>(user)->respond(std::move(*response));
      });
    };
    c.http = &exchange;
  }
  Answer a;
  pc_status status = fn(user, &c, self ? &cself : nullptr, cargs, args.size(), a.out());
  return a.take(status);
}

sdk::Result<std::vector<sdk::ScriptParam>> params_from(const pc_script_function& fn) {
  std::vector<sdk::ScriptParam> out;
  for (std::size_t i = 0; i < fn.param_count; ++i) {
    const pc_script_param* p = fn.params[i];
    if (auto ok = check_struct(p, "a script parameter"); !ok) return ok.error();
    if (p->type == PC_SCRIPT_VOID || p->type > PC_SCRIPT_RESPONSE)
      return sdk::make_error(ErrorKind::invalid_argument, "parameter '" + text(p->name) + "' of '" + text(fn.name) +
                                                              "' has an unknown type " + std::to_string(p->type));
    sdk::ScriptParam param{text(p->name), static_cast<sdk::ScriptType>(p->type), text(p->handle_type)};
    if (p->default_value) param.default_value = sdk::c::to_value(*p->default_value);
    out.push_back(std::move(param));
  }
  return out;
}

// What a function and a handle method share, read from the plugin's struct
// into the kernel's declaration: name, parameters, result and doc.
template <typename Decl>
sdk::Result<void> read_function(const pc_script_function* fn, Decl& decl) {
  if (auto ok = check_struct(fn, "the script function"); !ok) return ok;
  if (!fn->fn) return sdk::make_error(ErrorKind::invalid_argument, "script function '" + text(fn->name) + "' has no code");
  if (fn->result > PC_SCRIPT_HANDLE)
    return sdk::make_error(ErrorKind::invalid_argument, "script function '" + text(fn->name) + "' has an unknown result type " +
                                                            std::to_string(fn->result));
  if (auto ok = check_list(fn->params, fn->param_count, "the script function's parameter list"); !ok) return ok;
  auto params = params_from(*fn);
  if (!params) return params.error();
  decl.name = text(fn->name);
  decl.params = std::move(*params);
  decl.result = static_cast<sdk::ScriptType>(fn->result);
  decl.result_handle = text(fn->result_handle);
  decl.doc = text(fn->doc);
  decl.database_only = PICLOUD_SDK_HAS(*fn, pc_script_function, flags) && (fn->flags & PC_SCRIPT_DATABASE_ONLY) != 0;
  return {};
}

pc_status add_script_function(pc_plugin* p, const pc_script_function* fn, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    sdk::ScriptFunctionDecl decl;
    if (auto ok = read_function(fn, decl); !ok) return ok;
    decl.ns = text(fn->ns);
    decl.call = [f = fn->fn, user = fn->user](const sdk::CallContext& call, std::span<const Value> args) {
      return call_script(f, user, call, nullptr, args);
    };
    auto* api = ctx(p).script_api();
    if (!api) return sdk::make_error(ErrorKind::unavailable, "scripts are not available");
    return api->add_function(std::move(decl));
  });
}

pc_status add_script_handle_type(pc_plugin* p, const pc_script_handle_type* type, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (auto ok = check_struct(type, "the handle type"); !ok) return ok;
    if (auto ok = check_list(type->methods, type->method_count, "the handle type's method list"); !ok) return ok;
    sdk::ScriptHandleTypeDecl decl;
    decl.ns = text(type->ns);
    decl.name = text(type->name);
    decl.doc = text(type->doc);
    for (std::size_t i = 0; i < type->method_count; ++i) {
      const pc_script_function* m = type->methods[i];
      sdk::ScriptMethodDecl method;
      if (auto ok = read_function(m, method); !ok) return ok;
      method.property = PICLOUD_SDK_HAS(*m, pc_script_function, flags) && (m->flags & PC_SCRIPT_PROPERTY) != 0;
      method.call = [f = m->fn, user = m->user](const sdk::CallContext& call, const Value& self,
                                               std::span<const Value> args) {
        return call_script(f, user, call, &self, args);
      };
      decl.methods.push_back(std::move(method));
    }
    auto* api = ctx(p).script_api();
    if (!api) return sdk::make_error(ErrorKind::unavailable, "scripts are not available");
    return api->add_handle_type(std::move(decl));
  });
}

// ---- triggers and events ---------------------------------------------------------------

pc_status declare_trigger_kind(pc_plugin* p, const pc_trigger_kind* kind, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (auto ok = check_struct(kind, "the trigger kind"); !ok) return ok;
    if (!kind->validate_filter || !kind->matches)
      return sdk::make_error(ErrorKind::invalid_argument, "trigger kind '" + text(kind->name) + "' lacks validate_filter or matches");
    if (auto ok = check_list(kind->ops, kind->op_count, "the kind's ops"); !ok) return ok;
    if (auto ok = check_list(kind->event_fields, kind->event_field_count, "the kind's event fields"); !ok) return ok;
    sdk::TriggerKind k;
    k.name = text(kind->name);
    k.description = text(kind->description);
    for (std::size_t i = 0; i < kind->op_count; ++i) k.ops.push_back(text(kind->ops[i]));
    for (std::size_t i = 0; i < kind->event_field_count; ++i)
      k.event_fields.emplace_back(text(kind->event_fields[i].name), text(kind->event_fields[i].value));
    k.validate_filter = [f = kind->validate_filter, user = kind->user](const Value& filter) -> sdk::Result<Value> {
      sdk::c::CValues storage;
      pc_value cf = storage.make(filter);
      Answer a;
      return a.take_value(f(user, &cf, a.out()));
    };
    k.matches = [f = kind->matches, user = kind->user](const Value& filter, const sdk::Event& event) {
      sdk::c::CValues storage;
      pc_value cf = storage.make(filter);
      pc_value payload = storage.make(event.payload);
      pc_event ce{sizeof(pc_event), str(event.source), str(event.op), &payload, str(event.trigger_id)};
      int result = 0;
      Answer a;
      auto r = a.take_void(f(user, &cf, &ce, &result, a.out()));
      // The kernel's event router turns a throwing matcher into a rollback.
      if (!r) throw std::runtime_error(r.error().message);
      return result != 0;
    };
    if (PICLOUD_SDK_HAS(*kind, pc_trigger_kind, created) && kind->created)
      k.created = [f = kind->created, user = kind->user](sdk::Transaction& tx, std::string_view app,
                                                         std::string_view trigger, const Value& filter) {
        sdk::c::CValues storage;
        pc_value cf = storage.make(filter);
        Answer a;
        return a.take_value(f(user, reinterpret_cast<pc_tx*>(&tx), str(app), str(trigger), &cf, a.out()));
      };
    if (PICLOUD_SDK_HAS(*kind, pc_trigger_kind, deleted) && kind->deleted)
      k.deleted = [f = kind->deleted, user = kind->user](sdk::Transaction& tx, std::string_view app,
                                                         std::string_view trigger) {
        Answer a;
        return a.take_void(f(user, reinterpret_cast<pc_tx*>(&tx), str(app), str(trigger), a.out()));
      };
    if (PICLOUD_SDK_HAS(*kind, pc_trigger_kind, filter_schema) && kind->filter_schema.len > 0) {
      auto schema = parse_json(text(kind->filter_schema), 64, JsonStrictness::request);
      if (!schema || !schema->is_object())
        return sdk::make_error(ErrorKind::invalid_argument,
                               "trigger kind '" + k.name + "': filter_schema must be a JSON object (a JSON Schema)");
      k.filter_schema = std::move(*schema);
    }
    auto* kinds = ctx(p).trigger_kinds();
    if (!kinds) return sdk::make_error(ErrorKind::unavailable, "triggers are not available");
    return kinds->declare(std::move(k));
  });
}

pc_status emit_event(pc_plugin* p, pc_tx* tx, const pc_call* call, const pc_event* event, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (!tx) return sdk::make_error(ErrorKind::invalid_argument, "events are emitted inside a transaction");
    if (auto ok = check_struct(call, "the call"); !ok) return ok;
    if (auto ok = check_struct(event, "the event"); !ok) return ok;
    auto* sink = ctx(p).events();
    if (!sink) return sdk::make_error(ErrorKind::unavailable, "events are not routed in this process");
    sdk::Event e{text(event->source), text(event->op), event->payload ? sdk::c::to_value(*event->payload) : Value(), {}};
    if (PICLOUD_SDK_HAS(*event, pc_event, trigger_id)) e.trigger_id = text(event->trigger_id);
    auto matched = sink->emit(*reinterpret_cast<sdk::Transaction*>(tx), call_of(*call), e);
    if (!matched) return matched.error();
    sdk::c::put_value(out, Value(*matched));
    return {};
  });
}

pc_status access_require(pc_plugin* p, const pc_call* call, pc_str capability, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (auto ok = check_struct(call, "the call"); !ok) return ok;
    auto* access = ctx(p).access();
    if (!access) return sdk::make_error(ErrorKind::unavailable, "access control is not available in this process");
    return access->require(call_of(*call), view(capability));
  });
}

// ---- tasks ------------------------------------------------------------------------------

void task_spawn(pc_plugin* p, pc_str name, void (*body)(void*, pc_stop*), void* user) {
  if (!body) return;
  try {
    ctx(p).tasks().spawn(text(name), [body, user](const sdk::StopSignal& stop) {
      body(user, reinterpret_cast<pc_stop*>(const_cast<sdk::StopSignal*>(&stop)));
    });
  } catch (const std::exception& e) {
    write_log(LogLevel::error, "kernel", "plugin task not started", {{"task", text(name)}, {"error", e.what()}});
  }
}

void task_every(pc_plugin* p, pc_str name, std::int64_t interval_ms, void (*tick)(void*), void* user) {
  if (!tick) return;
  try {
    ctx(p).tasks().every(text(name), interval_ms, [tick, user] { tick(user); });
  } catch (const std::exception& e) {
    write_log(LogLevel::error, "kernel", "plugin task not started", {{"task", text(name)}, {"error", e.what()}});
  }
}

const sdk::StopSignal& signal(pc_stop* stop) { return *reinterpret_cast<const sdk::StopSignal*>(stop); }
int stop_requested(pc_stop* stop) { return stop && signal(stop).stop_requested() ? 1 : 0; }
int stop_wait(pc_stop* stop, std::int64_t ms) { return !stop || signal(stop).wait_for(ms) ? 1 : 0; }

// ---- metrics ----------------------------------------------------------------------------

pc_counter* metric_counter(pc_plugin* p, pc_str name, pc_str help) {
  try {
    return reinterpret_cast<pc_counter*>(&ctx(p).metrics().counter(view(name), view(help)));
  } catch (const std::exception& e) {
    write_log(LogLevel::error, "kernel", "plugin metric refused", {{"metric", text(name)}, {"error", e.what()}});
    return nullptr;
  }
}

void counter_inc(pc_counter* c, std::uint64_t by) {
  if (c) reinterpret_cast<sdk::Counter*>(c)->inc(by);
}

pc_histogram* metric_histogram(pc_plugin* p, pc_str name, pc_str help) {
  try {
    return reinterpret_cast<pc_histogram*>(&ctx(p).metrics().histogram(view(name), view(help)));
  } catch (const std::exception& e) {
    write_log(LogLevel::error, "kernel", "plugin metric refused", {{"metric", text(name)}, {"error", e.what()}});
    return nullptr;
  }
}

void histogram_observe(pc_histogram* h, double value) {
  if (h) reinterpret_cast<sdk::Histogram*>(h)->observe(value);
}

pc_status metric_gauge(pc_plugin* p, pc_str name, pc_str help, double (*read)(void*), void* user, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (!read) return sdk::make_error(ErrorKind::invalid_argument, "gauge '" + text(name) + "' has no reader");
    try {
      ctx(p).metrics().gauge(view(name), view(help), [read, user] { return read(user); });
    } catch (const std::exception& e) {
      return sdk::make_error(ErrorKind::invalid_argument, e.what());
    }
    return {};
  });
}

// ---- services -----------------------------------------------------------------------------

pc_status service_provide(pc_plugin* p, pc_str name, std::uint32_t version, std::size_t size, const void* table,
                          const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (!table || size == 0) return sdk::make_error(ErrorKind::invalid_argument, "service '" + text(name) + "' has no table");
    return ctx(p).services().provide(view(name), version, size, table);
  });
}

const void* service_find(pc_plugin* p, pc_str name, std::uint32_t min_version, std::size_t min_size) {
  try {
    return ctx(p).services().find(view(name), min_version, min_size);
  } catch (...) {
    return nullptr;
  }
}

// ---- apps ----------------------------------------------------------------------------------

pc_status on_app_deleted(pc_plugin* p, pc_status (*fn)(void*, pc_tx*, pc_str, const pc_out*), void* user,
                         const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (!fn) return sdk::make_error(ErrorKind::invalid_argument, "the app hook has no function");
    return ctx(p).on_app_deleted([fn, user](sdk::Transaction& tx, std::string_view app_id) {
      Answer a;
      return a.take_void(fn(user, reinterpret_cast<pc_tx*>(&tx), str(app_id), a.out()));
    });
  });
}

// ---- added to 2.0 for the wave-2 plugins -----------------------------------------------

// Depth above which even a plugin's JSON is refused: the parser recurses.
constexpr std::uint32_t kMaxPluginJsonDepth = 512;

pc_status json_parse(pc_plugin*, pc_str text, std::uint32_t max_depth, std::uint32_t flags, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (max_depth < 1 || max_depth > kMaxPluginJsonDepth)
      return sdk::make_error(ErrorKind::invalid_argument, "JSON depth " + std::to_string(max_depth) + " is not from 1 to " +
                                                              std::to_string(kMaxPluginJsonDepth));
    if (flags & ~PC_JSON_STRICT)
      return sdk::make_error(ErrorKind::invalid_argument, "unknown JSON flags " + std::to_string(flags));
    auto v = parse_json(view(text), static_cast<int>(max_depth),
                        (flags & PC_JSON_STRICT) ? JsonStrictness::request : JsonStrictness::stored);
    if (!v) return v.error();
    sdk::c::put_value(out, *v);
    return {};
  });
}

pc_status app_find(pc_plugin* p, pc_str key, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto app = ctx(p).find_app(view(key));
    if (!app) return app.error();
    sdk::Array hostnames(app->hostnames.begin(), app->hostnames.end());
    sdk::c::put_value(out, Value(sdk::Object{{"id", Value(app->id)},
                                             {"slug", Value(app->slug)},
                                             {"name", Value(app->name)},
                                             {"hostnames", Value(std::move(hostnames))}}));
    return {};
  });
}

void task_every_leader(pc_plugin* p, pc_str name, std::int64_t interval_ms, pc_status (*tick)(void*, pc_tx*, const pc_out*),
                       void* user) {
  if (!tick) return;
  try {
    ctx(p).tasks().every_on_one_node(text(name), interval_ms, [tick, user](sdk::Transaction& tx) {
      Answer a;
      return a.take_void(tick(user, reinterpret_cast<pc_tx*>(&tx), a.out()));
    });
  } catch (const std::exception& e) {
    write_log(LogLevel::error, "kernel", "plugin task not started", {{"task", text(name)}, {"error", e.what()}});
  }
}

// Calls a plugin's after-commit function exactly once: from the commit, or
// from the destructor when the transaction dropped it unrun (rolled back).
class AfterCommit {
 public:
  AfterCommit(void (*fn)(void*, int), void* user) : fn_(fn), user_(user) {}
  AfterCommit(const AfterCommit&) = delete;
  AfterCommit& operator=(const AfterCommit&) = delete;
  ~AfterCommit() { end(0); }
  void cancel() { fn_ = nullptr; }
  void end(int committed) noexcept {
    if (auto* fn = std::exchange(fn_, nullptr)) fn(user_, committed);
  }

 private:
  void (*fn_)(void*, int);
  void* user_;
};

pc_status db_after_commit(pc_plugin*, pc_tx* tx, void (*fn)(void*, int), void* user, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (!tx) return sdk::make_error(ErrorKind::invalid_argument, "after-commit work needs a transaction (tx is NULL)");
    if (!fn) return sdk::make_error(ErrorKind::invalid_argument, "the after-commit work has no function");
    // Until the transaction took it, the plugin still owns `user`: a refusal
    // (or a throw, such as bad_alloc) must not call fn.
    auto pending = std::make_shared<AfterCommit>(fn, user);
    sdk::Result<void> r;
    try {
      r = reinterpret_cast<sdk::Transaction*>(tx)->after_commit([pending] { pending->end(1); });
    } catch (...) {
      pending->cancel();
      throw;
    }
    if (!r) pending->cancel();
    return r;
  });
}

pc_status data_dir(pc_plugin* p, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto dir = ctx(p).data_dir();
    if (!dir) return dir.error();
    sdk::c::put_value(out, Value(std::move(*dir)));
    return {};
  });
}

// The context keeps it for the process's life.
pc_str install_dir(pc_plugin* p) { return str(ctx(p).install_dir()); }

// ---- the keyring ----------------------------------------------------------------------------

sdk::Result<sdk::Keyring*> keyring_of(pc_plugin* p) {
  auto* k = ctx(p).keyring();
  if (!k) return sdk::make_error(ErrorKind::unavailable, "the keyring is not available in this process");
  return k;
}

pc_status vault_put(pc_plugin* p, pc_tx* tx, pc_str app, pc_str name, pc_str value, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto k = keyring_of(p);
    if (!k) return k.error();
    return (*k)->put(reinterpret_cast<sdk::Transaction*>(tx), view(app), view(name), view(value));
  });
}

pc_status vault_get(pc_plugin* p, pc_tx* tx, pc_str app, pc_str name, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto k = keyring_of(p);
    if (!k) return k.error();
    auto v = (*k)->get(reinterpret_cast<sdk::Transaction*>(tx), view(app), view(name));
    if (!v) return v.error();
    sdk::c::put_value(out, *v ? Value(sdk::Bytes((*v)->begin(), (*v)->end())) : Value());
    return {};
  });
}

pc_status vault_delete(pc_plugin* p, pc_tx* tx, pc_str app, pc_str name, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto k = keyring_of(p);
    if (!k) return k.error();
    auto existed = (*k)->remove(reinterpret_cast<sdk::Transaction*>(tx), view(app), view(name));
    if (!existed) return existed.error();
    sdk::c::put_value(out, Value(*existed));
    return {};
  });
}

pc_status vault_list(pc_plugin* p, pc_str app, pc_str after, std::int64_t limit, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto k = keyring_of(p);
    if (!k) return k.error();
    auto entries = (*k)->list(view(app), view(after), limit);
    if (!entries) return entries.error();
    sdk::Array list;
    for (auto& e : *entries)
      list.push_back(Value(sdk::Object{{"name", Value(std::move(e.name))}, {"updated_at", Value(e.updated_at)}}));
    sdk::c::put_value(out, Value(std::move(list)));
    return {};
  });
}

pc_status keyring_sign(pc_plugin* p, pc_str app, pc_str data, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto k = keyring_of(p);
    if (!k) return k.error();
    auto sig = (*k)->sign(view(app), view(data));
    if (!sig) return sig.error();
    sdk::c::put_value(out, Value(sdk::Bytes(sig->begin(), sig->end())));
    return {};
  });
}

int keyring_verify(pc_plugin* p, pc_str app, pc_str data, pc_str signature) {
  auto* k = ctx(p).keyring();
  return k && k->verify(view(app), view(data), view(signature)) ? 1 : 0;
}

pc_status trigger_deliveries(pc_plugin* p, pc_str app, pc_str kind, pc_str group_by, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto* sink = ctx(p).events();
    if (!sink) return sdk::make_error(ErrorKind::unavailable, "events are not routed in this process");
    auto found = sink->deliveries(view(app), view(kind), view(group_by));
    if (!found) return found.error();
    auto counts = [](const sdk::DeliveryCounts& c, sdk::Object o) {
      o.emplace("queued", c.queued);
      o.emplace("retrying", c.retrying);
      o.emplace("running", c.running);
      o.emplace("dead_letters", c.dead_letters);
      return o;
    };
    sdk::Array list;
    for (auto& d : *found) {
      sdk::Object by;
      for (const auto& [value, c] : d.by) by.emplace(value, Value(counts(c, {})));
      list.push_back(Value(counts(d.counts, {{"id", Value(std::move(d.id))},
                                              {"script_id", Value(std::move(d.script_id))},
                                              {"script", Value(std::move(d.script))},
                                              {"filter", std::move(d.filter)},
                                              {"enabled", Value(d.enabled)},
                                              {"by", Value(std::move(by))}})));
    }
    sdk::c::put_value(out, Value(std::move(list)));
    return {};
  });
}

// ---- plugin jobs --------------------------------------------------------------------------

pc_status declare_job_kind(pc_plugin* p, const pc_job_kind* kind, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (auto ok = check_struct(kind, "the job kind"); !ok) return ok;
    if (!kind->run) return sdk::make_error(ErrorKind::invalid_argument, "job kind '" + text(kind->name) + "' has no run()");
    sdk::JobKind k;
    k.name = text(kind->name);
    k.description = text(kind->description);
    k.retry = {kind->timeout_ms, kind->max_attempts, kind->retry_base_ms};
    k.run = [f = kind->run, user = kind->user](const sdk::Job& job) -> sdk::Result<void> {
      sdk::c::CValues storage;
      pc_value payload = storage.make(job.payload);
      pc_job cj{};
      cj.size = sizeof cj;
      cj.id = str(job.id);
      cj.app_id = str(job.app_id);
      cj.kind = str(job.kind);
      cj.payload = &payload;
      cj.attempt = job.attempt;
      cj.first_attempt_ms = job.first_attempt_ms;
      cj.deadline_ms = job.deadline_ms;
      Answer a;
      return a.take_void(f(user, &cj, a.out()));
    };
    auto* jobs = ctx(p).jobs();
    if (!jobs) return sdk::make_error(ErrorKind::unavailable, "jobs are not available in this process");
    return jobs->declare(std::move(k));
  });
}

pc_status enqueue_job(pc_plugin* p, pc_tx* tx, pc_str app, pc_str kind, const pc_value* payload, std::int64_t delay_ms,
                      const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto* jobs = ctx(p).jobs();
    if (!jobs) return sdk::make_error(ErrorKind::unavailable, "jobs are not available in this process");
    Value body = payload ? sdk::c::to_value(*payload) : Value(sdk::Object{});
    sdk::Result<std::string> id = sdk::make_error(ErrorKind::internal, "the job was not queued");
    if (tx) {
      id = jobs->enqueue(*reinterpret_cast<sdk::Transaction*>(tx), view(app), view(kind), body, delay_ms);
    } else {
      auto r = ctx(p).database().transaction([&](sdk::Transaction& own) -> sdk::Result<void> {
        id = jobs->enqueue(own, view(app), view(kind), body, delay_ms);
        return id ? sdk::Result<void>() : sdk::Result<void>(id.error());
      });
      if (!r) return r;
    }
    if (!id) return id.error();
    sdk::c::put_value(out, Value(std::move(*id)));
    return {};
  });
}

// ---- cluster messages and observed events ------------------------------------------------

pc_status notify(pc_plugin* p, pc_tx* tx, pc_str channel, pc_str payload, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto* cluster = ctx(p).cluster();
    if (!cluster) return sdk::make_error(ErrorKind::unavailable, "cluster messages are not available in this process");
    return cluster->notify(reinterpret_cast<sdk::Transaction*>(tx), view(channel), view(payload));
  });
}

pc_status listen(pc_plugin* p, pc_str channel, void (*fn)(void* user, pc_str payload), void* user, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (!fn) return sdk::make_error(ErrorKind::invalid_argument, "listen() needs a function");
    auto* cluster = ctx(p).cluster();
    if (!cluster) return sdk::make_error(ErrorKind::unavailable, "cluster messages are not available in this process");
    return cluster->listen(text(channel), [fn, user](std::string_view payload) { fn(user, str(payload)); });
  });
}

pc_status declare_resource_kind(pc_plugin* p, const pc_resource_kind* kind, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (auto ok = check_struct(kind, "the resource kind"); !ok) return ok;
    sdk::ResourceKind k;
    k.name = text(kind->name);
    k.description = text(kind->description);
    k.required_only = (kind->flags & PC_RESOURCE_REQUIRED) != 0;
    // An item the plugin answers that is not {"key": text, "item"} is its error.
    auto item_of = [name = k.name](const Value& v) -> sdk::Result<sdk::ResourceItem> {
      if (!v.is_object() || !v["key"].is_string() || v["key"].as_string().empty())
        return sdk::make_error(ErrorKind::internal, "resource kind '" + name + "' answered an item without a key");
      return sdk::ResourceItem{v["key"].as_string(), v["item"]};
    };
    if (kind->list)
      k.list = [f = kind->list, user = kind->user, item_of](sdk::Transaction& tx, std::string_view app)
          -> sdk::Result<std::vector<sdk::ResourceItem>> {
        Answer a;
        auto v = a.take_value(f(user, reinterpret_cast<pc_tx*>(&tx), str(app), a.out()));
        if (!v) return v.error();
        std::vector<sdk::ResourceItem> out;
        if (!v->is_array()) return sdk::make_error(ErrorKind::internal, "a resource kind's list is not an array");
        for (const auto& i : v->as_array()) {
          auto item = item_of(i);
          if (!item) return item.error();
          out.push_back(std::move(*item));
        }
        return out;
      };
    if (kind->check)
      k.check = [f = kind->check, user = kind->user, item_of](const Value& item) -> sdk::Result<sdk::ResourceItem> {
        sdk::c::CValues storage;
        pc_value ci = storage.make(item);
        Answer a;
        auto v = a.take_value(f(user, &ci, a.out()));
        if (!v) return v.error();
        return item_of(*v);
      };
    if (kind->put)
      k.put = [f = kind->put, user = kind->user](sdk::Transaction& tx, std::string_view app, std::string_view key,
                                                 const Value& item) {
        sdk::c::CValues storage;
        pc_value ci = storage.make(item);
        Answer a;
        return a.take_void(f(user, reinterpret_cast<pc_tx*>(&tx), str(app), str(key), &ci, a.out()));
      };
    if (kind->remove)
      k.remove = [f = kind->remove, user = kind->user](sdk::Transaction& tx, std::string_view app, std::string_view key) {
        Answer a;
        return a.take_void(f(user, reinterpret_cast<pc_tx*>(&tx), str(app), str(key), a.out()));
      };
    return ctx(p).declare_resource_kind(std::move(k));
  });
}

pc_status add_admin_view(pc_plugin* p, pc_str view_json, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    auto view = parse_json(text(view_json), 64, JsonStrictness::request);
    if (!view) return sdk::make_error(ErrorKind::invalid_argument, "the admin view is not JSON: " + view.error().message);
    return ctx(p).add_admin_view(std::move(*view));
  });
}

pc_status observe_events(pc_plugin* p, pc_str source,
                         pc_status (*fn)(void* user, pc_tx* tx, pc_str app_id, const pc_event* event, const pc_out* out),
                         void* user, const pc_out* out) {
  return host_call(out, [&]() -> sdk::Result<void> {
    if (!fn) return sdk::make_error(ErrorKind::invalid_argument, "observe_events() needs a function");
    return ctx(p).observe_events(
        text(source), [fn, user](sdk::Transaction& tx, std::string_view app_id, const sdk::Event& event) -> sdk::Result<void> {
          sdk::c::CValues storage;
          pc_value payload = storage.make(event.payload);
          pc_event ce{};
          ce.size = sizeof ce;
          ce.source = str(event.source);
          ce.op = str(event.op);
          ce.payload = &payload;
          ce.trigger_id = str(event.trigger_id);
          Answer a;
          return a.take_void(fn(user, reinterpret_cast<pc_tx*>(&tx), str(app_id), &ce, a.out()));
        });
  });
}

// Host functions that cannot fail through a pc_out still must not throw.
template <auto F>
struct NoThrow;
template <typename R, typename... A, R (*F)(A...)>
struct NoThrow<F> {
  static R call(A... args) noexcept {
    try {
      return F(args...);
    } catch (...) {
      if constexpr (!std::is_void_v<R>) return R{};
    }
  }
};

constexpr pc_host_api kHostApi = {
    sizeof(pc_host_api),
    PC_ABI_MAJOR,
    PC_ABI_MINOR,
    &NoThrow<&plugin_name>::call,
    &NoThrow<&log_enabled>::call,
    &NoThrow<&log>::call,
    &NoThrow<&config_has>::call,
    &config_string,
    &config_int,
    &config_bool,
    &NoThrow<&db_dialect>::call,
    &db_query,
    &db_execute,
    &db_transaction,
    &add_route,
    &add_capability,
    &add_script_function,
    &add_script_handle_type,
    &declare_trigger_kind,
    &emit_event,
    &access_require,
    &NoThrow<&task_spawn>::call,
    &NoThrow<&task_every>::call,
    &NoThrow<&stop_requested>::call,
    &NoThrow<&stop_wait>::call,
    &NoThrow<&metric_counter>::call,
    &NoThrow<&counter_inc>::call,
    &NoThrow<&metric_histogram>::call,
    &NoThrow<&histogram_observe>::call,
    &metric_gauge,
    &service_provide,
    &NoThrow<&service_find>::call,
    &on_app_deleted,
    &json_parse,
    &app_find,
    &NoThrow<&task_every_leader>::call,
    &db_after_commit,
    &data_dir,
    &NoThrow<&install_dir>::call,
    &vault_put,
    &vault_get,
    &vault_delete,
    &vault_list,
    &keyring_sign,
    &NoThrow<&keyring_verify>::call,
    &trigger_deliveries,
    &declare_job_kind,
    &enqueue_job,
    &NoThrow<&stream_write>::call,
    &NoThrow<&stream_close>::call,
    &notify,
    &listen,
    &observe_events,
    &add_admin_view,
    &declare_resource_kind,
};

}  // namespace

const pc_host_api* host_api() { return &kHostApi; }

}  // namespace picloud::kernel::plugins
