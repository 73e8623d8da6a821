// The limits of a run as plain data: what the policy sets, what the plan enforces and what
// the report restates. A vocabulary type below every layer (like base/error.h), so the planner
// and the executors share it without depending on the policy's model.
#pragma once

#include <cstdint>
#include <optional>

namespace aj {

// std::nullopt means "unlimited" (written "unlimited" in TOML).
struct Limits {
  std::optional<uint64_t> wall_time_ms = 30'000;
  std::optional<uint64_t> cpu_time_ms = 10'000;
  std::optional<uint64_t> memory_bytes = 256ull << 20;
  std::optional<uint64_t> pids = 64;
  std::optional<double> cpus;                       // CPUs of quota; unlimited by default
  std::optional<uint64_t> file_size_bytes = 64ull << 20;
  std::optional<uint64_t> open_files = 256;
  std::optional<uint64_t> stack_bytes = 8ull << 20;
  uint64_t core_size_bytes = 0;
  uint64_t output_bytes = 1ull << 20;               // capture mode: bytes kept per stream
};

}  // namespace aj
