#!/usr/bin/env bash
# Installs the Debian packages tbml needs to build, test, run its examples and
# (with --bench) its benchmarks. Idempotent: re-running installs only what is missing.
#   scripts/setup.sh           build, test and demo dependencies
#   scripts/setup.sh --bench   also the peers the benchmarks compare against
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev openssl          # AES-GCM, HKDF, RSA, X25519, TLS 1.3; `openssl speed` in bench
  libargon2-dev               # Argon2id password KDF for key files
  zlib1g-dev                  # gzip'd IDX datasets
  libopenblas-dev             # GEMM for the neural-network layers
  libedit-dev                 # line editing in the `tbml sql` shell
  libjansson-dev              # manifests and key-service JSON
  libmicrohttpd-dev           # key-service HTTP server
  libcurl4-openssl-dev        # key-service client (HTTPS with a pinned CA)
  libopenmpi-dev openmpi-bin  # distributed mode
  sqlite3 libsqlite3-dev      # SQL test oracle
  clang libclang-rt-14-dev    # libFuzzer targets and sanitizer builds
  dataset-fashion-mnist       # the LeNet demo's data
  python3-numpy               # the trusted runtime's python example
)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(python3-torch python3-xgboost python3-pandas mawk hyperfine time)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#pkgs[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
