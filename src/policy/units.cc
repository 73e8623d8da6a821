#include "policy/units.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <limits>

#include "base/strings.h"

namespace aj::policy {
namespace {

using Wide = unsigned __int128;
constexpr Wide kMax = std::numeric_limits<uint64_t>::max();

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// Binary units, as `ulimit`, cgroups and the kernel count; matched case-insensitively, so "1g",
// "1G", "1GB" and "1GiB" all mean 2^30. A bare number (or "B") is bytes.
constexpr std::array kSizeUnits = {
    Unit{"", 1},           Unit{"b", 1},          Unit{"k", 1ull << 10}, Unit{"kb", 1ull << 10},
    Unit{"kib", 1ull << 10}, Unit{"m", 1ull << 20}, Unit{"mb", 1ull << 20}, Unit{"mib", 1ull << 20},
    Unit{"g", 1ull << 30}, Unit{"gb", 1ull << 30}, Unit{"gib", 1ull << 30}, Unit{"t", 1ull << 40},
    Unit{"tb", 1ull << 40}, Unit{"tib", 1ull << 40},
};

// Case-sensitive: "m" is minutes and "ms" milliseconds. A bare number is seconds.
constexpr std::array kDurationUnits = {
    Unit{"", 1000}, Unit{"ms", 1}, Unit{"s", 1000}, Unit{"m", 60'000}, Unit{"h", 3'600'000},
};

// A decimal number kept exact: whole + fraction / scale (never through a double, so "0.1k"
// is known to be 102.4 and refused instead of rounded).
struct Decimal {
  Wide whole = 0;
  Wide fraction = 0;
  Wide scale = 1;
  std::string_view unit;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "reason" -> an error naming the value the way the user wrote it.
std::unexpected<Error> invalid(std::string_view what, std::string_view text, std::string_view reason) {
  return fail(EINVAL, fmt::format("invalid {} {}: {}", what, aj::quoted(text), reason));
}

Result<Decimal> split_decimal(std::string_view what, std::string_view original) {
  std::string_view text = trim(original);
  if (text.empty()) return invalid(what, original, "it is empty");
  if (text.front() == '-') return invalid(what, original, "it must not be negative");
  Decimal number;
  size_t i = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    number.whole = number.whole * 10 + static_cast<unsigned>(text[i] - '0');
    if (number.whole > kMax) return invalid(what, original, "it is too large");
  }
  if (i == 0) return invalid(what, original, "it must start with a number");
  if (i < text.size() && text[i] == '.') {
    size_t first = ++i;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      // 18 places keep fraction * unit inside 128 bits; nobody means more.
      if (i - first == 18) return invalid(what, original, "it has too many decimal places");
      number.fraction = number.fraction * 10 + static_cast<unsigned>(text[i] - '0');
      number.scale *= 10;
    }
    if (i == first) return invalid(what, original, "a decimal point must be followed by digits");
  }
  number.unit = trim(text.substr(i));
  return number;
}

// number * factor, refused unless it is a whole count of the base unit and fits in 64 bits.
Result<uint64_t> scale(const Decimal& number, uint64_t factor, std::string_view what, std::string_view text,
                       std::string_view base_unit) {
  Wide whole = number.whole * factor;  // < 2^64 * 2^42: fits
  if (whole > kMax) return invalid(what, text, "it is too large");
  Wide fraction = number.fraction * factor;  // < 10^18 * 2^42: fits
  if (fraction % number.scale != 0) return invalid(what, text, fmt::format("it is not a whole number of {}", base_unit));
  Wide total = whole + fraction / number.scale;
  if (total > kMax) return invalid(what, text, "it is too large");
  return static_cast<uint64_t>(total);
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  auto number = split_decimal("size", text);
  if (!number) return std::unexpected(number.error());
  const std::string unit = lower(number->unit);
  for (const auto& candidate : kSizeUnits)
    if (candidate.name == unit) return scale(*number, candidate.factor, "size", text, "bytes");
  return invalid("size", text, fmt::format("unknown unit {} (use k, M, G or T, e.g. \"64MiB\")", aj::quoted(number->unit)));
}

Result<uint64_t> parse_duration_ms(std::string_view text) {
  auto number = split_decimal("duration", text);
  if (!number) return std::unexpected(number.error());
  for (const auto& candidate : kDurationUnits)
    if (candidate.name == number->unit) return scale(*number, candidate.factor, "duration", text, "milliseconds");
  return invalid("duration", text,
                 fmt::format("unknown unit {} (use ms, s, m or h, e.g. \"500ms\", \"10s\")", aj::quoted(number->unit)));
}

Result<uint64_t> seconds_to_ms(double seconds) {
  const std::string text = fmt::format("{}", seconds);
  if (std::isnan(seconds) || std::isinf(seconds)) return invalid("duration", text, "it is not a finite number");
  if (seconds < 0) return invalid("duration", text, "it must not be negative");
  const double ms = seconds * 1000.0;
  // 2^63 ms is 292 million years: any larger value is a mistake, and the bound keeps llround defined.
  if (ms >= 9.2e18) return invalid("duration", text, "it is too large");
  const double rounded = std::round(ms);
  // A float like 0.1 is not exactly a tenth; allow the representation error, not real fractions.
  if (std::fabs(ms - rounded) > 1e-6 * std::max(1.0, ms))
    return invalid("duration", text, "it is not a whole number of milliseconds");
  return static_cast<uint64_t>(rounded);
}

std::string format_size(uint64_t bytes) {
  constexpr std::array<Unit, 4> kUnits = {Unit{"TiB", 1ull << 40}, Unit{"GiB", 1ull << 30},
                                          Unit{"MiB", 1ull << 20}, Unit{"KiB", 1ull << 10}};
  if (bytes != 0)
    for (const auto& unit : kUnits)
      if (bytes % unit.factor == 0) return fmt::format("{}{}", bytes / unit.factor, unit.name);
  return fmt::format("{}", bytes);
}

std::string format_duration(uint64_t ms) {
  constexpr std::array<Unit, 3> kUnits = {Unit{"h", 3'600'000}, Unit{"m", 60'000}, Unit{"s", 1000}};
  if (ms != 0)
    for (const auto& unit : kUnits)
      if (ms % unit.factor == 0) return fmt::format("{}{}", ms / unit.factor, unit.name);
  return fmt::format("{}ms", ms);
}

}  // namespace aj::policy
