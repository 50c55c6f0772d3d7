#!/usr/bin/env bash
# The trusted runtime and key service demo: a data owner seals data and gives the key to a key
# service with a policy; an operator builds, signs and runs a job that gets the key only because
# its measurement matches, and the data owner checks the job's signed receipt. Then the same job
# with one changed byte is refused. Runs on the simulated backend (no SGX here): every line that
# depends on it says SIMULATED.
#   scripts/demo_tee.sh [WORK_DIR]     (builds first when run alone)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${TBML_SHARED:-$root/../shared}
if [[ ! -x build/tbml ]]; then cmake --preset release >/dev/null && cmake --build --preset release -j "$(nproc)" >/dev/null; fi
tbml=$root/build/tbml
work=${1:-$root/out/demo}/tee
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
cd "$work"
umask 077
kms_pid=""
trap '[[ -n $kms_pid ]] && kill "$kms_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "data owner: a primary key, the people data sealed under it"
head -c 32 /dev/urandom | base64 >password
"$tbml" keygen primary --name people --out keys --password-file password
"$tbml" encrypt --key keys/people.key --password-file password "$shared/datasets/people.txt" people.txt.sealed

step "key service: a root key under a password, TLS 1.3 on a free port, the owner's key imported"
"$tbml" kms init --state kms --password-file password
"$tbml" kms serve --state kms --password-file password --listen 127.0.0.1:0 --port-file kms.port 2>kms.log &
kms_pid=$!
for _ in $(seq 100); do [[ -s kms.port ]] && break; sleep 0.1; done
url=https://127.0.0.1:$(cat kms.port)
admin() { "$tbml" kms admin --url "$url" --ca kms/tls/cert.pem --token-file kms/admin.token "$@" >/dev/null; }
admin enroll people-stats
admin import-key people-stats keys/people.key --password-file password

step "operator: a manifest for python3 ages.py, signed with the RSA-3072 e=3 enclave key"
cat >ages.py <<'PY'
import sys
ages = [int(l.split(",")[1]) for l in open(sys.argv[1]) if l.strip()]
open(sys.argv[2], "w").write("people=%d mean_age=%.1f\n" % (len(ages), sum(ages) / len(ages)))
PY
"$tbml" keygen enclave --out enclave-key.pem >/dev/null
"$tbml" manifest --out job.json --sgx-enabled true --sealed people.txt.sealed --output ages.txt \
  --receipt receipt.json --conf tbml.kms.ca=kms/tls/cert.pem --conf tbml.kms.app=people-stats \
  python3 ages.py people.txt.sealed ages.txt
"$tbml" sign --key enclave-key.pem job.json
measurement=$("$tbml" measure job.json | awk '/measurement/{print $2}')

step "data owner: recomputes the measurement from the manifest and approves it (simulation allowed for this demo)"
"$tbml" measure --canonical job.json | sha256sum
echo "{\"measurements\": [\"$measurement\"], \"insecure_allow_simulated\": true}" >policy.json
admin policy people-stats policy.json

step "operator: tbml run (verifies, attests, gets the key wrapped to it, unseals into memory)"
"$tbml" run --conf "tbml.kms.url=$url" job.json
cat ages.txt

step "data owner: checks the signed receipt against the manifest and the output"
"$tbml" verify-receipt --manifest job.json --check-outputs receipt.json

step "one changed byte in the script, rebuilt and re-signed: the key service refuses"
echo "# changed" >>ages.py
"$tbml" manifest --out job2.json --sgx-enabled true --sealed people.txt.sealed --output ages.txt \
  --conf tbml.kms.ca=kms/tls/cert.pem --conf tbml.kms.app=people-stats python3 ages.py people.txt.sealed ages.txt
"$tbml" sign --key enclave-key.pem job2.json >/dev/null
if "$tbml" run --conf "tbml.kms.url=$url" job2.json; then echo "demo: changed job got the key" >&2; exit 1; fi

step "the audit log: every release and refusal, hash-chained"
"$tbml" kms audit --state kms
