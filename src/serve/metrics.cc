#include "serve/metrics.h"

#include <fmt/format.h>

#include <cmath>

namespace aj::serve {
namespace {

// Label values escape backslash, double quote and newline; help text backslash and newline.
std::string escape(std::string_view text, bool quotes) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quotes) out += "\\\"";
    else out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"" + escape(labels[i].second, true) + "\"";
  }
  return out + "}";
}

// Adds one label to a rendered label set: {a="b"} + le="0.5" -> {a="b",le="0.5"}.
std::string with_label(const std::string& rendered, std::string_view name, std::string_view value) {
  std::string label = fmt::format("{}=\"{}\"", name, value);
  if (rendered.empty()) return "{" + label + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + label + "}";
}

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{}", static_cast<int64_t>(value));
  return fmt::format("{}", value);
}

}  // namespace

void Metrics::counter(std::string name, std::string help) { families_[name] = Family{Type::counter, std::move(help), {}, {}}; }
void Metrics::gauge(std::string name, std::string help) { families_[name] = Family{Type::gauge, std::move(help), {}, {}}; }
void Metrics::histogram(std::string name, std::string help, std::vector<double> bounds) {
  families_[name] = Family{Type::histogram, std::move(help), std::move(bounds), {}};
}

Metrics::Family* Metrics::find(std::string_view name, Type type) {
  auto it = families_.find(name);
  return it != families_.end() && it->second.type == type ? &it->second : nullptr;
}

void Metrics::add(std::string_view name, const Labels& labels, double amount) {
  if (Family* family = find(name, Type::counter)) family->series[render_labels(labels)].value += amount;
}

void Metrics::set_total(std::string_view name, const Labels& labels, double total) {
  if (Family* family = find(name, Type::counter)) family->series[render_labels(labels)].value = total;
}

void Metrics::set(std::string_view name, const Labels& labels, double value) {
  if (Family* family = find(name, Type::gauge)) family->series[render_labels(labels)].value = value;
}

void Metrics::observe(std::string_view name, const Labels& labels, double value) {
  Family* family = find(name, Type::histogram);
  if (!family) return;
  Series& series = family->series[render_labels(labels)];
  series.buckets.resize(family->bounds.size());
  for (size_t i = 0; i < family->bounds.size(); ++i)
    if (value <= family->bounds[i]) ++series.buckets[i];
  ++series.count;
  series.value += value;
}

std::string Metrics::render() const {
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.type == Type::counter ? "counter" : family.type == Type::gauge ? "gauge" : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(family.help, false), name, type);
    for (const auto& [labels, series] : family.series) {
      if (family.type != Type::histogram) {
        out += fmt::format("{}{} {}\n", name, labels, number(series.value));
        continue;
      }
      for (size_t i = 0; i < family.bounds.size(); ++i)  // buckets are counted per bound: already cumulative
        out += fmt::format("{}_bucket{} {}\n", name, with_label(labels, "le", number(family.bounds[i])),
                           i < series.buckets.size() ? series.buckets[i] : 0);
      out += fmt::format("{}_bucket{} {}\n", name, with_label(labels, "le", "+Inf"), series.count);
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, labels, number(series.value), name, labels, series.count);
    }
  }
  return out;
}

Metrics server_metrics() {
  Metrics metrics;
  metrics.counter("agentjail_runs_total", "Runs finished, by the report's status");
  metrics.counter("agentjail_requests_total", "HTTP requests answered, by route and status code");
  metrics.counter("agentjail_requests_refused_total", "Requests refused before a run, by reason");
  metrics.gauge("agentjail_runs_active", "Runs in a jail now");
  metrics.gauge("agentjail_runs_queued", "Requests waiting for a free jail (--queue)");
  metrics.gauge("agentjail_connections", "Client connections open now");
  metrics.gauge("agentjail_pool_ready", "Warm jails ready, by policy");
  metrics.gauge("agentjail_pool_target", "Warm jails wanted (--pool NAME=N), by policy");
  metrics.counter("agentjail_pool_runs_total", "Runs of pooled policies, by where they ran (pooled jail or built cold)");
  // From a fraction of a millisecond (an answer from a warm jail) to the default wall time and
  // beyond: runs take as long as the command does.
  metrics.histogram("agentjail_request_duration_seconds", "Time from a complete request to the end of its answer, by route",
                    {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300});
  return metrics;
}

}  // namespace aj::serve
