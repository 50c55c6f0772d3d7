#!/usr/bin/env bash
# The seed's LeNet-5 run with the defaults: `tbml run-example lenet --dataPath DIR --maxEpoch 2` on
# all of Debian's Fashion-MNIST must reach at least 85% top-1 (measured: 87.40% with 2 threads).
# Labelled slow: about a minute of CPU.
set -euo pipefail
source "$(dirname "$0")/lib/check.bash"
cd "$WORK"
FM=/usr/share/datasets/fashion-mnist
if [[ ! -r $FM/train-images-idx3-ubyte.gz ]]; then
  echo "SKIP: dataset-fashion-mnist is not installed"
  exit 0
fi
run "$TBML" run-example --master 'local[2]' lenet --dataPath "$FM" --maxEpoch 2
expect_ok "run-example lenet, 2 epochs"
cat "$OUT_FILE"
check "two epoch lines" test "$(grep -c '^\[Epoch [12] 60032/60000\]\[Iteration \(469\|938\)\]' "$OUT_FILE")" -eq 2
acc=$(tail -1 "$OUT_FILE" | sed -E 's/.*accuracy: ([0-9.]+)\)$/\1/')
check "accuracy $acc >= 0.85 after 2 epochs" awk -v a="$acc" 'BEGIN { exit !(a >= 0.85) }'
finish
