#!/usr/bin/env bash
# The Debian package, on this machine (root: it installs into the real
# system and puts it back as it was, on failure too):
# - cpack builds it from the build tree; its control fields (name, version
#   from project(), section, computed Depends) and conffiles are checked, and
#   lintian reports no error or warning;
# - prerm warns when maps are still pinned (on a tmpfs in a private mount
#   namespace, never the real bpffs);
# - dpkg -i installs it: `relayguard --version` is the project's version,
#   `systemd-analyze verify` passes on the unit without a word, the config is
#   a registered conffile, the unit is not enabled, man and the completion
#   find their files; `systemd-analyze security` prints the unit's exposure;
# - a second dpkg -i keeps an edited config; dpkg --remove keeps the config
#   and the daemon's state; dpkg --purge leaves nothing behind.
# The other tests run build/userspace/relayguard by its path, never
# /usr/sbin/relayguard, so they are not affected while it is installed.
#   deb_install.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
cd "$(dirname "$0")/../.."
# shellcheck source=tests/lib/require.sh
. tests/lib/require.sh
require root is_root
require "dpkg, cpack, systemd-analyze, lintian, man, unshare (tools/setup-deps.sh)" \
    have dpkg dpkg-deb dpkg-query cpack systemd-analyze lintian man unshare

pkg=relayguard
unit=/lib/systemd/system/relayguard.service
conf=/etc/relayguard/relayguard.conf
installed() { dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qv '^not-installed$'; }
if installed; then
    # Not over a relayguard this machine really uses: its purge would remove
    # the operator's config and state.
    echo "FAIL: package $pkg is already installed here ($(dpkg-query -W -f='${Version} ${db:Status-Abbrev}' "$pkg")):" \
        "this test installs and purges its own; run it where relayguard is not installed"
    exit 1
fi

# The purge removes the daemon's state and log directories. Other tests may
# have left them empty (state directories are made below /var/lib/relayguard
# by default): they are made again after the purge. Files in them are
# someone's state: refuse.
# A test's temporary bpffs (/tmp/relayguard-bpffs.X, see tools/lab) gives a
# state directory tmp-relayguard-bpffs.X-relayguard; once that bpffs is gone,
# nothing can use the state any more (a test that was killed): remove it.
for s in /var/lib/relayguard/tmp-relayguard-bpffs.*-relayguard; do
    [ -d "$s" ] || continue
    b=${s#/var/lib/relayguard/tmp-}
    b=/tmp/${b%-relayguard}
    if [ ! -e "$b" ]; then
        echo "removing the state of a finished test's bpffs $b: $s"
        rm -rf -- "$s"
    fi
done
remake=()
for d in /var/lib/relayguard /var/log/relayguard; do
    [ -e "$d" ] || continue
    if [ -n "$(ls -A "$d")" ]; then
        echo "FAIL: $d is not empty (another relayguard's state?), and the purge would remove it: $(ls -A "$d")"
        exit 1
    fi
    remake+=("$(stat -c %a "$d") $d")
done

DIR=$(mktemp -d /tmp/rgpk-deb.XXXXXX)
cleanup() {
    if installed; then
        echo "cleanup: purging $pkg"
        dpkg --purge "$pkg" >/dev/null 2>&1 || dpkg --purge --force-all "$pkg" || true
    fi
    local e
    for e in "${remake[@]}"; do
        [ -e "${e#* }" ] || install -d -m "${e%% *}" "${e#* }"
    done
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || fail "no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt"

# Build the package (the staging tree and the .deb go to $DIR).
cpack --config "$build/CPackConfig.cmake" -B "$DIR" >"$DIR/cpack.log" 2>&1 || {
    cat "$DIR/cpack.log"
    fail "cpack failed"
}
deb=$(echo "$DIR"/"$pkg"_*.deb)
[ -f "$deb" ] || fail "cpack made no ${pkg}_*.deb: $(ls "$DIR")"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = "$pkg" ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), project() says $version"
[ "$(field Section)" = net ] || fail "Section: $(field Section)"
depends=$(field Depends)
# Computed by dpkg-shlibdeps from what the binary links, and the two listed by hand.
for dep in libbpf1 libxdp1 libcurl4 libsystemd0 libc6 procps init-system-helpers; do
    grep -qE "(^|, )$dep( |,|$)" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
[ "$(dpkg-deb -I "$deb" conffiles)" = "$conf" ] || fail "conffiles: $(dpkg-deb -I "$deb" conffiles)"

# lintian: no error nor warning (informational tags are listed, not failed).
lintian --display-info "$deb" >"$DIR/lintian.log" 2>&1 || true
cat "$DIR/lintian.log"
if grep -E '^(E|W): ' "$DIR/lintian.log"; then
    fail "lintian reports the errors or warnings above"
fi

# The files the package ships (not its directories), none of which may
# exist before: dpkg would take over a file it does not own without a word.
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' >"$DIR/files"
grep -qx /usr/sbin/relayguard "$DIR/files" || fail "no /usr/sbin/relayguard in the package: $(cat "$DIR/files")"
while read -r f; do
    [ ! -e "$f" ] || fail "$f exists before the install (not from the package): move it away first"
done <"$DIR/files"

# prerm on remove, with maps still pinned (on_exit = keep): a warning that
# the filter may stay attached. /sys/fs/bpf is a tmpfs in a mount namespace
# of its own here.
dpkg-deb -e "$deb" "$DIR/control"
warn=$(unshare -m sh -c "mount -t tmpfs rgpk /sys/fs/bpf && mkdir /sys/fs/bpf/relayguard && $DIR/control/prerm remove" 2>&1) ||
    fail "prerm remove failed: $warn"
grep -q "still pinned in /sys/fs/bpf/relayguard" <<<"$warn" || fail "prerm did not warn of pinned maps: \"$warn\""
warn=$(unshare -m sh -c "mount -t tmpfs rgpk /sys/fs/bpf && $DIR/control/prerm remove" 2>&1) ||
    fail "prerm remove failed: $warn"
[ -z "$warn" ] || fail "prerm warns with nothing pinned: $warn"

dpkg -i "$deb" </dev/null || fail "dpkg -i $deb failed"
installed || fail "dpkg -i: $pkg not installed"

got=$(/usr/sbin/relayguard --version)
[[ $got == "relayguard $version "* ]] || fail "/usr/sbin/relayguard --version: \"$got\", expected relayguard $version"
[ "$(man -w relayguard)" = /usr/share/man/man8/relayguard.8.gz ] || fail "man -w relayguard: $(man -w relayguard 2>&1)"
# shellcheck disable=SC2016 # for the inner shell
[ "$(bash -c '. /usr/share/bash-completion/completions/relayguard && complete -p relayguard')" = \
    "complete -F _relayguard relayguard" ] || fail "the bash completion does not register for relayguard"

# The unit: verify says nothing (Documentation=man:relayguard(8) is checked
# too), ExecStart names the installed binary.
grep -qx 'ExecStart=/usr/sbin/relayguard run --config /etc/relayguard/relayguard.conf' "$unit" ||
    fail "$unit: $(grep ExecStart= "$unit")"
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: exit $?: $out"
[ -z "$out" ] || fail "systemd-analyze verify $unit: $out"
security=$(systemd-analyze security --offline=true "$unit" 2>&1 | grep 'Overall exposure level') ||
    fail "systemd-analyze security --offline=true $unit gave no exposure level"
echo "$security"
# Installed disabled: no enablement symlink.
links=$(find /etc/systemd/system -name relayguard.service)
[ -z "$links" ] || fail "the unit is enabled or masked after the install: $links"

# The config is a registered conffile, its checksum that of the file shipped.
sum=$(dpkg-query -W -f='${Conffiles}' "$pkg" | awk -v f="$conf" '$1 == f { print $2 }')
[ -n "$sum" ] || fail "$conf not among $pkg's conffiles: $(dpkg-query -W -f='${Conffiles}' "$pkg")"
[ "$sum" = "$(md5sum <"$conf" | cut -d' ' -f1)" ] || fail "$conf: conffile checksum $sum is not the file's"

# An operator's edit and enable survive a reinstall (an upgrade); what the
# daemon made (its state and log directories, here by hand: systemd is not
# PID 1 everywhere this runs) survives a remove, and the purge takes all of it.
echo "# edited by deb_install.sh" >>"$conf"
wants=/etc/systemd/system/multi-user.target.wants/relayguard.service
systemctl enable relayguard.service 2>/dev/null || fail "systemctl enable relayguard.service failed"
[ -L "$wants" ] || fail "systemctl enable made no $wants"
mkdir -p /var/lib/relayguard/sys-fs-bpf-relayguard /var/log/relayguard
echo x >/var/lib/relayguard/sys-fs-bpf-relayguard/daemon.lock
echo x >/var/log/relayguard/stats.jsonl
dpkg -i "$deb" </dev/null || fail "second dpkg -i failed"
grep -q "edited by deb_install.sh" "$conf" || fail "the reinstall replaced the edited $conf"
[ -L "$wants" ] || fail "the reinstall disabled the unit"

dpkg --remove "$pkg" </dev/null || fail "dpkg --remove failed"
[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg")" = config-files ] ||
    fail "after remove: $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg")"
[ ! -e /usr/sbin/relayguard ] || fail "/usr/sbin/relayguard left after remove"
[ ! -e "$unit" ] || fail "$unit left after remove"
grep -q "edited by deb_install.sh" "$conf" || fail "remove took the config"
[ -f /var/lib/relayguard/sys-fs-bpf-relayguard/daemon.lock ] || fail "remove took /var/lib/relayguard"
# Masked until a reinstall or the purge: enablement symlinks left by a
# remove cannot start a unit that is gone (debhelper's convention).
[ "$(readlink /etc/systemd/system/relayguard.service)" = /dev/null ] || fail "the unit is not masked after remove"

dpkg --purge "$pkg" </dev/null || fail "dpkg --purge failed"
installed && fail "after purge: $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg")"
while read -r f; do
    [ ! -e "$f" ] || fail "$f left after purge"
done <"$DIR/files"
for d in /etc/relayguard /var/lib/relayguard /var/log/relayguard /usr/share/doc/relayguard /usr/share/relayguard; do
    [ ! -e "$d" ] || fail "$d left after purge: $(ls -A "$d")"
done
left=$(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
    -name '*relayguard*' 2>/dev/null || true)
[ -z "$left" ] || fail "left after purge: $left"
echo "PASS: $deb built, lintian-clean, installed, verified, reinstalled, removed and purged without a trace"
