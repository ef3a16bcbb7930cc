// The plugin's side of the C boundary: the C++ SDK's interfaces implemented
// over the host table of picloud.h, the C entry points the kernel calls, and
// PICLOUD_PLUGIN, which exports them. Compiled into the plugin only (the
// kernel never includes this file), with the plugin's own compiler and
// standard library. Every entry point and callback catches what the plugin
// code throws: no exception leaves the plugin.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cmath>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "picloud/picloud.h"
#include "picloud/sdk/abi.hpp"
#include "picloud/sdk/access.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/c_values.hpp"
#include "picloud/sdk/cluster.hpp"
#include "picloud/sdk/jobs.hpp"
#include "picloud/sdk/plugin.hpp"
#include "picloud/sdk/triggers.hpp"

namespace picloud::sdk::bridge {

using c::Answer;
using c::str;
using c::view;

struct Host {
  const pc_host_api* api;
  pc_plugin* plugin;
};

// This plugin's host, set once by init(): for what the SDK offers outside a
// context (sdk::parse_json). One per plugin: the SDK
// is compiled into each plugin with hidden visibility.
inline Host& plugin_host() {
  static Host host{nullptr, nullptr};
  return host;
}

// Whether a struct the kernel filled reaches `field` (it is at least as new
// as the plugin, so this holds for every field the plugin's headers know).
#define PICLOUD_SDK_FILLED(object, type, field) ((object).size >= offsetof(type, field) + sizeof(((type*)0)->field))

// What an exception escaping plugin code becomes.
inline Error thrown(const char* what) {
  return make_error(ErrorKind::internal, "plugin_threw", std::string("threw: ") + (what ? what : "unknown"));
}

// Runs plugin code that answers a Result; an exception becomes an internal
// error. The error (if any) goes to `out`.
template <typename F>
pc_status guarded(const pc_out* out, F&& body) noexcept {
  try {
    Result<void> r = body();
    return r ? PC_OK : c::put_error(out, r.error());
  } catch (const std::exception& e) {
    try {
      return c::put_error(out, thrown(e.what()));
    } catch (...) {
      return PC_INTERNAL;
    }
  } catch (...) {
    try {
      return c::put_error(out, thrown("a non-standard exception"));
    } catch (...) {
      return PC_INTERNAL;
    }
  }
}

inline void log_to(const Host& host, LogLevel level, std::string_view message, const LogFields& fields) {
  std::vector<pc_header> cfields;
  cfields.reserve(fields.size());
  for (const auto& [k, v] : fields) cfields.push_back(pc_header{str(k), str(v)});
  host.api->log(host.plugin, static_cast<std::uint32_t>(level), str(message), cfields.data(), cfields.size());
}

// Logs an exception a callback with no error channel caught.
inline void log_thrown(const Host& host, std::string_view where, const char* what) noexcept {
  try {
    log_to(host, LogLevel::error, "plugin callback threw", {{"where", std::string(where)}, {"error", what ? what : "unknown"}});
  } catch (...) {
  }
}

// Runs plugin code that has no error channel (a task, a tick, a gauge, a
// route handler, stop): what it throws is logged. Answers whether it
// returned normally.
template <typename F>
bool logged(const Host& host, std::string_view where, F&& body) noexcept {
  try {
    body();
    return true;
  } catch (const std::exception& e) {
    log_thrown(host, where, e.what());
  } catch (...) {
    log_thrown(host, where, "a non-standard exception");
  }
  return false;
}

// ---- values in and out of the boundary --------------------------------------

inline CallContext call_context(const pc_call& call, Value& event_storage) {
  CallContext cc;
  cc.app_id = view(call.app_id);
  cc.principal = view(call.principal);
  cc.script_id = view(call.script_id);
  cc.execution_id = view(call.execution_id);
  cc.trigger_depth = call.trigger_depth;
  if (call.event) {
    event_storage = c::to_value(*call.event);
    cc.event = &event_storage;
  }
  if (PICLOUD_SDK_FILLED(call, pc_call, deadline_ms)) cc.deadline_ms = call.deadline_ms;
  return cc;
}

// The pc_call for a CallContext the plugin passes back (events, access).
inline pc_call c_call(const CallContext& call) {
  pc_call out{};
  out.size = sizeof(pc_call);
  out.app_id = str(call.app_id);
  out.principal = str(call.principal);
  out.script_id = str(call.script_id);
  out.execution_id = str(call.execution_id);
  out.trigger_depth = call.trigger_depth;
  out.event = nullptr;
  out.deadline_ms = call.deadline_ms;
  return out;
}

inline std::vector<pc_value> c_params(const Params& params, c::CValues& storage) {
  std::vector<pc_value> out;
  out.reserve(params.size());
  for (const auto& p : params) out.push_back(storage.make(p));
  return out;
}

inline Result<Rows> rows_from(Result<Value> answer) {
  if (!answer) return answer.error();
  Value& v = *answer;
  Rows rows;
  if (v["columns"].is_array())
    for (const auto& name : v["columns"].as_array()) rows.columns.push_back(name.string_or(""));
  if (v.has("rows") && v.as_object().find("rows")->second.is_array())
    for (auto& row : v.as_object().find("rows")->second.as_array())
      rows.rows.push_back(row.is_array() ? std::move(row.as_array()) : Array{});
  return rows;
}

// ---- the SDK's interfaces over the host table --------------------------------

class CConfig final : public ConfigSection {
 public:
  explicit CConfig(Host host) : host_(host) {}
  std::string_view name() const override { return view(host_.api->plugin_name(host_.plugin)); }
  bool has(std::string_view key) const override { return host_.api->config_has(host_.plugin, str(key)) != 0; }
  Result<std::string> get_string(std::string_view key, std::string_view fallback) override {
    Answer a;
    auto r = a.take_value(host_.api->config_string(host_.plugin, str(key), str(fallback), a.out()));
    if (!r) return r.error();
    return r->string_or(std::string(fallback));
  }
  Result<std::int64_t> get_int(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) override {
    Answer a;
    auto r = a.take_value(host_.api->config_int(host_.plugin, str(key), fallback, min, max, a.out()));
    if (!r) return r.error();
    return r->int_or(fallback);
  }
  Result<bool> get_bool(std::string_view key, bool fallback) override {
    Answer a;
    auto r = a.take_value(host_.api->config_bool(host_.plugin, str(key), fallback ? 1 : 0, a.out()));
    if (!r) return r.error();
    return r->bool_or(fallback);
  }

 private:
  Host host_;
};

class CLogger final : public Logger {
 public:
  explicit CLogger(Host host) : host_(host) {}
  bool enabled(LogLevel level) const override {
    return host_.api->log_enabled(host_.plugin, static_cast<std::uint32_t>(level)) != 0;
  }
  void log(LogLevel level, std::string_view message, const LogFields& fields) override {
    log_to(host_, level, message, fields);
  }

 private:
  Host host_;
};

class CTransaction final : public Transaction {
 public:
  CTransaction(Host host, pc_tx* tx) : host_(host), tx_(tx) {}
  Result<Rows> query(std::string_view sql, const Params& params) override {
    c::CValues storage;
    auto cparams = c_params(params, storage);
    Answer a;
    return rows_from(a.take_value(host_.api->db_query(host_.plugin, tx_, str(sql), cparams.data(), cparams.size(), a.out())));
  }
  Result<std::int64_t> execute(std::string_view sql, const Params& params) override {
    c::CValues storage;
    auto cparams = c_params(params, storage);
    Answer a;
    auto r = a.take_value(host_.api->db_execute(host_.plugin, tx_, str(sql), cparams.data(), cparams.size(), a.out()));
    if (!r) return r.error();
    return r->int_or(0);
  }
  void* boundary_handle() const override { return tx_; }
  Result<void> after_commit(std::function<void()> action) override {
    struct Action {
      Host host;
      std::function<void()> action;
    };
    auto held = std::make_unique<Action>(Action{host_, std::move(action)});
    // Called once: on commit it runs the action; either way it frees it.
    auto end = [](void* user, int committed) noexcept {
      std::unique_ptr<Action> a(static_cast<Action*>(user));
      if (committed) logged(a->host, "after commit", [&] { a->action(); });
    };
    Answer a;
    auto r = a.take_void(host_.api->db_after_commit(host_.plugin, tx_, end, held.get(), a.out()));
    if (r) held.release();  // the kernel owns it until `end`
    return r;
  }

 private:
  Host host_;
  pc_tx* tx_;
};

class CDatabase final : public Database {
 public:
  explicit CDatabase(Host host) : host_(host), own_(host, nullptr) {}
  Dialect dialect() const override {
    return host_.api->db_dialect(host_.plugin) == PC_DIALECT_POSTGRES ? Dialect::postgres : Dialect::sqlite;
  }
  Result<Rows> query(std::string_view sql, const Params& params) override { return own_.query(sql, params); }
  Result<std::int64_t> execute(std::string_view sql, const Params& params) override { return own_.execute(sql, params); }
  Result<void> transaction(const std::function<Result<void>(Transaction&)>& body) override {
    struct Call {
      Host host;
      const std::function<Result<void>(Transaction&)>* body;
    } call{host_, &body};
    auto trampoline = [](void* user, pc_tx* tx, const pc_out* out) noexcept -> pc_status {
      auto* c = static_cast<Call*>(user);
      CTransaction t(c->host, tx);
      return guarded(out, [&] { return (*c->body)(t); });
    };
    Answer a;
    return a.take_void(host_.api->db_transaction(host_.plugin, trampoline, &call, a.out()));
  }

 private:
  Host host_;
  CTransaction own_;  // tx NULL: each statement in its own transaction
};

class CServices final : public ServiceRegistry {
 public:
  explicit CServices(Host host) : host_(host) {}
  using ServiceRegistry::provide;
  Result<void> provide(std::string_view name, std::uint32_t version, std::size_t table_size, const void* table) override {
    Answer a;
    return a.take_void(host_.api->service_provide(host_.plugin, str(name), version, table_size, table, a.out()));
  }
  const void* find(std::string_view name, std::uint32_t min_version, std::size_t min_size) const override {
    return host_.api->service_find(host_.plugin, str(name), min_version, min_size);
  }

 private:
  Host host_;
};

class CStopSignal final : public StopSignal {
 public:
  CStopSignal(const pc_host_api* api, pc_stop* stop) : api_(api), stop_(stop) {}
  bool stop_requested() const override { return api_->stop_requested(stop_) != 0; }
  bool wait_for(std::int64_t ms) const override { return api_->stop_wait(stop_, ms) != 0; }

 private:
  const pc_host_api* api_;
  pc_stop* stop_;
};

class CTasks final : public BackgroundTasks {
 public:
  explicit CTasks(Host host) : host_(host) {}
  void spawn(std::string name, std::function<void(const StopSignal&)> body) override {
    struct Task {
      Host host;
      std::string name;
      std::function<void(const StopSignal&)> body;
    };
    auto* task = keep(std::make_shared<Task>(Task{host_, name, std::move(body)}));
    host_.api->task_spawn(host_.plugin, str(name), [](void* user, pc_stop* stop) noexcept {
      auto* t = static_cast<Task*>(user);
      logged(t->host, t->name, [&] { t->body(CStopSignal(t->host.api, stop)); });
    }, task);
  }
  void every(std::string name, std::int64_t interval_ms, std::function<void()> tick) override {
    struct Tick {
      Host host;
      std::string name;
      std::function<void()> tick;
    };
    auto* t = keep(std::make_shared<Tick>(Tick{host_, name, std::move(tick)}));
    host_.api->task_every(host_.plugin, str(name), interval_ms, [](void* user) noexcept {
      auto* t = static_cast<Tick*>(user);
      logged(t->host, t->name, [&] { t->tick(); });
    }, t);
  }
  void every_on_one_node(std::string name, std::int64_t interval_ms,
                         std::function<Result<void>(Transaction&)> tick) override {
    struct Tick {
      Host host;
      std::function<Result<void>(Transaction&)> tick;
    };
    auto* t = keep(std::make_shared<Tick>(Tick{host_, std::move(tick)}));
    host_.api->task_every_leader(host_.plugin, str(name), interval_ms, [](void* user, pc_tx* tx, const pc_out* out) noexcept {
      auto* t = static_cast<Tick*>(user);
      CTransaction transaction(t->host, tx);
      return guarded(out, [&] { return t->tick(transaction); });
    }, t);
  }

 private:
  template <typename T>
  T* keep(std::shared_ptr<T> p) {
    std::lock_guard lock(mutex_);
    kept_.push_back(p);
    return p.get();
  }
  Host host_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<void>> kept_;
};

class CCounter final : public Counter {
 public:
  CCounter(const pc_host_api* api, pc_counter* c) : api_(api), c_(c) {}
  void inc(std::uint64_t by) override { api_->counter_inc(c_, by); }

 private:
  const pc_host_api* api_;
  pc_counter* c_;
};

class CHistogram final : public Histogram {
 public:
  CHistogram(const pc_host_api* api, pc_histogram* h) : api_(api), h_(h) {}
  void observe(double value) override { api_->histogram_observe(h_, value); }

 private:
  const pc_host_api* api_;
  pc_histogram* h_;
};

class CMetrics final : public Metrics {
 public:
  explicit CMetrics(Host host) : host_(host) {}
  Counter& counter(std::string_view name, std::string_view help) override {
    std::lock_guard lock(mutex_);
    return counters_.emplace_back(host_.api, host_.api->metric_counter(host_.plugin, str(name), str(help)));
  }
  Histogram& histogram(std::string_view name, std::string_view help) override {
    std::lock_guard lock(mutex_);
    return histograms_.emplace_back(host_.api, host_.api->metric_histogram(host_.plugin, str(name), str(help)));
  }
  void gauge(std::string_view name, std::string_view help, std::function<double()> read) override {
    struct Gauge {
      Host host;
      std::string name;
      std::function<double()> read;
    };
    auto owned = std::make_shared<Gauge>(Gauge{host_, std::string(name), std::move(read)});
    Gauge* g = owned.get();
    {
      std::lock_guard lock(mutex_);
      kept_.push_back(std::move(owned));
    }
    auto trampoline = [](void* user) noexcept -> double {
      auto* g = static_cast<Gauge*>(user);
      double value = std::numeric_limits<double>::quiet_NaN();
      logged(g->host, g->name, [&] { value = g->read(); });
      return value;
    };
    Answer a;
    auto r = a.take_void(host_.api->metric_gauge(host_.plugin, str(name), str(help), trampoline, g, a.out()));
    if (!r) log_to(host_, LogLevel::error, "gauge not registered", {{"name", std::string(name)}, {"error", r.error().message}});
  }

 private:
  Host host_;
  std::mutex mutex_;
  std::deque<CCounter> counters_;
  std::deque<CHistogram> histograms_;
  std::vector<std::shared_ptr<void>> kept_;  // gauges' closures, until the plugin is destroyed
};

inline HttpRequest http_request(const pc_http_request& r) {
  HttpRequest out;
  out.method = c::text(r.method);
  out.path = c::text(r.path);
  out.query = c::text(r.query);
  out.headers.reserve(r.header_count);
  for (std::size_t i = 0; i < r.header_count; ++i)
    out.headers.emplace_back(c::text(r.headers[i].name), c::text(r.headers[i].value));
  for (std::size_t i = 0; i < r.param_count; ++i) out.params[c::text(r.params[i].name)] = c::text(r.params[i].value);
  out.body = c::text(r.body);
  out.remote_address = c::text(r.remote_address);
  out.request_id = c::text(r.request_id);
  out.principal = c::text(r.principal);
  if (PICLOUD_SDK_FILLED(r, pc_http_request, app_id)) out.app_id = c::text(r.app_id);
  out.body_size = static_cast<std::int64_t>(out.body.size());
  if (PICLOUD_SDK_FILLED(r, pc_http_request, body_size)) {
    out.body_fd = r.body_fd;
    out.body_size = r.body_size;
  }
  return out;
}

// A response's stream handed to the kernel: the kernel calls close() once,
// which drops the plugin's stream. A file is given as a duplicate
// descriptor, which the kernel closes.
struct StreamHolder {
  Host host;
  std::shared_ptr<BodyStream> stream;
};
inline pc_body_stream c_body_stream(const Host& host, const std::shared_ptr<BodyStream>& stream) {
  pc_body_stream out{};
  out.size = sizeof out;
  out.length = stream->length();
  out.offset = stream->offset();
  out.user = new StreamHolder{host, stream};  // before the dup: nothing to leak if this throws
  // -1 when it fails: read() serves the file instead.
  out.fd = stream->file() >= 0 ? ::fcntl(stream->file(), F_DUPFD_CLOEXEC, 0) : -1;
  out.read = [](void* user, char* buffer, size_t capacity, size_t* produced, const pc_out* err) noexcept -> pc_status {
    auto* h = static_cast<StreamHolder*>(user);
    return guarded(err, [&]() -> Result<void> {
      auto n = h->stream->read(buffer, capacity);
      if (!n) return n.error();
      *produced = std::min(*n, capacity);
      return {};
    });
  };
  out.close = [](void* user) noexcept {
    auto* h = static_cast<StreamHolder*>(user);
    logged(h->host, "closing a response stream", [&] { delete h; });
  };
  return out;
}

// A connection taken over, as the plugin's handler sees it. The holder lives
// from the response until the kernel's closed() call, which frees it.
struct TakeoverHolder {
  class Stream final : public LiveStream {
   public:
    Stream(Host host) : host_(host) {}
    StreamWrite write(std::string_view bytes) override {
      if (!stream_) return StreamWrite::gone;
      auto r = host_.api->stream_write(stream_, str(bytes));
      return r <= PC_STREAM_GONE ? static_cast<StreamWrite>(r) : StreamWrite::gone;
    }
    void close(std::string_view last) override {
      if (stream_) host_.api->stream_close(stream_, str(last));
    }
    Host host_;
    pc_stream* stream_ = nullptr;
  };
  TakeoverHolder(Host host, std::shared_ptr<StreamHandler> h) : handler(std::move(h)), stream(host) {}
  std::shared_ptr<StreamHandler> handler;
  Stream stream;
};
inline pc_takeover c_takeover(const Host& host, const std::shared_ptr<StreamHandler>& handler) {
  pc_takeover out{};
  out.size = sizeof out;
  out.user = new TakeoverHolder(host, handler);
  out.farewell = str(handler->farewell);
  out.max_buffer_bytes = handler->max_buffer_bytes;
  out.opened = [](void* user, pc_stream* stream) noexcept {
    auto* h = static_cast<TakeoverHolder*>(user);
    h->stream.stream_ = stream;
    logged(h->stream.host_, "opening a stream", [&] { h->handler->opened(h->stream); });
  };
  out.closed = [](void* user, uint32_t reason) noexcept {
    auto* h = static_cast<TakeoverHolder*>(user);
    const Host host = h->stream.host_;
    logged(host, "closing a stream", [&] {
      h->handler->closed(reason <= PC_STREAM_SHUTDOWN ? static_cast<StreamEnd>(reason) : StreamEnd::client_gone);
    });
    // After closed(): the plugin's writers (serialised with it) are done.
    h->stream.stream_ = nullptr;
    logged(host, "closing a stream", [&] { delete h; });
  };
  return out;
}

// A response in C terms, borrowing from the SDK's; its stream, if any, is
// handed over (the kernel closes it once, whatever becomes of the response),
// and so is its takeover (the kernel calls closed() once).
class CResponse {
 public:
  CResponse(const Host& host, const HttpResponse& response) {
    headers_.reserve(response.headers.size());
    for (const auto& [k, v] : response.headers) headers_.push_back(pc_header{str(k), str(v)});
    out_.size = sizeof out_;
    out_.status = response.status;
    out_.headers = headers_.data();
    out_.header_count = headers_.size();
    out_.body = str(response.body);
    if (response.stream) {
      stream_ = c_body_stream(host, response.stream);
      out_.stream = &stream_;
    }
    if (response.takeover) {
      takeover_ = c_takeover(host, response.takeover);
      out_.takeover = &takeover_;
    }
  }
  CResponse(const CResponse&) = delete;
  CResponse& operator=(const CResponse&) = delete;
  const pc_http_response* get() const { return &out_; }

 private:
  std::vector<pc_header> headers_;
  pc_body_stream stream_{};
  pc_takeover takeover_{};
  pc_http_response out_{};
};

// The exchange a script function was given (pc_call.http), as the SDK's
// HttpExchange: the request converted on first use.
class CHttpExchange final : public HttpExchange {
 public:
  CHttpExchange(const Host& host, const pc_http_exchange& exchange) : host_(host), exchange_(exchange) {}
  const HttpRequest& request() const override {
    if (!request_) {
      if (exchange_.request)
        request_ = http_request(*exchange_.request);
      else
        request_.emplace();
    }
    return *request_;
  }
  Result<void> respond(HttpResponse response) override {
    if (!exchange_.respond) return make_error(ErrorKind::internal, "the kernel gave no way to respond");
    CResponse out(host_, response);
    Answer a;
    return a.take_void(exchange_.respond(exchange_.user, out.get(), a.out()));
  }

 private:
  Host host_;
  const pc_http_exchange& exchange_;
  mutable std::optional<HttpRequest> request_;
};

// Script declarations: each function keeps its closure here; the host calls
// the trampoline with it.
class CScriptApi final : public ScriptApi {
 public:
  explicit CScriptApi(Host host) : host_(host) {}

  Result<void> add_function(ScriptFunctionDecl decl) override {
    auto* closure = keep(Closure{host_, std::move(decl.call), {}});
    Declaration d(decl.params);
    pc_script_function fn = d.function(decl.ns, decl.name, decl.result, decl.result_handle, decl.doc, closure,
                                       decl.database_only ? PC_SCRIPT_DATABASE_ONLY : 0u);
    Answer a;
    return a.take_void(host_.api->add_script_function(host_.plugin, &fn, a.out()));
  }

  Result<void> add_handle_type(ScriptHandleTypeDecl decl) override {
    std::vector<std::unique_ptr<Declaration>> decls;
    std::vector<pc_script_function> methods;
    methods.reserve(decl.methods.size());  // pointers into it are taken below
    for (auto& m : decl.methods) {
      auto* closure = keep(Closure{host_, {}, std::move(m.call), std::move(m.self_fields)});
      decls.push_back(std::make_unique<Declaration>(m.params));
      methods.push_back(decls.back()->function({}, m.name, m.result, m.result_handle, m.doc, closure,
                                               (m.property ? PC_SCRIPT_PROPERTY : 0u) |
                                                   (m.database_only ? PC_SCRIPT_DATABASE_ONLY : 0u)));
    }
    std::vector<const pc_script_function*> method_list;
    for (const auto& m : methods) method_list.push_back(&m);
    pc_script_handle_type type{};
    type.size = sizeof type;
    type.ns = str(decl.ns);
    type.name = str(decl.name);
    type.methods = method_list.data();
    type.method_count = method_list.size();
    type.doc = str(decl.doc);
    Answer a;
    return a.take_void(host_.api->add_script_handle_type(host_.plugin, &type, a.out()));
  }

 private:
  struct Closure {
    Host host;
    ScriptFunction function;
    ScriptMethod method;
    std::vector<std::string> self_fields = {};  // empty: all of self
  };

  // A declaration's parameters in C terms, borrowing from the SDK's.
  class Declaration {
   public:
    explicit Declaration(const std::vector<ScriptParam>& params) {
      defaults_.reserve(params.size());
      for (const auto& p : params) {
        pc_script_param cp{};
        cp.size = sizeof cp;
        cp.name = str(p.name);
        cp.type = static_cast<std::uint32_t>(p.type);
        cp.handle_type = str(p.handle_type);
        if (p.default_value) {
          defaults_.push_back(storage_.make(*p.default_value));
          cp.default_value = &defaults_.back();
        }
        params_.push_back(cp);
      }
      for (const auto& p : params_) param_list_.push_back(&p);
    }
    pc_script_function function(std::string_view ns, std::string_view name, ScriptType result,
                                std::string_view result_handle, std::string_view doc, Closure* closure,
                                std::uint32_t flags) const {
      pc_script_function fn{};
      fn.size = sizeof fn;
      fn.ns = str(ns);
      fn.name = str(name);
      fn.params = param_list_.data();
      fn.param_count = param_list_.size();
      fn.result = static_cast<std::uint32_t>(result);
      fn.result_handle = str(result_handle);
      fn.fn = &call;
      fn.user = closure;
      fn.doc = str(doc);
      fn.flags = flags;
      return fn;
    }

   private:
    c::CValues storage_;
    std::vector<pc_value> defaults_;  // reserved up front: pointers into it stay valid
    std::vector<pc_script_param> params_;
    std::vector<const pc_script_param*> param_list_;  // into params_, once it is complete
  };

  static pc_status call(void* user, const pc_call* call, const pc_value* self, const pc_value* args, std::size_t n,
                        const pc_out* out) noexcept {
    auto* closure = static_cast<Closure*>(user);
    return guarded(out, [&]() -> Result<void> {
      Value event;
      CallContext cc = call_context(*call, event);
      std::optional<CHttpExchange> exchange;
      if (PICLOUD_SDK_FILLED(*call, pc_call, http) && call->http &&
          PICLOUD_SDK_FILLED(*call->http, pc_http_exchange, respond)) {
        exchange.emplace(closure->host, *call->http);
        cc.http = &*exchange;
      }
      // Most calls take a few arguments: no allocation for the list.
      std::array<Value, 8> inline_values;
      std::vector<Value> more;
      Value* values = inline_values.data();
      if (n > inline_values.size()) {
        more.resize(n);
        values = more.data();
      }
      for (std::size_t i = 0; i < n; ++i) values[i] = c::to_value(args[i]);
      std::span<const Value> list(values, n);
      Result<Value> r = self ? closure->method(cc, c::to_value_fields(*self, closure->self_fields), list)
                             : closure->function(cc, list);
      if (!r) return r.error();
      c::put_value(out, *r);
      return {};
    });
  }

  Closure* keep(Closure closure) {
    std::lock_guard lock(mutex_);
    closures_.push_back(std::make_unique<Closure>(std::move(closure)));
    return closures_.back().get();
  }

  Host host_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Closure>> closures_;
};

class CTriggerKinds final : public TriggerKinds {
 public:
  explicit CTriggerKinds(Host host) : host_(host) {}
  Result<void> declare(TriggerKind kind) override {
    Kind* stored;
    {
      std::lock_guard lock(mutex_);
      kinds_.push_back(std::make_unique<Kind>(Kind{host_, std::move(kind)}));
      stored = kinds_.back().get();
    }
    const TriggerKind& k = stored->kind;
    std::vector<pc_str> ops;
    for (const auto& op : k.ops) ops.push_back(str(op));
    std::vector<pc_header> fields;
    for (const auto& [name, meaning] : k.event_fields) fields.push_back(pc_header{str(name), str(meaning)});
    pc_trigger_kind ck{};
    ck.size = sizeof ck;
    ck.name = str(k.name);
    ck.description = str(k.description);
    ck.ops = ops.data();
    ck.op_count = ops.size();
    ck.validate_filter = &validate;
    ck.matches = &matches;
    ck.user = stored;
    ck.event_fields = fields.data();
    ck.event_field_count = fields.size();
    ck.created = k.created ? &created : nullptr;
    ck.deleted = k.deleted ? &deleted : nullptr;
    std::string schema = k.filter_schema.is_null() ? std::string() : to_json(k.filter_schema);
    ck.filter_schema = str(schema);
    Answer a;
    return a.take_void(host_.api->declare_trigger_kind(host_.plugin, &ck, a.out()));
  }

 private:
  struct Kind {
    Host host;
    TriggerKind kind;
  };
  static pc_status validate(void* user, const pc_value* filter, const pc_out* out) noexcept {
    auto* k = static_cast<Kind*>(user);
    return guarded(out, [&]() -> Result<void> {
      Value given = filter ? c::to_value(*filter) : Value();
      if (!k->kind.validate_filter) {  // every filter is accepted as given
        c::put_value(out, given);
        return {};
      }
      auto r = k->kind.validate_filter(given);
      if (!r) return r.error();
      c::put_value(out, *r);
      return {};
    });
  }
  static pc_status matches(void* user, const pc_value* filter, const pc_event* event, int* result,
                           const pc_out* out) noexcept {
    auto* k = static_cast<Kind*>(user);
    *result = 0;
    return guarded(out, [&]() -> Result<void> {
      if (!k->kind.matches) {
        *result = 1;
        return {};
      }
      Event e{c::text(event->source), c::text(event->op), event->payload ? c::to_value(*event->payload) : Value()};
      *result = k->kind.matches(filter ? c::to_value(*filter) : Value(), e) ? 1 : 0;
      return {};
    });
  }

  static pc_status created(void* user, pc_tx* tx, pc_str app_id, pc_str trigger_id, const pc_value* filter,
                           const pc_out* out) noexcept {
    auto* k = static_cast<Kind*>(user);
    return guarded(out, [&]() -> Result<void> {
      CTransaction t(k->host, tx);
      auto r = k->kind.created(t, view(app_id), view(trigger_id), filter ? c::to_value(*filter) : Value());
      if (!r) return r.error();
      c::put_value(out, *r);
      return {};
    });
  }
  static pc_status deleted(void* user, pc_tx* tx, pc_str app_id, pc_str trigger_id, const pc_out* out) noexcept {
    auto* k = static_cast<Kind*>(user);
    return guarded(out, [&]() -> Result<void> {
      CTransaction t(k->host, tx);
      return k->kind.deleted(t, view(app_id), view(trigger_id));
    });
  }

  Host host_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Kind>> kinds_;
};

class CJobs final : public Jobs {
 public:
  explicit CJobs(Host host) : host_(host) {}
  Result<void> declare(JobKind kind) override {
    Kind* stored;
    {
      std::lock_guard lock(mutex_);
      kinds_.push_back(std::make_unique<Kind>(Kind{host_, std::move(kind)}));
      stored = kinds_.back().get();
    }
    const JobKind& k = stored->kind;
    if (!k.run) return make_error(ErrorKind::invalid_argument, "job kind '" + k.name + "' has no handler");
    pc_job_kind ck{};
    ck.size = sizeof ck;
    ck.name = str(k.name);
    ck.description = str(k.description);
    ck.timeout_ms = k.retry.timeout_ms;
    ck.max_attempts = k.retry.max_attempts;
    ck.retry_base_ms = k.retry.retry_base_ms;
    ck.run = &run;
    ck.user = stored;
    Answer a;
    return a.take_void(host_.api->declare_job_kind(host_.plugin, &ck, a.out()));
  }
  Result<std::string> enqueue(Transaction& tx, std::string_view app_id, std::string_view kind, const Value& payload,
                              std::int64_t delay_ms) override {
    auto* handle = static_cast<pc_tx*>(tx.boundary_handle());
    if (!handle) return make_error(ErrorKind::invalid_argument, "jobs are queued inside a transaction of ctx.database()");
    c::CValues storage;
    pc_value cpayload = storage.make(payload);
    Answer a;
    auto r = a.take_value(host_.api->enqueue_job(host_.plugin, handle, str(app_id), str(kind), &cpayload, delay_ms, a.out()));
    if (!r) return r.error();
    return r->string_or("");
  }

 private:
  struct Kind {
    Host host;
    JobKind kind;
  };
  static pc_status run(void* user, const pc_job* job, const pc_out* out) noexcept {
    auto* k = static_cast<Kind*>(user);
    return guarded(out, [&]() -> Result<void> {
      Job j;
      j.id = c::text(job->id);
      j.app_id = c::text(job->app_id);
      j.kind = c::text(job->kind);
      if (job->payload) j.payload = c::to_value(*job->payload);
      j.attempt = job->attempt;
      j.first_attempt_ms = job->first_attempt_ms;
      j.deadline_ms = job->deadline_ms;
      return k->kind.run(j);
    });
  }

  Host host_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Kind>> kinds_;
};

class CEventSink final : public EventSink {
 public:
  explicit CEventSink(Host host) : host_(host) {}
  Result<int> emit(Transaction& tx, const CallContext& call, const Event& event) override {
    auto* handle = static_cast<pc_tx*>(tx.boundary_handle());
    if (!handle) return make_error(ErrorKind::invalid_argument, "events are emitted inside a transaction of ctx.database()");
    c::CValues storage;
    pc_value payload = storage.make(event.payload);
    pc_event ce{};
    ce.size = sizeof ce;
    ce.source = str(event.source);
    ce.op = str(event.op);
    ce.payload = &payload;
    ce.trigger_id = str(event.trigger_id);
    pc_call cc = c_call(call);
    Answer a;
    auto r = a.take_value(host_.api->emit_event(host_.plugin, handle, &cc, &ce, a.out()));
    if (!r) return r.error();
    return static_cast<int>(r->int_or(0));
  }

  Result<std::vector<TriggerDeliveries>> deliveries(std::string_view app_id, std::string_view kind,
                                                    std::string_view group_by) override {
    Answer a;
    auto v = a.take_value(host_.api->trigger_deliveries(host_.plugin, str(app_id), str(kind), str(group_by), a.out()));
    if (!v) return v.error();
    auto counts = [](const Value& o) {
      return DeliveryCounts{o["queued"].int_or(0), o["retrying"].int_or(0), o["running"].int_or(0),
                            o["dead_letters"].int_or(0)};
    };
    std::vector<TriggerDeliveries> out;
    if (!v->is_array()) return out;
    for (const auto& t : v->as_array()) {
      TriggerDeliveries d{t["id"].string_or(""), t["script_id"].string_or(""), t["script"].string_or(""),
                          t["filter"], t["enabled"].is_bool() && t["enabled"].as_bool(), counts(t), {}};
      if (t["by"].is_object())
        for (const auto& [key, c] : t["by"].as_object()) d.by.emplace(key, counts(c));
      out.push_back(std::move(d));
    }
    return out;
  }

 private:
  Host host_;
};

class CAccess final : public AccessControl {
 public:
  explicit CAccess(Host host) : host_(host) {}
  Result<void> require(const CallContext& call, std::string_view capability) override {
    pc_call cc = c_call(call);
    Answer a;
    return a.take_void(host_.api->access_require(host_.plugin, &cc, str(capability), a.out()));
  }

 private:
  Host host_;
};

// The keyring over the host table.
class CKeyring final : public Keyring {
 public:
  explicit CKeyring(Host host) : host_(host) {}
  Result<void> put(Transaction* tx, std::string_view app_id, std::string_view name, std::string_view value) override {
    auto t = handle(tx);
    if (!t) return t.error();
    Answer a;
    return a.take_void(host_.api->vault_put(host_.plugin, *t, str(app_id), str(name), str(value), a.out()));
  }
  Result<std::optional<std::string>> get(Transaction* tx, std::string_view app_id, std::string_view name) override {
    auto t = handle(tx);
    if (!t) return t.error();
    Answer a;
    auto v = a.take_value(host_.api->vault_get(host_.plugin, *t, str(app_id), str(name), a.out()));
    if (!v) return v.error();
    if (!v->is_bytes()) return std::optional<std::string>();
    return std::optional<std::string>(std::string(v->as_bytes().begin(), v->as_bytes().end()));
  }
  Result<bool> remove(Transaction* tx, std::string_view app_id, std::string_view name) override {
    auto t = handle(tx);
    if (!t) return t.error();
    Answer a;
    auto v = a.take_value(host_.api->vault_delete(host_.plugin, *t, str(app_id), str(name), a.out()));
    if (!v) return v.error();
    return v->is_bool() && v->as_bool();
  }
  Result<std::vector<Entry>> list(std::string_view app_id, std::string_view after, std::int64_t limit) override {
    Answer a;
    auto v = a.take_value(host_.api->vault_list(host_.plugin, str(app_id), str(after), limit, a.out()));
    if (!v) return v.error();
    std::vector<Entry> out;
    if (v->is_array())
      for (const auto& e : v->as_array()) out.push_back({e["name"].string_or(""), e["updated_at"].int_or(0)});
    return out;
  }
  Result<std::string> sign(std::string_view app_id, std::string_view data) override {
    Answer a;
    auto v = a.take_value(host_.api->keyring_sign(host_.plugin, str(app_id), str(data), a.out()));
    if (!v) return v.error();
    if (!v->is_bytes()) return make_error(ErrorKind::internal, "the kernel's signature is not bytes");
    return std::string(v->as_bytes().begin(), v->as_bytes().end());
  }
  bool verify(std::string_view app_id, std::string_view data, std::string_view signature) override {
    return host_.api->keyring_verify(host_.plugin, str(app_id), str(data), str(signature)) == 1;
  }

 private:
  // A transaction must be one the SDK handed out (ctx.database()).
  static Result<pc_tx*> handle(Transaction* tx) {
    if (!tx) return static_cast<pc_tx*>(nullptr);
    auto* h = static_cast<pc_tx*>(tx->boundary_handle());
    if (!h) return make_error(ErrorKind::invalid_argument, "the transaction is not one of ctx.database()'s");
    return h;
  }
  Host host_;
};

class CCluster final : public Cluster {
 public:
  explicit CCluster(Host host) : host_(host) {}
  Result<void> notify(Transaction* tx, std::string_view channel, std::string_view payload) override {
    pc_tx* handle = nullptr;
    if (tx) {
      handle = static_cast<pc_tx*>(tx->boundary_handle());
      if (!handle) return make_error(ErrorKind::invalid_argument, "the transaction is not one of ctx.database()'s");
    }
    Answer a;
    return a.take_void(host_.api->notify(host_.plugin, handle, str(channel), str(payload), a.out()));
  }
  Result<void> listen(std::string channel, std::function<void(std::string_view payload)> fn) override {
    Listener* stored;
    {
      std::lock_guard lock(mutex_);
      listeners_.push_back(std::make_unique<Listener>(Listener{host_, std::move(fn)}));
      stored = listeners_.back().get();
    }
    auto trampoline = [](void* user, pc_str payload) noexcept {
      auto* l = static_cast<Listener*>(user);
      logged(l->host, "a cluster message", [&] { l->fn(view(payload)); });
    };
    Answer a;
    return a.take_void(host_.api->listen(host_.plugin, str(channel), trampoline, stored, a.out()));
  }

 private:
  struct Listener {
    Host host;
    std::function<void(std::string_view)> fn;
  };
  Host host_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Listener>> listeners_;
};

class CContext final : public PluginContext {
 public:
  explicit CContext(Host host)
      : host_(host),
        config_(host),
        logger_(host),
        database_(host),
        services_(host),
        tasks_(host),
        metrics_(host),
        scripts_(host),
        kinds_(host),
        events_(host),
        access_(host),
        keyring_(host),
        jobs_(host) {}

  Host host() const { return host_; }
  std::string_view plugin_name() const override { return view(host_.api->plugin_name(host_.plugin)); }
  ConfigSection& config() override { return config_; }
  Logger& logger() override { return logger_; }
  Database& database() override { return database_; }
  ServiceRegistry& services() override { return services_; }
  BackgroundTasks& tasks() override { return tasks_; }
  Metrics& metrics() override { return metrics_; }
  ScriptApi* script_api() override { return &scripts_; }
  TriggerKinds* trigger_kinds() override { return &kinds_; }
  EventSink* events() override { return &events_; }
  AccessControl* access() override { return &access_; }
  Jobs* jobs() override { return &jobs_; }
  Cluster* cluster() override { return &cluster_; }

  Result<void> add_admin_view(Value view) override {
    Answer a;
    return a.take_void(host_.api->add_admin_view(host_.plugin, str(to_json(view)), a.out()));
  }

  Result<void> observe_events(std::string source, EventObserver observer) override {
    Observer* stored = keep(observers_, Observer{host_, std::move(observer)});
    auto trampoline = [](void* user, pc_tx* tx, pc_str app_id, const pc_event* event, const pc_out* out) noexcept {
      auto* o = static_cast<Observer*>(user);
      return guarded(out, [&]() -> Result<void> {
        CTransaction t(o->host, tx);
        Event e{c::text(event->source), c::text(event->op), event->payload ? c::to_value(*event->payload) : Value()};
        if (PICLOUD_SDK_FILLED(*event, pc_event, trigger_id)) e.trigger_id = c::text(event->trigger_id);
        return o->fn(t, view(app_id), e);
      });
    };
    Answer a;
    return a.take_void(host_.api->observe_events(host_.plugin, str(source), trampoline, stored, a.out()));
  }

  Result<void> declare_resource_kind(ResourceKind kind) override {
    if (!kind.list || !kind.check || (!kind.required_only && (!kind.put || !kind.remove)))
      return make_error(ErrorKind::invalid_argument,
                        "resource kind '" + kind.name + "' needs list, check and (unless required_only) put and remove");
    Resources* r = keep(resources_, Resources{host_, kind});
    pc_resource_kind k{};
    k.size = sizeof k;
    k.name = str(r->kind.name);
    k.description = str(r->kind.description);
    k.flags = r->kind.required_only ? PC_RESOURCE_REQUIRED : 0u;
    k.user = r;
    k.list = [](void* user, pc_tx* tx, pc_str app_id, const pc_out* out) noexcept {
      auto* r = static_cast<Resources*>(user);
      return guarded(out, [&]() -> Result<void> {
        CTransaction t(r->host, tx);
        auto items = r->kind.list(t, view(app_id));
        if (!items) return items.error();
        Array list;
        for (auto& i : *items) list.push_back(Value::object({{"key", std::move(i.key)}, {"item", std::move(i.item)}}));
        c::put_value(out, Value(std::move(list)));
        return {};
      });
    };
    k.check = [](void* user, const pc_value* item, const pc_out* out) noexcept {
      auto* r = static_cast<Resources*>(user);
      return guarded(out, [&]() -> Result<void> {
        auto checked = r->kind.check(item ? c::to_value(*item) : Value());
        if (!checked) return checked.error();
        c::put_value(out, Value::object({{"key", std::move(checked->key)}, {"item", std::move(checked->item)}}));
        return {};
      });
    };
    if (!r->kind.required_only) {
      k.put = [](void* user, pc_tx* tx, pc_str app_id, pc_str key, const pc_value* item, const pc_out* out) noexcept {
        auto* r = static_cast<Resources*>(user);
        return guarded(out, [&]() -> Result<void> {
          CTransaction t(r->host, tx);
          return r->kind.put(t, view(app_id), view(key), item ? c::to_value(*item) : Value());
        });
      };
      k.remove = [](void* user, pc_tx* tx, pc_str app_id, pc_str key, const pc_out* out) noexcept {
        auto* r = static_cast<Resources*>(user);
        return guarded(out, [&]() -> Result<void> {
          CTransaction t(r->host, tx);
          return r->kind.remove(t, view(app_id), view(key));
        });
      };
    }
    Answer a;
    return a.take_void(host_.api->declare_resource_kind(host_.plugin, &k, a.out()));
  }

  Result<void> add_route(HttpRoute route) override {
    Route* stored = keep(routes_, Route{host_, std::move(route.handler)});
    pc_route r{};
    r.size = sizeof r;
    r.method = str(route.method);
    r.path = str(route.path);
    r.capability = str(route.capability);
    r.handler = &handle;
    r.user = stored;
    r.hosts = route.hosts == RouteHosts::apps ? PC_ROUTE_APP_HOSTS : PC_ROUTE_ADMIN_HOSTS;
    r.body = route.spool_body ? PC_BODY_SPOOLED : PC_BODY_BUFFERED;
    r.max_body_bytes = route.max_body_bytes;
    Answer a;
    return a.take_void(host_.api->add_route(host_.plugin, &r, a.out()));
  }

  Result<AppInfo> find_app(std::string_view key) override {
    Answer a;
    auto v = a.take_value(host_.api->app_find(host_.plugin, str(key), a.out()));
    if (!v) return v.error();
    AppInfo app{(*v)["id"].string_or(""), (*v)["slug"].string_or(""), (*v)["name"].string_or(""), {}};
    if ((*v)["hostnames"].is_array())
      for (const auto& h : (*v)["hostnames"].as_array()) app.hostnames.push_back(h.string_or(""));
    return app;
  }
  Result<std::string> data_dir() override {
    Answer a;
    auto v = a.take_value(host_.api->data_dir(host_.plugin, a.out()));
    if (!v) return v.error();
    return v->string_or("");
  }
  std::string_view install_dir() const override { return c::view(host_.api->install_dir(host_.plugin)); }
  Keyring* keyring() override { return &keyring_; }

  Result<void> on_app_deleted(AppDeletedHook hook) override {
    AppHook* stored = keep(app_hooks_, AppHook{host_, std::move(hook)});
    auto trampoline = [](void* user, pc_tx* tx, pc_str app_id, const pc_out* out) noexcept -> pc_status {
      auto* h = static_cast<AppHook*>(user);
      CTransaction t(h->host, tx);
      return guarded(out, [&] { return h->hook(t, view(app_id)); });
    };
    Answer a;
    return a.take_void(host_.api->on_app_deleted(host_.plugin, trampoline, stored, a.out()));
  }

  Result<void> add_capability(Capability capability) override {
    pc_capability cap{};
    cap.size = sizeof cap;
    cap.name = str(capability.name);
    cap.access = static_cast<std::uint32_t>(capability.access);
    cap.scope = str(capability.scope);
    cap.description = str(capability.description);
    Answer a;
    return a.take_void(host_.api->add_capability(host_.plugin, &cap, a.out()));
  }

 private:
  struct Route {
    Host host;
    HttpHandler handler;
  };
  struct AppHook {
    Host host;
    AppDeletedHook hook;
  };
  struct Observer {
    Host host;
    EventObserver fn;
  };
  struct Resources {
    Host host;
    ResourceKind kind;
  };
  // A handler that throws does not respond: the kernel answers 500.
  static void handle(void* user, const pc_http_request* request, const pc_responder* responder) noexcept {
    auto* route = static_cast<Route*>(user);
    logged(route->host, c::view(request->path), [&] {
      HttpResponse response = route->handler(http_request(*request));
      CResponse out(route->host, response);
      responder->respond(responder->user, out.get());
    });
  }

  Host host_;
  CConfig config_;
  CLogger logger_;
  CDatabase database_;
  CServices services_;
  CTasks tasks_;
  CMetrics metrics_;
  CScriptApi scripts_;
  CTriggerKinds kinds_;
  CEventSink events_;
  CAccess access_;
  CKeyring keyring_;
  CJobs jobs_;
  CCluster cluster_{host_};
  // Registrations' closures, kept until the plugin is destroyed.
  template <typename T>
  T* keep(std::vector<std::unique_ptr<T>>& list, T item) {
    std::lock_guard lock(mutex_);
    list.push_back(std::make_unique<T>(std::move(item)));
    return list.back().get();
  }
  std::mutex mutex_;
  std::vector<std::unique_ptr<Route>> routes_;
  std::vector<std::unique_ptr<AppHook>> app_hooks_;
  std::vector<std::unique_ptr<Observer>> observers_;
  std::vector<std::unique_ptr<Resources>> resources_;
};

// The state behind the descriptor's entry points.
struct State {
  explicit State(Host host) : context(host) {}
  CContext context;
  std::unique_ptr<Plugin> plugin;
};

template <typename PluginClass>
struct Entry {
  static pc_status init(const pc_host_api* host, pc_plugin* p, void** state, const pc_out* out) noexcept {
    return guarded(out, [&]() -> Result<void> {
      if (!host || host->abi_major != PC_ABI_MAJOR || host->size < sizeof(pc_host_api))
        return make_error(ErrorKind::invalid_argument, "abi_mismatch",
                          "the kernel's host table does not match this plugin's SDK");
      plugin_host() = Host{host, p};
      auto s = std::make_unique<State>(Host{host, p});
      s->plugin = std::make_unique<PluginClass>();
      *state = s.release();
      return {};
    });
  }
  static pc_status configure(void* state, const pc_out* out) noexcept {
    auto* s = static_cast<State*>(state);
    return guarded(out, [&] { return s->plugin->configure(s->context); });
  }
  static pc_status start(void* state, const pc_out* out) noexcept {
    auto* s = static_cast<State*>(state);
    return guarded(out, [&] { return s->plugin->start(s->context); });
  }
  static void stop(void* state) noexcept {
    auto* s = static_cast<State*>(state);
    logged(s->context.host(), "stop", [&] { s->plugin->stop(); });
  }
  static void destroy(void* state) noexcept {
    auto* s = static_cast<State*>(state);
    try {
      delete s;
    } catch (...) {  // a destructor that throws: the rest is leaked
    }
  }
};

}  // namespace picloud::sdk::bridge

#define PICLOUD_PLUGIN_ENTRY_SYMBOL PC_PLUGIN_SYMBOL

// Declares the plugin's descriptor (and the copy of its ABI block the loader
// reads from the file). Use once, at namespace scope, in one source file of
// the plugin:
//   PICLOUD_PLUGIN(HelloPlugin, "hello", "1.0.0", /*provides*/ "", /*depends*/ "")
#define PICLOUD_PLUGIN(PluginClass, NAME, VERSION, PROVIDES, DEPENDS)                 \
  PICLOUD_SDK_ABI_SECTION_BLOCK(::picloud::sdk::current_abi_block());                 \
  extern "C" __attribute__((visibility("default"))) const pc_plugin_descriptor picloud_plugin; \
  extern "C" const pc_plugin_descriptor picloud_plugin = {                            \
      ::picloud::sdk::current_abi_block(),                                            \
      sizeof(pc_plugin_descriptor),                                                   \
      NAME,                                                                           \
      VERSION,                                                                        \
      PICLOUD_SDK_VERSION,                                                            \
      PROVIDES,                                                                       \
      DEPENDS,                                                                        \
      &::picloud::sdk::bridge::Entry<PluginClass>::init,                              \
      &::picloud::sdk::bridge::Entry<PluginClass>::configure,                         \
      &::picloud::sdk::bridge::Entry<PluginClass>::start,                             \
      &::picloud::sdk::bridge::Entry<PluginClass>::stop,                              \
      &::picloud::sdk::bridge::Entry<PluginClass>::destroy};
