#!/usr/bin/env bash
# `relayguard watch` with the lab's real Postfix: an attacker that tries to
# relay is rejected by Postfix, banned by watch from Postfix's log, and its
# next SYN dies in XDP (Postfix logs no further connect from it); so is one
# that guesses passwords on the submission port (587, SASL); a clean client
# sending at the same time, on both ports, is never banned.
# Usage: watch_postfix.sh RELAYGUARD_BINARY
set -euo pipefail
RG=$1
LAB=$(cd "$(dirname "$0")/../../tools/lab" && pwd)/postfix-lab.sh
# shellcheck source=tests/lib/require.sh
. "$(dirname "$0")/../lib/require.sh"
# shellcheck source=tests/lib/netns_pair.sh
. "$(dirname "$0")/../lib/netns_pair.sh"
require root is_root
require "postfix, swaks and saslpasswd2 (tools/setup-deps.sh)" have postfix swaks saslpasswd2

S=rgwpS$$ C=rgwpC$$
DIR=$(mktemp -d /tmp/rgwatch.XXXXXX)
chmod 755 "$DIR"  # Postfix (its own user) reaches its directory below
PINS=$DIR/bpf/pins STATE=$DIR/state WATCH_PID=
cleanup() {
    # Never fail here: under set -e a failing command would end the trap
    # before the rest of the cleanup (Postfix, namespaces, bpffs) ran.
    if [ -n "$WATCH_PID" ]; then kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null || true; fi
    ip netns exec "$S" "$RG" --pin-dir "$PINS" detach "${S}0" >/dev/null 2>&1 || true
    "$LAB" stop "$DIR/postfix" || true
    netns_pair_down "$S" "$C"
    umount "$DIR/bpf" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    echo "--- watch output"; cat "$DIR/watch.out" "$DIR/watch.err" 2>/dev/null || true
    echo "--- maillog"; tail -30 "$DIR/postfix/maillog" 2>/dev/null || true
    exit 1
}
rg() { ip netns exec "$S" "$RG" --pin-dir "$PINS" --state-dir "$STATE" "$@"; }

# Server and client namespaces on one veth pair, no route out; the client
# namespace holds the attacker's address and the clean client's.
ATTACKER=192.0.2.10 CLEAN=192.0.2.20 GUESSER=192.0.2.30 SERVER=192.0.2.1
PASSWORD=lab-$$-secret
netns_pair_up "$S" "$C" $SERVER $ATTACKER $CLEAN $GUESSER
mkdir -p "$DIR/bpf" && mount -t bpf bpf "$DIR/bpf"

ip netns exec "$S" env LAB_SASL_PASSWORD="$PASSWORD" "$LAB" start "$DIR/postfix" $SERVER closed submission
rg attach "${S}0" --ports 25,587 >/dev/null
# Not through rg(): $! must be relayguard itself (ip netns exec execs it),
# not a subshell whose kill would leave it running.
ip netns exec "$S" "$RG" --pin-dir "$PINS" --state-dir "$STATE" watch --log "$DIR/postfix/maillog" --from-start \
    --json >"$DIR/watch.out" 2>"$DIR/watch.err" &
WATCH_PID=$!

send() {  # FROM-ADDRESS RCPT [SWAKS OPTIONS]: swaks's transcript, never failing the script
    local from=$1 to=$2
    shift 2
    ip netns exec "$C" swaks --server $SERVER --local-interface "$from" --from sender@example.org --to "$to" \
        --helo client.example.org --timeout 5 "$@" 2>&1 || true
}
submit() {  # FROM-ADDRESS PASSWORD [SWAKS OPTIONS]: a login on 587 and a mail to the outside
    local from=$1 password=$2
    shift 2
    send "$from" bob@example.net --port 587 --auth LOGIN --auth-user alice@lab.example --auth-password "$password" "$@"
}
connects_from() { grep -c "connect from unknown\[$1\]" "$DIR/postfix/maillog" || true; }

# The clean client delivers while the attacker tries to relay three times
# (relay-denied bans at 3 within 10 minutes).
for i in 1 2 3; do
    send $CLEAN postmaster@lab.example | grep -q "250 2.0.0 Ok: queued" || fail "clean mail $i not accepted"
    send $ATTACKER "victim$i@example.net" | grep -q "554 5.7.1.*Relay access denied" ||
        fail "relay attempt $i not refused by Postfix"
done
# The ban is an event on watch's output: wait for it (not a fixed time).
grep -q -m1 '"event":"ban"' < <(timeout 10 tail -n +1 -f "$DIR/watch.out") || fail "watch reported no ban"
grep -q "\"prefix\":\"$ATTACKER/32\".*\"rule\":\"relay-denied\"" "$DIR/watch.out" || fail "not the attacker's ban"

# Five wrong passwords on 587 (sasl-failed bans at 5) while the clean client
# logs in with the right one and relays through submission.
for i in 1 2 3 4 5; do
    submit $GUESSER "wrong$i" | grep -q "535 5.7.8" || fail "wrong password $i not refused"
    submit $CLEAN "$PASSWORD" | grep -q "250 2.0.0 Ok: queued" || fail "authenticated mail $i not accepted"
done
grep -q -m1 "\"prefix\":\"$GUESSER/32\"" < <(timeout 10 tail -n +1 -f "$DIR/watch.out") ||
    fail "watch did not ban the password guesser"
grep -q "\"prefix\":\"$GUESSER/32\".*\"rule\":\"sasl-failed\"" "$DIR/watch.out" || fail "not a sasl-failed ban"
grep -q "$CLEAN" "$DIR/watch.out" && fail "the clean client was judged"

rg bans list --json >"$DIR/bans.json"
python3 - "$DIR/bans.json" "$ATTACKER" "$CLEAN" <<'PY' || fail "bans list: $(cat "$DIR/bans.json")"
import json, sys
bans = {b["source"]: b for b in json.load(open(sys.argv[1]))["bans"]}
b = bans[sys.argv[2] + "/32"]
assert b["reason"] == "watch" and b["watch"]["rule"] == "relay-denied", b
assert len(b["watch"]["lines"]) == 3 and all("Relay access denied" in l for l in b["watch"]["lines"]), b
assert sys.argv[3] + "/32" not in bans
PY

# The banned sources' next connections die in XDP: no SMTP greeting, and
# Postfix never sees them; the clean client still delivers on both ports.
for banned in $ATTACKER $GUESSER; do
    before=$(connects_from "$banned")
    send "$banned" victim4@example.net --timeout 2 | grep -q "220 " && fail "banned $banned reached Postfix on 25"
    submit "$banned" wrong6 --timeout 2 | grep -q "220 " && fail "banned $banned reached Postfix on 587"
    after=$(connects_from "$banned")
    [ "$before" = "$after" ] || fail "Postfix logged $((after - before)) connects from banned $banned"
done
send $CLEAN postmaster@lab.example | grep -q "250 2.0.0 Ok: queued" || fail "clean mail after the bans not accepted"
submit $CLEAN "$PASSWORD" | grep -q "250 2.0.0 Ok: queued" || fail "submission after the bans not accepted"
dropped=$(rg stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reasons"]["dropped_banned"]["packets"])')
[ "$dropped" -gt 0 ] || fail "no packet counted as dropped_banned"
rg stats --json | python3 -c '
import json, sys
w = json.load(sys.stdin)["watch"]
r = w["rules"]
assert w["active"] and r["relay-denied"]["bans"] == 1 and r["sasl-failed"]["bans"] == 1, w
assert r["relay-denied"]["matches"] == 3 and r["sasl-failed"]["matches"] == 5, w' || fail "stats --json watch counters"
echo "ok: relay attacker banned after 3 refusals, password guesser after 5 on 587, their SYNs dropped" \
    "($dropped), clean client delivered 5 mails on 25 and 6 on 587"
echo "PASS"
