#!/usr/bin/env bash
# Provisions the lab's client, the attacker's seat (as root, in the VM):
# relayguard built from the synced repository, for `relayguard probe` (as
# tests/kernel/probe_postfix.sh runs it from the client's namespace), nmap
# and Postfix unconfigured (smtp-source) from tools/setup-deps.sh, and swaks.
# No filter is attached here.
#   client.sh MX_ADDR CLIENT_ADDR
set -euo pipefail
mx=$1 client=$2
src=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=vagrant/provision/common.sh
. "$src/vagrant/provision/common.sh"

iface=$(lab_interface "$client")
install_relayguard "$src"
# swaks: only the lab client uses it, so it is not in setup-deps.sh.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends swaks >/dev/null
echo "client: $client on $iface; the mail host is $mx"
