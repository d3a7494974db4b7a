#!/usr/bin/env bash
# A private Postfix instance for the lab: its own config_directory, queue and
# log under DIR, listening only on ADDRS, never touching a Postfix the host
# has. Debian 12's Postfix (3.7).
#   postfix-lab.sh start DIR ADDRS closed|open [FEATURE...]   (inside the server netns)
#   postfix-lab.sh stop DIR
# ADDRS: one address or a comma-separated list (e.g. 192.0.2.1,2001:db8:1::1).
# closed: relays for nobody but the loopback (reject_unauth_destination);
# open:   relays for anyone (mynetworks = everything: an open relay).
# FEATUREs, each optional:
#   submission  port 587 with SASL (Cyrus, a sasldb under DIR, PLAIN and
#               LOGIN): relays for authenticated clients only, logs as
#               $LAB_SYSLOG_NAME/submission. User $LAB_SASL_USER (default
#               alice@lab.example), password $LAB_SASL_PASSWORD (required).
#               STARTTLS is offered (self-signed certificate) but NOT
#               required before AUTH: plaintext passwords are accepted, which
#               is fine in a lab and never anywhere else.
#   postscreen  postscreen in front of smtpd on port 25 (POSTSCREEN_README's
#               layout), greeting and deep-protocol tests enforced. DNSBLs
#               only if $LAB_DNSBL_SITES is set (postscreen_dnsbl_sites
#               syntax): the caller must then give the server namespace a
#               resolver that answers them (this lab has no DNS).
#   checks      the restrictions of an ordinary MX: HELO required and a
#               valid FQDN, client 192.0.2.66 and 2001:db8:1::66 refused
#               (cidr map), senders in spammer.example refused (access map),
#               unknown local recipients refused; alice@lab.example and
#               postmaster@ are delivered to the file DIR/mail/alice.
# Other knobs: LAB_SYSLOG_NAME (default postfix) names the instance in the
# log, e.g. postfix-out for a second instance; LAB_MAIN_CF holds more
# main.cf settings, "name = value" one a line, applied last (postconf -e).
set -euo pipefail

usage() {
    echo "usage: postfix-lab.sh start DIR ADDRS closed|open [submission] [postscreen] [checks] | stop DIR" >&2
    exit 2
}
[ $# -ge 2 ] || usage
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

# A self-signed certificate for STARTTLS, made once per DIR.
make_tls() {
    [ -f "$dir/etc/tls/cert.pem" ] && return
    mkdir -p "$dir/etc/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj /CN=mx.lab.example -keyout "$dir/etc/tls/key.pem" -out "$dir/etc/tls/cert.pem" 2>/dev/null
    chmod 600 "$dir/etc/tls/key.pem"
}

# Cyrus SASL's config for smtpd and the lab user in a private sasldb, which
# smtpd reads as the postfix user. Debian's smtpd reads smtpd.conf from
# $config_directory/sasl whatever cyrus_sasl_config_path says: it goes there.
make_sasl() {
    local user=${LAB_SASL_USER:-alice@lab.example}
    [ -n "${LAB_SASL_PASSWORD:-}" ] || { echo "postfix-lab.sh: submission needs LAB_SASL_PASSWORD" >&2; exit 2; }
    mkdir -p "$dir/etc/sasl"
    cat > "$dir/etc/sasl/smtpd.conf" <<CF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $dir/sasldb2
mech_list: PLAIN LOGIN
CF
    # user@realm: smtpd hands Cyrus the login as the client typed it.
    printf '%s' "$LAB_SASL_PASSWORD" | saslpasswd2 -f "$dir/sasldb2" -p -c -u "${user#*@}" "${user%@*}"
    chown postfix "$dir/sasldb2"
    chmod 600 "$dir/sasldb2"
}

case $cmd in
start)
    [ $# -ge 4 ] || usage
    addrs=$3 mode=$4
    shift 4
    submission=0 postscreen=0 checks=0
    for f in "$@"; do
        case $f in
            submission) submission=1 ;;
            postscreen) postscreen=1 ;;
            checks) checks=1 ;;
            *) echo "postfix-lab.sh: unknown feature '$f'" >&2; usage ;;
        esac
    done
    name=${LAB_SYSLOG_NAME:-postfix}
    mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
    chmod 755 "$dir" "$dir/etc"
    chown postfix "$dir/data"
    cat > "$dir/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
syslog_name = $name
myhostname = mx.lab.example
mydomain = lab.example
mydestination = lab.example, mx.lab.example
inet_interfaces = ${addrs//,/, }
inet_protocols = all
mynetworks = $(relay_networks "$mode")
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_database =
smtputf8_enable = no
biff = no
CF
    if ((submission || postscreen)); then
        make_tls
        cat >> "$dir/etc/main.cf" <<CF
# STARTTLS offered on 25 and 587, never required.
smtpd_tls_chain_files = $dir/etc/tls/key.pem, $dir/etc/tls/cert.pem
smtpd_tls_security_level = may
CF
    fi
    if ((submission)); then
        make_sasl
        cat >> "$dir/etc/main.cf" <<CF
# SASL for submission (master.cf enables it on 587 only).
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $dir/etc/sasl
smtpd_sasl_auth_enable = no
# The lab only: AUTH before STARTTLS, passwords in the clear.
smtpd_tls_auth_only = no
CF
    fi
    if ((postscreen)); then
        cat >> "$dir/etc/main.cf" <<CF
postscreen_access_list = permit_mynetworks
postscreen_greet_action = enforce
postscreen_pipelining_enable = yes
postscreen_pipelining_action = enforce
postscreen_bare_newline_enable = yes
postscreen_bare_newline_action = enforce
postscreen_non_smtp_command_enable = yes
postscreen_non_smtp_command_action = drop
CF
        if [ -n "${LAB_DNSBL_SITES:-}" ]; then
            cat >> "$dir/etc/main.cf" <<CF
postscreen_dnsbl_sites = $LAB_DNSBL_SITES
postscreen_dnsbl_action = enforce
CF
        fi
    fi
    if ((checks)); then
        mkdir -p "$dir/mail"
        chown nobody "$dir/mail"
        cat > "$dir/etc/client_access.cidr" <<'CF'
192.0.2.66/32        REJECT
2001:db8:1::66/128   REJECT
CF
        cat > "$dir/etc/sender_access" <<'CF'
spammer.example      REJECT
CF
        cat >> "$dir/etc/main.cf" <<CF
smtpd_helo_required = yes
smtpd_client_restrictions = check_client_access cidr:$dir/etc/client_access.cidr
smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname
smtpd_sender_restrictions = reject_non_fqdn_sender, check_sender_access texthash:$dir/etc/sender_access
smtpd_recipient_restrictions = reject_unlisted_recipient
alias_maps = inline:{ {alice = $dir/mail/alice}, {postmaster = alice} }
local_recipient_maps = \$alias_maps
CF
    else
        # No local users: anything for lab.example is accepted.
        printf 'alias_maps =\nlocal_recipient_maps =\n' >> "$dir/etc/main.cf"
    fi
    if [ -n "${LAB_MAIN_CF:-}" ]; then
        while IFS= read -r setting; do
            [ -z "$setting" ] || postconf -c "$dir/etc" -e "$setting"
        done <<< "$LAB_MAIN_CF"
    fi
    # The services this lab uses, none chrooted.
    {
        if ((postscreen)); then
            cat <<'CF'
smtp      inet  n       -       n       -       1       postscreen
smtpd     pass  -       -       n       -       -       smtpd
dnsblog   unix  -       -       n       -       0       dnsblog
tlsproxy  unix  -       -       n       -       0       tlsproxy
CF
        else
            echo "smtp      inet  n       -       n       -       -       smtpd"
        fi
        if ((submission)); then
            # Only authenticated clients relay here; port 25's checks do not apply.
            cat <<CF
submission inet n       -       n       -       -       smtpd
  -o syslog_name=$name/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_recipient_restrictions=
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
CF
        fi
        cat <<'CF'
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
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
CF
    } > "$dir/etc/master.cf"
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
    usage
    ;;
esac
