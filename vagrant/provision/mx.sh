#!/usr/bin/env bash
# Provisions the lab's mail host (as root, in the VM; run again after a
# `vagrant rsync`, it rebuilds and restarts): relayguard built from the
# synced repository, installed as the Debian package and run by its unit
# (dist/relayguard.service) on the lab interface,
# and the namespace lab's private Postfix (tools/lab/postfix-lab.sh, closed)
# listening on the lab address only.
#   mx.sh MX_ADDR CLIENT_ADDR
set -euo pipefail
mx=$1 client=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
postfix_dir=/var/lib/relayguard-lab/postfix

# shellcheck source=vagrant/provision/common.sh
. "$src/vagrant/provision/common.sh"

iface=$(lab_interface "$mx")
install_relayguard "$src"

# The lab's config: the lab interface only; dist/relayguard.conf documents
# every key. Generic XDP (skb) works on whatever NIC the provider emulates;
# native XDP needs driver support (VirtualBox's e1000 has none), and this
# lab measures nothing.
install -d -m 0755 /etc/relayguard
cat > /etc/relayguard/relayguard.conf <<CONF
# Written by vagrant/provision/mx.sh for the lab: $iface is the interface
# with $mx (the client is $client). Every key: $src/dist/relayguard.conf
[filter]
interfaces = $iface
xdp_mode = skb
ports = 25

# The lab Postfix's log into kernel bans (README "Postfix's log into kernel bans").
[watch]
log = $postfix_dir/maillog
CONF
chmod 600 /etc/relayguard/relayguard.conf  # relayguard refuses a config others may read
# The package's unit (/lib/systemd/system); a copy that provisioning from
# before the package put in /etc would override it.
[ -L /etc/systemd/system/relayguard.service ] || rm -f /etc/systemd/system/relayguard.service

# The lab's Postfix as a unit, so that it comes back after a reboot. It
# starts after relayguard, so that the filter is in place before the MTA
# accepts mail (dist/relayguard.service suggests the same ordering).
cat > /etc/systemd/system/relayguard-lab-postfix.service <<UNIT
[Unit]
Description=relayguard lab: private Postfix on $mx (tools/lab/postfix-lab.sh)
Wants=network-online.target
After=network-online.target relayguard.service

[Service]
Type=forking
PIDFile=$postfix_dir/spool/pid/master.pid
ExecStart=$src/tools/lab/postfix-lab.sh start $postfix_dir $mx closed
ExecStop=$src/tools/lab/postfix-lab.sh stop $postfix_dir

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable relayguard.service relayguard-lab-postfix.service
# restart, not start: a second provisioning brings in the new binary,
# config and scripts.
systemctl restart relayguard.service
systemctl restart relayguard-lab-postfix.service
systemctl --no-pager --lines=0 status relayguard.service relayguard-lab-postfix.service
echo "mx: relayguard on $iface ($mx), Postfix on $mx:25, log $postfix_dir/maillog"
