#!/bin/sh
# Builds agentjail and runs every test: the unit and integration tests on this host
# (ctest), then the integration tests under real cgroup v2 in a VM (scripts/vm-test.sh).
#
# Usage: scripts/test.sh [BUILD_DIR]   (default: build)
#        scripts/test.sh --sanitize [BUILD_DIR]   (default: build-sanitize) the same tests
#          against an ASan+UBSan build; the Debian package test is left out (it builds its own
#          binary, without sanitizers).
set -eu
cd "$(dirname "$0")/.."
sanitize=OFF
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=ON
  shift
fi
if [ $sanitize = ON ]; then build=${1:-build-sanitize}; else build=${1:-build}; fi

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAGENTJAIL_WERROR=ON \
  -DAGENTJAIL_SANITIZE=$sanitize
cmake --build "$build"
cmake --build "$build" --target probes
if [ $sanitize = ON ]; then
  ctest --test-dir "$build" --output-on-failure -E '^package$'
else
  ctest --test-dir "$build" --output-on-failure
fi
if [ -x scripts/vm-test.sh ]; then
  scripts/vm-test.sh "$build"
fi
