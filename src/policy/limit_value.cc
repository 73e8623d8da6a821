#include "policy/limit_value.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "base/strings.h"
#include "policy/reader.h"
#include "policy/units.h"

namespace aj::policy {
namespace {

using limits::Kind;
using limits::Number;
using limits::Row;

// The largest whole number of seconds whose milliseconds fit comfortably in 63 bits.
constexpr int64_t kMaxSeconds = 9'000'000'000'000'000 / 1000;

std::unexpected<LimitProblem> refuse(std::string message, std::string hint = {}) {
  return std::unexpected(LimitProblem{std::move(message), std::move(hint)});
}

bool is_unlimited(std::string_view text) { return lower(text) == "unlimited"; }

LimitResult unlimited(const Row& row) {
  if (!row.unlimited) return refuse("cannot be \"unlimited\": this one must be bounded");
  return std::nullopt;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "0.5", "2", "12.25": digits with at most one decimal point between them, as a double. The
// shape is checked first, so strtod (in the C locale agentjail never changes) sees nothing else.
std::optional<double> decimal(std::string_view text) {
  const size_t point = text.find('.');
  const std::string_view integral = text.substr(0, point);
  const std::string_view fractional = point == std::string_view::npos ? "0" : text.substr(point + 1);
  if (text.size() > 32 || !all_digits(integral) || !all_digits(fractional)) return std::nullopt;
  return std::strtod(std::string(text).c_str(), nullptr);
}

uint64_t whole(const Number& number) { return std::get<uint64_t>(number); }
double fraction(const Number& number) { return std::get<double>(number); }

// ", or "unlimited"" where the row takes it, for the ranges messages show.
std::string or_unlimited(const Row& row, std::string_view then = "") {
  if (!row.unlimited) return "";
  return then.empty() ? ", or \"unlimited\"" : fmt::format(", or \"unlimited\" {}", then);
}

// "0 written as a limit": where "unlimited" exists, the user almost always meant it.
std::string zero_problem(const Row& row) {
  return row.unlimited ? "must not be 0 (write \"unlimited\" for no limit)" : "must not be 0";
}

// A size or a duration against the row's bounds. `bare`: written as a plain number, which for
// a size is bytes; below the minimum that is almost always a forgotten unit.
LimitResult bounded(const Row& row, uint64_t value, bool bare) {
  const uint64_t min = whole(row.min), max = whole(row.max);
  const bool size = row.kind == Kind::size;
  auto text = [&](uint64_t n) {
    if (!size) return format_duration(n);
    std::string bytes = format_size(n);
    return all_digits(bytes) ? bytes + " bytes" : bytes;
  };
  if (value < min) {
    if (value == 0) return refuse(zero_problem(row));
    if (size && bare)
      return refuse(fmt::format("{} is less than the minimum of {}: a bare number is bytes", text(value), text(min)),
                    fmt::format("did you mean \"{}MiB\"?", value));
    return refuse(fmt::format("{} is less than the minimum of {}", text(value), text(min)));
  }
  if (value > max) return refuse(fmt::format("{} is more than the maximum of {}", text(value), text(max)));
  return Number(value);
}

LimitResult cpus_in_range(const Row& row, double value, std::string_view as_written) {
  // Written so that NaN is out of range too.
  if (!(value >= fraction(row.min) && value <= fraction(row.max)))
    return refuse(fmt::format("{} is out of range ({}..{}{})", as_written, fraction(row.min), fraction(row.max),
                              or_unlimited(row)));
  return Number(value);
}

LimitResult count_in_range(const Row& row, int64_t value) {
  if (value < 0 || static_cast<uint64_t>(value) < whole(row.min) || static_cast<uint64_t>(value) > whole(row.max))
    return refuse(fmt::format("{} is out of range ({}..{}{})", value, whole(row.min), whole(row.max),
                              or_unlimited(row, "for no limit")));
  return Number(static_cast<uint64_t>(value));
}

// "expected X, got Y" for a TOML value of the wrong type.
std::string expected(const Row& row, const toml::node& node) {
  std::string what;
  switch (row.kind) {
    case Kind::size:
      what = row.unlimited ? "a size such as \"64MiB\", an integer or \"unlimited\"" : "a size such as \"64MiB\" or an integer";
      break;
    case Kind::duration:
      what = row.unlimited ? "a duration such as \"10s\", a number of seconds or \"unlimited\""
                           : "a duration such as \"10s\" or a number of seconds";
      break;
    case Kind::count: what = row.unlimited ? "an integer or \"unlimited\"" : "an integer"; break;
    case Kind::cpus: what = row.unlimited ? "a number of CPUs or \"unlimited\"" : "a number of CPUs"; break;
  }
  return fmt::format("expected {}, got {}", what, detail::type_phrase(node));
}

LimitResult size_from(const Row& row, std::string_view text) {
  auto bytes = parse_size(text);
  if (!bytes) return refuse(bytes.error().message);
  return bounded(row, *bytes, all_digits(trim(text)));
}

LimitResult duration_from(const Row& row, std::string_view text) {
  auto ms = parse_duration_ms(text);
  if (!ms) return refuse(ms.error().message);
  return bounded(row, *ms, false);
}

}  // namespace

LimitResult parse_limit(const Row& row, std::string_view text) {
  if (is_unlimited(text)) return unlimited(row);
  switch (row.kind) {
    case Kind::size: return size_from(row, text);
    case Kind::duration: return duration_from(row, text);
    case Kind::count: {
      uint64_t value = 0;
      const char* end = text.data() + text.size();
      const bool number = all_digits(text) && std::from_chars(text.data(), end, value).ec == std::errc();
      if (!number || value < whole(row.min) || value > whole(row.max))
        return refuse(fmt::format("{} is not a number of {} ({}..{}{})", aj::quoted(text), row.counted, whole(row.min),
                                  whole(row.max), or_unlimited(row)));
      return Number(value);
    }
    case Kind::cpus: {
      auto value = decimal(trim(text));
      if (!value)
        return refuse(fmt::format("{} is not a number of CPUs ({}..{}{})", aj::quoted(text), fraction(row.min),
                                  fraction(row.max), or_unlimited(row)));
      return cpus_in_range(row, *value, fmt::format("{}", *value));
    }
  }
  return refuse("unknown kind of limit");  // unreachable: every Kind is handled above
}

LimitResult parse_limit(const Row& row, const toml::node& node) {
  const auto* text = node.as_string();
  if (text && is_unlimited(text->get())) return unlimited(row);
  const auto* integer = node.as_integer();
  switch (row.kind) {
    case Kind::size:
      if (text) return size_from(row, text->get());
      if (!integer) return refuse(expected(row, node));
      if (integer->get() < 0) return refuse(fmt::format("{} is negative", integer->get()));
      return bounded(row, static_cast<uint64_t>(integer->get()), true);
    case Kind::duration: {
      if (text) return duration_from(row, text->get());
      Result<uint64_t> ms = 0;
      if (integer) {
        // Integers stay exact: through a double, large ones would silently change.
        if (integer->get() < 0) return refuse(fmt::format("{} is negative", integer->get()));
        if (integer->get() > kMaxSeconds) return refuse(fmt::format("{} seconds is too large", integer->get()));
        ms = static_cast<uint64_t>(integer->get()) * 1000;
      } else if (const auto* seconds = node.as_floating_point()) {
        ms = seconds_to_ms(seconds->get());
      } else {
        return refuse(expected(row, node));
      }
      if (!ms) return refuse(ms.error().message);
      return bounded(row, *ms, false);
    }
    case Kind::count:
      if (!integer) return refuse(expected(row, node));
      return count_in_range(row, integer->get());
    case Kind::cpus: {
      std::optional<double> value;
      if (const auto* number = node.as_floating_point()) value = number->get();
      if (integer) value = static_cast<double>(integer->get());
      if (!value) return refuse(expected(row, node));
      return cpus_in_range(row, *value, fmt::format("{}", *value));
    }
  }
  return refuse("unknown kind of limit");  // unreachable: every Kind is handled above
}

std::string limit_text(const Row& row, const limits::Value& value) {
  if (!value) return "unlimited";
  switch (row.kind) {
    case Kind::size: return format_size(whole(*value));
    case Kind::duration: return format_duration(whole(*value));
    case Kind::count: return fmt::format("{}", whole(*value));
    case Kind::cpus: return fmt::format("{:g}", fraction(*value));
  }
  return "";
}

}  // namespace aj::policy
