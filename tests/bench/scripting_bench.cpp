// The scripting issue's three figures, each measured through the real engine:
//   compile   a 200-line script (validate: build + checks, nothing run)
//   request   a trivial cached endpoint script, request in -> response out
//   call      one call from a script into a plugin's function, through the C
//             boundary: the bench plugin (bench_calls.cpp) is a real .so
//             loaded by the kernel's plugin host
// Prints medians of several rounds; one thread.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unistd.h>
#include <cstdio>
#include <string>
#include <vector>

#include "kernel/admin/capabilities.hpp"
#include "kernel/config.hpp"
#include "kernel/db/database.hpp"
#include "kernel/db/url.hpp"
#include "kernel/http/router.hpp"
#include "kernel/metrics.hpp"
#include "kernel/plugins/host.hpp"
#include "scripting/engine.hpp"

using namespace picloud;
using Clock = std::chrono::steady_clock;

namespace {

class Source : public scripting::ScriptSource {
 public:
  std::string code;
  sdk::Result<std::string> script_code(const scripting::ScriptRef&) override { return code; }
  sdk::Result<scripting::ModuleCode> module_code(std::string_view, std::string_view) override {
    return sdk::make_error(sdk::ErrorKind::not_found, "none");
  }
};

// About 200 lines of ordinary script: helpers, a class, json, loops.
std::string two_hundred_lines() {
  std::string code = "class Item {\n  string name;\n  int64 qty;\n  double price;\n"
                     "  Item(const string &in n, int64 q, double p) { name = n; qty = q; price = p; }\n"
                     "  double total() const { return qty * price; }\n}\n";
  int line = 7;
  for (int i = 0; line < 190; ++i) {
    code += "double helper" + std::to_string(i) + "(const json &in j, int64 k) {\n"
            "  double acc = 0;\n"
            "  for (int64 x = 0; x < k; x++) {\n"
            "    if (j.has(\"v\" + x)) acc += j.get_float(\"v\" + x, 0.5);\n"
            "    else acc -= x * 0.25;\n"
            "  }\n"
            "  array<Item@> items = {Item(\"a\", k, acc), Item(\"b\", 2, 1.5)};\n"
            "  return items[0].total() + items[1].total();\n"
            "}\n";
    line += 9;
  }
  code += "void handle(request@ req, response@ res) {\n"
          "  json body = {{\"ok\", true}, {\"sum\", helper0(req.query, 3)}};\n"
          "  if (req.method == \"POST\") body[\"posted\"] = req.body;\n"
          "  for (int i = 0; i < 3; i++) log::debug(\"step \" + i);\n"
          "  res.status = 200;\n"
          "  res.json(body);\n"
          "}\n";
  return code;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename F>
double time_us(F&& f) {
  auto t0 = Clock::now();
  f();
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

}  // namespace

int main() {
  // The bench plugin, loaded and configured by the kernel's plugin host.
  auto cfg = kernel::Config::load("", {});
  // The host wants a database; the plugin never touches it.
  std::string db_file = "/tmp/picloud-scripting-bench-" + std::to_string(getpid()) + ".db";
  struct Remove {
    std::string f;
    ~Remove() { std::remove(f.c_str()), std::remove((f + "-wal").c_str()), std::remove((f + "-shm").c_str()); }
  } remove_db{db_file};
  auto url = kernel::db::parse_database_url("sqlite:" + db_file, 5);
  if (!cfg || !url) return 1;
  auto db = kernel::db::Database::open(*url, {});
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().message.c_str());
    return 1;
  }
  kernel::MetricsRegistry metrics;
  kernel::http::Router router(metrics);
  kernel::admin::CapabilityRegistry capabilities;
  kernel::plugins::PluginHost host(*cfg, router, capabilities, metrics);
  kernel::plugins::PluginSettings settings;
  settings.enabled = {"bench"};
  settings.search_path = {PICLOUD_BENCH_PLUGIN_DIR};
  auto loaded = host.load(settings);
  auto configured = loaded ? host.configure_all(**db) : loaded;
  if (!configured) {
    std::fprintf(stderr, "%s\n", configured.error().message.c_str());
    return 1;
  }
  scripting::Declarations& declarations = host.declarations();
  scripting::EngineConfig config;
  config.limits.max_operations = std::int64_t{1} << 40;
  auto created = scripting::Engine::create(config, declarations);
  if (!created) {
    std::fprintf(stderr, "%s\n", created.error().message.c_str());
    return 1;
  }
  auto& engine = **created;
  Source source;

  // 1. compile
  std::string code = two_hundred_lines();
  int lines = static_cast<int>(std::count(code.begin(), code.end(), '\n'));
  std::vector<double> compile;
  for (int i = 0; i < 200; ++i)
    compile.push_back(time_us([&] {
      auto v = engine.validate("app", scripting::ScriptKind::endpoint, code, source);
      if (!v.ok()) {
        std::fprintf(stderr, "does not compile: %s\n", v.errors[0].message.c_str());
        std::exit(1);
      }
    }));
  std::printf("compile %d-line script:            median %8.1f µs   (goal < 3000 µs)\n", lines, median(compile));

  // 2. trivial cached endpoint
  source.code = "void handle(request@ req, response@ res) { res.text(\"Hello, world!\"); }";
  sdk::HttpRequest request{"GET", "/hello", "", {{"host", "x"}}, {}, "", "127.0.0.1", "r1"};
  scripting::Caller caller{"", "exec", 0};  // a fixed id: the caller usually brings one
  for (int i = 0; i < 1000; ++i) engine.run_http({"app", "hello", 1}, source, caller, request);
  std::vector<double> trivial;
  constexpr int kRequests = 20000;
  for (int round = 0; round < 7; ++round)
    trivial.push_back(time_us([&] {
                        for (int i = 0; i < kRequests; ++i) {
                          auto r = engine.run_http({"app", "hello", 1}, source, caller, request);
                          if (r.response.body.size() != 13) std::exit(1);
                        }
                      }) /
                      kRequests);
  std::printf("trivial cached endpoint, req->res:   median %8.2f µs   (goal < 10 µs)\n", median(trivial));

  // 3. calls into plugin-declared functions vs the same loop without them
  constexpr int kCalls = 1'000'000;
  // The median time of a run of `kCalls` iterations of `body`, after `setup`.
  auto loop_time = [&](const char* id, const std::string& body, const std::string& setup = "") {
    source.code = "void handle(request@ req, response@ res) {\n  int64 acc = 0;\n  " + setup + "\n  for (int i = 0; i < " +
                  std::to_string(kCalls) + "; i++) {\n    " + body + "\n  }\n  res.text(\"\" + acc);\n}\n";
    std::vector<double> rounds;
    for (int round = 0; round < 5; ++round)
      rounds.push_back(time_us([&] {
        auto r = engine.run_http({"app", id, 1}, source, caller, request);
        if (!r.ok()) {
          std::fprintf(stderr, "%s\n", r.message.c_str());
          std::exit(1);
        }
      }));
    return median(rounds);
  };
  double base = loop_time("loop", "acc += i;");
  double with_int = loop_time("call_int", "acc = bench::add(acc, i);");
  double with_string = loop_time("call_string", "acc += bench::key(\"alice\").length();");
  std::printf("call into plugin function (2 ints):  median %8.3f µs   (goal < 1 µs)\n", (with_int - base) / kCalls);
  std::printf("call into plugin function (string):  median %8.3f µs   (goal < 1 µs)\n", (with_string - base) / kCalls);
  // A json parameter: given a json (no conversion), and given a plain int
  // and string, which become a json on the way in.
  double json_base = loop_time("json_loop", "acc += i;", "json v = 5;");
  double with_json = loop_time("call_json", "acc += bench::kind(v);", "json v = 5;");
  double with_int_json = loop_time("call_int_json", "acc += bench::kind(i);", "json v = 5;");
  double with_string_json = loop_time("call_string_json", "acc += bench::kind(\"alice\");", "json v = 5;");
  std::printf("call with a json argument (a json):  median %8.3f µs\n", (with_json - json_base) / kCalls);
  std::printf("call with a json argument (an int):  median %8.3f µs   (converted on the way in)\n",
              (with_int_json - json_base) / kCalls);
  std::printf("call with a json argument (string):  median %8.3f µs   (converted on the way in)\n",
              (with_string_json - json_base) / kCalls);
  return 0;
}
