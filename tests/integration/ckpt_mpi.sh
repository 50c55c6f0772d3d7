#!/usr/bin/env bash
# LeNet checkpoints under mpirun (label mpi): a 2-rank training with --checkpoint loses rank 1
# to kill -9 mid-job; the job exits non-zero within the timeout's bound with a message naming
# the rank; `--resume` then finishes it and reaches the uninterrupted run's accuracy (within
# 0.01; bit for bit is what unit.test_ckpt asserts). A flipped bit in the newest checkpoint
# makes the resume fall back to the previous one, with a warning naming the file. The
# checkpoints are sealed under the job key. Skips (77) without MPI or the dataset.
set -uo pipefail
source "$(dirname "$0")/lib/check.bash"
D=/usr/share/datasets/fashion-mnist
mpi_or_skip
if [[ ! -e $D/train-images-idx3-ubyte.gz ]]; then
  echo "skip: no Fashion-MNIST"
  exit 77
fi
# flip_bit FILE OFFSET: flips one bit of the byte at OFFSET in place
flip_bit() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((b ^ 0x10)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
cd "$WORK"
umask 077
printf 'job secret 4c1d\n' >pw
quiet "$TBML" keygen primary --name job --out keys --password-file pw
export TBML_DIST_KEYFILE=$WORK/keys/job.key TBML_DIST_PASSWORD_FILE=$WORK/pw TBML_DIST_TIMEOUT=10
MPI=(mpirun --oversubscribe -x TBML_DIST_KEYFILE -x TBML_DIST_PASSWORD_FILE -x TBML_DIST_TIMEOUT)
[[ $(id -u) -ne 0 ]] || MPI+=(--allow-run-as-root)
ARGS=(train --model lenet -f "$D" -e 2 --trainLimit 6000 --testLimit 2000 --master 'local[1]'
  --key keys/job.key --password-file pw --checkpoint-every 5)
acc() { sed -n 's/.*accuracy: \([0-9.E-]*\)).*/\1/p' "$1" | tail -1; }

# the uninterrupted run
run timeout 120 "${MPI[@]}" -np 2 "$TBML" "${ARGS[@]}" --checkpoint ck-ref -o ref.model
cp "$OUT_FILE" ref.out
check "uninterrupted: exit 0" test "$RC" -eq 0
check "uninterrupted: sealed checkpoints, not plaintext" \
  bash -c '! grep -lq TBMLCKPT ck-ref/ckpt-*.tbck && test "$(ls ck-ref | grep -c "^ckpt-.*\.tbck$")" -eq 2'

# kill -9 of rank 1 once the first checkpoint is there
NRUN=$((NRUN + 1))
ERR_FILE=$WORK/log/$NRUN.err
start=$SECONDS
timeout 120 "${MPI[@]}" -np 2 "$TBML" "${ARGS[@]}" --checkpoint "$WORK/ck" -o kill.model \
  >"$WORK/log/$NRUN.out" 2>"$ERR_FILE" &
job=$!
victim=
for _ in $(seq 600); do
  if compgen -G "$WORK/ck/ckpt-*.tbck" >/dev/null; then
    # the rank-1 process of this job: its command line names this job's folder, its
    # environment says rank 1
    for pid in $(pgrep -f -- "--checkpoint $WORK/ck "); do
      if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
        victim=$pid
      fi
    done
    break
  fi
  sleep 0.1
done
[[ -n $victim ]] && kill -9 "$victim"
RC=0
wait "$job" || RC=$?
took=$((SECONDS - start))
check "a rank-1 process was found and killed" test -n "$victim"
check "killed: exit non-zero (rc $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
# a hang guard, not a timing assertion: TBML_DIST_TIMEOUT is 10 s
check "killed: ends within the bound (took $took s)" test "$took" -lt 90
echo "killed run said: $(grep -m1 "rank 1" "$ERR_FILE")"
check "killed: the error names rank 1" grep -q "rank 1" "$ERR_FILE"
check "killed: no model written" test ! -e kill.model
check "killed: a checkpoint to resume from" quiet compgen -G "$WORK/ck/ckpt-*.tbck"

# resume: finishes and reaches the uninterrupted accuracy
run timeout 120 "${MPI[@]}" -np 2 "$TBML" "${ARGS[@]}" --checkpoint "$WORK/ck" --resume -o resumed.model
cp "$OUT_FILE" resumed.out
check "resume: exit 0" test "$RC" -eq 0
check "resume: says where it resumed" grep -q "Resuming from .*ckpt-" "$OUT_FILE"
a1=$(acc ref.out) a2=$(acc resumed.out)
echo "accuracy: uninterrupted $a1, killed and resumed $a2"
check "resume: accuracy above chance ($a2)" awk -v a="$a2" 'BEGIN { exit !(a > 0.3) }'
check "resume: the uninterrupted accuracy within 0.01 ($a1 vs $a2)" \
  awk -v a="$a1" -v b="$a2" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }'
check "resume: model saved" test -s resumed.model

# tamper: a flipped bit in the newest checkpoint falls back to the previous one
newest=$(ls ck-ref/ckpt-*.tbck | tail -1)
flip_bit "$newest" 3000
run timeout 120 "${MPI[@]}" -np 2 "$TBML" "${ARGS[@]}" --checkpoint ck-ref --resume -o again.model
check "tamper: resumes from the previous checkpoint (rc $RC)" test "$RC" -eq 0
check "tamper: warns naming the damaged file" grep -q "$(basename "$newest").*falling back" "$ERR_FILE"
finish
