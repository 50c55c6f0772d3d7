#!/usr/bin/env bash
# Distributed mode under mpirun (label mpi): sealed collectives equal a plain reference on 1, 2
# and 4 ranks (oversubscribed on small machines). Failures are in dist_fail_mpi.sh. Skips (77)
# when this build has no MPI.
set -uo pipefail
source "$(dirname "$0")/lib/check.bash"
BENCH=$TBML_BUILD/bench/bench_dist
mpi_or_skip
cd "$WORK"
umask 077
printf 'job secret password 51c2\n' >pw
quiet "$TBML" keygen primary --name job --out keys --password-file pw
quiet "$TBML" keygen primary --name job --out other --password-file pw # same name, another secret
export TBML_DIST_KEYFILE=$WORK/keys/job.key TBML_DIST_PASSWORD_FILE=$WORK/pw TBML_DIST_TIMEOUT=3
MPI=(mpirun --oversubscribe -x TBML_DIST_KEYFILE -x TBML_DIST_PASSWORD_FILE -x TBML_DIST_TIMEOUT)
[[ $(id -u) -ne 0 ]] || MPI+=(--allow-run-as-root)

for n in 1 2 4; do
  run timeout 120 "${MPI[@]}" -np "$n" "$BENCH" --check --out "res$n"
  check "check on $n ranks: exit 0" test "$RC" -eq 0
  check "check on $n ranks: no mismatch" grep -q "^check: $n ranks (mpi), 0 mismatches" "$OUT_FILE"
  check "check on $n ranks: result written" grep -qx "ok $n" "res$n"
done

# the tuning variables: no crypto workers, and chunks of 1000 bytes (not whole doubles, so the
# allreduce adds after each message instead of per chunk); the bench's own output is sane
run timeout 120 env TBML_DIST_WORKERS=-1 TBML_DIST_CHUNK=1000 "${MPI[@]}" -x TBML_DIST_WORKERS \
  -x TBML_DIST_CHUNK -np 3 "$BENCH" --check --out knobs
check "no workers, 1000-byte chunks, 3 ranks: no mismatch" grep -q "^check: 3 ranks (mpi), 0 mismatches" "$OUT_FILE"
run timeout 120 env TBML_DIST_WORKERS=2 "${MPI[@]}" -x TBML_DIST_WORKERS -np 2 "$BENCH" --bench \
  --cores 16 --reps 1 --sizes 4096,100000
check "bench: 2 workers + the caller seal on each rank" grep -q "^# 2 ranks x 3 sealing threads (2 workers" "$OUT_FILE"
check "bench: cores used = min(16 cores, 2 ranks x 3 threads)" grep -q "on 16 cores: 6 cores used" "$OUT_FILE"
check "bench: one line per op and size" test "$(grep -cE '^(allreduce|alltoall) ' "$OUT_FILE")" -eq 4
# tbml submit exports the tuning variables it has to every rank
run timeout 120 env TBML_DIST_WORKERS=3 "$TBML" submit --master mpi --num-executors 2 "$BENCH" \
  --bench --cores 16 --reps 1 --sizes 4096
check "submit: TBML_DIST_WORKERS reaches the ranks" grep -q "^# 2 ranks x 4 sealing threads (3 workers" "$OUT_FILE"

finish
