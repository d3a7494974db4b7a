#!/usr/bin/env bash
# "Is my host relaying?" with the lab's real Postfix: an open relay relays
# 500 messages that a client submits to 20 destination domains, each an MX
# (smtp-sink) in its own /24 of a sink namespace. The relayguard daemon has
# the egress program in cap mode on the mail host's outbound interface, and
# the outbound_surge alert with 5-second windows. Shows:
#  - the alert fires by the end of the first whole window of the surge,
#    naming the mail host's address as top sender and the MXes' /24s, in
#    the log, the stats output, /metrics and the alert command;
#  - the cap holds outbound SYNs to port 25 at the budget (burst + rate x
#    time), the rest counted as capped, and the sink gets no more messages
#    than SYNs passed;
#  - Postfix keeps the capped mail queued: once the cap is lifted
#    (`relayguard egress set --budget off`) every one of the 500 messages
#    reaches the sink, each exactly once (counted there, by Message-ID);
#  - the alert resolves once the surge is over.
# Usage: egress_postfix.sh RELAYGUARD_BINARY
set -euo pipefail
RG=$1
LAB=$(cd "$(dirname "$0")/../../tools/lab" && pwd)/postfix-lab.sh
# shellcheck source=tests/lib/require.sh
. "$(dirname "$0")/../lib/require.sh"
require root is_root
require "postfix, smtp-source and smtp-sink (tools/setup-deps.sh)" have postfix smtp-source smtp-sink

# The system's Python: a pyenv shim first on PATH costs seconds a call.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
C=rgelC$$ M=rgelM$$ K=rgelK$$
DIR=$(mktemp -d /tmp/rgel-egress.XXXXXX)
chmod 755 "$DIR"  # Postfix and smtp-sink (their own users) reach their directories below
PINS=$DIR/bpf/pins STATE=$DIR/state DAEMON='' SINK=''
MESSAGES=500 DOMAINS=20 WINDOW=5
RATE_PER_MIN=30 BURST=5  # the cap's budget
cleanup() {
    # Never fail here: under set -e a failing command would end the trap
    # before the rest of the cleanup (Postfix, namespaces, bpffs) ran.
    if [ -n "$DAEMON" ]; then kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null || true; fi
    if [ -n "$SINK" ]; then kill "$SINK" 2>/dev/null; wait "$SINK" 2>/dev/null || true; fi
    ip netns exec "$M" "$RG" --pin-dir "$PINS" --state-dir "$STATE" detach "${M}1" >/dev/null 2>&1 || true
    "$LAB" stop "$DIR/postfix" || true
    for ns in "$C" "$M" "$K"; do ip netns del "$ns" 2>/dev/null || true; done
    umount "$DIR/bpf" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    echo "--- daemon log"; tail -40 "$DIR/daemon.err" 2>/dev/null || true
    echo "--- maillog"; grep -v "connect from" "$DIR/postfix/maillog" 2>/dev/null | tail -20 || true
    exit 1
}
rg() { ip netns exec "$M" "$RG" --pin-dir "$PINS" --state-dir "$STATE" "$@"; }
boottime() { "$PY" -c 'import time; print(time.clock_gettime(time.CLOCK_BOOTTIME))'; }
# await SECONDS COMMAND...: runs COMMAND until it succeeds, at most SECONDS.
await() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}
delivered() { find "$DIR/sink" -type f | wc -l; }

# Client -> mail host (192.0.2.0/24) -> sink (198.51.100.0/24); the sink
# holds one MX address per destination domain, dN.example at 198.18.N.1.
for ns in "$C" "$M" "$K"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add "${C}0" netns "$C" type veth peer name "${M}0" netns "$M"
ip link add "${M}1" netns "$M" type veth peer name "${K}0" netns "$K"
ip -n "$C" addr add 192.0.2.10/24 dev "${C}0"
ip -n "$M" addr add 192.0.2.1/24 dev "${M}0"
ip -n "$M" addr add 198.51.100.1/24 dev "${M}1"
ip -n "$K" addr add 198.51.100.2/24 dev "${K}0"
TRANSPORT=
for i in $(seq 0 $((DOMAINS - 1))); do
    ip -n "$K" addr add "198.18.$i.1/32" dev "${K}0"
    TRANSPORT+="{d$i.example = smtp:[198.18.$i.1]}, "
done
ip -n "$C" link set "${C}0" up
ip -n "$M" link set "${M}0" up
ip -n "$M" link set "${M}1" up
ip -n "$K" link set "${K}0" up
ip -n "$M" route add 198.18.0.0/15 via 198.51.100.2
mkdir -p "$DIR/bpf" "$DIR/sink" && mount -t bpf bpf "$DIR/bpf"
chown nobody "$DIR/sink"

# The sink MX: each message into a file of its own.
ip netns exec "$K" smtp-sink -u nobody -d "$DIR/sink/m." 0.0.0.0:25 256 >"$DIR/sink.log" 2>&1 &
SINK=$!

# relayguard on the mail host's outbound interface: egress capped, alert
# windows of 5 s with low floors (this lab's mail host sends nothing else).
write_config() {  # write_config EGRESS_MODE
    cat > "$DIR/relayguard.conf" <<EOF
[filter]
interfaces = ${M}1
xdp_mode = skb
egress = $1
[daemon]
pin_dir = $PINS
state_dir = $STATE
stats_interval = 0s
stats_output = $DIR/stats.jsonl
[metrics]
listen = 127.0.0.1:9468
[alerts]
command = /bin/sh -c 'cat >>"\$0"' $DIR/hook.jsonl
[egress]
budget = $RATE_PER_MIN/m
burst = $BURST
surge_window = ${WINDOW}s
surge_floor_connections = 20
surge_floor_destinations = 5
surge_multiple = 3
baseline_half_life = 1m
EOF
    chmod 600 "$DIR/relayguard.conf"  # the daemon refuses a config others may read
}
write_config cap
ip netns exec "$M" env LIBXDP_BPFFS="$DIR/bpf" "$RG" run --config "$DIR/relayguard.conf" \
    2>"$DIR/daemon.err" &
DAEMON=$!
await 20 grep -q "running on 1 interface" "$DIR/daemon.err" || fail "the daemon did not start"
ATTACHED=$(boottime)

# The open relay: every message a connection of its own (no connection
# cache: as spam to many domains goes out), 2 s connect timeout and 2 s
# backoff so capped mail is retried soon.
ip netns exec "$M" env LAB_MAIN_CF="transport_maps = inline:{ ${TRANSPORT%, } }
smtp_bind_address = 198.51.100.1
smtp_connection_cache_on_demand = no
smtp_connect_timeout = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 2s" "$LAB" start "$DIR/postfix" 192.0.2.1 open

# The client submits 500 messages, 25 to each domain.
START=$(boottime)
pids=()
for i in $(seq 0 $((DOMAINS - 1))); do
    ip netns exec "$C" smtp-source -s 2 -m $((MESSAGES / DOMAINS)) -f sender@client.example -t "rcpt@d$i.example" \
        192.0.2.1:25 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "smtp-source failed"; done
# cleanup logs each message once as it enters the queue (qmgr again at
# every retry), a moment after smtp-source has its answer.
queued() { grep -c "postfix/cleanup.*: message-id=" "$DIR/postfix/maillog" || true; }
all_queued() { [ "$(queued)" -eq $MESSAGES ]; }
await 10 all_queued || fail "Postfix queued $(queued) of $MESSAGES messages"

# The alert: by the end of the first whole window after the surge began
# (the one it began in may be the daemon's first, which is not judged).
# (The event's keys are in alphabetical order: name and state are not adjacent.)
alert_line() { grep '"name":"outbound_surge"' "$DIR/hook.jsonl" 2>/dev/null | grep -m1 "\"state\":\"$1\""; }
await 30 alert_line firing >/dev/null || fail "no outbound_surge alert reached the command"
FIRED=$(boottime)
"$PY" - "$START" "$FIRED" "$WINDOW" <<'PY' || fail "the alert came too late"
import math, sys
start, fired, w = map(float, sys.argv[1:])
latest = (math.floor(start / w) + 2) * w + 2  # end of the first whole window, a tick and a second of slack
print(f"outbound_surge fired {fired - start:.1f} s after the first message was submitted (windows of {w:.0f} s)")
sys.exit(fired > latest)
PY
alert_line firing | "$PY" -c '
import json, sys
a = json.load(sys.stdin)
v = a["values"]
assert a["values"]["top_senders"][0]["address"] == "198.51.100.1", a
assert all(d["prefix"].startswith("198.18.") and d["prefix"].endswith(".0/24") for d in v["top_destinations"]), a
assert len(v["top_destinations"]) == 5, a
assert v["connections"] > a["threshold"]["connections"] or v["destinations"] > a["threshold"]["destinations"], a
' || fail "the alert does not name the sender and destinations: $(alert_line firing)"
grep -q "warning: alert outbound_surge firing: .*top senders: 198.51.100.1" "$DIR/daemon.err" ||
    fail "no firing line in the daemon's log"
grep '"event":"alert"' "$DIR/stats.jsonl" | grep -q '"name":"outbound_surge"' || fail "no alert line in the stats output"
metric() { ip netns exec "$M" "$PY" -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9468/metrics").read().decode())' | grep "^$1"; }
metric 'relayguard_alert_active{alert="outbound_surge"}' | grep -q ' 1$' || fail "/metrics: outbound_surge not active"

# The cap: what passed is within the budget since the attach; the rest was
# dropped and counted. Postfix keeps the rest queued.
rg egress show --json > "$DIR/egress.json"
NOW=$(boottime)
"$PY" - "$DIR/egress.json" "$ATTACHED" "$NOW" "$RATE_PER_MIN" "$BURST" "$(delivered)" <<'PY' || fail "cap"
import json, sys
e = json.load(open(sys.argv[1]))
attached, now, rate, burst, delivered = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
t = e
passed = t["syns"] - t["capped"]
budget = burst + (now - attached) * rate / 60
print(f"cap: {t['syns']} outbound SYNs in {now - attached:.1f} s, {passed} passed (budget {budget:.1f}), "
      f"{t['capped']} capped; {delivered} messages at the sink")
assert t["capped"] > 0, t
assert passed <= budget + 1, (passed, budget)
# Not delivered <= passed: Postfix's smtp client reuses a connection for
# more mail to the same destination (connection caching on demand), so one
# SYN that passed can carry several messages.
PY
[ "$(delivered)" -lt $MESSAGES ] || fail "all messages went through the cap"
echo "--- relayguard egress show (cap on)"
rg egress show
echo "--- relayguard egress show --json (cap on)"
cat "$DIR/egress.json"

# The operator lifts the cap (no budget: nothing is over it); Postfix
# retries its queue (postqueue -f does it at once): every message arrives.
rg egress set --budget off >/dev/null || fail "egress set --budget off"
ip netns exec "$M" postqueue -c "$DIR/postfix/etc" -f
all_delivered() { [ "$(delivered)" -ge $MESSAGES ]; }  # (a function: await runs it anew each time)
await 90 all_delivered || fail "$(delivered) of $MESSAGES messages reached the sink"
await 10 sh -c "! ip netns exec $M postqueue -c $DIR/postfix/etc -p | grep -q '^[0-9A-F]'" || fail "mail left in the queue"
ids=$(cat "$DIR"/sink/* | grep -i '^Message-Id:' | sort -u | wc -l)
{ [ "$(delivered)" -eq $MESSAGES ] && [ "$ids" -eq $MESSAGES ]; } ||
    fail "the sink got $(delivered) messages, $ids distinct Message-IDs; expected $MESSAGES each"
DONE=$(boottime)

# Quiet again: the alert resolves.
await 30 alert_line resolved >/dev/null || fail "outbound_surge did not resolve"
metric 'relayguard_alert_active{alert="outbound_surge"}' | grep -q ' 0$' || fail "/metrics: outbound_surge still active"
"$PY" -c 'import sys; print(f"all {sys.argv[1]} messages at the sink {float(sys.argv[3]) - float(sys.argv[2]):.1f} s after the submission began")' \
    $MESSAGES "$START" "$DONE"
echo "--- the daemon's alert lines"
grep "alert outbound_surge" "$DIR/daemon.err"
echo "--- relayguard egress show (after delivery)"
rg egress show
echo "PASS"
