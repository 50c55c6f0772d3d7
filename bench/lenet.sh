#!/usr/bin/env bash
# LeNet-5 training against PyTorch in the same run: 60,000 Fashion-MNIST training images, batch
# 128, 2 threads, the same network, data order (splitmix64 shuffle per epoch), normalisation,
# initialisation ranges and SGD on both sides (bench/lenet_torch.py repeats tbml's order).
# Prints training images/s for both and the ratio (target: tbml >= 2x), test accuracy after the
# same epochs (target: no worse), and peak RSS (target: tbml <= 256 MB).
#   bench/lenet.sh [EPOCHS] [THREADS] [DATA_DIR]     (needs scripts/setup.sh --bench)
# On a shared machine wall-clock throughput mostly measures the neighbours; both peers run back
# to back here, and the CPU seconds each used are printed beside the wall-clock figures.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-2} threads=${2:-2} data=${3:-/usr/share/datasets/fashion-mnist}
build=${TBML_BUILD:-build}
if [[ ! -x $build/tbml-example-lenet ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j 2 --target tbml-example-lenet >/dev/null
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/tbml-bench-lenet-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "lenet: $data, $epochs epochs, batch 128, $threads threads (OPENBLAS_NUM_THREADS=1 for both)"
export OPENBLAS_NUM_THREADS=1

/usr/bin/time -v -o "$work/tbml.time" "$build/tbml-example-lenet" --dataPath "$data" \
  --maxEpoch "$epochs" --batchSize 128 --master "local[$threads]" --no-progress >"$work/tbml.out"
cat "$work/tbml.out"
/usr/bin/time -v -o "$work/torch.time" /usr/bin/python3 bench/lenet_torch.py --dataPath "$data" \
  --maxEpoch "$epochs" --batchSize 128 --threads "$threads" >"$work/torch.out"
cat "$work/torch.out"

last=$(tail -1 "$work/tbml.out")
iters=$(sed -E 's/.*\[Iteration ([0-9]+)\].*/\1/' <<<"$last")
wall=$(sed -E 's/.*\[Wall Clock ([0-9.]+)s\].*/\1/' <<<"$last")
tacc=$(sed -E 's/.*accuracy: ([0-9.E-]+)\).*/\1/' <<<"$last")
pres=$(grep '^RESULT' "$work/torch.out")
pips=$(sed -E 's/.*images_per_s=([0-9.]+).*/\1/' <<<"$pres")
pacc=$(sed -E 's/.*accuracy=([0-9.]+).*/\1/' <<<"$pres")
rss() { awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$1"; }
cpu() { awk -F: '/User time|System time/ {s += $2} END {printf "%.1f", s}' "$1"; }
awk -v it="$iters" -v w="$wall" -v pi="$pips" -v ta="$tacc" -v pa="$pacc" \
  -v tr="$(rss "$work/tbml.time")" -v pr="$(rss "$work/torch.time")" \
  -v tc="$(cpu "$work/tbml.time")" -v pc="$(cpu "$work/torch.time")" 'BEGIN {
  ti = it * 128 / w
  printf "throughput: tbml %.0f images/s, pytorch %.0f images/s, tbml/pytorch = %.2fx (target >= 2)\n", ti, pi, ti / pi
  printf "accuracy:   tbml %s, pytorch %s after the same epochs (target: tbml no worse)\n", ta, pa
  printf "peak RSS:   tbml %.1f MB, pytorch %.1f MB (target: tbml <= 256 MB)\n", tr / 1024, pr / 1024
  printf "CPU time:   tbml %s s, pytorch %s s (whole runs: loading, training, validation)\n", tc, pc
}'

# Training steps alone, 1 thread, per CPU-second: the comparison that a busy machine disturbs
# least (a thread that waits for a core uses no CPU time).
if [[ ! -x $build/bench/bench_nn_step ]]; then
  cmake --build --preset release -j 2 --target bench_nn_step >/dev/null
fi
s=$("$build/bench/bench_nn_step" 1 300 128)
p=$(/usr/bin/python3 bench/lenet_torch.py --dataPath "$data" --threads 1 --stepBench 100)
echo "steps only, 1 thread: tbml: $s"
echo "steps only, 1 thread: pytorch: $p"
awk -v t="$(sed -E 's/.* ([0-9]+) images per CPU-second.*/\1/' <<<"$s")" \
  -v p="$(sed -E 's/.*images_per_cpu_s=([0-9.]+).*/\1/' <<<"$p")" 'BEGIN {
  printf "per CPU-second, 1 thread: tbml %.0f images, pytorch %.0f images, tbml/pytorch = %.2fx\n", t, p, t / p
}'
