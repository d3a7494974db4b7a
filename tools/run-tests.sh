#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root): install, build, run
# every test. Privileged tests skip without root unless
# RELAYGUARD_REQUIRE_PRIVILEGED=1, which turns such a skip into a failure.
#
# The GoogleTest suites run under ASan and UBSan (docs/fuzzing.md): a clang
# build in build-sanitize (or $SANITIZE_BUILD_DIR) with the fuzz targets
# runs the unit, BPF_PROG_RUN and netns suites, then each fuzz target for a
# fixed number of inputs (about 20 s each) from its seed corpus. The build
# that is shipped runs the unit suite and every script test (the package,
# the demo's and Postfix's end-to-end runs, the benchmarks' quick runs); the
# kernel suites run once, in the sanitizer build, which keeps CI near 35
# minutes. RELAYGUARD_SANITIZE_RUN=0 leaves the sanitizer build out and runs
# every test in the shipped build instead.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-deps.sh
tools/build.sh
if [[ ${RELAYGUARD_SANITIZE_RUN:-1} == 0 ]]; then
  exec ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure
fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -LE '^(prog_run|netns)$'
san=${SANITIZE_BUILD_DIR:-build-sanitize}
# Debug (asserts on) at -O1 with line tables only: a report still names
# file:line, and the build is lighter than -O2 -g on CI's two cores.
flags="-O1 -gline-tables-only"
CC=clang CXX=clang++ cmake -S . -B "$san" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="$flags" \
  -DCMAKE_CXX_FLAGS_DEBUG="$flags" -DRELAYGUARD_FUZZ=ON >/dev/null
cmake --build "$san" -j"$(nproc)" --target unit_tests prog_run_tests netns_tests fuzz_targets
# A report ends the test, with a stack trace; the leak check is on (also
# in the relayguard processes the netns tests start).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
ctest --test-dir "$san" --output-on-failure -L '^(unit|prog_run|netns)$'
# Each fuzz target runs a fixed number of inputs: one per core at a time.
ctest --test-dir "$san" --output-on-failure -j"$(nproc)" -L '^fuzz$'
