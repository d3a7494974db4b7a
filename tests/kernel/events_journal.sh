#!/usr/bin/env bash
# The daemon under the journal: a blocklisted client's drop and a rate-limit
# ban reach journald as structured entries (RELAYGUARD_EVENT, SOURCE, REASON,
# FEED, INTERFACE, PORT, PRIORITY), read back with journalctl; the same
# events are in the state directory's event file and `relayguard events
# --json` lists them while the daemon runs.
#
# The journal is a private systemd-journald in a private mount namespace
# (tmpfs over /run/systemd, /run/log and /var/log/journal), so the host's
# journal sees nothing. The daemon runs as systemd runs a service: its
# standard error is a stream to journald (systemd-cat) and $JOURNAL_STREAM
# names that stream.
# Usage: events_journal.sh RELAYGUARD_BINARY
set -euo pipefail
RG=$(realpath "$1")
# shellcheck source=tests/lib/require.sh
. "$(dirname "$0")/../lib/require.sh"
# shellcheck source=tests/lib/netns_pair.sh
. "$(dirname "$0")/../lib/netns_pair.sh"
require root is_root
require "systemd-journald, journalctl and systemd-cat" test -x /lib/systemd/systemd-journald
require "journalctl and systemd-cat" have journalctl systemd-cat unshare python3

if [ -z "${RGEV_PRIVATE_MOUNTS:-}" ]; then
    exec unshare -m --propagation private env RGEV_PRIVATE_MOUNTS=1 "$0" "$@"
fi

S=rgevjS$$ C=rgevjC$$
DIR=$(mktemp -d /tmp/rgev-journal.XXXXXX)
PINS=$DIR/bpf/pins STATE=$DIR/state JOURNALD='' DAEMON=''
cleanup() {
    # Never fail here: the rest of the cleanup must run.
    if [ -n "$DAEMON" ]; then kill -TERM "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null || true; fi
    if [ -n "$JOURNALD" ]; then kill "$JOURNALD" 2>/dev/null; wait "$JOURNALD" 2>/dev/null || true; fi
    netns_pair_down "$S" "$C"
    umount "$DIR/bpf" 2>/dev/null || true
    rm -rf "$DIR"
    # The tmpfs mounts go with this private mount namespace.
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    echo "--- journal"; journalctl -D /run/log/journal --no-pager 2>/dev/null | tail -30 || true
    echo "--- stats"; ip netns exec "$S" "$RG" --pin-dir "$PINS" --state-dir "$STATE" stats 2>&1 || true
    echo "--- rate"; ip netns exec "$S" "$RG" --pin-dir "$PINS" --state-dir "$STATE" rate show 2>&1 || true
    exit 1
}

# A private journal.
mount -t tmpfs tmpfs /run/systemd 2>/dev/null || { mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd; }
mkdir -p /run/log /run/systemd/journal && mount -t tmpfs tmpfs /run/log
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
SYSTEMD_LOG_TARGET=null /lib/systemd/systemd-journald &  # its own messages nowhere (not the kernel log)
JOURNALD=$!

# Waits (up to 20 s) for a journal entry with all the FIELD=VALUE matches
# given and prints it as JSON: journalctl -f read until one comes.
await_entry() {
    python3 - "$@" <<'EOF'
import json, select, subprocess, sys, time
matches = sys.argv[1:]
p = subprocess.Popen(["journalctl", "-D", "/run/log/journal", "-f", "-n", "all", "-o", "json", "--no-pager"] + matches,
                     stdout=subprocess.PIPE, text=True)
deadline = time.monotonic() + 20
try:
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], max(0, deadline - time.monotonic()))
        if not r:
            break
        line = p.stdout.readline()
        if line.startswith("{"):
            print(line.strip())
            sys.exit(0)
    sys.exit(1)
finally:
    p.kill()
EOF
}
# journald's sockets appear once it runs: a bounded wait for the one we use.
for _ in $(seq 100); do [ -S /run/systemd/journal/stdout ] && [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
[ -S /run/systemd/journal/socket ] || fail "systemd-journald did not start"

# Server and client namespaces on one veth pair, no route out.
BAD=192.0.2.66 FAST=192.0.2.20 SERVER=192.0.2.1
netns_pair_up "$S" "$C" $SERVER $BAD $FAST
mkdir -p "$DIR/bpf" && mount -t bpf bpf "$DIR/bpf"

touch "$DIR/relayguard.conf"
chmod 600 "$DIR/relayguard.conf"  # the daemon refuses a config others may read
cat > "$DIR/relayguard.conf" <<EOF
[filter]
interfaces = ${S}0
xdp_mode = skb
block = $BAD
[rate]
rate = 1/m
burst = 1
ban_after = 0
ban_ttl = 10m
[daemon]
pin_dir = $PINS
state_dir = $STATE
stats_interval = 0s
[events]
interval = 1m
per_second = 100
EOF

# As systemd runs a service: standard error is the journal's stream, and
# JOURNAL_STREAM names it (device:inode).
# shellcheck disable=SC2016  # expanded by the inner shell
ip netns exec "$S" env LIBXDP_BPFFS="$DIR/bpf" systemd-cat -t relayguard sh -c \
    'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" run --config "$1"' "$RG" "$DIR/relayguard.conf" &
DAEMON=$!
await_entry SYSLOG_IDENTIFIER=relayguard PRIORITY=5 >/dev/null || fail "no message from the daemon in the journal"
await_entry MESSAGE="running on 1 interface, enforce mode, rate limiting on" >/dev/null \
    || fail "the daemon did not start"

# One SYN from each client (source address bound); the fast one sends two,
# the second over its budget of 1/m, burst 1: dropped and banned.
syn() {
    ip netns exec "$C" python3 -c '
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.settimeout(0.3)
try: s.connect((sys.argv[2], 25))
except OSError: pass' "$1" $SERVER
}
syn $BAD
syn $FAST
syn $FAST

drop=$(await_entry RELAYGUARD_EVENT=drop SOURCE=$BAD) || fail "no drop event of $BAD in the journal"
ban=$(await_entry RELAYGUARD_EVENT=ban SOURCE=$FAST/32) || fail "no ban event of $FAST in the journal"
check() {  # check ENTRY FIELD VALUE
    python3 -c 'import json,sys; e=json.loads(sys.argv[1]); sys.exit(e.get(sys.argv[2]) != sys.argv[3])' "$1" "$2" "$3" \
        || fail "field $2 is not \"$3\" in $1"
}
check "$drop" REASON dropped_blocklist
check "$drop" FEED config
check "$drop" INTERFACE "${S}0"
check "$drop" PORT 25
check "$drop" PRIORITY 5
check "$drop" SYSLOG_IDENTIFIER relayguard
check "$ban" REASON ratelimit
check "$ban" INTERFACE "${S}0"
check "$ban" PORT 25
await_entry RELAYGUARD_EVENT=drop SOURCE=$FAST REASON=dropped_ratelimit >/dev/null \
    || fail "no rate-limit drop event of $FAST"

# The same events in the event file, and through the CLI while the daemon holds the ring.
events=$(ip netns exec "$S" "$RG" --pin-dir "$PINS" --state-dir "$STATE" events --json)
listed() {  # listed EVENT SOURCE REASON: a line of $events with these
    python3 -c 'import json,sys
want = dict(zip(["event", "source", "reason"], sys.argv[1:4]))
sys.exit(not any(all(json.loads(l).get(k) == v for k, v in want.items()) for l in sys.stdin if l.strip()))' "$@" <<<"$events"
}
listed drop $BAD dropped_blocklist || fail "events --json: no drop of $BAD: $events"
listed ban $FAST/32 ratelimit || fail "events --json: no ban of $FAST: $events"
echo "PASS"
