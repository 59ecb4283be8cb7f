#!/usr/bin/env bash
# Runs one fuzz target for a time and prints its row of the README's table.
#
#   fuzz/run.sh <target> [seconds=600]
#
# Runs `cargo fuzz run` (sanitizer build, needs RUSTC_BOOTSTRAP=1 on stable, set here) on
# the committed seeds (fuzz/corpus/<target>, read only) and a grown corpus in
# fuzz/corpus-run/<target> (git-ignored), with libFuzzer's final statistics. The full log
# is kept in fuzz/corpus-run/<target>.log. Exits non-zero on a crash (the input is written
# to fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh <target> [seconds]}
seconds=${2:-600}
mkdir -p "fuzz/corpus-run/$target"
log="fuzz/corpus-run/$target.log"
status=0
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "fuzz/corpus-run/$target" "fuzz/corpus/$target" -- \
  -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
corpus=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -n 1 | sed 's/corp: //')
crashes=$(grep -c 'Test unit written' "$log" || true)
load=$(cut -d' ' -f1-3 /proc/loadavg)
printf '| %s | %s | %s | %s | %s | %s | %s |\n' \
  "$target" "$((seconds / 60))" "${execs:-?}" "${per_sec:-?}" "${corpus:-?}" "$crashes" "$load"
exit "$status"
