#!/usr/bin/env bash
# Sealed collectives (tbml's ring allreduce and all-to-all over AES-256-GCM point-to-point
# messages) against MPI's own MPI_Allreduce / MPI_Alltoall on the same buffers, on 2 and 4 ranks,
# for LeNet's gradient (22,278 floats), 16 MB and 256 MB. Prints both times, their ratio, and the
# fraction of the crypto limit: OpenSSL's single-core AES-256-GCM speed (`openssl speed`, measured
# in this run) times the cores the ranks can use.
#   bench/dist.sh [BUILD_DIR]        (default ./build; needs an MPI build and mpirun)
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
MPI=(mpirun --oversubscribe -x TBML_DIST_KEYFILE -x TBML_DIST_PASSWORD_FILE)
[[ $(id -u) -ne 0 ]] || MPI+=(--allow-run-as-root)
for n in 2 4; do
  used=$((n * 4 < cores ? n * 4 : cores))  # each rank seals on up to 4 worker threads
  "${MPI[@]}" -np "$n" "$BENCH" --bench --aes-speed "$aes" --cores "$used" \
    --sizes "${SIZES:-89112,16777216,268435456}"
done
