#!/usr/bin/env bash
# `relayguard probe` against the lab's real Postfix, configured closed and
# then open, each verdict compared with nmap's smtp-open-relay script on the
# same server. Usage: probe_postfix.sh RELAYGUARD_BINARY
set -euo pipefail
RG=$1
LAB=$(cd "$(dirname "$0")/../../tools/lab" && pwd)/postfix-lab.sh
# shellcheck source=tests/lib/require.sh
. "$(dirname "$0")/../lib/require.sh"
require root is_root
require "postfix and nmap (tools/setup-deps.sh)" have postfix nmap

S=rgprS$$ C=rgprC$$
DIR=$(mktemp -d /tmp/rgprobe.XXXXXX)
cleanup() {
    "$LAB" stop "$DIR" || true
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$C" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    tail -20 "$DIR/maillog" 2>/dev/null || true
    exit 1
}

# Server and client namespaces on one veth pair, no route out.
ip netns add "$S"
ip netns add "$C"
ip link add "${S}0" netns "$S" type veth peer name "${C}0" netns "$C"
ip -n "$S" addr add 192.0.2.1/24 dev "${S}0"
ip -n "$C" addr add 192.0.2.10/24 dev "${C}0"
for ns in "$S" "$C"; do
    ip -n "$ns" link set lo up
done
ip -n "$S" link set "${S}0" up
ip -n "$C" link set "${C}0" up

# probe's exit status and verdict, and nmap's, for one Postfix mode.
check() {
    local mode=$1 want_rc=$2 want_verdict=$3 want_nmap=$4 out rc
    ip netns exec "$S" "$LAB" start "$DIR" 192.0.2.1 "$mode"
    rc=0
    out=$(ip netns exec "$C" "$RG" probe --json --timeout 5s 192.0.2.1) || rc=$?
    [ "$rc" = "$want_rc" ] || fail "$mode: probe exited $rc, expected $want_rc: $out"
    verdict=$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["verdict"], len(r["tests"]))' <<<"$out")
    [ "$verdict" = "$want_verdict 39" ] || fail "$mode: probe said '$verdict', expected '$want_verdict 39'"
    out=$(ip netns exec "$C" nmap -Pn -n -p 25 --script smtp-open-relay 192.0.2.1)
    grep -q "smtp-open-relay: $want_nmap" <<<"$out" || fail "$mode: nmap did not say '$want_nmap': $out"
    "$LAB" stop "$DIR"
    echo "ok: Postfix $mode: probe $want_verdict (exit $rc), nmap: $want_nmap"
}

check closed 0 closed "Server doesn't seem to be an open relay"
grep -q "Relay access denied" "$DIR/maillog" || fail "Postfix's log shows no relay refused"
check open 1 open "Server is an open relay"
# RCPT only, never DATA: nothing entered the queue.
queued=$(find "$DIR/spool/incoming" "$DIR/spool/active" "$DIR/spool/deferred" "$DIR/spool/maildrop" -type f | wc -l)
[ "$queued" = 0 ] || fail "$queued messages were queued"
echo "PASS"
