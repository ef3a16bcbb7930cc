// A small Prometheus registry: counters, histograms and scraped gauges, with
// optional labels, rendered in the text exposition format on /metrics.
//
// Hand-written rather than a client library: Debian carries none for C++ that
// is packaged for this release, and the needs here are a few atomics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/metrics.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel {

using Labels = std::vector<std::pair<std::string, std::string>>;

class CounterMetric final : public sdk::Counter {
 public:
  void inc(std::uint64_t by = 1) override { value_.fetch_add(by, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class HistogramMetric final : public sdk::Histogram {
 public:
  // Upper bounds in seconds: 100 µs to 10 s.
  static constexpr std::array<double, 14> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                  0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   10.0};
  void observe(double value) override;
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  // {"count", "sum" (seconds), "buckets": [{"le", "count"} cumulative]}.
  sdk::Value snapshot() const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // last: +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

class MetricsRegistry {
 public:
  // Returns the same object for the same name and labels.
  CounterMetric& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  HistogramMetric& histogram(const std::string& name, const std::string& help, const Labels& labels = {});
  void gauge(const std::string& name, const std::string& help, std::function<double()> read,
             const Labels& labels = {});
  // Series whose label sets are only known when scraped (one per app, say):
  // `read` returns every series at that moment. A counter family's values
  // must only grow.
  using ScrapedSeries = std::vector<std::pair<Labels, double>>;
  void scraped_gauges(const std::string& name, const std::string& help, std::function<ScrapedSeries()> read);
  void scraped_counters(const std::string& name, const std::string& help, std::function<ScrapedSeries()> read);

  std::string render() const;
  // The same as JSON, for the dashboard: {"metrics": [{"name", "help",
  // "type", "samples": [{"labels": {..}, "value"}]}]}; a histogram's
  // samples carry its snapshot() instead of "value".
  sdk::Value snapshot() const;

 private:
  enum class Kind { counter, histogram, gauge };
  struct Series {
    std::unique_ptr<CounterMetric> counter;
    std::unique_ptr<HistogramMetric> histogram;
    std::function<double()> gauge;
    std::function<ScrapedSeries()> scraped;
    Labels labels;
  };
  struct Family {
    Kind kind;
    std::string help;
    std::map<std::string, Series> series;  // rendered labels -> series
  };
  Family& family(const std::string& name, const std::string& help, Kind kind);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// The SDK view for one plugin: names get the prefix picloud_<plugin>_.
class PluginMetrics final : public sdk::Metrics {
 public:
  PluginMetrics(MetricsRegistry& registry, std::string plugin) : registry_(registry), prefix_("picloud_" + plugin + "_") {}
  sdk::Counter& counter(std::string_view name, std::string_view help) override;
  sdk::Histogram& histogram(std::string_view name, std::string_view help) override;
  void gauge(std::string_view name, std::string_view help, std::function<double()> read) override;

 private:
  MetricsRegistry& registry_;
  std::string prefix_;
};

}  // namespace picloud::kernel
