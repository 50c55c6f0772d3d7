#!/usr/bin/env bash
# Sealed collectives (tbml's ring allreduce and all-to-all over AES-256-GCM point-to-point
# messages) against MPI's own MPI_Allreduce / MPI_Alltoall on the same buffers, on 2 and 4 ranks,
# for LeNet's gradient (22,278 floats), 16 MB and 256 MB. Prints both times, their ratio, and the
# fraction of the crypto limit: OpenSSL's single-core AES-256-GCM speed (`openssl speed`, measured
# in this run) times the cores used. Cores used = min(this machine's cores, ranks x sealing
# threads per rank), where a rank's sealing threads are the ones its communicator really runs
# AES-GCM on: its crypto workers (cores / ranks on the machine less one, 0 to 4) plus the calling thread,
# which seals and opens queued chunks while it waits (bench_dist reads the count from the
# communicator and prints it in its header). Also prints the sealed op's CPU time (all ranks and
# threads) and cpu_eff% = CPU seconds AES-GCM needs / CPU seconds spent, which other load on a
# shared machine disturbs less than wall time.
# Then wordcount and a SQL GROUP BY on 1 rank x 2 threads against 2 ranks x 1 thread on the same
# data (WC_MB, GB_ROWS), printing the ratio (the distribution cost), after the fixed start and stop
# cost of a 2-rank job. The two sides run by turns (bench/lib.sh alternate), best of REPS each.
#   bench/dist.sh [BUILD_DIR]        (default ./build; needs an MPI build and mpirun)
#   env: SIZES (bytes, comma-separated), DIST_REPS (timed runs per case, best kept; default by size)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BENCH=$BUILD/bench/bench_dist
TBML=$BUILD/tbml
[[ -x $BENCH ]] || { echo "dist.sh: build first ($BENCH missing)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "dist.sh: mpirun not found" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
umask 077
head -c 24 /dev/urandom | base64 >"$WORK/pw"
"$TBML" keygen primary --name bench --out "$WORK/keys" --password-file "$WORK/pw" >/dev/null
export TBML_DIST_KEYFILE=$WORK/keys/bench.key TBML_DIST_PASSWORD_FILE=$WORK/pw

# single-core AES-256-GCM on 16 KiB blocks, in bytes/s ("2110896.36k" = 1000s of bytes/s)
aes=$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds 2 2>/dev/null | awk '/^AES-256-GCM/ {sub("k","",$2); printf "%.0f", $2 * 1000}')
cores=$(nproc)
echo "# openssl speed -evp aes-256-gcm (16 KiB): $(awk -v a="$aes" 'BEGIN {printf "%.2f", a / 1e9}') GB/s per core; $cores cores"
echo "# ratio = sealed time / plain MPI time; crypto% = time at the crypto limit / sealed time"
# mpirun's own placement (as in the first published runs): Open MPI binds 2 ranks to a core each
# (a rank's threads then share its core) and leaves oversubscribed ranks unbound. BIND=none runs
# them unbound as `tbml submit` does (--bind-to none).
MPI=(mpirun --oversubscribe ${BIND:+--bind-to "$BIND"} -x TBML_DIST_KEYFILE -x TBML_DIST_PASSWORD_FILE)
[[ $(id -u) -ne 0 ]] || MPI+=(--allow-run-as-root)
for n in 2 4; do
  "${MPI[@]}" -np "$n" "$BENCH" --bench --aes-speed "$aes" --cores "$cores" \
    --sizes "${SIZES:-89112,16777216,268435456}" ${DIST_REPS:+--reps "$DIST_REPS"}
done

# Distribution cost on one machine: wordcount on the same corpus (bench_gen_zipf, seed 42), plain
# and sealed, with 1 rank x 2 threads against 2 ranks x 1 thread (best of REPS).
mb=${WC_MB:-500}
corpus=$WORK/zipf.txt
"$BUILD/bench/bench_gen_zipf" "$mb" 42 >"$corpus"
"$TBML" encrypt --key "$WORK/keys/bench.key" --password-file "$WORK/pw" "$corpus" "$corpus.sealed" >/dev/null
source bench/lib.sh # alternate F G: best of REPS (3) wall-clock seconds of each, run by turns
WC=$BUILD/tbml-example-wordcount
ratio() { echo "$2 / $1" | bc -l | cut -c1-5; }
# What any 2-rank job pays to start and stop (mpirun, MPI_Init/Finalize, the sealed channel's
# handshake), against the same statement run locally: part of every ratio below.
one() { "$TBML" sql --master 'local[2]' -e 'SELECT 1'; }
two() { "$TBML" submit --master mpi --num-executors 2 --executor-cores 1 "$TBML" sql --master 'local[1]' -e 'SELECT 1'; }
read -r t1 t2 < <(alternate one two)
echo "start and stop (SELECT 1): 1 rank x 2 threads ${t1} s, 2 ranks x 1 thread ${t2} s, difference $(echo "$t2 - $t1" | bc -l | cut -c1-5) s"
for kind in plain sealed; do
  args=("$corpus")
  [[ $kind == plain ]] || args=(--key "$WORK/keys/bench.key" --password-file "$WORK/pw" "$corpus.sealed")
  one() { "$TBML" run-example --master 'local[2]' wordcount "${args[@]}"; }
  two() { "$TBML" submit --master mpi --num-executors 2 --executor-cores 1 "$WC" "${args[@]}"; }
  read -r t1 t2 < <(alternate one two)
  echo "wordcount $mb MB $kind: 1 rank x 2 threads ${t1} s, 2 ranks x 1 thread ${t2} s, ratio $(ratio "$t1" "$t2")"
done

# The GROUP BY of bench/sql_groupby.sh (Q1) on its generated CSV (bench_csv_read: id, name, age,
# salary, dept), read as a view with inferSchema and queried, end to end, plain and sealed: 1 rank
# x 2 threads against 2 ranks x 1 thread, each rank reading its share of the file (best of REPS).
rows=${GB_ROWS:-10000000}
people=$WORK/people.csv
"$BUILD/bench/bench_csv_read" "$people" "$rows" 1 >/dev/null
"$TBML" encrypt --key "$WORK/keys/bench.key" --password-file "$WORK/pw" "$people" "$people.sealed" >/dev/null
gb_mb=$(( $(stat -c %s "$people") / 1000000 ))
for kind in plain sealed; do
  path=$people opt="" pwa=()
  [[ $kind == plain ]] || { path=$people.sealed; opt=", key '$WORK/keys/bench.key'"; pwa=(--password-file "$WORK/pw"); }
  q="CREATE TEMP VIEW people USING csv OPTIONS (path '$path', header 'true', inferSchema 'true'$opt);
SELECT dept, count(*) AS n, avg(salary) AS avg_salary FROM people GROUP BY dept ORDER BY dept"
  one() { "$TBML" sql --master 'local[2]' "${pwa[@]}" --format csv -e "$q"; }
  two() { "$TBML" submit --master mpi --num-executors 2 --executor-cores 1 "$TBML" sql --master 'local[1]' "${pwa[@]}" --format csv -e "$q"; }
  same=no
  cmp -s <(one) <(two) && same=yes
  read -r t1 t2 < <(alternate one two)
  echo "group by $gb_mb MB $kind: 1 rank x 2 threads ${t1} s, 2 ranks x 1 thread ${t2} s, ratio $(ratio "$t1" "$t2"), same answer: $same"
done
