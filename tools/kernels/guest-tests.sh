#!/usr/bin/env bash
# Runs in the guest of tools/kernels/run-on-kernel.sh as PID 1, on the host's
# root filesystem (read-only 9p under a tmpfs overlay): mounts what the tests
# need, runs the BPF_PROG_RUN suite and the chosen netns tests of the build
# tree $rg_build, prints one line "RGKT-RESULT status=pass|fail ..." on the
# console and powers the guest off. A test that skips is a failure here
# (the guest is root with every mount; on this kernel nothing may skip).
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb

finish() {
    echo "RGKT-RESULT status=$1 kernel=$(uname -r) $2"
    sync
    echo o >/proc/sysrq-trigger
    sleep 60  # the power-off is asynchronous; PID 1 must not exit before it
    exit 1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
# The netns tests' veth pairs; the kernel would load it on demand too.
modprobe veth || finish fail 'reason="modprobe veth"'
ulimit -l unlimited

build=${rg_build:?rg_build not set on the kernel command line}
filter=${rg_netns_filter:-}
export RELAYGUARD_REQUIRE_PRIVILEGED=1
echo "rg-kernel-test: kernel $(uname -r), build tree $build"

failed=()
run() {
    local name=$1 out rc
    shift
    out=/tmp/$name.log
    echo "rg-kernel-test: running $name: $*"
    "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    if ((rc != 0)); then
        failed+=("$name(exit $rc)")
    elif grep -q '^\[  SKIPPED \]' "$out"; then
        failed+=("$name(skipped tests)")
    fi
}

start=$(date +%s)
if [[ ${rg_mode:-tests} == verify ]]; then
    # Only the verifier's verdict on the object as built (default rodata).
    run verifier bpftool prog load "$build/bpf/relayguard.bpf.o" /sys/fs/bpf/rgkt-verify
else
    run prog_run_tests "$build/tests/prog_run_tests" --gtest_filter="${rg_prog_run_filter:-*}"
    run netns_tests "$build/tests/netns_tests" --gtest_filter="$filter"
fi
secs=$(($(date +%s) - start))

if ((${#failed[@]})); then
    finish fail "tests_seconds=$secs failed=\"${failed[*]}\""
fi
finish pass "tests_seconds=$secs"
