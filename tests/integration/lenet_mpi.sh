#!/usr/bin/env bash
# LeNet data-parallel SGD under mpirun (label mpi): one epoch on a slice of Fashion-MNIST on 2
# ranks (each computing half of every batch of 128, gradients summed by the sealed allreduce)
# reaches the one-process accuracy at the same global batch, within 1 point. Skips (77) without
# MPI or the dataset.
set -uo pipefail
source "$(dirname "$0")/lib/check.bash"
D=/usr/share/datasets/fashion-mnist
mpi_or_skip
if [[ ! -e $D/train-images-idx3-ubyte.gz ]]; then
  echo "skip: no Fashion-MNIST"
  exit 77
fi
cd "$WORK"
umask 077
printf 'job secret 9e0f\n' >pw
quiet "$TBML" keygen primary --name job --out keys --password-file pw
export TBML_DIST_KEYFILE=$WORK/keys/job.key TBML_DIST_PASSWORD_FILE=$WORK/pw
MPI=(mpirun --oversubscribe -x TBML_DIST_KEYFILE -x TBML_DIST_PASSWORD_FILE)
[[ $(id -u) -ne 0 ]] || MPI+=(--allow-run-as-root)
ARGS=(train --model lenet -f "$D" -e 1 --trainLimit 6000 --testLimit 2000 --master 'local[1]')
acc() { sed -n 's/.*accuracy: \([0-9.E-]*\)).*/\1/p' "$1" | tail -1; }

run "$TBML" "${ARGS[@]}" -o one.model
cp "$OUT_FILE" one.out
run "${MPI[@]}" -np 2 "$TBML" "${ARGS[@]}" -o two.model
cp "$OUT_FILE" two.out
check "2 ranks: exit 0" test "$RC" -eq 0
check "2 ranks: one epoch line (rank 0 reports)" test "$(grep -c Top1Accuracy two.out)" -eq 1
a1=$(acc one.out) a2=$(acc two.out)
echo "accuracy: 1 process $a1, 2 ranks $a2"
check "accuracy above chance ($a2)" awk -v a="$a2" 'BEGIN { exit !(a > 0.3) }'
check "same accuracy within 0.01 ($a1 vs $a2)" awk -v a="$a1" -v b="$a2" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }'
check "the model is saved once, by rank 0" test -s two.model
finish
