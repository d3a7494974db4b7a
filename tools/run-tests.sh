#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root): install, build, run
# every test. Privileged tests skip without root unless
# RELAYGUARD_REQUIRE_PRIVILEGED=1, which turns such a skip into a failure.
#
# Then once more under ASan and UBSan (docs/fuzzing.md): a clang build in
# build-sanitize (or $SANITIZE_BUILD_DIR) with the fuzz targets, running the
# unit and BPF_PROG_RUN tests and each fuzz target for a fixed number of
# inputs (about 20 s each) from its seed corpus. RELAYGUARD_SANITIZE_RUN=0
# leaves that out.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-deps.sh
tools/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure
if [[ ${RELAYGUARD_SANITIZE_RUN:-1} != 0 ]]; then
  san=${SANITIZE_BUILD_DIR:-build-sanitize}
  # Debug (asserts on) at -O1 with line tables only: a report still names
  # file:line, and the build is lighter than -O2 -g on CI's two cores.
  flags="-O1 -gline-tables-only"
  CC=clang CXX=clang++ cmake -S . -B "$san" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="$flags" \
    -DCMAKE_CXX_FLAGS_DEBUG="$flags" -DRELAYGUARD_FUZZ=ON >/dev/null
  cmake --build "$san" -j"$(nproc)" --target unit_tests prog_run_tests fuzz_targets
  # A report ends the test, with a stack trace; the leak check is on.
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
  ctest --test-dir "$san" --output-on-failure -L '^(unit|prog_run)$'
  # Each fuzz target runs a fixed number of inputs: one per core at a time.
  ctest --test-dir "$san" --output-on-failure -j"$(nproc)" -L '^fuzz$'
fi
