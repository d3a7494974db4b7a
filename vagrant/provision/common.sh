# What both lab VMs do; sourced by mx.sh and client.sh.
# shellcheck shell=bash

# Installs what relayguard needs (tools/setup-deps.sh: also Postfix,
# unconfigured, and nmap), builds it (tools/build.sh, into SRC/build) and
# installs it as an operator does (README "Install"): the Debian package,
# built by cpack. --reinstall: a second provisioning brings in the new build
# under the same version. The config is kept as it is (mx.sh writes it).
install_relayguard() {
    local src=$1
    "$src/tools/setup-deps.sh"
    "$src/tools/build.sh"
    rm -rf "$src/build/deb"
    cpack --config "$src/build/CPackConfig.cmake" -B "$src/build/deb" >/dev/null
    # Left by provisioning from before the package; it would come first on PATH.
    rm -f /usr/local/sbin/relayguard
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$src"/build/deb/relayguard_*.deb >/dev/null
}

# The interface that has ADDR: the lab NIC, whatever the provider named it.
# Vagrant's management NIC never has a lab address.
lab_interface() {
    local addr=$1 ifaces
    ifaces=$(ip -o -4 addr show to "$addr/32" | awk '{print $2}')
    if [ -z "$ifaces" ] || [ "$(wc -l <<<"$ifaces")" != 1 ]; then
        echo "provision: expected one interface with $addr, found: ${ifaces:-none}" >&2
        ip -br addr >&2
        return 1
    fi
    echo "$ifaces"
}
