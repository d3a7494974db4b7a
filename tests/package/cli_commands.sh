# shellcheck shell=bash
# Sourced by the man page and completion tests: what the relayguard binary
# says it accepts, read from its --help (CLI11's layout: a "Subcommands:"
# and an "Options:" section, entries indented by two spaces).

# cli_subcommands BIN [PATH...]: the subcommands of `BIN PATH... --help`.
cli_subcommands() {
    local bin=$1
    shift
    "$bin" "$@" --help | awk '/^Subcommands:/ { f = 1; next } /^[^ ]/ { f = 0 } f && /^  [a-z]/ { print $1 }'
}

# cli_options BIN [PATH...]: the options of `BIN PATH... --help`, one name
# a line (-c and --config for "-c,--config"), without -h and --help.
cli_options() {
    local bin=$1
    shift
    "$bin" "$@" --help | awk '/^Options:/ { f = 1; next } /^[^ ]/ { f = 0 }
        f && /^  -/ { n = split($1, a, ","); for (i = 1; i <= n; i++) if (a[i] != "-h" && a[i] != "--help") print a[i] }'
}

# cli_paths BIN: every command path, one a line ("attach", "block",
# "block add", ...), parents before their children.
cli_paths() {
    local bin=$1 queue=("") path sub
    while ((${#queue[@]})); do
        path=${queue[0]}
        queue=("${queue[@]:1}")
        # shellcheck disable=SC2086 # the path is words
        while read -r sub; do
            echo "${path:+$path }$sub"
            queue+=("${path:+$path }$sub")
        done < <(cli_subcommands "$bin" $path)
    done
}
