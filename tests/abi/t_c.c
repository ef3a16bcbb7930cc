/* A plugin written in C against the frozen ABI 2.0 header: what a third
 * party without the C++ SDK writes, and what an older plugin looks like to
 * a newer kernel.
 *
 *   [t_c] greeting = hi              GET /t_c/hello -> 200 "<greeting>"
 *   t_c::add(int a, int b = 2) -> int
 *   t_c::echo(json v) -> json        answers v as given
 *   t_c::refuse() -> void            fails: invalid_argument, code c_said_no
 *   GET /t_c/stream -> 200, "abc" x 100000 from a producer (pc_body_stream)
 *   GET /t_c/closes -> how many streams the kernel has closed
 */
#include <picloud/picloud.h>
#include <stdlib.h>
#include <string.h>

typedef struct state {
  const pc_host_api* host;
  pc_plugin* plugin;
  char greeting[64];
  size_t greeting_len;
} state;

static pc_str lit(const char* s) {
  pc_str out = {s, strlen(s)};
  return out;
}

static void fail(const pc_out* out, pc_status kind, const char* code, const char* message) {
  out->error(out->user, kind, lit(code), lit(message));
}

/* Keeps the config value the host hands over (copied: it is borrowed). */
static void take_greeting(void* user, const pc_value* v) {
  state* s = (state*)user;
  if (v->type != PC_STRING) return;
  s->greeting_len = v->u.s.len < sizeof s->greeting ? v->u.s.len : sizeof s->greeting;
  memcpy(s->greeting, v->u.s.ptr, s->greeting_len);
}
static void ignore_error(void* user, pc_status kind, pc_str code, pc_str message) {
  (void)user, (void)kind, (void)code, (void)message;
}

static void hello(void* user, const pc_http_request* request, const pc_responder* responder) {
  state* s = (state*)user;
  pc_header type = {lit("content-type"), lit("text/plain")};
  pc_http_response response = {sizeof(pc_http_response), 200, &type, 1, {s->greeting, s->greeting_len}, NULL, NULL};
  (void)request;
  responder->respond(responder->user, &response);
}

/* A producer of "abc" repeated: its position is the stream's state. */
static int streams_closed = 0;
#define STREAM_LENGTH 300000
static pc_status produce(void* user, char* buffer, size_t capacity, size_t* produced, const pc_out* out) {
  size_t* at = (size_t*)user;
  size_t n = 0;
  (void)out;
  while (n < capacity && *at < STREAM_LENGTH) buffer[n++] = "abc"[(*at)++ % 3];
  *produced = n;
  return PC_OK;
}
static void close_stream(void* user) {
  free(user);
  ++streams_closed;
}
static void stream(void* user, const pc_http_request* request, const pc_responder* responder) {
  pc_body_stream body;
  pc_http_response response;
  size_t* at = (size_t*)calloc(1, sizeof(size_t));
  (void)user, (void)request;
  memset(&body, 0, sizeof body);
  body.size = sizeof body;
  body.length = STREAM_LENGTH;
  body.fd = -1;
  body.user = at;
  body.read = produce;
  body.close = close_stream;
  memset(&response, 0, sizeof response);
  response.size = sizeof response;
  response.status = 200;
  response.stream = &body;
  responder->respond(responder->user, &response);
}
static void closes(void* user, const pc_http_request* request, const pc_responder* responder) {
  char text[16];
  pc_http_response response;
  int len = 0, n = streams_closed;
  (void)user, (void)request;
  do text[15 - len++] = (char)('0' + n % 10); while ((n /= 10) > 0);
  memset(&response, 0, sizeof response);
  response.size = sizeof response;
  response.status = 200;
  response.body.ptr = text + 16 - len;
  response.body.len = (size_t)len;
  responder->respond(responder->user, &response);
}

static pc_status add(void* user, const pc_call* call, const pc_value* self, const pc_value* args, size_t n,
                     const pc_out* out) {
  pc_value sum;
  (void)user, (void)call, (void)self;
  if (n != 2 || args[0].type != PC_INT || args[1].type != PC_INT) {
    fail(out, PC_INVALID_ARGUMENT, "bad_arguments", "add takes two ints");
    return PC_INVALID_ARGUMENT;
  }
  sum.type = PC_INT;
  sum.u.i = args[0].u.i + args[1].u.i;
  out->value(out->user, &sum);
  return PC_OK;
}

static pc_status echo(void* user, const pc_call* call, const pc_value* self, const pc_value* args, size_t n,
                      const pc_out* out) {
  (void)user, (void)call, (void)self;
  if (n == 1) out->value(out->user, &args[0]);
  return PC_OK;
}

static pc_status refuse(void* user, const pc_call* call, const pc_value* self, const pc_value* args, size_t n,
                        const pc_out* out) {
  (void)user, (void)call, (void)self, (void)args, (void)n;
  fail(out, PC_INVALID_ARGUMENT, "c_said_no", "the C plugin refuses");
  return PC_INVALID_ARGUMENT;
}

static pc_status init(const pc_host_api* host, pc_plugin* p, void** out_state, const pc_out* out) {
  state* s;
  if (host->abi_major != PC_ABI_MAJOR || host->size < sizeof(pc_host_api)) {
    fail(out, PC_INVALID_ARGUMENT, "abi_mismatch", "unexpected host table");
    return PC_INVALID_ARGUMENT;
  }
  s = (state*)calloc(1, sizeof *s);
  if (!s) {
    fail(out, PC_INTERNAL, "out_of_memory", "no memory for the state");
    return PC_INTERNAL;
  }
  s->host = host;
  s->plugin = p;
  *out_state = s;
  return PC_OK;
}

static pc_status configure(void* st, const pc_out* out) {
  state* s = (state*)st;
  pc_out greeting_out = {sizeof(pc_out), s, take_greeting, ignore_error};
  pc_status r;
  pc_route route;
  pc_script_param add_params[2];
  const pc_script_param* add_list[2];
  const pc_script_param* echo_list[1];
  pc_value two;
  pc_script_param echo_param;
  pc_script_function fn;

  r = s->host->config_string(s->plugin, lit("greeting"), lit("hi"), &greeting_out);
  if (r != PC_OK) {
    fail(out, r, "bad_config", "[t_c] greeting is not valid");
    return r;
  }

  memset(&route, 0, sizeof route);
  route.size = sizeof route;
  route.method = lit("GET");
  route.path = lit("/t_c/hello");
  route.capability = lit("public");
  route.handler = hello;
  route.user = s;
  if ((r = s->host->add_route(s->plugin, &route, out)) != PC_OK) return r;
  route.path = lit("/t_c/stream");
  route.handler = stream;
  if ((r = s->host->add_route(s->plugin, &route, out)) != PC_OK) return r;
  route.path = lit("/t_c/closes");
  route.handler = closes;
  if ((r = s->host->add_route(s->plugin, &route, out)) != PC_OK) return r;

  memset(add_params, 0, sizeof add_params);
  memset(&two, 0, sizeof two);
  two.type = PC_INT;
  two.u.i = 2;
  add_params[0].size = add_params[1].size = sizeof(pc_script_param);
  add_params[0].name = lit("a");
  add_params[1].name = lit("b");
  add_params[0].type = add_params[1].type = PC_SCRIPT_INT;
  add_params[1].default_value = &two;
  memset(&fn, 0, sizeof fn);
  fn.size = sizeof fn;
  fn.ns = lit("t_c");
  fn.name = lit("add");
  add_list[0] = &add_params[0];
  add_list[1] = &add_params[1];
  fn.params = add_list;
  fn.param_count = 2;
  fn.result = PC_SCRIPT_INT;
  fn.fn = add;
  fn.doc = lit("Adds two ints (b defaults to 2).");
  if ((r = s->host->add_script_function(s->plugin, &fn, out)) != PC_OK) return r;

  memset(&echo_param, 0, sizeof echo_param);
  echo_param.size = sizeof echo_param;
  echo_param.name = lit("v");
  echo_param.type = PC_SCRIPT_JSON;
  fn.name = lit("echo");
  echo_list[0] = &echo_param;
  fn.params = echo_list;
  fn.param_count = 1;
  fn.result = PC_SCRIPT_JSON;
  fn.fn = echo;
  fn.doc = lit("Answers its argument.");
  if ((r = s->host->add_script_function(s->plugin, &fn, out)) != PC_OK) return r;

  fn.name = lit("refuse");
  fn.params = NULL;
  fn.param_count = 0;
  fn.result = PC_SCRIPT_VOID;
  fn.fn = refuse;
  fn.doc = lit("Always fails.");
  return s->host->add_script_function(s->plugin, &fn, out);
}

static pc_status start(void* st, const pc_out* out) {
  state* s = (state*)st;
  pc_header field = {lit("greeting"), {s->greeting, s->greeting_len}};
  (void)out;
  s->host->log(s->plugin, PC_LOG_INFO, lit("t_c started"), &field, 1);
  return PC_OK;
}

static void stop(void* st) { (void)st; }
static void destroy(void* st) { free(st); }

__attribute__((section(PC_ABI_SECTION), used)) const pc_abi_block picloud_plugin_abi_block = {
    PC_ABI_MAGIC, PC_ABI_MAJOR, PC_ABI_MINOR, sizeof(pc_abi_block)};

__attribute__((visibility("default"))) const pc_plugin_descriptor picloud_plugin = {
    {PC_ABI_MAGIC, PC_ABI_MAJOR, PC_ABI_MINOR, sizeof(pc_abi_block)},
    sizeof(pc_plugin_descriptor),
    "t_c",
    "2.0.0",
    PC_SDK_VERSION,
    "",
    "",
    init,
    configure,
    start,
    stop,
    destroy};
