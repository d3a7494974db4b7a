#!/bin/busybox sh
# shellcheck shell=dash
# /init of the initramfs that tools/kernels/run-on-kernel.sh builds (busybox
# ash, PID 1 of the guest). It loads the modules the initramfs carries (9p
# over virtio, overlayfs), mounts the host's root filesystem shared read-only
# as 9p tag "rgroot", puts a tmpfs overlay on it so the guest can write, and
# switches to it to run $rg_script (given on the kernel command line, as are
# rg_build and rg_netns_filter) with the host's own Debian userland.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
    echo "RGKT-RESULT status=fail reason=\"initramfs: $*\""
    poweroff -f
}

while read -r m; do
    insmod "/modules/$m.ko" || fail "insmod $m"
done </modules/order

mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 rgroot /lower ||
    fail "mounting the host's root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
    fail "overlayfs on the 9p root"
script=${rg_script:-}
if [ -z "$script" ] || [ ! -x "/newroot$script" ]; then
    fail "no script \"$script\" (rg_script=) in the shared root"
fi

umount /proc /sys /dev
exec switch_root /newroot /bin/bash "$script"
