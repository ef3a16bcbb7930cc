// Helpers of the data-plane tests: saving scripts, binding routes, calling
// an app's host, waiting for rows.
#pragma once

#include <chrono>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::test {

using namespace std::chrono_literals;

inline void save_script(Instance& pc, const std::string& app, const std::string& name, const std::string& source,
                        const std::string& kind = "endpoint") {
  auto body = sdk::to_json(sdk::Value::object({{"name", name}, {"kind", kind}, {"source", source}}));
  auto r = pc.post("/apps/" + app + "/scripts", pc.owner_key, body);
  ASSERT_EQ(r.status, 201) << r.body;
}

inline void bind_route(Instance& pc, const std::string& app, const std::string& json) {
  auto r = pc.post("/apps/" + app + "/routes", pc.owner_key, json);
  ASSERT_EQ(r.status, 201) << json << " -> " << r.body;
}

inline HttpResult on(Instance& pc, const std::string& host, const std::string& method, const std::string& path,
                     const std::string& body = "", std::map<std::string, std::string> headers = {}) {
  headers["Host"] = host;
  return http(method, pc.port(), path, body, headers);
}

// An app with the host <slug>.localhost; its id.
inline std::string make_app(Instance& pc, const std::string& slug) {
  auto r = pc.post("/apps", pc.owner_key, R"({"slug":")" + slug + R"(","hostnames":[")" + slug + R"(.localhost"]})");
  EXPECT_EQ(r.status, 201) << r.body;
  return r.json["id"].string_or("");
}

// Keys the t_events test plugin recorded (t_events::seen, its job runs and
// hooks) that are LIKE `like`, in order, duplicates kept.
inline std::vector<std::string> seen(Instance& pc, const std::string& like) {
  auto rows = pc.db().query("SELECT item_key FROM t_events_seen WHERE item_key LIKE ? ORDER BY item_key", {like});
  std::vector<std::string> out;
  if (rows)
    for (const auto& row : rows->rows) out.push_back(row[0].as_string());
  return out;
}

inline bool wait_seen(Instance& pc, const std::string& like, std::size_t want, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (seen(pc, like).size() >= want) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// Waits until `sql` counts `want` rows.
inline bool wait_count(Instance& pc, const std::string& sql, const sdk::Params& params, std::int64_t want,
                       std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = pc.db().query(sql, params);
    if (r && r->rows[0][0].as_int() == want) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace picloud::test
