// Metrics a plugin exports on /metrics (Prometheus text format). Names are
// prefixed with `picloud_<plugin>_` by the kernel. Handles stay valid for the
// life of the process and are cheap to update from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace picloud::sdk {

class Counter {
 public:
  virtual ~Counter() = default;
  virtual void inc(std::uint64_t by = 1) = 0;
};

class Histogram {
 public:
  virtual ~Histogram() = default;
  virtual void observe(double value) = 0;
};

class Metrics {
 public:
  virtual ~Metrics() = default;
  virtual Counter& counter(std::string_view name, std::string_view help) = 0;
  // Default buckets suit latencies in seconds (100 µs .. 10 s).
  virtual Histogram& histogram(std::string_view name, std::string_view help) = 0;
  // A gauge read when /metrics is scraped.
  virtual void gauge(std::string_view name, std::string_view help, std::function<double()> read) = 0;
};

}  // namespace picloud::sdk
