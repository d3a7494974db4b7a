# shellcheck shell=bash
# Sourced by the shell tests: `require WHAT CONDITION...` runs CONDITION and,
# when it fails, skips the test (exit 77, ctest's SKIP_RETURN_CODE) or, under
# RELAYGUARD_REQUIRE_PRIVILEGED=1 (CI), fails it: a test that cannot run
# there must not pass quietly.
require() {
    local what=$1
    shift
    "$@" && return 0
    if [ "${RELAYGUARD_REQUIRE_PRIVILEGED:-}" = 1 ]; then
        echo "FAIL: needs $what"
        exit 1
    fi
    echo "SKIP: needs $what"
    exit 77
}

# Whether every command named is on PATH.
have() {
    local c
    for c in "$@"; do command -v "$c" >/dev/null || return 1; done
}

is_root() { [ "$(id -u)" = 0 ]; }
