#include "kernel/metrics.hpp"

#include <cstdio>
#include <stdexcept>

namespace picloud::kernel {
namespace {

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Adds one more label to an already rendered label set.
std::string with_label(const std::string& rendered, const std::string& extra) {
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

// 15 significant digits: every integer a gauge holds up to 10^15 (a Unix
// time, a byte count) prints exactly, and 0.1 still prints as 0.1.
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

void HistogramMetric::observe(double value) {
  std::size_t i = 0;
  while (i < kBounds.size() && value > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(value * 1e6), std::memory_order_relaxed);
}

void HistogramMetric::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le = i < kBounds.size() ? number(kBounds[i]) : "+Inf";
    out += name + "_bucket" + with_label(labels, "le=\"" + le + "\"") + " " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum" + labels + " " + number(sum_micros_.load(std::memory_order_relaxed) / 1e6) + "\n";
  out += name + "_count" + labels + " " + std::to_string(count_.load(std::memory_order_relaxed)) + "\n";
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help, Kind kind) {
  auto [it, inserted] = families_.try_emplace(name, Family{kind, help, {}});
  if (!inserted && it->second.kind != kind)
    throw std::logic_error("metric " + name + " registered twice with different types");
  return it->second;
}

CounterMetric& MetricsRegistry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& series = family(name, help, Kind::counter).series[render_labels(labels)];
  if (!series.counter) {
    series.counter = std::make_unique<CounterMetric>();
    series.labels = labels;
  }
  return *series.counter;
}

HistogramMetric& MetricsRegistry::histogram(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& series = family(name, help, Kind::histogram).series[render_labels(labels)];
  if (!series.histogram) {
    series.histogram = std::make_unique<HistogramMetric>();
    series.labels = labels;
  }
  return *series.histogram;
}

void MetricsRegistry::gauge(const std::string& name, const std::string& help, std::function<double()> read,
                            const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& series = family(name, help, Kind::gauge).series[render_labels(labels)];
  series.gauge = std::move(read);
  series.labels = labels;
}

void MetricsRegistry::scraped_gauges(const std::string& name, const std::string& help,
                                     std::function<ScrapedSeries()> read) {
  std::lock_guard lock(mutex_);
  family(name, help, Kind::gauge).series[""].scraped = std::move(read);
}

void MetricsRegistry::scraped_counters(const std::string& name, const std::string& help,
                                       std::function<ScrapedSeries()> read) {
  std::lock_guard lock(mutex_);
  family(name, help, Kind::counter).series[""].scraped = std::move(read);
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, fam] : families_) {
    const char* type = fam.kind == Kind::counter ? "counter" : fam.kind == Kind::histogram ? "histogram" : "gauge";
    out += "# HELP " + name + " " + fam.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, series] : fam.series) {
      if (series.scraped) {
        for (const auto& [set, value] : series.scraped()) out += name + render_labels(set) + " " + number(value) + "\n";
        continue;
      }
      switch (fam.kind) {
        case Kind::counter: out += name + labels + " " + std::to_string(series.counter->value()) + "\n"; break;
        case Kind::histogram: series.histogram->render(out, name, labels); break;
        case Kind::gauge: out += name + labels + " " + number(series.gauge ? series.gauge() : 0) + "\n"; break;
      }
    }
  }
  return out;
}

namespace {

sdk::Value label_object(const Labels& labels) {
  sdk::Value out = sdk::Value::object();
  for (const auto& [k, v] : labels) out.as_object()[k] = v;
  return out;
}

}  // namespace

sdk::Value HistogramMetric::snapshot() const {
  sdk::Value buckets = sdk::Value::array();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    buckets.as_array().push_back(sdk::Value::object(
        {{"le", i < kBounds.size() ? number(kBounds[i]) : std::string("+Inf")}, {"count", static_cast<std::int64_t>(cumulative)}}));
  }
  return sdk::Value::object({{"count", static_cast<std::int64_t>(count_.load(std::memory_order_relaxed))},
                             {"sum", sum_micros_.load(std::memory_order_relaxed) / 1e6},
                             {"buckets", std::move(buckets)}});
}

sdk::Value MetricsRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  sdk::Value metrics = sdk::Value::array();
  for (const auto& [name, fam] : families_) {
    sdk::Value samples = sdk::Value::array();
    for (const auto& [rendered, series] : fam.series) {
      if (series.scraped) {
        for (const auto& [set, value] : series.scraped())
          samples.as_array().push_back(sdk::Value::object({{"labels", label_object(set)}, {"value", value}}));
        continue;
      }
      sdk::Value sample = fam.kind == Kind::histogram ? series.histogram->snapshot() : sdk::Value::object();
      sample.as_object()["labels"] = label_object(series.labels);
      if (fam.kind == Kind::counter) sample.as_object()["value"] = static_cast<std::int64_t>(series.counter->value());
      if (fam.kind == Kind::gauge) sample.as_object()["value"] = series.gauge ? series.gauge() : 0.0;
      samples.as_array().push_back(std::move(sample));
    }
    const char* type = fam.kind == Kind::counter ? "counter" : fam.kind == Kind::histogram ? "histogram" : "gauge";
    metrics.as_array().push_back(sdk::Value::object({{"name", name}, {"help", fam.help}, {"type", type}, {"samples", std::move(samples)}}));
  }
  return sdk::Value::object({{"metrics", std::move(metrics)}});
}

sdk::Counter& PluginMetrics::counter(std::string_view name, std::string_view help) {
  return registry_.counter(prefix_ + std::string(name), std::string(help));
}
sdk::Histogram& PluginMetrics::histogram(std::string_view name, std::string_view help) {
  return registry_.histogram(prefix_ + std::string(name), std::string(help));
}
void PluginMetrics::gauge(std::string_view name, std::string_view help, std::function<double()> read) {
  registry_.gauge(prefix_ + std::string(name), std::string(help), std::move(read));
}

}  // namespace picloud::kernel
