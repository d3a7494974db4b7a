#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root): install, build, run.
#   tools/quickstart.sh            demo on a built-in network-namespace lab with the lab's
#                                  Postfix (setup-deps installs it unconfigured, and swaks)
#   tools/quickstart.sh IFACE      attach to IFACE (port 25), show status and stats
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "quickstart: run as root" >&2; exit 1; }
tools/setup-deps.sh
tools/build.sh
rg=build/userspace/relayguard
if [ $# -eq 0 ]; then
  exec "$rg" demo
fi
"$rg" attach "$1"
"$rg" status
"$rg" stats --json
echo "relayguard is enforcing on $1; add rules with: $rg block add CIDR; remove with: $rg detach $1"
