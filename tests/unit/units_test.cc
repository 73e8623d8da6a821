#include "policy/units.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

using namespace aj;
using namespace aj::policy;

namespace {

uint64_t size(std::string_view text) {
  auto parsed = parse_size(text);
  INFO(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

std::string size_error(std::string_view text) {
  auto parsed = parse_size(text);
  INFO(text);
  REQUIRE_FALSE(parsed.has_value());
  return parsed.error().message;
}

uint64_t ms(std::string_view text) {
  auto parsed = parse_duration_ms(text);
  INFO(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

std::string duration_error(std::string_view text) {
  auto parsed = parse_duration_ms(text);
  INFO(text);
  REQUIRE_FALSE(parsed.has_value());
  return parsed.error().message;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("units: sizes in every accepted spelling") {
  CHECK(size("0") == 0);
  CHECK(size("7") == 7);
  CHECK(size("7B") == 7);
  CHECK(size("512k") == 512 * 1024);
  CHECK(size("512K") == 512 * 1024);
  CHECK(size("512KB") == 512 * 1024);
  CHECK(size("512KiB") == 512 * 1024);
  CHECK(size("64MiB") == 64ull << 20);
  CHECK(size("64m") == 64ull << 20);
  CHECK(size("1G") == 1ull << 30);
  CHECK(size("1gib") == 1ull << 30);
  CHECK(size("2T") == 2ull << 40);
  CHECK(size(" 64 MiB ") == 64ull << 20);
  CHECK(size("1.5k") == 1536);
  CHECK(size("0.5GiB") == 512ull << 20);
  CHECK(size("18446744073709551615") == UINT64_MAX);
  CHECK(size("16777215TiB") == 16777215ull << 40);
}

TEST_CASE("units: sizes that are refused, with the reason") {
  CHECK(contains(size_error("-1"), "negative"));
  CHECK(contains(size_error("-1MiB"), "negative"));
  CHECK(contains(size_error("17179869184GiB"), "too large"));  // exactly 2^64
  CHECK(contains(size_error("18446744073709551616"), "too large"));
  CHECK(contains(size_error("99999999999999999999999999"), "too large"));
  CHECK(contains(size_error("16777216TiB"), "too large"));
  CHECK(contains(size_error("0.3"), "whole number of bytes"));
  CHECK(contains(size_error("0.1k"), "whole number of bytes"));
  CHECK(contains(size_error("12Q"), "unknown unit \"Q\""));
  CHECK(contains(size_error("1PiB"), "unknown unit"));
  CHECK(contains(size_error("64 M iB"), "unknown unit"));
  CHECK(contains(size_error(""), "empty"));
  CHECK(contains(size_error("   "), "empty"));
  CHECK(contains(size_error("MiB"), "start with a number"));
  CHECK(contains(size_error("+5"), "start with a number"));
  CHECK(contains(size_error(".5k"), "start with a number"));
  CHECK(contains(size_error("1.k"), "followed by digits"));
  CHECK(contains(size_error("1e3"), "unknown unit"));
  CHECK(contains(size_error("0x10"), "unknown unit"));
  CHECK(contains(size_error("1.0000000000000000001k"), "decimal places"));
  CHECK(contains(size_error("12Q"), "invalid size \"12Q\""));
}

TEST_CASE("units: durations") {
  CHECK(ms("500ms") == 500);
  CHECK(ms("10s") == 10'000);
  CHECK(ms("2m") == 120'000);
  CHECK(ms("1h") == 3'600'000);
  CHECK(ms("1.5s") == 1500);
  CHECK(ms("0.25m") == 15'000);
  CHECK(ms("10") == 10'000);  // a bare number is seconds
  CHECK(ms("0") == 0);        // zero is a valid duration; the policy decides whether it is a valid limit
  CHECK(contains(duration_error("-1s"), "negative"));
  CHECK(contains(duration_error("1.5ms"), "whole number of milliseconds"));
  CHECK(contains(duration_error("0.0001"), "whole number of milliseconds"));
  CHECK(contains(duration_error("10 parsecs"), "unknown unit \"parsecs\""));
  CHECK(contains(duration_error("10S"), "unknown unit"));  // units are case-sensitive: M would be ambiguous
  CHECK(contains(duration_error("1d"), "unknown unit"));
  CHECK(contains(duration_error("99999999999999999999h"), "too large"));
  CHECK(contains(duration_error("5124095576030432h"), "too large"));  // fits in 64 bits as hours, not as ms
}

TEST_CASE("units: seconds as TOML numbers") {
  CHECK(seconds_to_ms(0.5).value() == 500);
  CHECK(seconds_to_ms(0.1).value() == 100);  // not exactly a tenth in binary; still a whole ms
  CHECK(seconds_to_ms(30).value() == 30'000);
  CHECK(seconds_to_ms(0.001).value() == 1);
  CHECK_FALSE(seconds_to_ms(0.0005).has_value());
  CHECK_FALSE(seconds_to_ms(-1).has_value());
  CHECK_FALSE(seconds_to_ms(1e300).has_value());
  CHECK_FALSE(seconds_to_ms(std::numeric_limits<double>::infinity()).has_value());
  CHECK_FALSE(seconds_to_ms(std::numeric_limits<double>::quiet_NaN()).has_value());
}

TEST_CASE("units: canonical forms use the largest exact unit and parse back") {
  CHECK(format_size(0) == "0");
  CHECK(format_size(7) == "7");
  CHECK(format_size(1024) == "1KiB");
  CHECK(format_size(1536) == "1536");
  CHECK(format_size(1536 * 1024) == "1536KiB");
  CHECK(format_size(64ull << 20) == "64MiB");
  CHECK(format_size(2ull << 30) == "2GiB");
  CHECK(format_size(1ull << 50) == "1024TiB");
  CHECK(format_size(UINT64_MAX) == "18446744073709551615");
  CHECK(format_duration(0) == "0ms");
  CHECK(format_duration(1500) == "1500ms");
  CHECK(format_duration(30'000) == "30s");
  CHECK(format_duration(90'000) == "90s");
  CHECK(format_duration(120'000) == "2m");
  CHECK(format_duration(7'200'000) == "2h");
  for (uint64_t bytes : std::initializer_list<uint64_t>{0, 1, 1023, 1024, 1536, 3ull << 20, 5ull << 40, 1ull << 62, UINT64_MAX})
    CHECK(parse_size(format_size(bytes)).value() == bytes);
  for (uint64_t value : std::initializer_list<uint64_t>{1, 999, 1000, 61000, 3600000, 1ull << 50})
    CHECK(parse_duration_ms(format_duration(value)).value() == value);
}
