#!/usr/bin/env bash
# Distributed jobs under the trusted runtime (label mpi): `tbml submit --master mpi --sgx-enabled
# true` starts every rank as `tbml run MANIFEST`, the ranks authenticate each other with the
# runtime's (simulated) evidence plus the job secret, and print exactly what the plain distributed
# run prints. Refused at the handshake, naming the rank and the check: a rank running another
# manifest, a rank without the runtime, a rank with another job secret, and a sim job without a
# job secret. (Replayed and damaged evidence: unit.test_comm_evidence, which has a hostile
# network hook.) Skips (77) when this build has no MPI.
set -uo pipefail
source "$(dirname "$0")/lib/check.bash"
B=$TBML_BUILD
mpi_or_skip
cd "$WORK"
umask 077
export TMPDIR=$WORK/tmp
mkdir "$TMPDIR"
quiet "$TBML" keygen enclave --out enclave.pem
printf 'job secret password 9d0e\n' >pw
quiet "$TBML" keygen primary --name job --out keys --password-file pw
quiet "$TBML" keygen primary --name job --out other --password-file pw # same name, another secret
awk 'BEGIN { srand(3); for (i = 0; i < 20000; i++) print "w" int(rand() * 300), "v" int(rand() * 50) }' >text.txt
PI=$B/tbml-example-pi
WC=$B/tbml-example-wordcount
TEE=(--sgx-enabled true --enclave-key enclave.pem)
# the job's environment is the manifest's: the leak-check setting above must be measured in
ASANENV=(--env "ASAN_OPTIONS=$ASAN_OPTIONS")
TEE+=("${ASANENV[@]}")

# the same jobs, plain and under the runtime: byte-identical results
run "$TBML" submit --master mpi --num-executors 2 "$PI" 12
cp "$OUT_FILE" pi.ref
check "plain pi on 2 ranks: exit 0" test "$RC" -eq 0
run "$TBML" submit --master mpi --num-executors 2 "${TEE[@]}" --verbose --manifest-out pi.json "$PI" 12
check "pi under the runtime on 2 ranks: exit 0 ($(tail -c 300 "$ERR_FILE"))" test "$RC" -eq 0
check "pi under the runtime: same output as the plain run" cmp -s "$OUT_FILE" pi.ref
check "pi under the runtime: every rank is 'tbml run MANIFEST'" \
  grep -q "^Launching: mpirun .* -np 2 .*/tbml run pi.json$" "$ERR_FILE"
check "pi under the runtime: simulated enclave on each rank" \
  test "$(grep -c "SIMULATED enclave" "$ERR_FILE")" -eq 2
check "the manifest says tbml.dist=mpi" grep -q '"tbml.dist": "mpi"' pi.json
run "$TBML" submit --master mpi --num-executors 2 "$WC" text.txt
cp "$OUT_FILE" wc.ref
run "$TBML" submit --master mpi --num-executors 2 "${TEE[@]}" "$WC" text.txt
check "wordcount under the runtime: exit 0" test "$RC" -eq 0
check "wordcount under the runtime: same output as the plain run" cmp -s "$OUT_FILE" wc.ref
check "no private job files left in TMPDIR" test -z "$(ls -A "$TMPDIR")"

# ranks started by mpirun directly: tbml run on manifests with --conf tbml.dist=mpi
quiet "$TBML" manifest --out a.json --tee-backend sim --conf tbml.dist=mpi "${ASANENV[@]}" "$PI" 12
quiet "$TBML" manifest --out b.json --tee-backend sim --conf tbml.dist=mpi --conf variant=b "${ASANENV[@]}" "$PI" 12
quiet "$TBML" sign --key enclave.pem a.json
quiet "$TBML" sign --key enclave.pem b.json
# Refusals here are immediate; the timeout only bounds a hang. Each rank first verifies its
# manifest (hashing the trusted files) and derives the job secret (Argon2id), which under ASan on
# a loaded 2-core machine can put seconds between the ranks' handshakes: 5 s failed once.
export TBML_DIST_KEYFILE=$WORK/keys/job.key TBML_DIST_PASSWORD_FILE=$WORK/pw TBML_DIST_TIMEOUT=20
MPI=(mpirun --oversubscribe -x TBML_DIST_KEYFILE -x TBML_DIST_PASSWORD_FILE -x TBML_DIST_TIMEOUT)
[[ $(id -u) -ne 0 ]] || MPI+=(--allow-run-as-root)
run timeout 60 "${MPI[@]}" -np 2 "$TBML" run a.json
check "mpirun + tbml run: exit 0" test "$RC" -eq 0
check "mpirun + tbml run: same output as the plain run" cmp -s "$OUT_FILE" pi.ref

run timeout 60 "${MPI[@]}" -np 1 "$TBML" run a.json : -np 1 "$TBML" run b.json
check "other manifest: exit non-zero" test "$RC" -ne 0
check "other manifest: refused by name and check" \
  grep -q "rank 0: handshake refused rank 1: evidence for other code: measurement" "$ERR_FILE"
check "other manifest: no result" test ! -s "$OUT_FILE"

run timeout 60 "${MPI[@]}" -np 1 "$TBML" run a.json : -np 1 "$PI" 12
check "no evidence: exit non-zero" test "$RC" -ne 0
check "no evidence: refused by name and check" \
  grep -q "rank 0: handshake refused rank 1: evidence: it has none" "$ERR_FILE"
check "no evidence: no result" test ! -s "$OUT_FILE"

# the job secret still counts under the runtime
run timeout 60 "${MPI[@]}" -np 1 "$TBML" run a.json : -np 1 -x TBML_DIST_KEYFILE="$WORK/other/job.key" "$TBML" run a.json
check "other job secret: exit non-zero" test "$RC" -ne 0
check "other job secret: refused by name" \
  grep -q "rank 0: handshake refused rank 1: it does not hold this job's secret" "$ERR_FILE"
run timeout 60 env -u TBML_DIST_KEYFILE mpirun --oversubscribe $([[ $(id -u) -ne 0 ]] || echo --allow-run-as-root) -np 2 "$TBML" run a.json
check "sim without a job secret: exit non-zero" test "$RC" -ne 0
check "sim without a job secret: refused" grep -q "simulated evidence proves nothing" "$ERR_FILE"
finish
