// request, response and event: what entry points receive.
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <angelscript/scriptarray.h>

#include <algorithm>
#include <atomic>

#include "scripting/bindings.hpp"
#include "scripting/bytes.hpp"
#include "scripting/json.hpp"
#include "scripting/run_state.hpp"

namespace picloud::scripting {

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

template <typename T>
struct RefCounted {
  std::atomic<int> refs{1};
  void add_ref() { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete static_cast<T*>(this);
  }
};
}  // namespace

class ScriptRequest : public RefCounted<ScriptRequest> {
 public:
  explicit ScriptRequest(const sdk::HttpRequest& r) : request(r) {}
  const sdk::HttpRequest& request;  // outlives the run
  JsonPtr params, query, headers;   // built on first use
};

class ScriptResponse : public RefCounted<ScriptResponse>, public sdk::HttpExchange {
 public:
  ScriptResponse(const sdk::HttpRequest& r, std::int64_t max) : max_body(max), request_(r) {}
  sdk::HttpResponse out;
  std::int64_t max_body;
  bool explicit_type = false;  // content-type came from set_header

  const sdk::HttpRequest& request() const override { return request_; }
  // A plugin answering for the script (a stored file): its status, body or
  // stream, and its headers over the script's. The kernel's rules for
  // scripts' responses (app_response) still apply to the result.
  sdk::Result<void> respond(sdk::HttpResponse response) override {
    if (response.status < 200 || response.status > 599)
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "response status " + std::to_string(response.status) + " is not 200-599");
    for (auto& [name, value] : response.headers) {
      std::string key = lower(name);
      auto& hs = out.headers;
      hs.erase(std::remove_if(hs.begin(), hs.end(), [&](const auto& h) { return h.first == key; }), hs.end());
    }
    // The file's type is not the script's choice: a body the script sets
    // afterwards brings its own.
    explicit_type = false;
    for (auto& [name, value] : response.headers) out.headers.emplace_back(lower(name), std::move(value));
    out.status = response.status;
    out.body = std::move(response.body);
    out.stream = std::move(response.stream);
    return {};
  }

 private:
  const sdk::HttpRequest& request_;  // outlives the run
};

class ScriptEvent : public RefCounted<ScriptEvent> {
 public:
  explicit ScriptEvent(const sdk::Value& e) : event(e) {}
  const sdk::Value& event;
  JsonPtr data;
};

ScriptRequest* make_request(const sdk::HttpRequest& request) { return new ScriptRequest(request); }
ScriptResponse* make_response(const sdk::HttpRequest& request, std::int64_t max_body_bytes) {
  return new ScriptResponse(request, max_body_bytes);
}
ScriptEvent* make_event(const sdk::Value& event) { return new ScriptEvent(event); }
void release(ScriptRequest* r) { r->release(); }
void release(ScriptResponse* r) { r->release(); }
void release(ScriptEvent* e) { e->release(); }
sdk::HttpResponse take_response(ScriptResponse& response) { return std::move(response.out); }
sdk::HttpExchange& exchange_of(ScriptResponse& response) { return response; }

namespace {

template <typename T>
void add_ref(T* self) {
  self->add_ref();
}
template <typename T>
void release_ref(T* self) {
  self->release();
}

// --- request -----------------------------------------------------------------

std::string method(const ScriptRequest* r) { return r->request.method; }
std::string path(const ScriptRequest* r) { return r->request.path; }
std::string body(const ScriptRequest* r) { return r->request.body; }
std::string remote_address(const ScriptRequest* r) { return r->request.remote_address; }
std::string request_id(const ScriptRequest* r) { return r->request.request_id; }
std::string raw_query(const ScriptRequest* r) { return r->request.query; }

const JsonNode* params(ScriptRequest* r) {
  if (!r->params) {
    sdk::Value v = sdk::Value::object();
    for (const auto& [k, val] : r->request.params) v.set(k, val);
    r->params = json_from_value(v);
  }
  return JsonPtr(r->params).detach();
}

const JsonNode* query(ScriptRequest* r) {
  if (!r->query) {
    sdk::Value v = sdk::Value::object();
    try {
      Poco::URI uri;
      uri.setRawQuery(r->request.query);
      for (const auto& [k, val] : uri.getQueryParameters())
        if (!v.has(k)) v.set(k, val);  // the first of repeated keys
    } catch (const Poco::Exception&) {
      throw ScriptException("request: malformed query string");
    }
    r->query = json_from_value(v);
  }
  return JsonPtr(r->query).detach();
}

const JsonNode* headers(ScriptRequest* r) {
  if (!r->headers) {
    sdk::Value v = sdk::Value::object();
    for (const auto& [k, val] : r->request.headers)
      if (!v.has(k)) v.set(k, val);
    r->headers = json_from_value(v);
  }
  return JsonPtr(r->headers).detach();
}

std::string header(const std::string& name, const std::string& fallback, const ScriptRequest* r) {
  std::string key = lower(name);
  for (const auto& [k, v] : r->request.headers)
    if (k == key) return v;
  return fallback;
}

std::string param(const std::string& name, const std::string& fallback, const ScriptRequest* r) {
  auto it = r->request.params.find(name);
  return it == r->request.params.end() ? fallback : it->second;
}

JsonNode* body_json(const ScriptRequest* r) {
  try {
    return parse_json(r->request.body).detach();
  } catch (const ScriptException& e) {
    throw ScriptException(std::string("request: body is not valid JSON (") + e.what() + ")");
  }
}

CScriptArray* body_bytes(const ScriptRequest* r) { return make_bytes(r->request.body); }

// --- response ----------------------------------------------------------------

int get_status(const ScriptResponse* r) { return r->out.status; }
void set_status(int status, ScriptResponse* r) {
  // 1xx are interim answers about the connection (101 switches protocols):
  // the server's to send, never a script's final answer.
  if (status < 200 || status > 599) throw ScriptException("response: status " + std::to_string(status) + " is not 200-599");
  r->out.status = status;
}

bool is_token(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

void set_header(const std::string& name, const std::string& value, ScriptResponse* r) {
  if (!is_token(name)) throw ScriptException("response: \"" + name + "\" is not a valid header name");
  if (value.find_first_of("\r\n") != std::string::npos || value.find('\0') != std::string::npos)
    throw ScriptException("response: header " + name + " has a line break in its value");
  std::string key = lower(name);
  auto& hs = r->out.headers;
  hs.erase(std::remove_if(hs.begin(), hs.end(), [&](const auto& h) { return h.first == key; }), hs.end());
  hs.emplace_back(key, value);
  if (key == "content-type") r->explicit_type = true;
}

void set_body(ScriptResponse* r, std::string body, const char* content_type) {
  if (static_cast<std::int64_t>(body.size()) > r->max_body) {
    // Not catchable: the run ends with output_limit.
    if (RunState* run = RunState::current()) {
      run->fail(RunError::output_limit, "response body of " + std::to_string(body.size()) +
                                            " bytes exceeds the limit of " + std::to_string(r->max_body));
      return;
    }
    throw ScriptException("response: body too large");
  }
  r->out.body = std::move(body);
  r->out.stream.reset();  // a body set now replaces a file a plugin answered with
  // Only a type the script set itself is kept: one left by an earlier body
  // call gives way (text() then json() answered JSON labelled text/plain).
  if (r->explicit_type) return;
  auto& hs = r->out.headers;
  hs.erase(std::remove_if(hs.begin(), hs.end(), [](const auto& h) { return h.first == "content-type"; }), hs.end());
  hs.emplace_back("content-type", content_type);
}

void text(const std::string& body, ScriptResponse* r) { set_body(r, body, "text/plain; charset=utf-8"); }
void html(const std::string& body, ScriptResponse* r) { set_body(r, body, "text/html; charset=utf-8"); }
void json(const JsonNode& body, ScriptResponse* r) { set_body(r, stringify_json(body), "application/json"); }
void bytes(const CScriptArray& body, ScriptResponse* r) {
  set_body(r, std::string(bytes_view(body)), "application/octet-stream");
}

// --- event -------------------------------------------------------------------

std::string event_source(const ScriptEvent* e) { return e->event["source"].string_or(""); }
std::string event_op(const ScriptEvent* e) { return e->event["op"].string_or(""); }
const JsonNode* event_data(ScriptEvent* e) {
  if (!e->data) e->data = json_from_value(e->event);
  return JsonPtr(e->data).detach();
}

void reg(int result, const char* what) {
  if (result < 0) throw RegistrationError(std::string("cannot register ") + what);
}

template <typename T>
void ref_type(asIScriptEngine* e, const char* name) {
  reg(e->RegisterObjectType(name, 0, asOBJ_REF), name);
  reg(e->RegisterObjectBehaviour(name, asBEHAVE_ADDREF, "void f()", WRAP_OBJ_LAST(add_ref<T>),
                                 asCALL_GENERIC),
      name);
  reg(e->RegisterObjectBehaviour(name, asBEHAVE_RELEASE, "void f()", WRAP_OBJ_LAST(release_ref<T>),
                                 asCALL_GENERIC),
      name);
}

}  // namespace

void register_entry_types(asIScriptEngine* e) {
  ref_type<ScriptRequest>(e, "request");
  ref_type<ScriptResponse>(e, "response");
  ref_type<ScriptEvent>(e, "event");
  auto m = [&](const char* type, const char* decl, const asSFuncPtr& f) {
    reg(e->RegisterObjectMethod(type, decl, f, asCALL_GENERIC), decl);
  };
  m("request", "string get_method() const property", WRAP_OBJ_LAST(method));
  m("request", "string get_path() const property", WRAP_OBJ_LAST(path));
  m("request", "string get_body() const property", WRAP_OBJ_LAST(body));
  m("request", "string get_remote_address() const property", WRAP_OBJ_LAST(remote_address));
  m("request", "string get_request_id() const property", WRAP_OBJ_LAST(request_id));
  m("request", "string get_raw_query() const property", WRAP_OBJ_LAST(raw_query));
  m("request", "const json@ get_params() property", WRAP_OBJ_LAST(params));
  m("request", "const json@ get_query() property", WRAP_OBJ_LAST(query));
  m("request", "const json@ get_headers() property", WRAP_OBJ_LAST(headers));
  m("request", "string header(const string &in name, const string &in fallback = \"\") const",
    WRAP_OBJ_LAST(header));
  m("request", "string param(const string &in name, const string &in fallback = \"\") const",
    WRAP_OBJ_LAST(param));
  m("request", "json@ json() const", WRAP_OBJ_LAST(body_json));
  m("request", "array<uint8>@ bytes() const", WRAP_OBJ_LAST(body_bytes));

  m("response", "int get_status() const property", WRAP_OBJ_LAST(get_status));
  m("response", "void set_status(int) property", WRAP_OBJ_LAST(set_status));
  m("response", "void set_header(const string &in name, const string &in value)", WRAP_OBJ_LAST(set_header));
  m("response", "void text(const string &in body)", WRAP_OBJ_LAST(text));
  m("response", "void html(const string &in body)", WRAP_OBJ_LAST(html));
  m("response", "void json(const json &in body)", WRAP_OBJ_LAST(json));
  m("response", "void bytes(const array<uint8> &in body)", WRAP_OBJ_LAST(bytes));

  m("event", "string get_source() const property", WRAP_OBJ_LAST(event_source));
  m("event", "string get_op() const property", WRAP_OBJ_LAST(event_op));
  m("event", "const json@ get_data() property", WRAP_OBJ_LAST(event_data));
}

}  // namespace picloud::scripting
