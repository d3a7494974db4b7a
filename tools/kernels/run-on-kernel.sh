#!/usr/bin/env bash
# Boots a Debian kernel with qemu and runs relayguard's kernel tests in it:
# the BPF_PROG_RUN suite (the verifier must accept the program) and netns
# tests (by default a plain drop test and the libxdp dispatcher test).
#
#   tools/kernels/run-on-kernel.sh [--kernel /boot/vmlinuz-VERSION] [--build DIR]
#                                  [--netns-filter GTEST_FILTER] [--timeout SECONDS] [--log FILE]
#                                  [--prog-run-filter GTEST_FILTER] [--verify-only] [--require-kvm]
#
# --verify-only: only load build/bpf/relayguard.bpf.o with bpftool (the
# verifier's verdict), no test suites. --require-kvm: skip (exit 77) when
# KVM is not usable (no /dev/kvm, or a guest under it does not boot) instead
# of falling back to TCG, under which one
# verification of the program on 6.1 takes minutes (docs/kernels.md).
#
# The guest gets the host's root filesystem read-only over 9p (so the host's
# Debian userland and the build tree), a tmpfs overlay for writes, and an
# initramfs of busybox-static plus the kernel's own 9p/virtio/overlay
# modules from /lib/modules/VERSION. The kernel is never installed as the
# machine's boot kernel: qemu boots it directly. Default kernel: the newest
# /boot/vmlinuz-6.1* (Debian 12's linux-image-amd64). Uses KVM when
# /dev/kvm is usable, else qemu's TCG emulation (slower: see docs/kernels.md).
#
# Exit status: 0 every test passed, 1 a test failed or the guest did not
# finish, 77 (skip) qemu, busybox-static or the kernel is missing (a failure
# under RELAYGUARD_REQUIRE_PRIVILEGED=1; setup-deps.sh installs them) or, with
# --require-kvm, /dev/kvm is not usable.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

kernel='' build=$root/build log='' timeout='' mode=tests require_kvm=''
netns_filter=NetnsTest.BlocklistedSourceIsDroppedCleanSourcePasses:NetnsTest.AnotherXdpProgramKeepsRunning
prog_run_filter='*'
while (($#)); do
    case $1 in
    --kernel) kernel=$2 ;;
    --build) build=$2 ;;
    --netns-filter) netns_filter=$2 ;;
    --prog-run-filter) prog_run_filter=$2 ;;
    --timeout) timeout=$2 ;;
    --log) log=$2 ;;
    --verify-only) mode=verify; shift; continue ;;
    --require-kvm) require_kvm=1; shift; continue ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run-on-kernel: unknown argument \"$1\" (see --help)" >&2
        exit 2
        ;;
    esac
    shift 2 || { echo "run-on-kernel: $1 needs a value" >&2; exit 2; }
done

# A missing package is a failure under RELAYGUARD_REQUIRE_PRIVILEGED=1 (CI:
# setup-deps.sh installs them); a missing /dev/kvm is hardware, always a skip.
skip() {
    echo "SKIP: needs $*"
    exit 77
}
missing() {
    [[ ${RELAYGUARD_REQUIRE_PRIVILEGED:-} == 1 ]] && { echo "FAIL: needs $*"; exit 1; }
    skip "$@"
}
command -v qemu-system-x86_64 >/dev/null || missing "qemu-system-x86_64 (package qemu-system-x86)"
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || missing "a static /bin/busybox (package busybox-static)"
if [[ -z $kernel ]]; then
    kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-6.1.*' | sort -V | tail -n1)
    [[ -n $kernel ]] || missing "a 6.1 kernel in /boot (package linux-image-amd64 of Debian 12)"
fi
[[ -r $kernel ]] || { echo "run-on-kernel: $kernel: not a readable kernel image" >&2; exit 2; }
kver=${kernel##*/vmlinuz-}
moddir=/lib/modules/$kver
[[ -d $moddir ]] || { echo "run-on-kernel: $moddir: missing (the modules of $kernel)" >&2; exit 2; }
build=$(cd "$build" && pwd)
needed=(tests/prog_run_tests tests/netns_tests userspace/relayguard)
[[ $mode == verify ]] && needed=(bpf/relayguard.bpf.o)
for f in "${needed[@]}"; do
    [[ -e $build/$f ]] || { echo "run-on-kernel: $build/$f: not built (cmake --build $build)" >&2; exit 2; }
done

# A /dev/kvm that opens does not always run a guest. Under some nested
# hypervisors qemu aborts setting IA32_ARCH_CAPABILITIES (MSR 0x10a; hence
# -arch-capabilities) or the guest never gets past the boot loader. So KVM
# counts as usable only if the kernel, booted without a root filesystem,
# reaches its "Kernel panic" (no root) within 20 s (TCG emulation, far
# slower than KVM, takes 10 s here).
kvm_cpu=(-enable-kvm -cpu "host,-arch-capabilities")
kvm_boots() {
    if ! [[ -r /dev/kvm && -w /dev/kvm ]] || ! : 2>/dev/null </dev/kvm; then
        kvm_why="no usable /dev/kvm"
        return 1
    fi
    timeout -k 5 20 qemu-system-x86_64 "${kvm_cpu[@]}" -m 256M -nodefaults -display none -no-reboot \
        -serial stdio -kernel "$kernel" -append "console=ttyS0 loglevel=5 panic=-1" </dev/null 2>&1 |
        grep -a 'Kernel panic' >/dev/null && return 0  # not -q: qemu must not get EPIPE (pipefail)
    kvm_why="/dev/kvm is there but a guest under it did not boot $kver within 20 s"
    return 1
}
if kvm_boots; then
    accel=("${kvm_cpu[@]}")
    accel_name=kvm
    timeout=${timeout:-300}
else
    [[ -n $require_kvm ]] && skip "a KVM that boots a guest (--require-kvm): $kvm_why"
    accel=(-accel "tcg,thread=multi" -cpu max)
    accel_name="tcg ($kvm_why)"
    timeout=${timeout:-2400}
fi

work=$(mktemp -d /tmp/rg-kernel-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
log=${log:-$work/console.log}

# The initramfs: busybox, the modules for 9p over virtio-pci and overlayfs
# (each after what it depends on), and guest-init.sh as /init.
init=$work/initramfs
mkdir -p "$init"/{bin,dev,proc,sys,modules}
cp /bin/busybox "$init/bin/busybox"
cp "$root/tools/kernels/guest-init.sh" "$init/init"
declare -A seen=()
add_module() {
    local m=${1//-/_} dep deps
    [[ -n ${seen[$m]:-} ]] && return
    seen[$m]=1
    deps=$(modinfo -k "$kver" -F depends "$m") || { echo "run-on-kernel: module $m missing in $moddir" >&2; exit 1; }
    for dep in ${deps//,/ }; do add_module "$dep"; done
    cp "$(modinfo -k "$kver" -n "$m")" "$init/modules/$m.ko"
    echo "$m" >>"$init/modules/order"
}
for m in virtio_pci 9pnet_virtio 9p overlay; do add_module "$m"; done
(cd "$init" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initramfs.cpio.gz"

echo "run-on-kernel: booting $kernel ($accel_name), build tree $build, console log $log"
start=$(date +%s)
status=0
timeout -k 10 "$timeout" qemu-system-x86_64 "${accel[@]}" -smp 2 -m 2G \
    -nodefaults -display none -no-reboot -serial stdio \
    -kernel "$kernel" -initrd "$work/initramfs.cpio.gz" \
    -append "console=ttyS0 loglevel=4 panic=-1 rg_script=$root/tools/kernels/guest-tests.sh rg_build=$build rg_netns_filter=$netns_filter rg_prog_run_filter=$prog_run_filter rg_mode=$mode" \
    -virtfs "local,path=/,mount_tag=rgroot,security_model=none,readonly=on,multidevs=remap" \
    </dev/null 2>&1 | sed -u 's/\r$//' | tee "$log" || status=$?
secs=$(($(date +%s) - start))

result=$(grep -a '^RGKT-RESULT ' "$log" | tail -n1 || true)
if [[ $status -eq 124 ]]; then
    echo "run-on-kernel: FAIL: the guest did not finish within ${timeout}s (--timeout)"
    exit 1
fi
if [[ $result == "RGKT-RESULT status=pass kernel=$kver "* ]]; then
    echo "run-on-kernel: PASS on $kver ($accel_name) in ${secs}s: ${result#RGKT-RESULT }"
    exit 0
fi
echo "run-on-kernel: FAIL on $kver ($accel_name) after ${secs}s: ${result:-no result line from the guest (see the console output above)}"
exit 1
