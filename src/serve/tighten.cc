// The `limits` of a run request: the policy's [limits] keys, each only lower than the policy's.
#include <fmt/format.h>

#include <algorithm>

#include "base/strings.h"
#include "policy/units.h"
#include "serve/api.h"

namespace aj::serve {
namespace {

enum class Kind { duration, size, count, cpus };

// One key of the `limits` object: how its value is read and which field it tightens.
struct Key {
  const char* name;
  Kind kind;
  bool zero_allowed;
  std::optional<uint64_t> Limits::*optional_field;  // null for the two fields that are never unlimited
  uint64_t Limits::*plain_field;
};

const std::vector<Key>& keys() {
  static const std::vector<Key> table = {
      {"wall_time", Kind::duration, false, &Limits::wall_time_ms, nullptr},
      {"cpu_time", Kind::duration, false, &Limits::cpu_time_ms, nullptr},
      {"memory", Kind::size, false, &Limits::memory_bytes, nullptr},
      {"pids", Kind::count, false, &Limits::pids, nullptr},
      {"cpus", Kind::cpus, false, nullptr, nullptr},
      {"file_size", Kind::size, true, &Limits::file_size_bytes, nullptr},
      {"open_files", Kind::count, false, &Limits::open_files, nullptr},
      {"stack", Kind::size, false, &Limits::stack_bytes, nullptr},
      {"core_size", Kind::size, true, nullptr, &Limits::core_size_bytes},
      {"output", Kind::size, true, nullptr, &Limits::output_bytes},
  };
  return table;
}

std::string show(Kind kind, uint64_t value) {
  if (kind == Kind::duration) return policy::format_duration(value);
  if (kind == Kind::size) return policy::format_size(value);
  return std::to_string(value);
}

// A value as the policy file would give it: "5s"/5 for durations, "64MiB"/bytes for sizes.
Result<uint64_t> read_value(const Key& key, const json& value) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (key.kind == Kind::duration) return policy::parse_duration_ms(text);
    if (key.kind == Kind::size) return policy::parse_size(text);
    return fail(0, "must be a number");
  }
  if (value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0)) {
    uint64_t number = value.get<uint64_t>();
    if (key.kind == Kind::duration) return policy::seconds_to_ms(static_cast<double>(number));
    return number;
  }
  if (value.is_number_float() && key.kind == Kind::duration) return policy::seconds_to_ms(value.get<double>());
  return fail(0, key.kind == Kind::duration ? "must be a duration (\"5s\" or seconds)"
                 : key.kind == Kind::size   ? "must be a size (\"64MiB\" or bytes)"
                                            : "must be a non-negative integer");
}

}  // namespace

Result<Limits> tighten(const Limits& policy, const json& requested) {
  if (!requested.is_object()) return fail(0, "limits must be an object");
  Limits out = policy;
  std::vector<std::string> names;
  for (const Key& key : keys()) names.emplace_back(key.name);
  for (const auto& [name, value] : requested.items()) {
    auto key = std::find_if(keys().begin(), keys().end(), [&](const Key& k) { return name == k.name; });
    if (key == keys().end()) {
      std::string message = fmt::format("limits: unknown key {}", aj::quoted(name));
      if (auto close = closest_match(name, names)) message += fmt::format(" (did you mean {}?)", aj::quoted(*close));
      return fail(0, message);
    }
    const bool unlimited = value.is_string() && value.get_ref<const std::string&>() == "unlimited";
    if (key->kind == Kind::cpus) {
      if (unlimited) {
        if (policy.cpus) return fail(0, fmt::format("limits.cpus: unlimited is above the policy's {}", *policy.cpus));
        continue;
      }
      if (!value.is_number() || value.get<double>() <= 0 || value.get<double>() > 4096)
        return fail(0, "limits.cpus must be a number of CPUs above 0");
      double cpus = value.get<double>();
      if (policy.cpus && cpus > *policy.cpus)
        return fail(0, fmt::format("limits.cpus: {} is above the policy's {}", cpus, *policy.cpus));
      out.cpus = cpus;
      continue;
    }
    std::optional<uint64_t> current =
        key->optional_field ? policy.*(key->optional_field) : std::optional<uint64_t>(policy.*(key->plain_field));
    if (unlimited) {
      if (current) return fail(0, fmt::format("limits.{}: unlimited is above the policy's {}", name, show(key->kind, *current)));
      continue;
    }
    auto number = read_value(*key, value);
    if (!number) return fail(0, fmt::format("limits.{}: {}", name, number.error().message));
    if (*number == 0 && !key->zero_allowed) return fail(0, fmt::format("limits.{} must be above 0", name));
    if (current && *number > *current)
      return fail(0, fmt::format("limits.{}: {} is above the policy's {}", name, show(key->kind, *number),
                                 show(key->kind, *current)));
    if (key->optional_field) out.*(key->optional_field) = *number;
    else out.*(key->plain_field) = *number;
  }
  return out;
}

}  // namespace aj::serve
