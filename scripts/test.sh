#!/bin/sh
# Builds agentjail and runs every test: the unit and integration tests on this host
# (ctest), then the integration tests under real cgroup v2 in a VM (scripts/vm-test.sh).
# Usage: scripts/test.sh [BUILD_DIR]   (default: build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAGENTJAIL_WERROR=ON
cmake --build "$build"
cmake --build "$build" --target probes
ctest --test-dir "$build" --output-on-failure
if [ -x scripts/vm-test.sh ]; then
  scripts/vm-test.sh "$build"
fi
