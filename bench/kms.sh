#!/usr/bin/env bash
# Key service and trusted runtime benchmarks, all on loopback in one run:
#  1. key-release latency (p50/p99, one client) and throughput (16 clients), each release being a
#     nonce request + simulated evidence + policy check + audit entry + X25519-wrapped answer, with
#     the audit log fsynced per entry and without (--no-audit-sync);
#  2. start-up cost of `tbml run` with the sim backend over none for the pi example (target: under
#     50 ms added), and of a sim job that also fetches a key and unseals an input.
#   bench/kms.sh [BUILD_DIR]   (default ./build; needs hyperfine from scripts/setup.sh --bench)
set -euo pipefail
cd "$(dirname "$0")/.."
B=$(realpath "${1:-build}")
T=$B/tbml KC=$B/bench/bench_kms_client
[[ -x $T && -x $KC ]] || { echo "kms.sh: build first (cmake --build --preset release)" >&2; exit 2; }
W=$(mktemp -d /tmp/tbml-bench-kms-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
cd "$W"
printf 'bench password\n' >pw
"$T" keygen enclave --out enclave.pem >/dev/null
"$T" kms init --state st --password-file pw >/dev/null

serve() { # serve PORTFILE [options]: starts a server, sets URL
  local pf=$1; shift
  "$T" kms serve --state st --password-file pw --listen 127.0.0.1:0 --port-file "$pf" "$@" 2>>serve.log &
  PIDS+=($!)
  for _ in $(seq 100); do [[ -s $pf ]] && break; sleep 0.1; done
  URL=https://127.0.0.1:$(cat "$pf")
}
serve port1
A() { "$T" kms admin --url "$URL" --ca st/tls/cert.pem --token-file st/admin.token "$@" >/dev/null; }
"$T" manifest --out rel.json --tee-backend sim /bin/true 2>/dev/null
M=$("$T" sign --key enclave.pem rel.json | awk '/measurement/{print $2}')
A enroll bench
A create-key bench k1
echo "{\"measurements\":[\"$M\"],\"insecure_allow_simulated\":true}" >pol.json
A policy bench pol.json

echo "== key release on loopback ($(nproc) cores)"
"$KC" load "$URL" st/tls/cert.pem bench k1 rel.json 1 500 | sed 's/^/fsync,  1 client:   /'
"$KC" load "$URL" st/tls/cert.pem bench k1 rel.json 16 3000 | sed 's/^/fsync, 16 clients:  /'
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()
serve port2 --no-audit-sync
"$KC" load "$URL" st/tls/cert.pem bench k1 rel.json 1 500 | sed 's/^/nosync,  1 client:  /'
"$KC" load "$URL" st/tls/cert.pem bench k1 rel.json 16 3000 | sed 's/^/nosync, 16 clients: /'

echo "== start-up cost of the sim backend over none"
PI=$B/tbml-example-pi
if [[ -x $PI ]]; then JOB=("$PI" 2); else JOB=(/bin/true); echo "(tbml-example-pi not built here: using /bin/true)"; fi
"$T" manifest --out none.json --tee-backend none --receipt none.receipt "${JOB[@]}" 2>/dev/null
"$T" manifest --out sim.json --tee-backend sim --receipt sim.receipt "${JOB[@]}" 2>/dev/null
"$T" sign --key enclave.pem none.json >/dev/null
"$T" sign --key enclave.pem sim.json >/dev/null
# a sim job that also attests, fetches a key and unseals an input
mkdir keys && "$T" keygen primary --name data --out keys --password-file pw >/dev/null
head -c 100000 /dev/urandom >in.bin && "$T" encrypt --key keys/data.key --password-file pw in.bin in.sealed
A import-key bench keys/data.key --password-file pw
"$T" manifest --out fetch.json --tee-backend sim --sealed in.sealed --conf tbml.kms.ca=st/tls/cert.pem \
  --conf tbml.kms.app=bench /usr/bin/wc -c in.sealed 2>/dev/null
MF=$("$T" sign --key enclave.pem fetch.json | awk '/measurement/{print $2}')
echo "{\"measurements\":[\"$M\",\"$MF\"],\"insecure_allow_simulated\":true}" >pol.json
A policy bench pol.json
"$T" run --conf "tbml.kms.url=$URL" fetch.json >/dev/null 2>&1 || { echo "fetch job failed" >&2; exit 1; }
hyperfine -N --warmup 3 --runs 40 --export-json start.json \
  -n bare "${JOB[*]}" -n none "$T run none.json" -n sim "$T --log-level error run sim.json" \
  -n sim+key "$T --log-level error run --conf tbml.kms.url=$URL fetch.json" >/dev/null 2>&1
/usr/bin/python3 - start.json <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ms = lambda k: r[k]["mean"] * 1e3
cpu = lambda k: (r[k]["user"] + r[k]["system"]) * 1e3  # steadier than wall time on a shared machine
for k in ("bare", "none", "sim", "sim+key"):
    print("%-8s mean %7.2f ms  median %7.2f ms  stddev %5.2f ms  cpu %6.2f ms" % (k, ms(k), r[k]["median"] * 1e3, r[k]["stddev"] * 1e3, cpu(k)))
med = lambda k: r[k]["median"] * 1e3
print("sim over none: +%.2f ms mean wall, +%.2f ms median wall, +%.2f ms cpu (target < 50 ms); ratio sim/none %.2fx"
      % (ms("sim") - ms("none"), med("sim") - med("none"), cpu("sim") - cpu("none"), med("sim") / med("none")))
print("runtime (none) over bare exec: +%.2f ms" % (ms("none") - ms("bare")))
print("sim with attested key release + unseal over none: +%.2f ms" % (ms("sim+key") - ms("none")))
PY
