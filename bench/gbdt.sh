#!/usr/bin/env bash
# GBDT training against XGBoost's `hist` in the same run: a seeded HIGGS-like 1,000,000 x 28
# regression set (+100,000 test rows), 100 rounds, depth 6, 2 threads, the same parameters on
# both sides (eta 0.3, max_bin 256, lambda 1, min_child_weight 1, base_score 0.5). The peers run
# alternately REPS times (default 2) and each one's best time counts, which evens out a shared
# machine. Prints times, the ratio (target: tbml no slower), test RMSE (target: within 2% of
# XGBoost's), peak RSS and CPU time.
#   bench/gbdt.sh [ROWS] [ROUNDS] [DEPTH] [THREADS] [REPS]   (needs scripts/setup.sh --bench)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000} rounds=${2:-100} depth=${3:-6} threads=${4:-2} reps=${5:-2}
build=${TBML_BUILD:-build}
if [[ ! -x $build/bench/bench_gbdt || ! -x $build/bench/bench_gen_higgs_like ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j 2 --target bench_gbdt bench_gen_higgs_like >/dev/null
fi
work=${TMPDIR:-/tmp}/tbml-bench-gbdt
mkdir -p "$work"
data=$work/higgs_like_${rows}.f32
ntest=$((rows / 10))
[[ -s $data ]] || "$build/bench/bench_gen_higgs_like" "$data" $((rows + ntest))
echo "gbdt: $rows x 28 train, $ntest test, $rounds rounds, depth $depth, $threads threads, best of $reps; load average $(cut -d' ' -f1-3 /proc/loadavg)"
get() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
cpu() { awk -v s="$(sed -n 's/.*cpu_s=\([0-9.+]*\).*/\1/p' <<<"$1")" 'BEGIN { split(s, a, "+"); print a[1] + a[2] }'; }
best_t="" best_x=""
for ((i = 0; i < reps; i++)); do
  t=$(/usr/bin/time -f 'rss_kb=%M cpu_s=%U+%S' "$build/bench/bench_gbdt" "$data" "$rows" "$rounds" "$depth" "$threads" 2>&1)
  x=$(/usr/bin/time -f 'rss_kb=%M cpu_s=%U+%S' /usr/bin/python3 bench/gbdt_xgboost.py "$data" "$rows" "$rounds" "$depth" "$threads" 2>&1)
  echo "  $(tr '\n' ' ' <<<"$t")"
  echo "  $(tr '\n' ' ' <<<"$x")"
  if [[ -z $best_t ]] || awk -v a="$(get "$t" train_s)" -v b="$(get "$best_t" train_s)" 'BEGIN { exit !(a < b) }'; then best_t=$t; fi
  if [[ -z $best_x ]] || awk -v a="$(get "$x" train_s)" -v b="$(get "$best_x" train_s)" 'BEGIN { exit !(a < b) }'; then best_x=$x; fi
done
awk -v tt="$(get "$best_t" train_s)" -v xt="$(get "$best_x" train_s)" -v tr="$(get "$best_t" rmse)" -v xr="$(get "$best_x" rmse)" \
    -v tm="$(get "$best_t" rss_kb)" -v xm="$(get "$best_x" rss_kb)" -v tc="$(cpu "$best_t")" -v xc="$(cpu "$best_x")" 'BEGIN {
  printf "train time: tbml %.2f s, xgboost %.2f s, xgboost/tbml = %.2fx (target >= 1)\n", tt, xt, xt / tt
  printf "test rmse:  tbml %.5f, xgboost %.5f, difference %+.2f%% (target within 2%%)\n", tr, xr, 100 * (tr - xr) / xr
  printf "peak rss:   tbml %.0f MB, xgboost %.0f MB (whole process, data included)\n", tm / 1024, xm / 1024
  printf "cpu time:   tbml %.1f s, xgboost %.1f s (whole process; OpenMP spin-waits count for xgboost unless OMP_WAIT_POLICY=passive)\n", tc, xc
}'
