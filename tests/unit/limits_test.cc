// The limits table (limits/table.h) and the one parser of a limit's value (policy/limit_value.h):
// every row is decoded, validated, emitted and overridden through the table, so these tests hold
// for a new row without a line added here.
#include "limits/table.h"

#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/limit_options.h"
#include "policy/emit.h"
#include "policy/limit_value.h"
#include "policy/load.h"
#include "policy/overrides.h"
#include "policy/validate.h"

using aj::Limits;
using namespace aj::limits;
namespace policy = aj::policy;

namespace {

// Counts the members of an aggregate: the largest number of initializers it accepts.
struct AnyMember {
  template <class T>
  operator T() const;
};
template <class T, class... Members>
consteval size_t member_count() {
  if constexpr (requires { T{Members{}..., AnyMember{}}; })
    return member_count<T, Members..., AnyMember>();
  else
    return sizeof...(Members);
}

std::string joined(const policy::Diagnostics& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.format() + "\n";
  return out;
}

// The policy of `[limits]` with one line `key = value`, or its diagnostics.
std::optional<policy::Policy> load_limit(std::string_view key, std::string_view value, policy::Diagnostics& out) {
  const std::string text = fmt::format("version = 1\n[limits]\n{} = {}\n", key, value);
  auto loaded = policy::load_text(text, "p.toml", "", out);
  if (!loaded) return std::nullopt;
  return loaded->policy;
}

std::string only_error(std::string_view key, std::string_view value) {
  policy::Diagnostics diagnostics;
  auto loaded = load_limit(key, value, diagnostics);
  CHECK_FALSE(loaded.has_value());
  REQUIRE(diagnostics.size() == 1);
  return diagnostics[0].format();
}

// The digits of `number` ("0.005", "4194305").
std::string toml_number(const Number& number) {
  return std::visit([](auto n) { return fmt::format("{}", n); }, number);
}

// `value` written in TOML for `row`: sizes as a string of bytes and durations as "...ms" (both
// reach 2^64 - 1, beyond TOML's integers), counts and CPUs as numbers.
std::string toml_value(const Row& row, const Value& value) {
  if (!value) return "\"unlimited\"";
  switch (row.kind) {
    case Kind::size: return "\"" + toml_number(*value) + "\"";
    case Kind::duration: return "\"" + toml_number(*value) + "ms\"";
    case Kind::count:
    case Kind::cpus: break;
  }
  return toml_number(*value);
}

// Values inside each row's bounds that differ from the default, "unlimited" where allowed.
std::vector<Value> samples(const Row& row) {
  std::vector<Value> out = {row.min, row.max};
  if (row.kind == Kind::cpus) out.push_back(Number(1.5));
  else if (std::get<uint64_t>(row.max) > 5000) out.push_back(Number(std::get<uint64_t>(row.min) + 3 * 1024 * 1024 + 7));
  if (row.unlimited) out.push_back(std::nullopt);
  return out;
}

}  // namespace

TEST_CASE("limits: every member of aj::Limits has exactly one row") {
  static_assert(member_count<Limits>() == kTable.size(), "a member of aj::Limits has no row in kTable, or one too many");
  std::set<std::string_view> keys, json_keys, options;
  for (const Row& row : kTable) {
    CAPTURE(row.key);
    CHECK(well_formed(row));
    CHECK(keys.insert(row.key).second);
    CHECK(json_keys.insert(row.json_key).second);
    if (!row.option.empty()) CHECK(options.insert(row.option).second);
    CHECK(find(row.key) == &row);
  }
  // As many rows as members, and no member twice: each member has exactly one row.
  for (size_t i = 0; i < kTable.size(); ++i)
    for (size_t j = i + 1; j < kTable.size(); ++j) {
      CAPTURE(kTable[i].key);
      CAPTURE(kTable[j].key);
      CHECK(kTable[i].member != kTable[j].member);
    }
  CHECK(find("memroy") == nullptr);
}

TEST_CASE("limits: get and set reach the named members") {
  Limits limits;
  REQUIRE(set(limits, *find("memory"), Number(uint64_t{512} << 20)));
  CHECK(limits.memory_bytes == 512ull << 20);
  REQUIRE(set(limits, *find("cpus"), Number(0.5)));
  CHECK(limits.cpus == 0.5);
  REQUIRE(set(limits, *find("pids"), std::nullopt));
  CHECK_FALSE(limits.pids.has_value());
  CHECK_FALSE(set(limits, *find("output"), std::nullopt));  // cannot hold "unlimited": unchanged
  CHECK(limits.output_bytes == Limits{}.output_bytes);
  CHECK(get(limits, *find("wall_time")) == Value(Number(uint64_t{30'000})));
  CHECK(get(limits, *find("open_files")) == Value(Number(uint64_t{256})));
  CHECK(get(limits, *find("cpus")) == Value(Number(0.5)));
}

TEST_CASE("limits: the run options override four limits; four are rlimits alone") {
  std::vector<std::string_view> options;
  for (const Row& row : kTable)
    if (!row.option.empty()) options.push_back(row.option);
  CHECK(options == std::vector<std::string_view>{"--time", "--cpu-time", "--memory", "--pids"});
  std::vector<std::pair<std::string_view, int>> rlimits;
  for (const Row& row : kTable)
    if (row.enforcement == Enforcement::rlimit) rlimits.emplace_back(row.key, row.rlimit);
  CHECK(rlimits == std::vector<std::pair<std::string_view, int>>{
                       {"file_size", RLIMIT_FSIZE}, {"open_files", RLIMIT_NOFILE}, {"stack", RLIMIT_STACK},
                       {"core_size", RLIMIT_CORE}});
  CHECK(find("output")->enforcement == Enforcement::capture);
}

TEST_CASE("limits: every row is parsed, emitted and read back") {
  for (const Row& row : kTable) {
    for (const Value& value : samples(row)) {
      CAPTURE(row.key);
      CAPTURE(policy::limit_text(row, value));
      // Written in TOML, decoded into the member.
      policy::Diagnostics diagnostics;
      auto loaded = load_limit(row.key, toml_value(row, value), diagnostics);
      INFO(joined(diagnostics));
      REQUIRE(loaded.has_value());
      CHECK(get(loaded->limits, row) == value);
      // Emitted canonically, and the canonical text reads back as the same value.
      const std::string canonical = policy::to_toml(*loaded);
      CHECK(canonical.find(fmt::format("\n{} = ", row.key)) != std::string::npos);
      auto again = policy::load_text(canonical, "canonical.toml", "", diagnostics);
      REQUIRE(again.has_value());
      CHECK(get(again->policy.limits, row) == value);
      CHECK(policy::to_toml(again->policy) == canonical);
      // JSON under the key with its unit.
      CHECK(policy::to_json(*loaded)["limits"][std::string(row.json_key)] == policy::to_json(value));
      // The command line spells it as people read it; the same parser takes it back.
      auto parsed = policy::parse_limit(row, policy::limit_text(row, value));
      REQUIRE(parsed.has_value());
      CHECK(*parsed == value);
    }
  }
}

TEST_CASE("limits: values outside a row's bounds are refused, from TOML, the command line and validate()") {
  for (const Row& row : kTable) {
    CAPTURE(row.key);
    std::vector<Number> outside;
    if (row.kind == Kind::cpus) {
      outside = {std::get<double>(row.min) / 2, std::get<double>(row.max) * 2};
    } else {
      const uint64_t min = std::get<uint64_t>(row.min), max = std::get<uint64_t>(row.max);
      if (min > 0) outside.push_back(min - 1);
      if (max < kNoMax) outside.push_back(max + 1);
    }
    for (const Number& number : outside) {
      // Durations as "...ms" (a bare number is seconds), the rest as the number.
      const std::string text = row.kind == Kind::duration ? toml_number(number) + "ms" : toml_number(number);
      CAPTURE(text);
      policy::Diagnostics diagnostics;
      CHECK_FALSE(load_limit(row.key, toml_value(row, number), diagnostics));
      CHECK(diagnostics.size() == 1);
      CHECK_FALSE(policy::parse_limit(row, text).has_value());
      // A policy built in code with such a value does not validate either.
      policy::Policy built;
      built.name = "built";
      REQUIRE(set(built.limits, row, number));
      policy::Diagnostics invalid;
      CHECK_FALSE(policy::validate(built, invalid));
      REQUIRE(invalid.size() == 1);
      CHECK(invalid[0].key == fmt::format("limits.{}", row.key));
    }
    // The bounds themselves are inside.
    for (const Number& bound : {row.min, row.max}) {
      policy::Policy built;
      built.name = "built";
      REQUIRE(set(built.limits, row, bound));
      policy::Diagnostics diagnostics;
      CHECK(policy::validate(built, diagnostics));
    }
    // "unlimited" exactly where the row allows it.
    policy::Diagnostics diagnostics;
    auto loaded = load_limit(row.key, "\"unlimited\"", diagnostics);
    CHECK(loaded.has_value() == row.unlimited);
    CHECK(policy::parse_limit(row, "unlimited").has_value() == row.unlimited);
    if (!row.unlimited)
      CHECK(joined(diagnostics) == fmt::format("p.toml:3:{}: limits.{}: cannot be \"unlimited\": this one must be bounded\n",
                                               row.key.size() + 4, row.key));
  }
}

TEST_CASE("limits: a memory limit below 1 MiB says that a bare number is bytes") {
  CHECK(only_error("memory", "512") ==
        "p.toml:3:10: limits.memory: 512 bytes is less than the minimum of 1MiB: a bare number is bytes "
        "(did you mean \"512MiB\"?)");
  CHECK(only_error("memory", "\"2048\"") ==
        "p.toml:3:10: limits.memory: 2KiB is less than the minimum of 1MiB: a bare number is bytes "
        "(did you mean \"2048MiB\"?)");
  // With a unit the number was meant as written: no guess at another one.
  CHECK(only_error("memory", "\"512k\"") == "p.toml:3:10: limits.memory: 512KiB is less than the minimum of 1MiB");
  CHECK(only_error("memory", "\"100B\"") == "p.toml:3:10: limits.memory: 100 bytes is less than the minimum of 1MiB");
  CHECK(only_error("memory", "0") == "p.toml:3:10: limits.memory: must not be 0 (write \"unlimited\" for no limit)");
  auto refused = policy::parse_limit(*find("memory"), "512");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message == "512 bytes is less than the minimum of 1MiB: a bare number is bytes");
  CHECK(refused.error().hint == "did you mean \"512MiB\"?");
  policy::Diagnostics diagnostics;
  auto smallest = load_limit("memory", "1048576", diagnostics);
  REQUIRE(smallest.has_value());
  CHECK(smallest->limits.memory_bytes == 1ull << 20);
}

TEST_CASE("limits: the command line takes each kind as people write it") {
  auto parsed = [](std::string_view key, std::string_view text) { return policy::parse_limit(*find(key), text); };
  auto value = [&](std::string_view key, std::string_view text) {
    auto result = parsed(key, text);
    REQUIRE(result.has_value());
    return *result;
  };
  CHECK(value("wall_time", "2m") == Value(Number(uint64_t{120'000})));
  CHECK(value("wall_time", "10") == Value(Number(uint64_t{10'000})));  // seconds, as in TOML
  CHECK(value("memory", "1.5G") == Value(Number(uint64_t{1536} << 20)));
  CHECK(value("pids", "UNLIMITED") == Value(std::nullopt));
  CHECK(value("cpus", "0.5") == Value(Number(0.5)));
  CHECK(value("cpus", "2") == Value(Number(2.0)));
  CHECK(parsed("open_files", "+5").error().message == "\"+5\" is not a number of open files (1..1073741824, or \"unlimited\")");
  CHECK(parsed("cpus", "half").error().message == "\"half\" is not a number of CPUs (0.01..1024, or \"unlimited\")");
  CHECK(parsed("cpus", "nan").error().message == "\"nan\" is not a number of CPUs (0.01..1024, or \"unlimited\")");
  CHECK(parsed("cpus", "4096").error().message == "4096 is out of range (0.01..1024, or \"unlimited\")");
  CHECK(parsed("output", "unlimited").error().message == "cannot be \"unlimited\": this one must be bounded");
}

TEST_CASE("limits: overrides go through the table, under the option's name") {
  policy::Policy p;
  p.name = "p";
  policy::Overrides overrides;
  overrides.limits = {{"--memory", "64MiB"}, {"--time", "unlimited"}};
  overrides.limits["--pids"] = "9";
  policy::Diagnostics diagnostics;
  REQUIRE(policy::apply_overrides(p, overrides, "/", diagnostics));
  CHECK(p.limits.memory_bytes == 64ull << 20);
  CHECK_FALSE(p.limits.wall_time_ms.has_value());
  CHECK(p.limits.pids == 9);

  policy::Overrides bad;
  bad.limits = {{"--memory", "512"}, {"--cpus", "2"}};
  policy::Diagnostics problems;
  CHECK_FALSE(policy::apply_overrides(p, bad, "/", problems));
  CHECK(joined(problems) ==
        "--cpus: not an option of a limit\n"
        "--memory: 512 bytes is less than the minimum of 1MiB: a bare number is bytes (did you mean \"512MiB\"?)\n");
}

TEST_CASE("limits: add_limit_options registers each row's option, as run --help shows it") {
  CLI::App app;
  std::map<std::string, std::string> given;
  aj::cli::add_limit_options(app, given);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"--time", "limits.wall_time, e.g. 30s or unlimited"},
      {"--cpu-time", "limits.cpu_time, e.g. 10s or unlimited"},
      {"--memory", "limits.memory, e.g. 256MiB or unlimited"},
      {"--pids", "limits.pids, e.g. 64 or unlimited"},
  };
  for (const auto& [name, help] : expected) {
    const CLI::Option* option = app.get_option_no_throw(name);
    REQUIRE(option != nullptr);
    CHECK(option->get_description() == help);
  }
  CHECK(app.get_option_no_throw("--time")->get_type_name() == "DURATION");
  CHECK(app.get_option_no_throw("--memory")->get_type_name() == "SIZE");
  CHECK(app.get_option_no_throw("--pids")->get_type_name() == "N");
  app.parse(std::vector<std::string>{"unlimited", "--pids", "1G", "--memory"});  // CLI11 takes them reversed
  CHECK(given == std::map<std::string, std::string>{{"--memory", "1G"}, {"--pids", "unlimited"}});
}

TEST_CASE("limits: schemas/policy.schema.json states each row's bounds") {
  std::ifstream file(AGENTJAIL_SOURCE_DIR "/schemas/policy.schema.json");
  REQUIRE(file);
  const auto schema = nlohmann::json::parse(file)["properties"]["limits"];
  std::set<std::string> required = schema["required"].get<std::set<std::string>>(), keys;
  for (const Row& row : kTable) {
    const std::string key(row.json_key);
    CAPTURE(key);
    keys.insert(key);
    REQUIRE(schema["properties"].contains(key));
    const auto& property = schema["properties"][key];
    const std::string number = row.kind == Kind::cpus ? "number" : "integer";
    CHECK(property["type"] == (row.unlimited ? nlohmann::json{number, "null"} : nlohmann::json(number)));
    CHECK(property["minimum"] == policy::to_json(row.min));
    if (row.max == Number(kNoMax))
      CHECK_FALSE(property.contains("maximum"));
    else
      CHECK(property["maximum"] == policy::to_json(row.max));
  }
  CHECK(required == keys);
  CHECK(schema["properties"].size() == kTable.size());
}
