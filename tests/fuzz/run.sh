#!/bin/sh
# Runs one libFuzzer target for SECONDS (or until -runs=N inputs, if given)
# with a fixed seed, from its seed corpus (read only): WORK/corpus is emptied
# first, so no run starts from what an earlier one found. New inputs go to
# WORK/corpus and a crashing input to WORK/artifacts. Exits non-zero on a
# crash, a sanitizer report, a failed property, a leak, a timeout (10 s for
# one input) or running out of memory (2 GB).
# Usage: run.sh TARGET SEEDS WORK SECONDS [libFuzzer options...]
set -eu
target=$1 seeds=$2 work=$3 seconds=$4
shift 4
rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/artifacts"
exec "$target" -seed=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$seeds"
