// A small metrics registry for GET /v1/metrics, rendered in the Prometheus text exposition
// format (version 0.0.4): counters, gauges and histograms, each a family of labelled series.
// Single-threaded, like the server that owns it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace aj::serve {

using Labels = std::vector<std::pair<std::string, std::string>>;  // in the order they are printed

class Metrics {
 public:
  // Declares a family; its series appear once they are first touched. `help` is one line.
  void counter(std::string name, std::string help);
  void gauge(std::string name, std::string help);
  void histogram(std::string name, std::string help, std::vector<double> bounds);

  void add(std::string_view name, const Labels& labels, double amount = 1);
  // A counter whose running total is kept elsewhere (the executor's): set to that total.
  void set_total(std::string_view name, const Labels& labels, double total);
  void set(std::string_view name, const Labels& labels, double value);
  void observe(std::string_view name, const Labels& labels, double value);

  std::string render() const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Series {
    double value = 0;               // counter, gauge; a histogram's sum
    uint64_t count = 0;             // histogram
    std::vector<uint64_t> buckets;  // histogram: observations <= bounds[i] (cumulative on output)
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // by rendered label set "{a=\"b\"}"
  };
  Family* find(std::string_view name, Type type);
  std::map<std::string, Family, std::less<>> families_;
};

// agentjail serve's metrics, declared: runs by status, pool sizes, requests and their latency.
Metrics server_metrics();

}  // namespace aj::serve
