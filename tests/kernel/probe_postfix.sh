#!/usr/bin/env bash
# `relayguard probe` against the lab's real Postfix, configured closed and
# then open, each verdict compared with nmap's smtp-open-relay script on the
# same server; then `probe --starttls` against its submission port 587 (and
# port 25, which offers STARTTLS too), in TLS, closed: relaying there needs
# SASL. Usage: probe_postfix.sh RELAYGUARD_BINARY
set -euo pipefail
RG=$1
LAB=$(cd "$(dirname "$0")/../../tools/lab" && pwd)/postfix-lab.sh
# shellcheck source=tests/lib/require.sh
. "$(dirname "$0")/../lib/require.sh"
# shellcheck source=tests/lib/netns_pair.sh
. "$(dirname "$0")/../lib/netns_pair.sh"
require root is_root
require "postfix and nmap (tools/setup-deps.sh)" have postfix nmap

S=rgpt-s$$ C=rgpt-c$$
DIR=$(mktemp -d /tmp/rgprobe.XXXXXX)
cleanup() {
    "$LAB" stop "$DIR" || true
    netns_pair_down "$S" "$C"
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    tail -20 "$DIR/maillog" 2>/dev/null || true
    exit 1
}

# Server and client namespaces on one veth pair, no route out.
netns_pair_up "$S" "$C" 192.0.2.1 192.0.2.10

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

# --starttls: every test inside TLS. The lab's submission feature offers
# STARTTLS (self-signed) on 25 and 587; 587 relays for SASL clients only, so
# unauthenticated the probe must find it closed. A lab password, never used.
export LAB_SASL_PASSWORD=${LAB_SASL_PASSWORD:-lab-$$-$RANDOM}
export LAB_MAIN_CF="smtpd_tls_loglevel = 1"  # Postfix logs each TLS session
ip netns exec "$S" "$LAB" start "$DIR" 192.0.2.1 closed submission
field() { python3 -c "import json,sys; r=json.load(sys.stdin); print($1)" <<<"$out"; }
for port in 587 25; do
    rc=0
    out=$(ip netns exec "$C" "$RG" probe --json --timeout 5s --starttls "192.0.2.1:$port") || rc=$?
    [ "$rc" = 0 ] || fail "--starttls :$port: probe exited $rc, expected 0: $out"
    got=$(field 'r["verdict"], r["tls"]["established"], r["tls"]["certificate_verified"], r["tls"]["version"]')
    [[ "$got" == "closed True False TLSv1."* ]] || fail "--starttls :$port: '$got', expected 'closed True False TLSv1.*'"
    # Postfix saw the same TLS version (the last session's line).
    version=$(field 'r["tls"]["version"]')
    grep -E "TLS connection established from .*\[192\.0\.2\.10\]: $version " "$DIR/maillog" >/dev/null ||
        fail "--starttls :$port: Postfix's log shows no $version session"
    echo "ok: Postfix :$port with --starttls: $(field 'r["verdict"], len(r["tests"]), "tests", r["tls"]["version"], r["tls"]["cipher"]') -- $(field 'r["reason"]')"
done
grep -q "submission/smtpd.*TLS connection established" "$DIR/maillog" || fail "587 saw no TLS session"
# Recipients refused inside TLS on 587: the session was never authenticated.
grep -Eq "submission/smtpd.*NOQUEUE: reject: RCPT from .*: (554|530)" "$DIR/maillog" ||
    fail "587 refused no recipient"
# --tls-verify: the lab's self-signed certificate does not verify.
rc=0
out=$(ip netns exec "$C" "$RG" probe --json --timeout 5s --tls-verify 192.0.2.1:587) || rc=$?
[ "$rc" = 2 ] || fail "--tls-verify: probe exited $rc, expected 2: $out"
reason=$(field 'r["reason"]')
[[ "$reason" == *"certificate verify failed"* ]] || fail "--tls-verify: reason '$reason'"
echo "ok: Postfix :587 with --tls-verify: untested (exit 2) -- $reason"
"$LAB" stop "$DIR"
echo "PASS"
