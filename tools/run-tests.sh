#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root): install, build, run
# every test. Privileged tests skip without root unless
# RELAYGUARD_REQUIRE_PRIVILEGED=1, which turns such a skip into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-deps.sh
tools/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure
