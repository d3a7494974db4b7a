# shellcheck shell=bash
# Sourced by the shell tests: a server and a client namespace joined by one
# veth pair (S0 in S, C0 in C), with no route out.

# netns_pair_up S C SERVER_ADDR [CLIENT_ADDR...]: the namespaces, SERVER_ADDR/24
# on S0, each CLIENT_ADDR/24 on C0, every link up.
netns_pair_up() {
    local s=$1 c=$2 server=$3 addr ns
    shift 3
    ip netns add "$s"
    ip netns add "$c"
    ip link add "${s}0" netns "$s" type veth peer name "${c}0" netns "$c"
    ip -n "$s" addr add "$server/24" dev "${s}0"
    for addr in "$@"; do ip -n "$c" addr add "$addr/24" dev "${c}0"; done
    for ns in "$s" "$c"; do
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "${ns}0" up
    done
}

# netns_pair_down S C: both namespaces gone (their veth with them). Never
# fails: it runs in cleanup traps.
netns_pair_down() {
    ip netns del "$1" 2>/dev/null || true
    ip netns del "$2" 2>/dev/null || true
}
