#!/usr/bin/env bash
# The examples on 1, 2 and 4 ranks through `tbml submit --master mpi` (label mpi): pi and
# wordcount (plain, and sealed, where each rank decrypts only its own segments) print exactly
# what one process prints; rank 0 shares the key and writes to submit's own stdout. Also: the
# job's private files are gone afterwards, and submit's distributed options are checked before
# anything runs. Skips (77) when this build has no MPI.
set -uo pipefail
source "$(dirname "$0")/lib/check.bash"
B=$TBML_BUILD
mpi_or_skip
cd "$WORK"
umask 077
export TMPDIR=$WORK/tmp
mkdir "$TMPDIR"
printf 'data password 77aa\n' >pw
quiet "$TBML" keygen primary --name data --out keys --password-file pw
# ~11 MB of text: two 8 MiB scan chunks, so with 4 ranks two ranks have nothing to read
awk 'BEGIN { srand(7); for (i = 0; i < 400000; i++) { n = int(rand() * 9); l = "";
  for (j = 0; j < n; j++) l = l (j ? " " : "") (rand() < 0.05 ? "averyveryverylongword" : "w") int(rand() * 5000);
  print l } }' >text.txt
quiet "$TBML" encrypt --key keys/data.key --password-file pw text.txt text.sealed

run "$TBML" run-example pi 12
cp "$OUT_FILE" pi.ref
run "$TBML" run-example wordcount text.txt
cp "$OUT_FILE" wc.ref
check "reference wordcount has words" test "$(wc -l <wc.ref)" -gt 1000
for n in 1 2 4; do
  run "$TBML" submit --master mpi --num-executors "$n" "$B/tbml-example-pi" 12
  check "pi on $n ranks: exit 0" test "$RC" -eq 0
  check "pi on $n ranks: same as one process" cmp -s "$OUT_FILE" pi.ref
done
for n in 2 4; do
  run "$TBML" submit --master mpi --num-executors "$n" "$B/tbml-example-wordcount" text.txt
  check "wordcount on $n ranks: same as one process" cmp -s "$OUT_FILE" wc.ref
done
for n in 1 4; do
  run "$TBML" submit --master mpi --num-executors "$n" --executor-cores 1 "$B/tbml-example-wordcount" \
    --key keys/data.key --password-file pw text.sealed
  check "sealed wordcount on $n ranks: same as one process" cmp -s "$OUT_FILE" wc.ref
done
# rank 0 unwraps the key and shares it: a wrong password fails every rank with its reason
printf 'not it\n' >badpw
run "$TBML" submit --master mpi --num-executors 2 "$B/tbml-example-wordcount" \
  --key keys/data.key --password-file badpw text.sealed
check "sealed wordcount, wrong password, 2 ranks: fails" test "$RC" -ne 0
check "... saying so" grep -q "job failed: .*wrong password for key 'data'" "$ERR_FILE"
check "... and prints no result" test ! -s "$OUT_FILE"
# The driver writes to submit's own stdout (lent to rank 0), so results it cannot write fail the
# job instead of vanishing in mpirun's forwarding.
RC=0
"$TBML" submit --master mpi --num-executors 2 "$B/tbml-example-wordcount" text.txt \
  >/dev/full 2>full.err || RC=$?
check "wordcount on 2 ranks into a full device: fails" test "$RC" -ne 0
check "... saying stdout could not be written" grep -q "stdout: write failed" full.err
RC=0
"$TBML" run-example wordcount text.txt >/dev/full 2>full.err || RC=$?
check "wordcount on 1 process into a full device: fails" test "$RC" -eq 1
check "no private job files left in TMPDIR" test -z "$(ls -A "$TMPDIR")"
run "$TBML" submit --master mpi --num-executors 0 "$B/tbml-example-pi"
check "--num-executors 0 refused" test "$RC" -eq 2
run "$TBML" submit --master mpi --deploy-mode moon "$B/tbml-example-pi"
check "--deploy-mode moon refused" test "$RC" -eq 2
run "$TBML" submit --num-executors 2 "$B/tbml-example-pi"
check "--num-executors without --master mpi refused" test "$RC" -eq 2
finish
