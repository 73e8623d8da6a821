// Sizes ("64MiB", "1G", "512k", integers) and durations ("500ms", "10s", "2m", numbers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace aj::policy {

// "64MiB" -> 67108864. k/K/KiB/KB = 1024, M/MiB/MB, G/GiB/GB, T/TiB/TB likewise (binary, as
// `ulimit` and cgroups count); a bare number is bytes. Rejects negatives, fractions of a byte,
// unknown suffixes and overflow of uint64.
Result<uint64_t> parse_size(std::string_view text);
// "500ms" -> 500, "10s" -> 10000, "2m" -> 120000, "1h", "1.5s"; a bare number is seconds.
Result<uint64_t> parse_duration_ms(std::string_view text);
// Seconds as a TOML number (integer or float) -> milliseconds, with the same checks.
Result<uint64_t> seconds_to_ms(double seconds);
// Canonical forms used by the emitter: the largest exact binary unit ("64MiB", "1536KiB", "7").
std::string format_size(uint64_t bytes);
// "30s", "1500ms", "2m" — the largest unit that is exact.
std::string format_duration(uint64_t ms);

}  // namespace aj::policy
