#!/usr/bin/env bash
# Runs shellcheck on every shell script of the repository. The scripts are
# found when the test runs, so a new one is covered without being listed
# here: every *.sh, and every other file whose first line is an sh/bash/dash/ksh
# shebang (.ci/run, say). Candidates are git's files, tracked and untracked
# but not ignored (so no build tree); outside a git checkout, every file but
# those under .git, .vagrant and build*/.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/lib/require.sh
. tests/lib/require.sh
require "shellcheck (tools/setup-deps.sh)" have shellcheck

candidates() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard
    else
        find . -type d \( -name .git -o -name .vagrant -o -name 'build*' \) -prune -o -type f -print0
    fi
}

scripts=()
while IFS= read -r -d '' f; do
    [ -f "$f" ] || continue             # tracked, but deleted in the work tree
    case $f in
    *.sh) scripts+=("$f") ;;
    *) head -n1 "$f" 2>/dev/null | grep -qE '^#!.*[/[:space:]](ba|da|k)?sh([[:space:]]|$)' && scripts+=("$f") ;;
    esac
done < <(candidates)

if ((${#scripts[@]} == 0)); then
    echo "FAIL: no shell script found"
    exit 1
fi
printf 'shellcheck: %s\n' "${scripts[@]}"
# -x: follow `source`/`.` of the files the scripts name (source= paths are
# relative to the repository's top, where this runs).
shellcheck -x "${scripts[@]}"
echo "PASS: ${#scripts[@]} scripts, no findings"
