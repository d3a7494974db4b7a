#!/usr/bin/env bash
# A private Postfix instance for the lab: its own config_directory, queue and
# log under DIR, listening only on ADDR, never touching a Postfix the host
# has. Debian 12's Postfix (3.7).
#   postfix-lab.sh start DIR ADDR closed|open   (run inside the server netns)
#   postfix-lab.sh stop DIR
# closed: relays for nobody but the loopback (reject_unauth_destination);
# open:   relays for anyone (mynetworks = everything: an open relay).
set -euo pipefail

cmd=$1 dir=$2

# Postfix refuses a relay policy without reject_unauth_destination, so
# "open" is the classic misconfiguration: every client counts as mynetworks.
relay_networks() {
    case $1 in
        closed) echo "127.0.0.0/8" ;;
        open) echo "0.0.0.0/0, [::]/0" ;;
        *) echo "postfix-lab.sh: relay mode must be closed or open, not '$1'" >&2; exit 2 ;;
    esac
}

case $cmd in
start)
    addr=$3 mode=$4
    mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
    chmod 755 "$dir" "$dir/etc"
    chown postfix "$dir/data"
    cat > "$dir/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = mx.lab.example
mydomain = lab.example
mydestination = lab.example, mx.lab.example
inet_interfaces = $addr
inet_protocols = all
mynetworks = $(relay_networks "$mode")
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
biff = no
CF
    # The services this lab uses, none chrooted.
    cat > "$dir/etc/master.cf" <<'CF'
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
    # Postfix reports to syslog (none here) unless stderr is a terminal.
    postfix -c "$dir/etc" check || {
        echo "postfix-lab.sh: postfix check failed; to see why: script -qc 'postfix -c $dir/etc check' /dev/null" >&2
        exit 1
    }
    postfix -c "$dir/etc" start
    ;;
stop)
    # By the master's pid, not `postfix stop`: that needs the listen address,
    # which is gone once the namespace is. The master takes its children.
    pidfile=$dir/spool/pid/master.pid pid=
    [ -f "$pidfile" ] && pid=$(tr -d ' ' < "$pidfile")
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
        timeout 5 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    ;;
*)
    echo "usage: postfix-lab.sh start DIR ADDR closed|open | stop DIR" >&2
    exit 2
    ;;
esac
