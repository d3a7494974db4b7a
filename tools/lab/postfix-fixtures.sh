#!/usr/bin/env bash
# Regenerates tests/data/postfix/: makes the lab's real Postfix write the log
# lines relayguard's Postfix rules must (and must not) match, over IPv4 and
# IPv6, and annotates each line with the rule it should yield.
#   tools/lab/postfix-fixtures.sh [OUTDIR]      (root; default tests/data/postfix)
# A maintenance tool, not a CI test. It makes its own rgpl- namespaces (a
# server and a client on one veth pair, documentation addresses, no route
# out), runs two private Postfix instances in the server namespace
# (tools/lab/postfix-lab.sh: "postfix" on .1/::1, "postfix-out" on .2/::2,
# the next hop for remote.example), a DNSBL answering DNS server there
# (dnsbl-server.py), and drives clients with swaks, smtp-source and
# smtp-talk.py. Everything is removed on exit.
# Output: maillog-sample.log (both instances' maillog, unedited) and
# rules.tsv (RULE TAB ADDRESS TAB LINE per log line; see README.md there).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$HERE/postfix-lab.sh
TALK=$HERE/smtp-talk.py
OUT=${1:-$ROOT/tests/data/postfix}
PASSWORD=lab-secret
# The system's Python: a pyenv shim first on PATH costs seconds a call.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

[ "$(id -u)" = 0 ] || { echo "postfix-fixtures.sh: needs root" >&2; exit 1; }
for tool in postfix swaks smtp-source saslpasswd2 python3 openssl; do
    command -v "$tool" >/dev/null || { echo "postfix-fixtures.sh: needs $tool (tools/setup-deps.sh)" >&2; exit 1; }
done

# Short names: the veth ends are NAME0, at most 15 characters.
S=rgpl-s$$ C=rgpl-c$$
DIR=$(mktemp -d /tmp/rgpl-fx.XXXXXX)
chmod 755 "$DIR"  # postfix-out's queue is under it
OUTDIR=$DIR/out
DNS_PID=
cleanup() {
    "$LAB" stop "$DIR" || true
    "$LAB" stop "$OUTDIR" || true
    [ -z "$DNS_PID" ] || kill "$DNS_PID" 2>/dev/null || true
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$C" 2>/dev/null || true
    rm -rf "/etc/netns/$S" "$DIR"
    rmdir /etc/netns 2>/dev/null || true  # if it was ours alone
}
trap cleanup EXIT

# Addresses. Server: .1/::1 the MX (postfix), .2/::2 postfix-out. Client:
# .10/::10 well-behaved, .66/::66 refused by the MX's client map and listed
# in the DNSBL, .21-.26/::21-::26 one per postscreen test (postscreen caches
# a client's results, so each test needs an address of its own).
SV4=192.0.2.1 SV6=2001:db8:1::1 OUT4=192.0.2.2 OUT6=2001:db8:1::2
ip netns add "$S"
ip netns add "$C"
# The server namespace's resolver is the lab's DNS server (ip netns exec
# bind-mounts /etc/netns/NAME/ files over /etc).
mkdir -p "/etc/netns/$S"
echo "nameserver 127.0.0.1" > "/etc/netns/$S/resolv.conf"
ip link add "${S}0" netns "$S" type veth peer name "${C}0" netns "$C"
for a in "$SV4/24" "$OUT4/24"; do ip -n "$S" addr add "$a" dev "${S}0"; done
for a in "$SV6/64" "$OUT6/64"; do ip -n "$S" addr add "$a" dev "${S}0" nodad; done
ip -n "$C" addr add 192.0.2.10/24 dev "${C}0"
ip -n "$C" addr add 2001:db8:1::10/64 dev "${C}0" nodad
# The others are never a default source address (IPv4: secondaries;
# IPv6: deprecated), only bound to explicitly.
for h in 66 21 22 23 24 25 26; do
    ip -n "$C" addr add "192.0.2.$h/24" dev "${C}0"
    ip -n "$C" addr add "2001:db8:1::$h/64" dev "${C}0" nodad preferred_lft 0
done
for ns in "$S" "$C"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "${ns}0" up
done

ip netns exec "$S" "$PY" "$HERE/dnsbl-server.py" 127.0.0.1 dnsbl.lab.example 192.0.2.66 2001:db8:1::66 &
DNS_PID=$!

# The next hop for remote.example, logging as postfix-out into the same
# maillog (one file, in the order things happened).
LAB_SYSLOG_NAME=postfix-out LAB_MAIN_CF="myhostname = out.lab.example
mydestination = remote.example
local_transport = discard:
maillog_file = $DIR/maillog
maillog_file_prefixes = $DIR" \
    ip netns exec "$S" "$LAB" start "$OUTDIR" "$OUT4,$OUT6" closed

MX_MAIN_CF="transport_maps = inline:{ {remote.example = smtp:[$OUT4]} }
postscreen_greet_wait = 2s"
start_mx() {
    LAB_SASL_PASSWORD=$PASSWORD LAB_DNSBL_SITES=dnsbl.lab.example LAB_MAIN_CF=$MX_MAIN_CF \
        ip netns exec "$S" "$LAB" start "$DIR" "$SV4,$SV6" closed submission checks "$@"
}
stop_mx() {
    "$LAB" stop "$DIR"
}

# In the client namespace.
c() { ip netns exec "$C" "$@"; }
talk() { c "$PY" "$TALK" "$@" >/dev/null 2>&1 || true; }
# swaks from SRC to SERVER, quietly; a refusal is the point, not a failure.
sw() {
    local src=$1 server=$2
    shift 2
    c swaks --silent 2 --timeout 20 --local-interface "$src" --server "$server" "$@" >/dev/null 2>&1 || true
}

# Each case's expected annotation, checked against rules.tsv at the end.
EXPECT=$DIR/expect
expect() { printf '%s\t%s\n' "$1" "$2" >> "$EXPECT"; }

# Port 25 and 587 behind plain smtpd: everything but postscreen.
smtpd_cases() {
    local v=$1 sv cl bad hostport
    if [ "$v" = 4 ]; then
        sv=$SV4 cl=192.0.2.10 bad=192.0.2.66 hostport=$SV4:25
    else
        sv=$SV6 cl=2001:db8:1::10 bad=2001:db8:1::66 hostport=[$SV6]:25
    fi
    local helo=(--helo client.lab.example)

    # Matching nothing: a clean delivery to a local user, and two messages
    # in one session from smtp-source (IPv4 only: it has no source address
    # option; it picks the default, .10 or ::10).
    sw "$cl" "$sv" "${helo[@]}" --from carol@sender.example --to alice@lab.example
    c smtp-source -s 1 -m 2 -M client.lab.example -f carol@sender.example -t alice@lab.example "$hostport"

    # relay-denied: an unauthenticated relay attempt.
    sw "$cl" "$sv" "${helo[@]}" --from carol@sender.example --to bob@remote.example
    expect relay-denied "$cl"

    # noqueue-reject: HELO (invalid, not an FQDN), sender (not an FQDN,
    # access map), recipient (unknown user), client (access map).
    sw "$cl" "$sv" --helo 'bad..helo' --from carol@sender.example --to alice@lab.example
    sw "$cl" "$sv" --helo localhost --from carol@sender.example --to alice@lab.example
    sw "$cl" "$sv" "${helo[@]}" --from carol@localhost --to alice@lab.example
    sw "$cl" "$sv" "${helo[@]}" --from mallory@spammer.example --to alice@lab.example
    sw "$cl" "$sv" "${helo[@]}" --from carol@sender.example --to nobody@lab.example
    sw "$bad" "$sv" "${helo[@]}" --from carol@sender.example --to alice@lab.example
    expect noqueue-reject "$cl"
    expect noqueue-reject "$bad"

    # Submission (postfix/submission/smtpd): SASL failed with LOGIN and
    # PLAIN; then a login that works and relays to remote.example, which
    # postfix-out receives (matching nothing).
    sw "$cl" "$sv" --port 587 "${helo[@]}" --auth LOGIN --auth-user alice@lab.example --auth-password wrong --from alice@lab.example --to bob@remote.example
    sw "$cl" "$sv" --port 587 "${helo[@]}" --auth PLAIN --auth-user alice@lab.example --auth-password wrong --from alice@lab.example --to bob@remote.example
    expect sasl-failed "$cl"
    sw "$cl" "$sv" --port 587 "${helo[@]}" --auth PLAIN --auth-user alice@lab.example --auth-password "$PASSWORD" --from alice@lab.example --to bob@remote.example
    sw "$cl" "$sv" --port 587 "${helo[@]}" --tls --auth LOGIN --auth-user alice@lab.example --auth-password "$PASSWORD" --from alice@lab.example --to bob@remote.example
    # Relaying without AUTH on 587.
    sw "$cl" "$sv" --port 587 "${helo[@]}" --from alice@lab.example --to bob@remote.example

    # lost-connection: hang-ups after each command of a session that never
    # delivered mail...
    talk -b "$cl" "$sv" 25 close
    talk -b "$cl" "$sv" 25 greeting 'cmd:HELO client.lab.example' close
    talk -b "$cl" "$sv" 25 greeting 'cmd:EHLO client.lab.example' close
    talk -b "$cl" "$sv" 25 greeting 'cmd:EHLO client.lab.example' 'cmd:STARTTLS' close
    talk -b "$cl" "$sv" 25 greeting 'cmd:EHLO client.lab.example' 'cmd:MAIL FROM:<carol@sender.example>' 'cmd:RCPT TO:<alice@lab.example>' close
    talk -b "$cl" "$sv" 587 greeting 'cmd:EHLO client.lab.example' 'cmd:AUTH LOGIN' close
    expect lost-connection "$cl"
    # ...and after RCPT in a session that had delivered one message: the
    # rule must not count this one.
    talk -b "$cl" "$sv" 25 greeting 'cmd:EHLO client.lab.example' 'cmd:MAIL FROM:<carol@sender.example>' \
        'cmd:RCPT TO:<alice@lab.example>' 'cmd:DATA' 'cmd:Subject: one\r\n\r\nbody\r\n.' \
        'cmd:MAIL FROM:<carol@sender.example>' 'cmd:RCPT TO:<alice@lab.example>' close

    # too-many-errors: a relay prober that keeps trying (Postfix slows it
    # down after 10 errors and hangs up after 20).
    local rcpts=()
    for i in $(seq 1 21); do rcpts+=("cmd:RCPT TO:<victim$i@remote.example>"); done
    talk -b "$cl" "$sv" 25 greeting 'cmd:EHLO client.lab.example' 'cmd:MAIL FROM:<carol@sender.example>' "${rcpts[@]}" drain
    expect too-many-errors "$cl"

    # improper-pipelining: commands sent together after HELO (no EHLO, so
    # no PIPELINING), and before the greeting.
    talk -b "$cl" "$sv" 25 greeting 'send:HELO client.lab.example\r\nMAIL FROM:<carol@sender.example>\r\nRCPT TO:<alice@lab.example>\r\n' reply 'cmd:QUIT'
    talk -b "$cl" "$sv" 25 'send:EHLO client.lab.example\r\nQUIT\r\n' drain
    expect improper-pipelining "$cl"
}

# Port 25 behind postscreen: one client address per test.
postscreen_cases() {
    local v=$1 sv p
    if [ "$v" = 4 ]; then sv=$SV4 p=192.0.2.; else sv=$SV6 p=2001:db8:1::; fi

    # PREGREET: talks before the greeting is over (postscreen_greet_wait
    # is 2 s here), then hangs up. Test failures are enforced: postscreen
    # goes on talking and refuses at RCPT, so these clients leave a HANGUP
    # too.
    talk -b "${p}21" "$sv" 25 'send:EHLO client.lab.example\r\n' sleep:3 close
    expect postscreen-pregreet "${p}21"
    # HANGUP: waits for the greeting, says EHLO and hangs up.
    talk -b "${p}22" "$sv" 25 greeting 'cmd:EHLO client.lab.example' close
    expect postscreen-hangup "${p}22"
    # COMMAND PIPELINING: several commands at once after EHLO.
    talk -b "${p}23" "$sv" 25 greeting 'send:EHLO client.lab.example\r\nMAIL FROM:<carol@sender.example>\r\nRCPT TO:<alice@lab.example>\r\n' sleep:1 close
    expect postscreen-pipelining "${p}23"
    # BARE NEWLINE: LF without CR.
    talk -b "${p}24" "$sv" 25 greeting 'send:EHLO client.lab.example\n' reply 'send:MAIL FROM:<carol@sender.example>\n' reply 'send:RCPT TO:<alice@lab.example>\n' sleep:1 close
    expect postscreen-bare-newline "${p}24"
    # NON-SMTP COMMAND: an HTTP request to port 25.
    talk -b "${p}25" "$sv" 25 greeting 'send:GET / HTTP/1.0\r\nHost: mx.lab.example\r\n\r\n' drain
    expect postscreen-non-smtp-command "${p}25"
    # HANGUP before the greeting is over: not the postscreen-hangup rule
    # (which is "in tests after SMTP handshake"), so it pins that boundary.
    talk -b "${p}26" "$sv" 25 close
    # DNSBL: a listed client, which goes on to RCPT.
    sw "${p}66" "$sv" --helo client.lab.example --from carol@sender.example --to alice@lab.example
    expect postscreen-dnsbl "${p}66"
    # A clean client: postscreen passes it (PASS NEW), says 450 to come
    # back (the deep tests need that), and the second time hands it to
    # smtpd (PASS OLD), which delivers.
    sw "${p}10" "$sv" --helo client.lab.example --from carol@sender.example --to alice@lab.example
    sw "${p}10" "$sv" --helo client.lab.example --from carol@sender.example --to alice@lab.example
}

start_mx
smtpd_cases 4
smtpd_cases 6
stop_mx
start_mx postscreen
postscreen_cases 4
postscreen_cases 6

# Let both queues drain (delivery to alice and to postfix-out).
for _ in $(seq 1 30); do
    n=$(find "$DIR/spool/active" "$DIR/spool/incoming" "$OUTDIR/spool/active" "$OUTDIR/spool/incoming" -type f | wc -l)
    [ "$n" = 0 ] && break
    sleep 1
done
sleep 2
stop_mx
"$LAB" stop "$OUTDIR"
sleep 1

mkdir -p "$OUT"
cp "$DIR/maillog" "$OUT/maillog-sample.log"
"$PY" "$HERE/postfix-fixtures-annotate.py" "$OUT/maillog-sample.log" "$EXPECT" > "$OUT/rules.tsv"
echo "postfix-fixtures.sh: wrote $OUT/maillog-sample.log and $OUT/rules.tsv ($(grep -vc '^#' "$OUT/rules.tsv") lines)"
