# What both lab VMs do; sourced by mx.sh and client.sh.
# shellcheck shell=bash

# Installs what relayguard needs (tools/setup-deps.sh: also Postfix,
# unconfigured, and nmap), builds it (tools/build.sh, into SRC/build) and
# installs the binary by CMake's install rule: /usr/local/sbin/relayguard,
# where dist/relayguard.service runs it. The XDP object is compiled into
# the binary (bpftool's skeleton embeds it), so no .bpf.o is installed.
install_relayguard() {
    local src=$1
    "$src/tools/setup-deps.sh"
    "$src/tools/build.sh"
    cmake --install "$src/build" --prefix /usr/local
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
