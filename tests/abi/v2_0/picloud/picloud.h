/* PiCloud plugin ABI 2: the C boundary between the kernel and a plugin.
 *
 * This header is the whole contract. Everything that crosses between the
 * kernel and a plugin is declared here in C: fixed-width integers, doubles,
 * pointers, function pointers and structs of those. No C++ type, exception
 * or allocator crosses, so a plugin may be built with any C or C++ compiler
 * and standard library (GCC and libstdc++, clang and libc++, static or not)
 * for the machine the kernel runs on. The C++ SDK (picloud/sdk.hpp) is a
 * header-only layer over this one, compiled into the plugin.
 *
 * Rules (docs/plugin-sdk.md states them for plugin authors):
 *
 *  - Text and bytes are pc_str: a pointer and a length, not NUL-terminated.
 *    Booleans are int (0 or 1). Enumerations are uint32_t constants.
 *  - Ownership: every pointer passed in a call is borrowed for that call
 *    only. Whoever receives data it must keep copies it before returning.
 *    Results travel the other way through a pc_out the caller provides; the
 *    callee's data need live only until the pc_out function returns.
 *  - Errors: a function that can fail returns a pc_status (PC_OK or an error
 *    class) and, when it fails, has first called out->error once with the
 *    class, an open snake_case code (may be empty) and a message.
 *  - Growth: structs that one side fills for the other start with
 *    `uint32_t size` (the filler's sizeof). A minor release only appends
 *    fields; a reader uses only the fields that lie within `size` and the
 *    documented default for the rest, and refuses a struct that ends before
 *    the last field of its first version. Lists of sized structs are lists
 *    of pointers, so each element's size is its own. pc_host_api likewise
 *    only grows at its end. pc_value, pc_str and pc_header never change
 *    within a major.
 *  - Threads: host functions may be called from any thread unless marked
 *    "configure only". Callbacks into a plugin may come from any thread,
 *    concurrently. No callback may let a C++ exception or longjmp escape.
 *  - Lifetime: registrations (routes, script functions, trigger kinds,
 *    tasks, gauges) last until the process exits; the host never calls a
 *    plugin's callbacks after its stop() returned, so a plugin may free
 *    their user data in destroy(). Plugins are never unloaded.
 */
#ifndef PICLOUD_PICLOUD_H
#define PICLOUD_PICLOUD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version. Major: any incompatible change. Minor: appended functions or
 * fields. A kernel accepts a plugin whose major equals its own and whose
 * minor is not newer. */
#define PC_ABI_MAJOR 2
#define PC_ABI_MINOR 0
/* The PiCloud release these headers come from. */
#define PC_SDK_VERSION "0.1.0"

#define PC_ABI_MAGIC 0x50434c44u /* "PCLD" */

/* ---- basic types ---------------------------------------------------------- */

typedef struct pc_str {
  const char* ptr; /* may be NULL when len is 0 */
  size_t len;
} pc_str;

/* Error classes. The class decides the HTTP status a route answers and the
 * kind of exception a script sees; the code says precisely what happened. */
typedef uint32_t pc_status;
#define PC_OK 0u
#define PC_NOT_FOUND 1u        /* does not exist, or belongs to another app */
#define PC_INVALID_ARGUMENT 2u /* the caller passed something wrong */
#define PC_FORBIDDEN 3u        /* the caller may not do this */
#define PC_CONFLICT 4u         /* the state does not allow it */
#define PC_UNAVAILABLE 5u      /* a dependency is down or busy; may work later */
#define PC_INTERNAL 6u         /* a bug or an unexpected failure */

/* Values: JSON plus int/float kept apart and bytes kept apart from text.
 * A pc_value is a borrowed tree: arrays and objects point at their members. */
#define PC_NULL 0u
#define PC_BOOL 1u
#define PC_INT 2u
#define PC_FLOAT 3u
#define PC_STRING 4u
#define PC_BYTES 5u
#define PC_ARRAY 6u
#define PC_OBJECT 7u

typedef struct pc_value pc_value;
struct pc_value {
  uint32_t type; /* PC_NULL .. PC_OBJECT */
  union {
    int b;       /* PC_BOOL */
    int64_t i;   /* PC_INT */
    double f;    /* PC_FLOAT */
    pc_str s;    /* PC_STRING (UTF-8) and PC_BYTES */
    struct {
      const pc_value* items;
      size_t count;
    } array;     /* PC_ARRAY */
    struct {
      const pc_str* keys; /* unique; order not significant */
      const pc_value* values;
      size_t count;
    } object;    /* PC_OBJECT */
  } u;
};

/* Where a callee puts its result. Provided by the caller; each function is
 * called at most once per call, and copies what it is given. */
typedef struct pc_out {
  uint32_t size;
  void* user;
  void (*value)(void* user, const pc_value* value);
  void (*error)(void* user, pc_status kind, pc_str code, pc_str message);
} pc_out;

/* Opaque host objects. */
typedef struct pc_plugin pc_plugin;       /* this plugin, as the host knows it */
typedef struct pc_tx pc_tx;               /* an open transaction */
typedef struct pc_stop pc_stop;           /* a background task's stop signal */
typedef struct pc_counter pc_counter;
typedef struct pc_histogram pc_histogram;

/* ---- HTTP routes ----------------------------------------------------------- */

typedef struct pc_header {
  pc_str name; /* lower case in requests */
  pc_str value;
} pc_header;

typedef struct pc_http_request {
  uint32_t size;
  pc_str method;  /* upper case */
  pc_str path;    /* decoded, without the query string */
  pc_str query;   /* raw, without '?' */
  const pc_header* headers;
  size_t header_count;
  const pc_header* params; /* path parameters the route matched */
  size_t param_count;
  pc_str body;
  pc_str remote_address;
  pc_str request_id;
  pc_str principal; /* the signed-in user once the capability was checked */
  pc_str app_id;    /* PC_ROUTE_APP_HOSTS: the app serving the Host; else empty */
  /* PC_BODY_SPOOLED routes: the body in an unlinked file, read it with
   * pread (the offset is the handler's); body is empty. Valid until the
   * handler returns; the kernel closes it. A plugin keeping the bytes may
   * link the file into place (linkat of /proc/self/fd/N) when it is on the
   * same file system, instead of copying. -1 otherwise. */
  int32_t body_fd;
  int64_t body_size; /* of body_fd's content, or of body */
} pc_http_request;

/* A response body the server sends as the client takes it, instead of one
 * buffer: either a file range (fd >= 0: [offset, offset + length), sent
 * with sendfile; the kernel closes the fd) or a producer (fd < 0: read()
 * fills the buffer; *produced = 0 ends the body). The kernel calls close()
 * exactly once when it is done with the stream (sent, failed, or the
 * client went away), also when the response is never sent. read() runs on
 * a server worker and may block briefly (a disk or database read), never
 * on the client: the server pulls only when the socket can take more. An
 * error from read(), or a body shorter than `length`, ends the connection
 * (the status was sent already). */
typedef struct pc_body_stream {
  uint32_t size;
  int64_t length; /* bytes the body has; -1: unknown (sent chunked; HTTP/1.0: until close) */
  int32_t fd;
  int64_t offset;
  void* user;
  pc_status (*read)(void* user, char* buffer, size_t capacity, size_t* produced, const pc_out* out);
  void (*close)(void* user);
} pc_body_stream;

typedef struct pc_http_response {
  uint32_t size;
  int32_t status;
  const pc_header* headers;
  size_t header_count;
  pc_str body;
  /* NULL: the body is `body`. Else the body comes from the stream (and
   * `body` is ignored); the kernel owns it from this call on. */
  const pc_body_stream* stream;
  /* Not NULL: the connection is taken over after this response's head (a
   * long-lived stream such as server-sent events; see pc_takeover). Only
   * for a GET route on app hosts; `stream` must then be NULL. Appended in
   * 2.0. */
  const struct pc_takeover* takeover;
} pc_http_response;

/* ---- connections taken over (server-sent events) --------------------------- */

/* A connection a route took over: after the response head (its status,
 * headers and `body` as the first bytes; no Content-Length, the body ends
 * when the connection closes) the server hands the socket to the kernel's
 * stream loop, a single thread holding every such connection. Writes are
 * non-blocking: bytes the client has not taken yet wait in a buffer of at
 * most `max_buffer_bytes` per connection. These connections are counted
 * and capped apart from request connections ([server] max_streams); past
 * the cap the client gets 503 and closed(user, PC_STREAM_REFUSED) is the
 * only call.
 *
 * Lifetime: opened() hands the plugin its pc_stream, valid until closed()
 * returns; closed() is called exactly once, on the stream loop's thread,
 * never from inside stream_write or stream_close. A plugin that writes
 * from other threads serialises those writes with its closed() (a lock
 * around both), so no write can follow closed(). */
typedef struct pc_stream pc_stream;

#define PC_STREAM_REFUSED 0u     /* never opened: too many streams, or the server is stopping */
#define PC_STREAM_CLIENT_GONE 1u /* the client closed it, or a write failed */
#define PC_STREAM_CLOSED 2u      /* the plugin closed it (stream_close) */
#define PC_STREAM_SHUTDOWN 3u    /* the server is stopping: `farewell` was sent */

typedef struct pc_takeover {
  uint32_t size;
  void* user;
  /* Called once the head is on its way, on the thread that ran the
   * handler; writes may start at once. */
  void (*opened)(void* user, pc_stream* stream);
  /* See above; `user` may be freed here. */
  void (*closed)(void* user, uint32_t reason);
  /* Written before the connection is closed at shutdown (for example an
   * SSE event telling the client to come back). Copied at the response. */
  pc_str farewell;
  /* 0: 64 KiB. At most 16 MiB. */
  uint64_t max_buffer_bytes;
} pc_takeover;

/* What stream_write answers. */
#define PC_STREAM_WRITTEN 0u /* sent, or queued behind earlier bytes */
#define PC_STREAM_FULL 1u    /* not queued: the client is more than max_buffer_bytes behind */
#define PC_STREAM_GONE 2u    /* not queued: the connection is closing or closed */

/* Given to a route handler; call respond once (a handler that does not
 * answers 500). */
typedef struct pc_responder {
  uint32_t size;
  void* user;
  void (*respond)(void* user, const pc_http_response* response);
} pc_responder;

typedef void (*pc_http_handler)(void* user, const pc_http_request* request, const pc_responder* responder);

/* Where a route answers (pc_route.hosts).
 *  ADMIN_HOSTS: on the admin API's hosts only ([admin] hostnames, IP
 *    addresses); on an app's host the path is the app's, so a plugin route
 *    never shadows an app.
 *  APP_HOSTS: on every app's hosts, under the prefix reserved for plugins:
 *    path "/x" answers at "/_picloud/<plugin>/x". The app is taken from the
 *    Host header alone (pc_http_request.app_id); no app may route a path
 *    under "/_picloud/". The capability must be "public": the plugin
 *    authenticates such requests itself (signed URLs, webhook secrets,
 *    tokens). */
#define PC_ROUTE_ADMIN_HOSTS 0u
#define PC_ROUTE_APP_HOSTS 1u
#define PC_PLUGIN_ROUTE_PREFIX "/_picloud/"

/* How a route receives request bodies (pc_route.body).
 *  BUFFERED: in memory, pc_http_request.body.
 *  SPOOLED: written to an unlinked file as it arrives (memory stays small
 *    whatever the size), handed over as pc_http_request.body_fd. */
#define PC_BODY_BUFFERED 0u
#define PC_BODY_SPOOLED 1u

typedef struct pc_route {
  uint32_t size;
  pc_str method;     /* GET, POST, ... or "*" */
  pc_str path;       /* "/a/b", a prefix "/a/" + "*", or "/a/{id}" */
  pc_str capability; /* "public" or a declared capability */
  pc_http_handler handler;
  void* user;
  uint32_t hosts; /* PC_ROUTE_*_HOSTS */
  uint32_t body;  /* PC_BODY_* */
  /* The largest request body the route takes (413 beyond); 0: the server's
   * [server] max_body_bytes. */
  int64_t max_body_bytes;
} pc_route;

/* Who may use a capability. */
#define PC_ACCESS_SIGNED_IN 0u
#define PC_ACCESS_APP_VIEWER 1u
#define PC_ACCESS_APP_EDITOR 2u
#define PC_ACCESS_APP_ADMIN 3u
#define PC_ACCESS_OWNER 4u

typedef struct pc_capability {
  uint32_t size;
  pc_str name; /* "<plugin>.<name>" */
  uint32_t access;
  pc_str scope; /* an API-key scope, or empty */
  pc_str description;
} pc_capability;

/* ---- script functions ------------------------------------------------------ */

#define PC_SCRIPT_VOID 0u
#define PC_SCRIPT_BOOL 1u
#define PC_SCRIPT_INT 2u
#define PC_SCRIPT_FLOAT 3u
#define PC_SCRIPT_STRING 4u
#define PC_SCRIPT_BYTES 5u
#define PC_SCRIPT_JSON 6u
#define PC_SCRIPT_HANDLE 7u
/* Parameters only: the run's `response@`. The argument arrives as PC_NULL;
 * the exchange it stands for is pc_call.http. */
#define PC_SCRIPT_RESPONSE 8u

/* The HTTP exchange a script run answers, handed to a function that takes
 * the run's response (a PC_SCRIPT_RESPONSE parameter) so that it can
 * answer for the script: a stored file, a stream. */
typedef struct pc_http_exchange {
  uint32_t size;
  const pc_http_request* request; /* the request the run answers */
  void* user;
  /* Sets the run's response: `response`'s status, and its body or stream;
   * its headers replace the script's headers of the same names, the
   * script's other headers stay. The kernel owns response->stream from this
   * call on, also when the call fails. A body the script sets afterwards
   * replaces the stream. Only during the call that was given the exchange. */
  pc_status (*respond)(void* user, const pc_http_response* response, const pc_out* out);
} pc_http_exchange;

/* Who is calling: set by the host for every script run. */
typedef struct pc_call {
  uint32_t size;
  pc_str app_id;
  pc_str principal; /* empty when anonymous */
  pc_str script_id;
  pc_str execution_id;
  int32_t trigger_depth;
  const pc_value* event; /* the triggering event, or NULL */
  /* When the script run must end, in CLOCK_MONOTONIC milliseconds; 0
   * outside a run (admin routes). A plugin bounds every wait of the call by
   * it: a call must not outlive its run, nor the outbox lease it holds. */
  int64_t deadline_ms;
  /* For a function with a PC_SCRIPT_RESPONSE parameter: the exchange of
   * the response the script passed; NULL for every other call. */
  const pc_http_exchange* http;
} pc_call;

/* A function (self is NULL) or a handle method (self is the handle's
 * state). Arguments arrive in declaration order with defaults filled in. On
 * success the result goes to out->value (nothing for void). */
typedef pc_status (*pc_script_fn)(void* user, const pc_call* call, const pc_value* self, const pc_value* args,
                                  size_t arg_count, const pc_out* out);

typedef struct pc_script_param {
  uint32_t size;
  pc_str name;
  uint32_t type;               /* PC_SCRIPT_* except VOID; RESPONSE at most once */
  pc_str handle_type;          /* "ns::Name" for PC_SCRIPT_HANDLE */
  const pc_value* default_value; /* NULL: required */
} pc_script_param;

typedef struct pc_script_function {
  uint32_t size;
  pc_str ns;   /* empty for a handle method */
  pc_str name;
  /* Pointers, not an array of structs: each element carries its own size. */
  const pc_script_param* const* params;
  size_t param_count;
  uint32_t result; /* PC_SCRIPT_* */
  pc_str result_handle;
  pc_script_fn fn;
  void* user;
  pc_str doc;
  /* PC_SCRIPT_* flags (appended in 2.0; 0 when the struct ends before). */
  uint32_t flags;
} pc_script_function;

/* A handle method with no parameters and a result, read by scripts as a
 * property: `r.status`, not `r.status()`. */
#define PC_SCRIPT_PROPERTY 1u
/* A promise: the function's only effects besides its result are reads and
 * writes through the host's database (db_*). Its transactions may then
 * return before their commit is flushed to disk: the kernel makes the
 * run's writes durable (and runs their after-commit work) before the run
 * answers or calls a function without this flag, so no one outside learns
 * of a write that a power cut could still undo. A function that reaches the
 * outside world (the network, files, another process, a client's stream)
 * must not carry it. */
#define PC_SCRIPT_DATABASE_ONLY 2u

typedef struct pc_script_handle_type {
  uint32_t size;
  pc_str ns;
  pc_str name;
  const pc_script_function* const* methods; /* each with its own size */
  size_t method_count;
  pc_str doc;
} pc_script_handle_type;

/* ---- trigger kinds and events ---------------------------------------------- */

typedef struct pc_event {
  uint32_t size;
  pc_str source;          /* the trigger kind */
  pc_str op;
  const pc_value* payload; /* an object */
  /* Not empty: only this trigger of the app is considered (a webhook that
   * addresses one trigger); its filter must still match. Appended in 2.0. */
  pc_str trigger_id;
} pc_event;

typedef struct pc_trigger_kind {
  uint32_t size;
  pc_str name;
  pc_str description;
  const pc_str* ops;
  size_t op_count;
  /* Checks a filter (PC_NULL when none was given); on success puts the
   * filter to store into out->value. */
  pc_status (*validate_filter)(void* user, const pc_value* filter, const pc_out* out);
  /* Whether an event matches a stored filter: *result = 1 or 0. Quick, no
   * I/O. An error rolls back the change that emitted the event. */
  pc_status (*matches)(void* user, const pc_value* filter, const pc_event* event, int* result, const pc_out* out);
  void* user;
  const pc_header* event_fields; /* name and meaning of each payload field */
  size_t event_field_count;
  /* Appended in 2.0; NULL (or a struct that ends before them) for none.
   * created: runs inside the transaction that creates a trigger of the
   * kind, after its filter was validated; may set up what the trigger needs
   * (a webhook's signing secret, sealed by the keyring) and put an object
   * into out->value that the creating admin receives once, as the answer's
   * "setup" field. An error rolls the creation back and is the answer.
   * deleted: runs inside the transaction that deletes one (not when its app
   * is deleted: on_app_deleted covers that); an error rolls it back. */
  pc_status (*created)(void* user, pc_tx* tx, pc_str app_id, pc_str trigger_id, const pc_value* filter,
                       const pc_out* out);
  pc_status (*deleted)(void* user, pc_tx* tx, pc_str app_id, pc_str trigger_id, const pc_out* out);
  /* Appended in 2.0; empty for none. The filter as a JSON Schema (an
   * object schema, JSON text), from which the dashboard makes the filter's
   * form. validate_filter stays the judge of what is valid. */
  pc_str filter_schema;
} pc_trigger_kind;

/* ---- declared resources (config as code) ------------------------------------ */

/* A kind of thing a plugin keeps per app that belongs in an app's folder
 * (picloud.toml, docs/deploy.md): document indexes, realtime topics, the
 * secrets an app needs. `picloud deploy` compares the folder's items with
 * the app's by key and creates, changes or (with prune) deletes them, in
 * the transaction that deploys the app; `picloud export` writes what list
 * gives. In the folder the items are under the plugin's name:
 * [[docs.indexes]] or [secrets] required = [...]. Appended in 2.0. */
typedef struct pc_resource_kind {
  uint32_t size;
  pc_str name;        /* [a-z][a-z0-9_]{0,31}, unique in the plugin */
  pc_str description;
  uint32_t flags;     /* PC_RESOURCE_* */
  /* The app's items: out->value an array of {"key": text, "item": value},
   * each item as check() would give it back (so equal items compare equal
   * as JSON). Reads with tx. */
  pc_status (*list)(void* user, pc_tx* tx, pc_str app_id, const pc_out* out);
  /* Checks an item as a folder gives it: out->value {"key", "item"}, the
   * item completed with its defaults. invalid_argument names what is
   * wrong. No I/O. */
  pc_status (*check)(void* user, const pc_value* item, const pc_out* out);
  /* Makes the app's item `key` be `item` (as check gave it), creating or
   * changing it, inside tx. NULL for a PC_RESOURCE_REQUIRED kind. */
  pc_status (*put)(void* user, pc_tx* tx, pc_str app_id, pc_str key, const pc_value* item, const pc_out* out);
  /* Deletes the app's item `key` inside tx. NULL for PC_RESOURCE_REQUIRED. */
  pc_status (*remove)(void* user, pc_tx* tx, pc_str app_id, pc_str key, const pc_out* out);
  void* user;
} pc_resource_kind;

/* The folder names items that must exist (set by other means: a secret's
 * value is never in a folder); a deploy reports those missing and never
 * creates, changes or deletes any. */
#define PC_RESOURCE_REQUIRED 1u

/* ---- plugin jobs ------------------------------------------------------------- */

/* A job: work a plugin queued in the outbox (enqueue_job), run by the kernel
 * with retries, backoff and dead letters, as trigger runs are. */
typedef struct pc_job {
  uint32_t size;
  pc_str id;   /* the same for every attempt */
  pc_str app_id;
  pc_str kind;
  const pc_value* payload; /* as queued */
  int32_t attempt;          /* 1 for the first */
  int64_t first_attempt_ms; /* wall clock (Unix ms) of the first attempt */
  /* When the attempt must end, in CLOCK_MONOTONIC milliseconds: the kind's
   * timeout, within the outbox lease the attempt holds. */
  int64_t deadline_ms;
} pc_job;

typedef struct pc_job_kind {
  uint32_t size;
  pc_str name; /* "<plugin>.<name>", name [a-z][a-z0-9_]*, at most 64 bytes in all */
  pc_str description;
  int64_t timeout_ms;     /* one attempt's time, 1 ms to 10 minutes */
  int32_t max_attempts;   /* 1 to 100 */
  int64_t retry_base_ms;  /* exponential backoff from this, with jitter */
  /* Runs one attempt. PC_OK: done, the job is deleted. PC_UNAVAILABLE or
   * PC_INTERNAL: tried again after the backoff, dead-lettered after the
   * last attempt. Any other class: failed for good, dead-lettered at once.
   * The error's message is the attempt's recorded outcome. Called on a
   * dispatcher worker, through the execution gate, as the app's work. */
  pc_status (*run)(void* user, const pc_job* job, const pc_out* out);
  void* user;
} pc_job_kind;

/* ---- log levels, dialects --------------------------------------------------- */

#define PC_LOG_DEBUG 0u
#define PC_LOG_INFO 1u
#define PC_LOG_WARN 2u
#define PC_LOG_ERROR 3u

#define PC_DIALECT_SQLITE 0u
#define PC_DIALECT_POSTGRES 1u

/* ---- the host table ---------------------------------------------------------- */

/* The loader refuses a plugin built for a newer minor than the kernel's, so
 * every function a plugin's headers declare is in the table it is given
 * (size >= the plugin's sizeof(pc_host_api)). */
typedef struct pc_host_api {
  uint32_t size;
  uint32_t abi_major;
  uint32_t abi_minor;

  /* core */
  pc_str (*plugin_name)(pc_plugin* p); /* valid for the process's life */
  int (*log_enabled)(pc_plugin* p, uint32_t level);
  /* fields: field_count name/value pairs */
  void (*log)(pc_plugin* p, uint32_t level, pc_str message, const pc_header* fields, size_t field_count);

  /* config: the plugin's own section, each key overridable by
   * PICLOUD_<PLUGIN>_<KEY>. The value goes to out->value (string, int, bool). */
  int (*config_has)(pc_plugin* p, pc_str key);
  pc_status (*config_string)(pc_plugin* p, pc_str key, pc_str fallback, const pc_out* out);
  pc_status (*config_int)(pc_plugin* p, pc_str key, int64_t fallback, int64_t min, int64_t max, const pc_out* out);
  pc_status (*config_bool)(pc_plugin* p, pc_str key, int fallback, const pc_out* out);

  /* database: `?` placeholders in every dialect. tx NULL: the statement runs
   * in its own transaction. query puts {"columns": [names], "rows": [[values]]}
   * into out->value; execute puts the number of rows affected (an int). */
  uint32_t (*db_dialect)(pc_plugin* p);
  pc_status (*db_query)(pc_plugin* p, pc_tx* tx, pc_str sql, const pc_value* params, size_t param_count,
                        const pc_out* out);
  pc_status (*db_execute)(pc_plugin* p, pc_tx* tx, pc_str sql, const pc_value* params, size_t param_count,
                          const pc_out* out);
  /* Runs body in a write transaction: committed when body returns PC_OK,
   * rolled back otherwise (body's error is passed on through out). */
  pc_status (*db_transaction)(pc_plugin* p, pc_status (*body)(void* user, pc_tx* tx, const pc_out* out), void* user,
                              const pc_out* out);

  /* routes and capabilities (configure only) */
  pc_status (*add_route)(pc_plugin* p, const pc_route* route, const pc_out* out);
  pc_status (*add_capability)(pc_plugin* p, const pc_capability* capability, const pc_out* out);

  /* scripts (configure only) */
  pc_status (*add_script_function)(pc_plugin* p, const pc_script_function* fn, const pc_out* out);
  pc_status (*add_script_handle_type)(pc_plugin* p, const pc_script_handle_type* type, const pc_out* out);

  /* triggers: declare (configure only); emit inside tx (from start on),
   * putting the number of matched triggers (an int) into out->value. */
  pc_status (*declare_trigger_kind)(pc_plugin* p, const pc_trigger_kind* kind, const pc_out* out);
  pc_status (*emit_event)(pc_plugin* p, pc_tx* tx, const pc_call* call, const pc_event* event, const pc_out* out);

  /* access: may the run's principal use a capability? */
  pc_status (*access_require)(pc_plugin* p, const pc_call* call, pc_str capability, const pc_out* out);

  /* background tasks: stopped and joined before the plugin's stop() */
  void (*task_spawn)(pc_plugin* p, pc_str name, void (*body)(void* user, pc_stop* stop), void* user);
  void (*task_every)(pc_plugin* p, pc_str name, int64_t interval_ms, void (*tick)(void* user), void* user);
  int (*stop_requested)(pc_stop* stop);
  /* Sleeps up to ms; 1 at once when stop is requested. */
  int (*stop_wait)(pc_stop* stop, int64_t ms);

  /* metrics, exported as picloud_<plugin>_<name>. Asking again for a name
   * answers the same handle; NULL when the name is taken by another type of
   * metric (logged). inc/observe accept NULL. */
  pc_counter* (*metric_counter)(pc_plugin* p, pc_str name, pc_str help);
  void (*counter_inc)(pc_counter* counter, uint64_t by);
  pc_histogram* (*metric_histogram)(pc_plugin* p, pc_str name, pc_str help);
  void (*histogram_observe)(pc_histogram* histogram, double value);
  pc_status (*metric_gauge)(pc_plugin* p, pc_str name, pc_str help, double (*read)(void* user), void* user,
                            const pc_out* out);

  /* services between plugins: a C table the provider keeps alive for the
   * process's life. find answers NULL unless name is provided with at least
   * min_version and a table of at least min_size bytes. */
  pc_status (*service_provide)(pc_plugin* p, pc_str name, uint32_t version, size_t table_size, const void* table,
                               const pc_out* out);
  const void* (*service_find)(pc_plugin* p, pc_str name, uint32_t min_version, size_t min_size);

  /* apps (configure only): fn runs inside the transaction that deletes an
   * app, to delete this plugin's data of the app with tx; an error rolls the
   * whole deletion back and is the deleting admin's answer. */
  pc_status (*on_app_deleted)(pc_plugin* p, pc_status (*fn)(void* user, pc_tx* tx, pc_str app_id, const pc_out* out),
                              void* user, const pc_out* out);

  /* JSON text to a value in out->value; PC_INVALID_ARGUMENT ("malformed
   * JSON: ...") unless text is exactly one JSON value nested at most
   * max_depth (1 to 512) levels. Integers stay PC_INT (past INT64_MAX:
   * PC_FLOAT). PC_JSON_STRICT also refuses a field named twice in one
   * object and a field name holding U+0000, as the kernel does for request
   * bodies (two parsers must never read one body as two objects). */
  pc_status (*json_parse)(pc_plugin* p, pc_str text, uint32_t max_depth, uint32_t flags, const pc_out* out);

  /* apps: the app with this id, slug or hostname (tried in that order) as
   * {"id", "slug", "name", "hostnames": [...]} in out->value; PC_NOT_FOUND
   * when there is none. Reads the database. */
  pc_status (*app_find)(pc_plugin* p, pc_str key, const pc_out* out);

  /* A task that runs about once per interval_ms across all nodes, never
   * twice at once: tick runs inside a write transaction that first takes a
   * lock named by the plugin and the task (PostgreSQL: an advisory
   * transaction lock, not waited for) and checks when the task last ran on
   * any node; a node without the lock, or whose timer fires less than an
   * interval after the last run, skips its tick. tick's error rolls the
   * transaction back (the task is due again) and is logged. Stopped and
   * joined before the plugin's stop(). */
  void (*task_every_leader)(pc_plugin* p, pc_str name, int64_t interval_ms,
                            pc_status (*tick)(void* user, pc_tx* tx, const pc_out* out), void* user);

  /* Calls fn exactly once when tx ends: with committed = 1 after tx has
   * committed durably (on the committing thread, once the commit returned
   * and the connection went back to the pool; in a PC_SCRIPT_DATABASE_ONLY
   * call, once the run's writes are durable, maybe later and on another
   * thread), or with committed = 0 when it rolled back, so user can be
   * freed. For work that must not happen
   * unless the data is there: waking another node, a cache update,
   * follow-up work. fn must not fail; it may use the database, not tx.
   * When this call fails, fn is never called. */
  pc_status (*db_after_commit)(pc_plugin* p, pc_tx* tx, void (*fn)(void* user, int committed), void* user,
                               const pc_out* out);

  /* Directories: the plugin's own data directory (<[server] data_dir>/
   * plugins/<name>, created with mode 0700 on the first call) as a string
   * in out->value, and the directory its .so was loaded from (its shipped
   * files: templates, CA bundles). Both are absolute. */
  pc_status (*data_dir)(pc_plugin* p, const pc_out* out);
  pc_str (*install_dir)(pc_plugin* p); /* valid for the process's life */

  /* The keyring: values sealed under the kernel's master key for this
   * plugin and an app (AES-256-GCM, bound to app, plugin and name), stored
   * by the kernel. tx NULL: a transaction of its own. Names are 1 to 256
   * bytes without U+0000. */
  pc_status (*vault_put)(pc_plugin* p, pc_tx* tx, pc_str app_id, pc_str name, pc_str value, const pc_out* out);
  /* out->value: the value as PC_BYTES, or PC_NULL when there is none. An
   * error with code "corrupted" when it does not open (altered, or moved to
   * another app or name), "keyring_key_missing" when its key is not here. */
  pc_status (*vault_get)(pc_plugin* p, pc_tx* tx, pc_str app_id, pc_str name, const pc_out* out);
  /* out->value: whether there was one (PC_BOOL). */
  pc_status (*vault_delete)(pc_plugin* p, pc_tx* tx, pc_str app_id, pc_str name, const pc_out* out);
  /* out->value: [{"name", "updated_at"}] after `after` in name order, at most
   * limit (1 to 1000). */
  pc_status (*vault_list)(pc_plugin* p, pc_str app_id, pc_str after, int64_t limit, const pc_out* out);
  /* HMAC-SHA256 with a key derived for this plugin and the app: 40 bytes
   * (the master key's id, then the MAC) as PC_BYTES in out->value. verify
   * answers 1 when the signature holds (constant time, any key this node
   * has), else 0. */
  pc_status (*keyring_sign)(pc_plugin* p, pc_str app_id, pc_str data, const pc_out* out);
  int (*keyring_verify)(pc_plugin* p, pc_str app_id, pc_str data, pc_str signature);

  /* How the deliveries of an app's triggers of a kind this plugin declared
   * stand, for its admin views. out->value: [{"id", "script_id", "script"
   * (its name), "filter", "enabled", "queued" (in the outbox, not tried
   * yet), "retrying" (waiting for another try after failing), "running" (a
   * node holds it now), "dead_letters" (unresolved), "by"}] in creation
   * order. group_by, when not empty, names a top-level string field of the
   * kind's payloads ([a-z_][a-z0-9_]*, at most 64 characters): "by" then
   * holds the same four counts per value of that field ({"<value>": {...}},
   * "" for events without it); otherwise "by" is {}. Reads the outbox and
   * the dead letters: an admin view, not a hot path. */
  pc_status (*trigger_deliveries)(pc_plugin* p, pc_str app_id, pc_str kind, pc_str group_by, const pc_out* out);

  /* Plugin jobs. declare_job_kind: configure only; a name taken is a
   * conflict. enqueue_job: writes the job inside tx (it runs once tx
   * commits, not at all when it rolls back; tx NULL: a transaction of its
   * own), first tried after delay_ms (0 to 30 days); payload an object (or
   * NULL for {}), at most 16 MiB as JSON. out->value: the job's id. The
   * kind must be one this plugin declared; app_id an existing app's. A job
   * of an app goes with the app. */
  pc_status (*declare_job_kind)(pc_plugin* p, const pc_job_kind* kind, const pc_out* out);
  pc_status (*enqueue_job)(pc_plugin* p, pc_tx* tx, pc_str app_id, pc_str kind, const pc_value* payload,
                           int64_t delay_ms, const pc_out* out);

  /* Connections taken over (pc_takeover). stream_write queues `data` after
   * what is pending (it never blocks); PC_STREAM_FULL leaves the stream
   * open: the plugin decides (typically stream_close with a last event).
   * stream_close sends `last` (even past max_buffer_bytes), then closes the
   * connection once it is flushed or after 5 s; closed() follows with
   * PC_STREAM_CLOSED. Both are safe from any thread until closed()
   * returns, and do nothing once the stream is closing. */
  uint32_t (*stream_write)(pc_stream* stream, pc_str data);
  void (*stream_close)(pc_stream* stream, pc_str last);

  /* Messages between nodes. notify: once tx commits (tx NULL: now), every
   * listener of this plugin's `channel` on every node gets `payload` (at
   * most PC_NOTIFY_MAX_PAYLOAD bytes) — this node's included, in commit
   * order per sending node; nothing when tx rolls back. Best effort: a
   * node that is not connected to the database at that moment misses it
   * (on PostgreSQL, LISTEN/NOTIFY; on SQLite, one node, in process).
   * listen: configure only; fn runs on a kernel thread, one message at a
   * time, and must be quick (hand long work to a task). Channels are
   * [a-z0-9_]{1,32} and belong to the plugin that uses them. */
  pc_status (*notify)(pc_plugin* p, pc_tx* tx, pc_str channel, pc_str payload, const pc_out* out);
  pc_status (*listen)(pc_plugin* p, pc_str channel, void (*fn)(void* user, pc_str payload), void* user,
                      const pc_out* out);

  /* Hears the events another plugin emits (emit_event) of trigger kind
   * `source`, inside the emitting transaction, before its triggers' rows are
   * written: what fn writes with tx commits or rolls back with the change;
   * an error from fn fails the emit. Configure only. The kind need not be
   * declared yet (plugins configure in dependency order). */
  pc_status (*observe_events)(pc_plugin* p, pc_str source,
                              pc_status (*fn)(void* user, pc_tx* tx, pc_str app_id, const pc_event* event,
                                              const pc_out* out),
                              void* user, const pc_out* out);

  /* Declares one of the plugin's views in the admin dashboard (configure
   * only, after the routes it names): a JSON object, described in
   * docs/plugin-sdk.md ("Views in the dashboard"). The kernel checks it and
   * refuses a view naming a route that is not registered. */
  pc_status (*add_admin_view)(pc_plugin* p, pc_str view_json, const pc_out* out);

  /* Declares a kind of resource for config as code (pc_resource_kind;
   * configure only). A name the plugin declared already is a conflict. */
  pc_status (*declare_resource_kind)(pc_plugin* p, const pc_resource_kind* kind, const pc_out* out);
} pc_host_api;

#define PC_NOTIFY_MAX_PAYLOAD 7000

#define PC_JSON_STRICT 1u

/* ---- what a plugin exports ------------------------------------------------- */

/* The ABI block. A copy sits in the ELF section ".picloud_abi", read from the
 * file before the library is mapped; the same block starts the descriptor.
 * magic, abi_major and abi_minor keep their offsets in every major. */
typedef struct pc_abi_block {
  uint32_t magic;
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t size; /* sizeof(pc_abi_block) */
} pc_abi_block;

#define PC_ABI_SECTION ".picloud_abi"
#define PC_PLUGIN_SYMBOL "picloud_plugin"

typedef struct pc_plugin_descriptor {
  pc_abi_block abi; /* first */
  uint32_t size;    /* sizeof(pc_plugin_descriptor) */
  const char* name;        /* [a-z][a-z0-9_]*; the config section and <name>.so */
  const char* version;     /* the plugin's own */
  const char* sdk_version; /* PC_SDK_VERSION it was built with */
  const char* provides;    /* comma-separated service names, may be "" */
  const char* depends;     /* comma-separated plugin names, may be "" */
  /* Creates the plugin's state; host and p stay valid for the process's life. */
  pc_status (*init)(const pc_host_api* host, pc_plugin* p, void** state, const pc_out* out);
  /* Reads config, registers routes, script functions, kinds, services. */
  pc_status (*configure)(void* state, const pc_out* out);
  /* Begins work. */
  pc_status (*start)(void* state, const pc_out* out);
  /* Once at shutdown, in reverse dependency order, after its tasks ended. */
  void (*stop)(void* state);
  /* Frees the state; nothing of the plugin is called afterwards. */
  void (*destroy)(void* state);
} pc_plugin_descriptor;

#ifdef __cplusplus
}
#endif

#endif /* PICLOUD_PICLOUD_H */
