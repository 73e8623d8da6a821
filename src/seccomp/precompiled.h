// Filters compiled at build time. libseccomp needs about 1.6 ms to turn a policy's 300-odd
// rules into BPF, a quarter of a jail's whole start; the built-in policies'
// filters (each network mode, with and without a notify listener) are compiled once by
// src/build_tools/filtergen.cc while agentjail is built and linked into it. The same libseccomp
// and the same SeccompSpec give the same program, so a run of a built-in policy loads its filter
// instead of compiling it. Any other spec, or another libseccomp at run time, compiles as before.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <span>
#include <string_view>

#include "base/error.h"
#include "seccomp/filter.h"

namespace aj::seccomp {

struct PrecompiledFilter {
  std::string_view digest;  // spec_digest() of the spec it was compiled from
  std::span<const sock_filter> program;
  bool notify = false;
};

// The table the build generated (generated/precompiled_filters.cc).
std::span<const PrecompiledFilter> precompiled_filters();
// The libseccomp version that compiled them, "2.5.4". A dynamically linked agentjail whose
// libseccomp was since updated compiles instead: the update may change the BPF it makes.
std::string_view precompiled_with_libseccomp();

// The filter for `spec`: the build's copy when its digest is in the table, else compile(spec).
// `*precompiled` (optional) says which it was.
Result<Filter> filter_for(const SeccompSpec& spec, bool* precompiled = nullptr);

}  // namespace aj::seccomp
