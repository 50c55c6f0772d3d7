#!/usr/bin/env bash
# GBDT under mpirun (label mpi): each rank holds a share of the rows, histograms and gradient
# sums are summed by the sealed allreduce, bins come from the whole data; 2 and 3 ranks report
# the one-process metrics on a held-out split. Skips (77) without MPI.
set -uo pipefail
source "$(dirname "$0")/lib/check.bash"
mpi_or_skip
cd "$WORK"
umask 077
printf 'job secret 1b2c\n' >pw
quiet "$TBML" keygen primary --name job --out keys --password-file pw
export TBML_DIST_KEYFILE=$WORK/keys/job.key TBML_DIST_PASSWORD_FILE=$WORK/pw
MPI=(mpirun --oversubscribe -x TBML_DIST_KEYFILE -x TBML_DIST_PASSWORD_FILE)
[[ $(id -u) -ne 0 ]] || MPI+=(--allow-run-as-root)
for data in "PimaIndiansDiabetes.csv --objective binary:logistic" "BostonHousing.csv"; do
  set -- $data
  f=$1
  shift
  ARGS=(train --model gbdt -f "$TBML_SHARED/datasets/$f" "$@" --num-round 20 --test-fraction 0.25 --master 'local[1]')
  run "$TBML" "${ARGS[@]}" --model-out one.model
  grep -E '^(train|test):' "$OUT_FILE" >one.metrics
  for n in 2 3; do
    run "${MPI[@]}" -np "$n" "$TBML" "${ARGS[@]}" --model-out "m$n.model"
    check "$f on $n ranks: exit 0" test "$RC" -eq 0
    grep -E '^(train|test):' "$OUT_FILE" >"m$n.metrics"
    check "$f on $n ranks: metrics of one process ($(tail -1 "m$n.metrics"))" cmp -s one.metrics "m$n.metrics"
    check "$f on $n ranks: model written" test -s "m$n.model"
  done
  rm -f one.model m2.model m3.model
done
finish
