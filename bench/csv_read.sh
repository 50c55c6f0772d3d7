#!/usr/bin/env bash
# CSV scanning: tbml_read_csv (header + inferSchema) on a generated 10M-row CSV (id, name, age,
# salary, dept; fixed seed), plain and sealed, against pandas.read_csv on the same file, in the
# same run. Prints MB/s and the ratio; asserts nothing.
#   bench/csv_read.sh [ROWS (10000000)] [THREADS (all cores)]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}
threads=${2:-0}
build=${TBML_BUILD:-build}
work=${TBML_BENCH_DIR:-out/bench}
mkdir -p "$work"
chmod 700 "$work"
csv=$work/people-$rows.csv
[[ -s $work/pw ]] || (umask 077; head -c 24 /dev/urandom | base64 >"$work/pw")
"$build/bench/bench_csv_read" "$csv" "$rows" "$threads" | tee "$work/csv_tbml.txt"
[[ -s $csv.sealed ]] || "$build/bench/bench_seal_file" "$work/bench.key" "$work/pw" "$csv" "$csv.sealed"
"$build/bench/bench_csv_read" "$csv.sealed" "$rows" "$threads" "$work/bench.key" "$work/pw"
py=/usr/bin/python3
if $py -c 'import pandas' 2>/dev/null; then
  $py - "$csv" <<'PY' | tee "$work/csv_pandas.txt"
import os, sys, time
import pandas as pd
path = sys.argv[1]
best = 1e9
for _ in range(3):
    t = time.perf_counter(); df = pd.read_csv(path); best = min(best, time.perf_counter() - t)
mb = os.path.getsize(path) / 1e6
print(f"pandas.read_csv: best {best:.3f} s = {mb / best:.0f} MB/s")
PY
  t=$(sed -n 's/.*inferSchema.*best \([0-9.]*\) s.*/\1/p' "$work/csv_tbml.txt")
  p=$(sed -n 's/.*best \([0-9.]*\) s.*/\1/p' "$work/csv_pandas.txt")
  printf 'pandas/tbml (inferSchema): %.1fx\n' "$(echo "$p / $t" | bc -l)"
else
  echo "pandas not installed: no peer ratio"
fi
