#!/usr/bin/env bash
# GBDT training against XGBoost's `hist` in the same run: a seeded HIGGS-like 1,000,000 x 28
# regression set (+100,000 test rows), 100 rounds, depth 6, 2 threads, the same parameters on
# both sides. Prints both times, the ratio (target: tbml no slower) and test RMSE (target:
# within 2% of XGBoost's).
#   bench/gbdt.sh [ROWS] [ROUNDS] [DEPTH] [THREADS]     (needs scripts/setup.sh --bench)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000} rounds=${2:-100} depth=${3:-6} threads=${4:-2}
build=${TBML_BUILD:-build}
if [[ ! -x $build/bench/bench_gbdt ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j 2 --target bench_gbdt bench_gen_higgs_like >/dev/null
fi
work=${TMPDIR:-/tmp}/tbml-bench-gbdt
mkdir -p "$work"
data=$work/higgs_like_${rows}.f32
ntest=$((rows / 10))
[[ -s $data ]] || "$build/bench/bench_gen_higgs_like" "$data" $((rows + ntest))
echo "gbdt: $rows x 28 train, $ntest test, $rounds rounds, depth $depth, $threads threads"
t=$("$build/bench/bench_gbdt" "$data" "$rows" "$rounds" "$depth" "$threads")
x=$(/usr/bin/python3 bench/gbdt_xgboost.py "$data" "$rows" "$rounds" "$depth" "$threads")
echo "$t"
echo "$x"
get() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
awk -v tt="$(get "$t" train_s)" -v xt="$(get "$x" train_s)" -v tr="$(get "$t" rmse)" -v xr="$(get "$x" rmse)" 'BEGIN {
  printf "train time: tbml %.2f s, xgboost %.2f s, xgboost/tbml = %.2fx (target >= 1)\n", tt, xt, xt / tt
  printf "test rmse:  tbml %.5f, xgboost %.5f, difference %+.2f%% (target within 2%%)\n", tr, xr, 100 * (tr - xr) / xr
}'
