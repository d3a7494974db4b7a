#!/usr/bin/env bash
# dist/relayguard.bash-completion against the binary, through COMPREPLY as
# bash fills it on <Tab>:
# - every command path that --help lists offers its subcommands and, after
#   "-", its options and the global ones; an option's choices ({native,skb})
#   are offered after it, a positional's ({enforce,monitor}) in its place;
# - as root, in a namespace with a veth pair (names rgpk*) and a private
#   bpffs: attach and stats --iface offer the namespace's interfaces, detach
#   the attached one only, feed show|sync|del the feeds that feed add defined,
#   with the --pin-dir and --state-dir given on the line.
#   bash_completion.sh RELAYGUARD_BIN
set -euo pipefail
bin=$(realpath "$1")
self=$(realpath "$0")
cd "$(dirname "$0")/../.."
# shellcheck source=tests/package/cli_commands.sh
. tests/package/cli_commands.sh
# shellcheck source=tests/lib/require.sh
. tests/lib/require.sh
# shellcheck source=dist/relayguard.bash-completion
. dist/relayguard.bash-completion

fail=0
problem() {
    echo "FAIL: $*"
    fail=1
}

# complete "LINE": what <Tab> offers for "relayguard LINE", the cursor at
# its end (after a space: on a new, empty word); one a line, sorted.
complete() {
    local words
    read -ra words <<<"$1"
    [[ $1 == *" " || -z $1 ]] && words+=("")
    COMP_WORDS=("$bin" "${words[@]}")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _relayguard
    ((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}" | sort
}
# expect_has "LINE" WANTED...: <Tab> after LINE offers each WANTED.
expect_has() {
    local line=$1 got w
    shift
    got=$(complete "$line")
    for w in "$@"; do
        grep -qxF -- "$w" <<<"$got" || problem "relayguard $line<Tab>: \"$w\" not offered (got: ${got//$'\n'/ })"
    done
}
# expect_exactly "LINE" [WANTED...]: it offers these and nothing else.
expect_exactly() {
    local line=$1 got want=""
    shift
    got=$(complete "$line" | tr '\n' ' ')
    (($# == 0)) || want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || problem "relayguard $line<Tab>: offered \"$got\", expected \"$want\""
}

# The choices that --help shows as TEXT:{a,b,c}: "NAME a b c" lines, NAME
# an option (--mode) or a positional (mode).
cli_choices() {
    local bin=$1
    shift
    "$bin" "$@" --help | awk '/^(Options|Positionals):/ { f = 1; next } /^[^ ]/ { f = 0 }
        f && /^  [^ ]/ && match($0, /:\{[^}]*\}/) {
            n = split($1, names, ","); c = substr($0, RSTART + 2, RLENGTH - 3); gsub(",", " ", c)
            print names[n], c }'
}

S=rgpkC$$
DIR=
cleanup() {
    [ -n "$DIR" ] || return 0
    ip netns exec "$S" "$bin" --pin-dir "$DIR/bpf/pins" --state-dir "$DIR/state" detach "${S}a" \
        >/dev/null 2>&1 || true
    ip netns del "$S" 2>/dev/null || true
    umount "$DIR/bpf" 2>/dev/null || true
    rm -rf "$DIR"
}

if [ "${2:-}" != inside ]; then
    checked=0
    while read -r path; do
        # shellcheck disable=SC2046,SC2086 # the path is words
        expect_has "${path:+$path }" $(cli_subcommands "$bin" $path)
        # shellcheck disable=SC2046,SC2086
        expect_has "${path:+$path }-" $(cli_options "$bin" $path) --pin-dir --state-dir --verbose --help
        # shellcheck disable=SC2086
        while read -r name choices; do
            [ -n "$name" ] || continue
            if [[ $name == -* ]]; then
                # shellcheck disable=SC2086 # the choices are words
                expect_exactly "${path:+$path }$name " $choices
            else
                for c in $choices; do expect_has "${path:+$path }${c:0:1}" "$c"; done
            fi
        done < <(cli_choices "$bin" $path)
        checked=$((checked + 1))
    done < <(echo; cli_paths "$bin")  # "": the top level
    # Global options anywhere, and their values are not taken for commands.
    expect_has "-" --pin-dir --state-dir --version --verbose
    expect_has "status --pi" --pin-dir
    expect_has "--pin-dir /tmp " attach feed run
    expect_has "-v feed " add sync
    expect_exactly "block add 192.0.2.0/24 "
    expect_exactly "rate set --rate "
    ((fail == 0)) || exit 1
    echo "PASS: $checked command paths: subcommands, options and choices offered"

    require root is_root
    DIR=$(mktemp -d /tmp/rgpk-completion.XXXXXX)
    trap cleanup EXIT
    ip netns add "$S"
    ip -n "$S" link add "${S}a" type veth peer name "${S}b"
    for i in lo "${S}a" "${S}b"; do ip -n "$S" link set "$i" up; done
    mkdir -p "$DIR/bpf"
    mount -t bpf bpf "$DIR/bpf"
    # The rest runs in the namespace (its /sys/class/net), this script again.
    ip netns exec "$S" "$self" "$bin" inside "$DIR" "$S"
    exit
fi

# Inside the namespace: interfaces lo, ${S}a and ${S}b.
DIR=$3 S=$4
dirs="--pin-dir $DIR/bpf/pins --state-dir $DIR/state"  # on the completed line
rg() { "$bin" --pin-dir "$DIR/bpf/pins" --state-dir "$DIR/state" "$@" >/dev/null; }
expect_exactly "attach " "${S}a" "${S}b" lo
expect_exactly "attach ${S}" "${S}a" "${S}b"
expect_exactly "stats --iface " "${S}a" "${S}b" lo
# Nothing attached: detach offers every interface.
expect_exactly "$dirs detach " "${S}a" "${S}b" lo
rg attach "${S}a"
expect_exactly "$dirs detach " "${S}a"
expect_exactly "detach $dirs " "${S}a"
printf '192.0.2.0/24\n' >"$DIR/one.txt"
printf '198.51.100.0/24\n' >"$DIR/two.txt"
rg feed add rgpk-one "$DIR/one.txt"
rg feed add rgpk-two "$DIR/two.txt"
expect_exactly "$dirs feed show " rgpk-one rgpk-two
expect_exactly "$dirs feed del rgpk-t" rgpk-two
expect_exactly "$dirs feed sync rgpk-one " rgpk-one rgpk-two
# Another pin directory has no feeds: nothing offered.
expect_exactly "--pin-dir $DIR/bpf/other feed show "
((fail == 0)) || exit 1
echo "PASS: interfaces, the attached interface and feed names offered"
