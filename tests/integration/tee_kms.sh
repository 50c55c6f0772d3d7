#!/usr/bin/env bash
# Trusted runtime + key service, end to end against a real `tbml kms serve` on 127.0.0.1 (a free
# port picked by the kernel): measurement and MRSIGNER recomputed independently, a matching job
# gets its key and the right output, every refusal names its check, restart keeps state, the
# audit log and the state file detect tampering, and a short mixed load leaks no descriptors.
set -euo pipefail
T=${TBML:?} B=${TBML_BUILD:?}
KC=$B/bench/bench_kms_client
PY=/usr/bin/python3
W=$(mktemp -d /tmp/tbml-it-tee-XXXXXX)
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $W/serve.log ]] && tail -5 "$W/serve.log" >&2; exit 1; }
ok() { echo "ok - $*"; }
# expect_fail PATTERN CMD...: CMD must fail and its stderr must contain PATTERN.
expect_fail() {
  local pat=$1; shift
  if "$@" >"$W/out" 2>"$W/err"; then fail "expected failure ($pat): $*"; fi
  grep -q -- "$pat" "$W/err" || { cat "$W/err" >&2; fail "stderr lacks '$pat': $*"; }
}
start_server() {
  rm -f "$W/port"
  "$T" kms serve --state "$W/st" --password-file "$W/pw" --listen 127.0.0.1:0 --port-file "$W/port" \
    --nonce-ttl 2 --request-timeout 2 --idle-timeout 3 --no-audit-sync 2>>"$W/serve.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do [[ -s $W/port ]] && break; sleep 0.1; done
  [[ -s $W/port ]] || fail "server did not start"
  PORT=$(cat "$W/port")
  URL=https://127.0.0.1:$PORT
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""; }
admin() { "$T" kms admin --url "$URL" --ca "$W/st/tls/cert.pem" --token-file "$W/st/admin.token" "$@" >/dev/null; }
policy() { echo "$2" >"$W/pol.json"; admin policy "$1" "$W/pol.json"; }

cd "$W"
printf 'correct horse battery staple\n' >pw
mkdir keys
# RSA-3072 generation is the slowest step here: make both enclave keys while the rest is set up
"$T" keygen enclave --out enclave.pem >/dev/null &
KG1=$!
"$T" keygen enclave --out other.pem >/dev/null &
KG2=$!
"$T" keygen primary --name people --out keys --password-file pw >/dev/null
printf 'name,age\nAndy,30\nJustin,19\nMichael,41\n' >people.csv
"$T" encrypt --key keys/people.key --password-file pw people.csv people.csv.sealed
cat >job.py <<'EOF'
import sys
rows = open(sys.argv[1]).read().splitlines()[1:]
ages = [int(r.split(",")[1]) for r in rows]
open(sys.argv[2], "w").write("rows=%d sum_age=%d\n" % (len(ages), sum(ages)))
EOF

"$T" kms init --state st --password-file pw >/dev/null
start_server
admin enroll app1
admin import-key app1 keys/people.key --password-file pw
# the admin API needs the token; the state folder is never overwritten
printf '%064d\n' 0 >wrong.token
expect_fail "HTTP 401" "$T" kms admin --url "$URL" --ca st/tls/cert.pem --token-file wrong.token enroll app2
expect_fail "already exists" "$T" kms init --state st --password-file pw
grep -q '"event":"admin-denied"' st/audit.log || fail "admin denial not audited"

wait "$KG1" "$KG2" || fail "enclave key generation"
# manifest NAME [extra options] -- builds and signs a manifest for the job into NAME.json
manifest() {
  local name=$1 key=$2; shift 2
  "$T" manifest --out "$name.json" --tee-backend sim --sealed people.csv.sealed --output out.txt \
    --receipt "$name.receipt" --conf tbml.kms.ca=st/tls/cert.pem --conf tbml.kms.app=app1 "$@"
  "$T" sign --key "$key" "$name.json" | awk '/measurement/{print $2}' >"$name.meas"
}
manifest good enclave.pem python3 job.py people.csv.sealed out.txt
M=$(cat good.meas)

# 1. the measurement, recomputed from the documented bytes with Python and sha256sum
PYM=$($PY -c 'import json,hashlib,sys
m=json.load(open("good.json")); m.pop("signature")
b=b"tbml-measurement-v1\n"+json.dumps(m,sort_keys=True,separators=(",",":"),ensure_ascii=False).encode()
print(hashlib.sha256(b).hexdigest())')
SHM=$("$T" measure --canonical good.json | sha256sum | cut -d" " -f1)
[[ $PYM == "$M" && $SHM == "$M" ]] || fail "measurement $M, python $PYM, sha256sum $SHM"
ok "measurement recomputed independently"
# 2. MRSIGNER = SHA-256 of the little-endian modulus, with the openssl tool
MOD=$(openssl rsa -in enclave.pem -noout -modulus 2>/dev/null | cut -d= -f2)
SIGNER=$(echo "$MOD" | $PY -c 'import sys,hashlib; print(hashlib.sha256(bytes.fromhex(sys.stdin.read().strip())[::-1]).hexdigest())')
"$T" measure good.json | grep -q "mrsigner $SIGNER" || fail "mrsigner differs from openssl's modulus hash $SIGNER"
ok "mrsigner recomputed with openssl"

# 3. a matching job gets its key and produces the right output, with a receipt that verifies
policy app1 "{\"measurements\":[\"$M\"],\"insecure_allow_simulated\":true}"
"$T" run --conf "tbml.kms.url=$URL" good.json 2>"$W/err" || { cat "$W/err"; fail "good job"; }
[[ $(cat out.txt) == "rows=3 sum_age=90" ]] || fail "wrong output: $(cat out.txt)"
grep -q SIMULATED "$W/err" || fail "sim backend did not say SIMULATED"
"$T" verify-receipt --manifest good.json --check-outputs good.receipt | grep -q "receipt ok (SIMULATED" || fail "receipt"
grep -q 'Andy' good.receipt good.json "$W/err" && fail "plaintext leaked into receipt, manifest or log"
ok "matching job released its key, ran, receipt verifies"
# the receipt binds outputs and its own body
echo tampered >>out.txt
expect_fail "is not what the job produced" "$T" verify-receipt --check-outputs good.receipt
sed 's/"exit_code": 0/"exit_code": 1/' good.receipt >bad.receipt
expect_fail "changed after it was attested" "$T" verify-receipt bad.receipt
other_meas=$(printf '%064d' 7)
expect_fail "is not the expected one" "$T" verify-receipt --measurement "$other_meas" good.receipt
ok "receipt tampering detected"

# 4. refusals, each naming the failed check and what to change
cp job.py job.py.orig
printf '#' >>job.py
expect_fail "job.py changed: sha256" "$T" run --conf "tbml.kms.url=$URL" good.json
manifest changed enclave.pem python3 job.py people.csv.sealed out.txt
expect_fail "check measurement: measurement .* is not among the policy's allowed" "$T" run --conf "tbml.kms.url=$URL" changed.json
cp job.py.orig job.py
ok "one changed byte in a trusted file: refused locally, and by the key service after re-signing"
manifest argv enclave.pem python3 job.py people.csv.sealed out.txt extra-arg
expect_fail "check measurement" "$T" run --conf "tbml.kms.url=$URL" argv.json
expect_fail "argv is fixed by the manifest" "$T" run good.json extra-arg
ok "changed argv refused"
S1=$("$T" measure good.json | awk '/mrsigner/{print $2}')
policy app1 "{\"mrsigner\":\"$S1\",\"product_id\":0,\"min_svn\":2,\"insecure_allow_simulated\":true}"
manifest signer other.pem --svn 5 python3 job.py people.csv.sealed out.txt
expect_fail "check mrsigner: the manifest was signed by .*sign with the approved enclave key" "$T" run --conf "tbml.kms.url=$URL" signer.json
manifest oldsvn enclave.pem --svn 1 python3 job.py people.csv.sealed out.txt
expect_fail "check svn: security version 1 is below the policy's minimum 2" "$T" run --conf "tbml.kms.url=$URL" oldsvn.json
manifest newsvn enclave.pem --svn 2 python3 job.py people.csv.sealed out.txt
"$T" run --conf "tbml.kms.url=$URL" newsvn.json 2>/dev/null || fail "signer + svn policy should release"
ok "another signer and an old SVN refused; signer policy releases to the right one"
manifest dbg enclave.pem --svn 3 --debug python3 job.py people.csv.sealed out.txt
expect_fail "check debug: the enclave runs in debug mode" "$T" run --conf "tbml.kms.url=$URL" dbg.json
policy app1 "{\"measurements\":[\"$M\"]}"
expect_fail "check simulated: the evidence is SIMULATED" "$T" run --conf "tbml.kms.url=$URL" good.json
ok "debug and simulated evidence refused under a strict policy"
policy app1 "{\"measurements\":[\"$M\"],\"insecure_allow_simulated\":true}"
"$KC" stale "$URL" st/tls/cert.pem app1 people good.json 3 >kc.out || { cat kc.out; fail "stale nonce accepted"; }
grep -q "check nonce: the nonce expired" kc.out || fail "stale: $(cat kc.out)"
"$KC" replay "$URL" st/tls/cert.pem app1 people good.json >kc.out || { cat kc.out; fail "replay accepted"; }
grep -q "check nonce: the nonce was already used: this is replayed evidence" kc.out || fail "replay: $(cat kc.out)"
"$KC" other-key "$URL" st/tls/cert.pem app1 people good.json >kc.out || { cat kc.out; fail "other key accepted"; }
grep -q "check binding" kc.out || fail "binding: $(cat kc.out)"
ok "stale nonce, replayed evidence, evidence bound to another client's key refused"
"$T" manifest --out none.json --tee-backend none --sealed people.csv.sealed --conf tbml.kms.ca=st/tls/cert.pem \
  python3 job.py people.csv.sealed out.txt
"$T" sign --key enclave.pem none.json >/dev/null
expect_fail "produces no evidence" "$T" run --conf "tbml.kms.url=$URL" none.json
# the client verifies the service: a different CA is refused before anything is sent
mkdir other-tls && "$T" keygen tls --out other-tls --password-file pw >/dev/null 2>&1
"$T" manifest --out wrongca.json --tee-backend sim --sealed people.csv.sealed --conf tbml.kms.ca=other-tls/cert.pem \
  --conf tbml.kms.app=app1 python3 job.py people.csv.sealed out.txt
"$T" sign --key enclave.pem wrongca.json >/dev/null
expect_fail "SSL\|certificate" "$T" run --conf "tbml.kms.url=$URL" wrongca.json
# a pinned public key: the right one works, another one is refused
PIN=sha256//$(openssl x509 -in st/tls/cert.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
BADPIN=sha256//$(openssl x509 -in other-tls/cert.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
manifest pinned enclave.pem --conf "tbml.kms.pin=$PIN" python3 job.py people.csv.sealed out.txt
manifest badpin enclave.pem --conf "tbml.kms.pin=$BADPIN" python3 job.py people.csv.sealed out.txt
policy app1 "{\"measurements\":[\"$M\",\"$(cat pinned.meas)\",\"$(cat badpin.meas)\"],\"insecure_allow_simulated\":true}"
"$T" run --conf "tbml.kms.url=$URL" pinned.json 2>/dev/null || fail "pinned key refused"
expect_fail "pinned public key" "$T" run --conf "tbml.kms.url=$URL" badpin.json
policy app1 "{\"measurements\":[\"$M\"],\"insecure_allow_simulated\":true}"
ok "backend none, an unpinned service certificate and a wrong key pin refused"

# 5. restart: keys and policies survive; a wrong password does not start it
stop_server
echo wrong >badpw
expect_fail "password" "$T" kms serve --state st --password-file badpw --listen 127.0.0.1:0
start_server
rm -f out.txt
"$T" run --conf "tbml.kms.url=$URL" good.json 2>/dev/null || fail "job after restart"
[[ $(cat out.txt) == "rows=3 sum_age=90" ]] || fail "output after restart"
ok "restart keeps keys and policies"

# 6. a short mixed load: no errors, no leaked descriptors
fds_before=$(ls /proc/"$SERVER_PID"/fd | wc -l)
"$KC" load "$URL" st/tls/cert.pem app1 people good.json 8 200 3 >load.out || { cat load.out; fail "load"; }
# connections end when clients close them, or at the 2 s request / 3 s idle timeouts here
for _ in $(seq 50); do
  fds_after=$(ls /proc/"$SERVER_PID"/fd | wc -l)
  [[ $fds_after -le $fds_before ]] && break
  sleep 0.1
done
[[ $fds_after -le $fds_before ]] || fail "descriptors leaked: $fds_before before, $fds_after after"
"$T" kms admin --url "$URL" --ca st/tls/cert.pem --token-file st/admin.token list >/dev/null || fail "server stopped answering"
ok "load: $(cat load.out)"
stop_server

# 7. the audit log verifies, and any edit, removal or reordering is detected
"$T" kms audit --state st | grep -q "audit log ok" || fail "audit log does not verify"
# the chain recomputed from docs/protocols/kms.md: hash = SHA-256(prev || JCS(entry without hash))
$PY -c 'import json,hashlib,sys
prev=bytes(32)
for n,line in enumerate(open("st/audit.log"),1):
    e=json.loads(line); h=e.pop("hash")
    if e["prev"]!=prev.hex(): sys.exit("entry %d: prev %s"%(n,e["prev"]))
    d=hashlib.sha256(prev+json.dumps(e,sort_keys=True,separators=(",",":"),ensure_ascii=False).encode()).digest()
    if d.hex()!=h: sys.exit("entry %d: hash %s, python %s"%(n,h,d.hex()))
    prev=d' || fail "audit log hashes differ from the recomputed chain"
grep -c '"event":"refuse"' st/audit.log | grep -qv '^0$' || fail "no refusals in the audit log"
cp st/audit.log audit.orig
sed -i '0,/"event":"refuse"/s//"event":"release"/' st/audit.log
expect_fail "was modified" "$T" kms audit --state st
expect_fail "broken audit log" "$T" kms serve --state st --password-file pw --listen 127.0.0.1:0
cp audit.orig st/audit.log && sed -i '3d' st/audit.log
expect_fail "sequence number" "$T" kms audit --state st
# cutting entries off the end keeps a valid chain: only an anchor kept elsewhere reveals it
cp audit.orig st/audit.log
ANCHOR=$("$T" kms audit --state st | sed 's/.*head //')
"$T" kms audit --state st --anchor "$ANCHOR" >/dev/null || fail "anchor of the current head"
head -n 5 audit.orig >st/audit.log
"$T" kms audit --state st >/dev/null || fail "a cut-back log is still a valid chain"
expect_fail "the log was cut back" "$T" kms audit --state st --anchor "$ANCHOR"
cp audit.orig st/audit.log
ok "tampered audit log detected"
# 8. the state file is MACed: a policy edited on disk stops the service from starting
cp st/state.json state.orig
sed -i 's/"insecure_allow_simulated": false/"insecure_allow_simulated": true/; s/"min_svn": 2/"min_svn": 0/' st/state.json
$PY - <<'EOF'
import json
s = json.load(open("st/state.json"))
s["apps"]["app1"]["policy"]["measurements"].append("0" * 64)
json.dump(s, open("st/state.json", "w"))
EOF
expect_fail "MAC does not verify" "$T" kms serve --state st --password-file pw --listen 127.0.0.1:0
cp state.orig st/state.json
ok "edited state refused"
echo "all tee/kms integration checks passed"
