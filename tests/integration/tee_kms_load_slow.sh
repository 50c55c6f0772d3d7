#!/usr/bin/env bash
# Key service under load (labelled slow): 50 concurrent clients make 5,000 attested key
# releases while attackers send garbage, stall mid-handshake and send oversized bodies. No
# release may fail, the service must keep answering, and its descriptor count must come back
# to where it started (no leaked connections).
set -euo pipefail
T=${TBML:?} B=${TBML_BUILD:?}
KC=$B/bench/bench_kms_client
W=$(mktemp -d /tmp/tbml-it-kmsload-XXXXXX)
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$W"
printf 'load test password\n' >pw
"$T" keygen enclave --out enclave.pem >/dev/null
"$T" kms init --state st --password-file pw >/dev/null
"$T" kms serve --state st --password-file pw --listen 127.0.0.1:0 --port-file port --request-timeout 2 \
  --idle-timeout 3 2>serve.log &
SERVER_PID=$!
for _ in $(seq 100); do [[ -s port ]] && break; sleep 0.1; done
URL=https://127.0.0.1:$(cat port)
admin() { "$T" kms admin --url "$URL" --ca st/tls/cert.pem --token-file st/admin.token "$@" >/dev/null; }
"$T" manifest --out job.json --tee-backend sim /bin/true
M=$("$T" sign --key enclave.pem job.json | awk '/measurement/{print $2}')
admin enroll load
admin create-key load k1
echo "{\"measurements\":[\"$M\"],\"insecure_allow_simulated\":true}" >pol.json
admin policy load pol.json
fds_before=$(ls /proc/"$SERVER_PID"/fd | wc -l)
"$KC" load "$URL" st/tls/cert.pem load k1 job.json 50 5000 6 | tee load.out || fail "load run had errors"
grep -q "errors 0" load.out || fail "errors under load"
admin list || fail "service stopped answering after the load"
for _ in $(seq 50); do
  fds_after=$(ls /proc/"$SERVER_PID"/fd | wc -l)
  [[ $fds_after -le $fds_before ]] && break
  sleep 0.1
done
[[ $fds_after -le $fds_before ]] || fail "descriptors leaked: $fds_before before, $fds_after after"
"$T" kms audit --state st | tee audit.out
n=$(grep -c '"event":"release"' st/audit.log)
[[ $n -eq 5000 ]] || fail "audit log has $n releases, expected 5000"
echo "ok - 5000 releases by 50 clients under attack, fds $fds_before -> $fds_after, every release audited"
