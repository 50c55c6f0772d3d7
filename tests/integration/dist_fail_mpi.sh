#!/usr/bin/env bash
# Distributed mode under mpirun (label mpi), failures: a rank with another job secret is refused at the
# handshake; a killed or hung rank makes the job exit non-zero within the timeout's bound, naming
# the rank, and no result file is written; under `tbml submit` its own last line names the rank
# and the cause. Skips (77) when this build has no MPI.
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

# the job secret is refused at the handshake, by name
run timeout 60 "${MPI[@]}" -np 2 "$BENCH" --check --out wrong : -np 1 -x TBML_DIST_KEYFILE="$WORK/other/job.key" "$BENCH" --check --out wrong
check "wrong secret: exit non-zero" test "$RC" -ne 0
check "wrong secret: rank 2 refused by name" grep -q "handshake refused rank 2" "$ERR_FILE"
check "wrong secret: no result" test ! -e wrong

# a rank killed mid-job, and a hung rank: non-zero exit, bounded time, no result
# (on 3 ranks a survivor may time out first on another survivor that waits on the hung rank; the
# "waiting for" notices lead its message to the hung rank all the same)
for how in die hang; do
  start=$SECONDS
  run timeout 60 "${MPI[@]}" -np 3 "$BENCH" --check --"$how" 1 --out "$how"
  took=$((SECONDS - start))
  check "$how: exit non-zero (rc $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
  check "$how: within the bound (timeout 3 s + start-up; took $took s)" test "$took" -lt 45
  check "$how: no result" test ! -e "$how"
done
check "hang: the error names the hung rank" grep -q "rank 1 died\|waiting for rank 1,\|rank 1 took no message" "$ERR_FILE"

# the same through `tbml submit`: its own last line names the rank and the cause (mpirun's report
# of a killed rank is a banner of its own, and the killed rank prints nothing)
for how in die hang; do
  start=$SECONDS
  run timeout 60 "$TBML" submit --master mpi --num-executors 3 --dist-key keys/job.key \
    --dist-password-file pw "$BENCH" --check --"$how" 1 --out "submit-$how"
  took=$((SECONDS - start))
  check "submit $how: exit non-zero (rc $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
  check "submit $how: within the bound (took $took s)" test "$took" -lt 45
  check "submit $how: no result" test ! -e "submit-$how"
  last=$(tail -n 1 "$ERR_FILE")
  case $how in
    die) want="^tbml submit: job failed: rank 1 was killed by signal 9" ;;
    hang) want="^tbml submit: job failed: rank [02]: .*rank 1 (died|took no message)" ;;
  esac
  check "submit $how: tbml's last line names rank 1 and the cause ($last)" grep -qE "$want" <<<"$last"
done
finish
