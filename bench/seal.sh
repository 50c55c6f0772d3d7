#!/usr/bin/env bash
# Sealed-file throughput vs `openssl speed -evp aes-256-gcm` (single core), measured in the same
# run: builds the release preset if needed, then runs bench_seal.
#   bench/seal.sh [MiB=256] [segment_size=65536] [openssl_seconds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x build/bench/bench_seal ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target bench_seal
fi
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
build/bench/bench_seal "${1:-256}" "${2:-65536}" "${3:-3}"
