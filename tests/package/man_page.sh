#!/usr/bin/env bash
# relayguard(8) against the binary: every command path that `relayguard
# --help` and its commands' --help list has a subsection (.SS) in
# dist/relayguard.8 whose heading starts with it, every option of a command
# appears in its subsection, every global option in OPTIONS; and groff and
# man render the page without a warning. No privileges needed.
#   man_page.sh RELAYGUARD_BIN
set -euo pipefail
bin=$1
cd "$(dirname "$0")/../.."
page=dist/relayguard.8
# shellcheck source=tests/package/cli_commands.sh
. tests/package/cli_commands.sh
# shellcheck source=tests/lib/require.sh
. tests/lib/require.sh
require "groff and man (tools/setup-deps.sh)" have groff man

fail=0
problem() {
    echo "FAIL: $*"
    fail=1
}

# Warnings: groff with all of them on, then man as an operator runs it.
warnings=$(groff -ww -man -z "$page" 2>&1) || problem "groff exited with $?"
[ -z "$warnings" ] || problem "groff -ww -man -z $page warns: $warnings"
warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || problem "man -l exited with $?"
[ -z "$warnings" ] || problem "man --warnings -l $page warns: $warnings"

# The page as text, one paragraph a line: subsection headings are the lines
# indented by exactly three spaces, section headings start in column 0.
text=$(groff -man -Tascii -rLL=2000n -P-cbou "$page")

# The text of the subsection(s) whose heading starts with PATH: a run of
# headings shares the paragraphs after it ("block add" and "allow add").
subsection() {
    awk -v path="$1" '
        /^   [^ ]/ { if (!inhead) { keep = 0; inhead = 1 } if (index(substr($0, 4), path " ") == 1 || substr($0, 4) == path) keep = 1 }
        /^[^ ]/ { inhead = 0; keep = 0 }
        !/^   [^ ]/ && !/^[^ ]/ { inhead = 0 }
        keep' <<<"$text"
}
section() {
    awk -v name="$1" '/^[^ ]/ { keep = ($0 == name) } keep' <<<"$text"
}
mentions() {  # TEXT OPTION: OPTION as a word of its own
    grep -qE -- "(^|[^-[:alnum:]])$2([^-[:alnum:]]|\$)" <<<"$1"
}

paths=$(cli_paths "$bin")
[ -n "$paths" ] || problem "$bin --help lists no subcommand"
checked=0
while read -r path; do
    # shellcheck disable=SC2086 # the path is words
    [ -z "$(cli_subcommands "$bin" $path)" ] || continue  # a group: its leaves are checked
    body=$(subsection "$path")
    if [ -z "$body" ]; then
        problem "relayguard $path: no subsection in $page (a .SS line starting with \"$path\")"
        continue
    fi
    # shellcheck disable=SC2086
    while read -r opt; do
        [ -z "$opt" ] || mentions "$body" "$opt" || problem "relayguard $path $opt: not in its subsection of $page"
    done < <(cli_options "$bin" $path)
    checked=$((checked + 1))
done <<<"$paths"

options=$(section OPTIONS)
while read -r opt; do
    mentions "$options" "$opt" || problem "relayguard $opt: not in OPTIONS of $page"
done < <(cli_options "$bin")
for opt in --help -h; do
    mentions "$options" "$opt" || problem "relayguard $opt: not in OPTIONS of $page"
done

((fail == 0)) || exit 1
echo "PASS: $checked commands and their options in $page; groff and man render it without warnings"
