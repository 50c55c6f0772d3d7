#!/usr/bin/env bash
# LeNet-5 from the command line on a slice cut from Debian's Fashion-MNIST: tbml train --model lenet
# and tbml run-example lenet print BigDL's epoch line; sealed inputs train to the same model as
# plain ones; a model sealed at --save needs its key at predict; predict reproduces the job's
# accuracy; plot draws the summary; bad IDX inputs fail with one line naming the file.
set -euo pipefail
source "$(dirname "$0")/lib/check.bash"
cd "$WORK"
FM=/usr/share/datasets/fashion-mnist
if [[ ! -r $FM/train-images-idx3-ubyte.gz ]]; then
  echo "SKIP: dataset-fashion-mnist is not installed"
  exit 0
fi
# A small data folder cut from the real files: 1500 training and 1000 test images, plain IDX.
# cut SRC.gz OUT COUNT COUNT_BYTES HEADER_SIZE BYTES_PER_ITEM
cut_idx() {
  { gzip -dc "$1" || true; } | head -c $(($5 + $3 * $6)) >"$2"
  printf "$4" | dd of="$2" bs=1 seek=4 conv=notrunc status=none
}
mkdir slice
cut_idx "$FM/train-images-idx3-ubyte.gz" slice/train-images-idx3-ubyte 1500 '\x00\x00\x05\xdc' 16 784
cut_idx "$FM/train-labels-idx1-ubyte.gz" slice/train-labels-idx1-ubyte 1500 '\x00\x00\x05\xdc' 8 1
cut_idx "$FM/t10k-images-idx3-ubyte.gz" slice/t10k-images-idx3-ubyte 1000 '\x00\x00\x03\xe8' 16 784
cut_idx "$FM/t10k-labels-idx1-ubyte.gz" slice/t10k-labels-idx1-ubyte 1000 '\x00\x00\x03\xe8' 8 1
gzip -k slice/t10k-images-idx3-ubyte slice/t10k-labels-idx1-ubyte
umask 077
printf 'lenet test password 77c1\n' >pw
quiet "$TBML" keygen primary --name nnkey --out keys --password-file pw
K=(--key keys/nnkey.key --password-file pw)
SLICE=(--batchSize 50 --maxEpoch 2 --master 'local[2]' --seed 7)
epoch_lines() { sed -E 's/\[Wall Clock [0-9.]+s\]//' "$1"; }

# ---- plain IDX data, the summary and the saved model ---------------------------------------
run "$TBML" train --model lenet --dataPath slice "${SLICE[@]}" --summary sum.csv --save plain.tbml
expect_ok "train --model lenet on IDX"
cp "$OUT_FILE" plain.out
check "epoch 1 line in BigDL's format" grep -qE '^\[Epoch 1 1500/1500\]\[Iteration 30\]\[Wall Clock [0-9]+\.[0-9]{6}s\] Top1Accuracy is Accuracy\(correct: [0-9]+, count: 1000, accuracy: 0\.[0-9]+\)$' plain.out
check "epoch 2 line" grep -qE '^\[Epoch 2 1500/1500\]\[Iteration 60\]' plain.out
check "summary has 60 iteration rows and 2 epoch rows" test "$(grep -c '^iteration,' sum.csv),$(grep -c '^epoch,' sum.csv)" = "60,2"
check "model file starts with its magic" test "$(head -c 8 plain.tbml)" = TBMLMODL

# ---- run-example gives the same training ------------------------------------------------
run "$TBML" run-example lenet --dataPath slice "${SLICE[@]}"
expect_ok "run-example lenet"
check "run-example trains the same model as train (same seed, same threads)" cmp -s <(epoch_lines plain.out) <(epoch_lines "$OUT_FILE")

# ---- sealed data ----------------------------------------------------------------------------
mkdir sealed
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  quiet "$TBML" encrypt "${K[@]}" "slice/$f" "sealed/$f.sealed"
done
run "$TBML" train --model lenet --dataPath sealed "${SLICE[@]}" "${K[@]}" --save sealed.tbml
expect_ok "train on sealed IDX with --key"
check "sealed inputs give the same epoch lines as plain ones" cmp -s <(epoch_lines plain.out) <(epoch_lines "$OUT_FILE")
check "the model saved with --key is sealed" test "$(head -c 8 sealed.tbml)" = TBMLSEAL
run "$TBML" train --model lenet --dataPath sealed "${SLICE[@]}"
expect_error "sealed inputs without a key" "sealed/train-images-idx3-ubyte.sealed" "" "sealed file"

# ---- predict ------------------------------------------------------------------------------
run "$TBML" predict --model plain.tbml --images slice/t10k-images-idx3-ubyte.gz --labels slice/t10k-labels-idx1-ubyte.gz -o pred.csv
check "predict exits 0" test "$RC" -eq 0
check "predict writes one row per image" test "$(wc -l <pred.csv)" -eq 1001
check "predict header" test "$(head -1 pred.csv)" = "index,prediction,probability,label"
acc_job=$(tail -1 plain.out | sed -E 's/.*(Top1Accuracy.*)/\1/')
check "predict's accuracy = the job's last line" test \
  "$(tail -n +2 pred.csv | awk -F, '$2==$4{c++} END{print c}')" = "$(echo "$acc_job" | sed -E 's/.*correct: ([0-9]+),.*/\1/')"
run "$TBML" predict --model sealed.tbml --images slice/t10k-images-idx3-ubyte.gz -o p2.csv
expect_error "a sealed model without its key" "sealed.tbml" p2.csv "key"
run "$TBML" predict --model sealed.tbml "${K[@]}" --images slice/t10k-images-idx3-ubyte.gz -o p3.csv
check "a sealed model predicts with its key" test "$RC" -eq 0 -a -s p3.csv

# CSV rows of raw pixel values and a label: the same predictions as the IDX files
od -An -v -tu1 -w784 -j16 slice/t10k-images-idx3-ubyte | sed -E 's/^ +//; s/ +/,/g' >x.csv
od -An -v -tu1 -w1 -j8 slice/t10k-labels-idx1-ubyte | tr -d ' ' >y.txt
paste -d, x.csv y.txt >rows.csv
run "$TBML" predict --model plain.tbml --csv rows.csv -o predcsv.csv
check "predict on CSV exits 0" test "$RC" -eq 0
check "CSV and IDX inputs give the same predictions" cmp -s <(cut -d, -f1,2,4 pred.csv) <(cut -d, -f1,2,4 predcsv.csv)
sed '3s/^[0-9]*,/x7,/' rows.csv >badrows.csv
run "$TBML" predict --model plain.tbml --csv badrows.csv -o bad.csv
expect_error "a CSV value that is not a number" "badrows.csv:3:1" bad.csv "'x7' is not a number"

# ---- plot ---------------------------------------------------------------------------------
run "$TBML" plot sum.csv -o curves.svg
expect_ok "plot"
check "plot writes an SVG with both panels" bash -c 'grep -q "<svg" curves.svg && grep -q "Test top-1 accuracy" curves.svg && grep -q "<polyline" curves.svg'
run "$TBML" plot pred.csv -o bad.svg
expect_error "plot refuses a file that is not a summary" pred.csv bad.svg "not a training summary"

# ---- bad IDX inputs -------------------------------------------------------------------------
bad_dir() { # bad_dir NAME: a copy of the slice to damage
  cp -r slice "$1"
}
bad_dir magic
printf '\x00\x00\x07\x01' | dd of=magic/t10k-labels-idx1-ubyte bs=1 conv=notrunc status=none
run "$TBML" train --model lenet --dataPath magic "${SLICE[@]}" --save m1.tbml
expect_error "wrong magic number" magic/t10k-labels-idx1-ubyte m1.tbml "magic number 0x00000701"
rm -rf magic
bad_dir counts
printf '\x00\x00\x05\xdb' | dd of=counts/train-labels-idx1-ubyte bs=1 seek=4 conv=notrunc status=none
head -c $((8 + 1499)) counts/train-labels-idx1-ubyte >counts/l && mv counts/l counts/train-labels-idx1-ubyte
run "$TBML" train --model lenet --dataPath counts "${SLICE[@]}" --save m2.tbml
expect_error "image and label counts differ" counts/train-labels-idx1-ubyte m2.tbml "1500 images.*1499 labels"
rm -rf counts
bad_dir short
head -c 100000 short/train-images-idx3-ubyte >short/x && mv short/x short/train-images-idx3-ubyte
run "$TBML" train --model lenet --dataPath short "${SLICE[@]}" --save m3.tbml
expect_error "truncated file" short/train-images-idx3-ubyte m3.tbml "truncated at byte 100000:"
rm -rf short
run "$TBML" train --model lenet --dataPath nowhere
expect_error "missing folder" nowhere ""
run "$TBML" train --model lenet --dataPath "$FM" --momentum -1
expect_error "bad option value" "--momentum" ""
finish
