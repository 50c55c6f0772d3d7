#!/usr/bin/env bash
# tbml keygen: primary keys and where their passwords come from (file, fd, terminal, nowhere),
# refusing to overwrite, the enclave signing key (RSA-3072, e = 3, MRSIGNER checked against
# the openssl tool), TLS credentials, --help and option errors, and no password ever printed.
set -euo pipefail
source "$(dirname "$0")/lib/check.bash"
cd "$WORK"

PW='correct horse battery staple 7f3a'
PW2='another secret 91c2'
umask 077
printf '%s\n' "$PW" >pw
printf '%s\n' "$PW2" >pw2
: >empty

mode_of() { stat -c %a "$1"; }

# ---- primary: password from a file ------------------------------------------------------
run "$TBML" keygen primary --name datakey --out keys/a --password-file pw
expect_ok "keygen primary --password-file"
check "key file exists" test -f keys/a/datakey.key
check "key file is mode 600" test "$(mode_of keys/a/datakey.key)" = 600
check "key folder was created with mode 700" test "$(mode_of keys/a)" = 700
check "parent folder created with mode 700" test "$(mode_of keys)" = 700
check "key file starts with the key-file magic" test "$(head -c 8 keys/a/datakey.key)" = TBMLKEYF
check "key file holds header + name + sealed key + tag (52+7+32+16 bytes)" \
  test "$(stat -c %s keys/a/datakey.key)" -eq 107
check "key file does not hold the password" bash -c '! grep -qF -- "$1" "$2"' _ "$PW" keys/a/datakey.key
check "stdout names the new key file" grep -qF "keys/a/datakey.key" "$OUT_FILE"

run "$TBML" keygen primary --name other --out keys/a --password-file=pw
expect_ok "keygen primary --password-file=F form"

# two keys of the same name are different keys
run "$TBML" keygen primary --name datakey --out keys/b --password-file pw
expect_ok "second key, other folder"
check "two generated key files differ" bash -c '! cmp -s keys/a/datakey.key keys/b/datakey.key'

# ---- primary: password from an fd, also a pipe ------------------------------------------
run "$TBML" keygen primary --name fdkey --out keys/fd --password-fd 3 3<pw
expect_ok "keygen primary --password-fd 3 (file)"
check "fd key written" test -f keys/fd/fdkey.key
run "$TBML" keygen primary --name pipekey --out keys/fd --password-fd=4 4< <(printf '%s' "$PW2")
expect_ok "keygen primary --password-fd 4 (pipe, no newline)"
check "pipe key written" test -f keys/fd/pipekey.key

# ---- primary: no password source on a non-terminal --------------------------------------
run setsid -w "$TBML" keygen primary --name nopw --out keys/nopw </dev/null
expect_error "no password and no terminal" "--password-file" keys/nopw/nopw.key "no password"
check "no folder created when the password is missing" test ! -e keys/nopw

run "$TBML" keygen primary --name e --out keys/e --password-file empty
expect_error "empty password file" "" keys/e/e.key "empty password"
run "$TBML" keygen primary --name m --out keys/m --password-file missing-pw
expect_error "missing password file" missing-pw keys/m/m.key
run "$TBML" keygen primary --name m --out keys/m --password-fd 9
expect_error "closed password fd" "password fd 9" keys/m/m.key
run "$TBML" keygen primary --name m --out keys/m --password-fd nine
expect_error "non-numeric --password-fd" "nine" keys/m/m.key "--help"

# ---- primary: refuse to overwrite ------------------------------------------------------
before=$(sha256sum keys/a/datakey.key)
run "$TBML" keygen primary --name datakey --out keys/a --password-file pw2
expect_error "refuses to overwrite an existing key" keys/a/datakey.key "" "already exists"
check "existing key file unchanged" test "$(sha256sum keys/a/datakey.key)" = "$before"

# ---- a full disk (RLIMIT_FSIZE 0: every write fails with EFBIG) leaves nothing behind ------
# (the limit applies to the tool only; its stderr goes through a pipe, which the limit spares)
limited() { bash -c 'set -o pipefail; { ulimit -f 0; exec "$@"; } 2>&1 >/dev/null | cat >&2' _ "$@"; }
run limited "$TBML" keygen primary --name full --out keys/full --password-file pw
expect_error "primary key on a full disk" keys/full/full.key keys/full/full.key "File too large"
run limited "$TBML" keygen enclave --out full.pem
expect_error "enclave key on a full disk" full.pem full.pem "File too large"
run limited "$TBML" keygen tls --out tls-full --password-file pw
expect_error "tls credentials on a full disk" tls-full/key.pem tls-full/key.pem "File too large"
check "no tls file left on a full disk" test -z "$(ls -A tls-full)"

# ---- primary: bad names and options ---------------------------------------------------
for bad in ../evil .hidden 'sp ace' "$(printf 'x%.0s' {1..65})" ''; do
  run "$TBML" keygen primary --name "$bad" --out keys/bad --password-file pw
  expect_error "invalid key name '${bad:0:12}'" "" "" "invalid key name"
done
check "no key written for invalid names" test ! -e keys/bad
run "$TBML" keygen primary --out keys/x --password-file pw
expect_error "missing --name" "" "" "--name"
run "$TBML" keygen primary --name x --password-file pw
expect_error "missing --out" "" "" "--out"
run "$TBML" keygen primary --name x --out keys/x --password-file
expect_error "--password-file without a value" "--password-file" "" "needs a value"
run "$TBML" keygen primary --name x --out keys/x --frobnicate
expect_error "unknown option" "--frobnicate" "" "tbml keygen --help"
check "unknown option exits 2" test "$RC" -eq 2
run "$TBML" keygen primary --name x --out keys/x extra-arg
expect_error "unexpected argument" "extra-arg" "" "--help"
run "$TBML" keygen secret --out x
expect_error "unknown key kind" "secret" "" "primary, enclave or tls"
run "$TBML" keygen
check "keygen with no kind exits 2 with usage" test "$RC" -eq 2 -a -s "$ERR_FILE"

# ---- primary: the terminal path (echo off, asked twice) --------------------------------
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3 || true)
if [[ -n $PY ]] && "$PY" -c 'import pty' 2>/dev/null; then
  printf '%s\n%s\n' "$PW" "$PW" >answers
  run "$PY" "$TBML_SRC/tests/integration/lib/pty_prompt.py" answers "$TBML" keygen primary --name tty --out keys/tty
  check "terminal prompt, same password twice: exit 0" test "$RC" -eq 0
  check "terminal prompt: key written" test -f keys/tty/tty.key
  check "terminal prompt asked twice" test "$(grep -ci 'password' "$OUT_FILE")" -ge 2
  printf '%s\n%s\n' "$PW" "$PW2" >answers
  run "$PY" "$TBML_SRC/tests/integration/lib/pty_prompt.py" answers "$TBML" keygen primary --name tty2 --out keys/tty
  check "terminal prompt, two different passwords: fails" test "$RC" -ne 0
  check "terminal prompt mismatch: says they differ" grep -q "differ" "$OUT_FILE"
  check "terminal prompt mismatch: no key written" test ! -e keys/tty/tty2.key
else
  echo "skip - terminal prompt checks (no python3 with pty)"
fi

# ---- enclave --------------------------------------------------------------------------
run "$TBML" keygen enclave --out enclave.pem
expect_ok "keygen enclave"
check "enclave key is mode 600" test "$(mode_of enclave.pem)" = 600
text=$(openssl rsa -in enclave.pem -noout -text 2>/dev/null)
check "enclave key is RSA 3072 bits" grep -q "3072 bit" <<<"$text"
check "enclave key has public exponent 3" grep -q "^publicExponent: 3 (0x3)" <<<"$text"
check "openssl finds the enclave key consistent" quiet openssl rsa -in enclave.pem -check -noout
# MRSIGNER = SHA-256 of the little-endian modulus, computed here with openssl and shell only
mod=$(openssl rsa -in enclave.pem -noout -modulus | sed 's/^Modulus=//')
mod_le=$(fold -w2 <<<"$mod" | tac | tr -d '\n')
want=$(printf '%b' "$(sed 's/../\\x&/g' <<<"$mod_le")" | sha256sum | cut -d' ' -f1)
got=$(sed -n 's/^mrsigner: //p' "$OUT_FILE")
check "printed MRSIGNER is SHA-256 of the little-endian modulus" test "$got" = "$want"
check "MRSIGNER is 64 hex digits" grep -qE '^[0-9a-f]{64}$' <<<"$got"
before=$(sha256sum enclave.pem)
run "$TBML" keygen enclave --out enclave.pem
expect_error "enclave key: refuses to overwrite" enclave.pem "" "already exists"
check "enclave key unchanged" test "$(sha256sum enclave.pem)" = "$before"
run "$TBML" keygen enclave --out no-such-dir/enclave.pem
expect_error "enclave key: missing folder" no-such-dir/enclave.pem no-such-dir/enclave.pem
run "$TBML" keygen enclave
expect_error "enclave key: missing --out" "" "" "--out"

# ---- tls --------------------------------------------------------------------------------
run "$TBML" keygen tls --out tls --password-file pw
expect_ok "keygen tls (defaults)"
check "tls folder mode 700" test "$(mode_of tls)" = 700
check "tls key.pem mode 600" test "$(mode_of tls/key.pem)" = 600
check "tls bundle.p12 mode 600" test "$(mode_of tls/bundle.p12)" = 600
x509=$(openssl x509 -in tls/cert.pem -noout -text)
check "default key is EC P-256" grep -q "NIST CURVE: P-256" <<<"$x509"
check "default CN is localhost" grep -q "Subject: CN = localhost" <<<"$x509"
check "SAN has DNS:localhost" grep -q "DNS:localhost" <<<"$x509"
check "SAN has IP 127.0.0.1" grep -q "IP Address:127.0.0.1" <<<"$x509"
check "self-signed certificate verifies against itself" \
  quiet openssl verify -CAfile tls/cert.pem -purpose sslserver tls/cert.pem
check "default validity covers 364 days" quiet openssl x509 -in tls/cert.pem -noout -checkend $((364 * 86400))
check "default validity ends by 366 days" bash -c '! openssl x509 -in tls/cert.pem -noout -checkend $((366 * 86400)) >/dev/null'
p12=$(openssl pkcs12 -in tls/bundle.p12 -passin file:pw -nodes 2>/dev/null || true)
check "PKCS#12 opens with the password and holds the certificate" grep -q "BEGIN CERTIFICATE" <<<"$p12"
check "PKCS#12 holds the private key" grep -q "BEGIN PRIVATE KEY" <<<"$p12"
check "PKCS#12 refuses another password" bash -c '! openssl pkcs12 -in tls/bundle.p12 -passin file:pw2 -nodes >/dev/null 2>&1'
check "key.pem matches the certificate" test \
  "$(openssl pkey -in tls/key.pem -pubout | sha256sum)" = "$(openssl x509 -in tls/cert.pem -noout -pubkey | sha256sum)"
# a TLS server with these credentials completes a handshake
if command -v timeout >/dev/null; then
  port=$((20000 + RANDOM % 20000))
  openssl s_server -quiet -accept "127.0.0.1:$port" -cert tls/cert.pem -key tls/key.pem -naccept 1 \
    </dev/null >/dev/null 2>&1 &
  srv=$!
  sleep 0.5
  hs=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile tls/cert.pem \
    -verify_hostname localhost -verify_return_error </dev/null 2>&1 || true)
  kill "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
  check "TLS handshake with the new certificate verifies" grep -q "Verify return code: 0 (ok)" <<<"$hs"
fi

run "$TBML" keygen tls --out tls-rsa --key-type rsa --cn svc.internal --days 10 --san DNS:svc.internal \
  --san IP:10.1.2.3 --password-fd 3 3<pw2
expect_ok "keygen tls --key-type rsa --cn --days --san"
x509=$(openssl x509 -in tls-rsa/cert.pem -noout -text)
check "rsa: key is RSA 3072" grep -q "Public-Key: (3072 bit)" <<<"$x509"
check "rsa: CN set" grep -q "Subject: CN = svc.internal" <<<"$x509"
check "rsa: SANs are the given ones" grep -q "DNS:svc.internal, IP Address:10.1.2.3" <<<"$x509"
check "rsa: no default localhost SAN" bash -c '! grep -q "DNS:localhost" <<<"$1"' _ "$x509"
check "rsa: --days 10 honoured" bash -c '! openssl x509 -in tls-rsa/cert.pem -noout -checkend $((11 * 86400)) >/dev/null'
check "rsa: PKCS#12 opens with the fd password" openssl pkcs12 -in tls-rsa/bundle.p12 -passin file:pw2 -nodes -out /dev/null

before=$(cat tls/*.pem tls/*.p12 | sha256sum)
run "$TBML" keygen tls --out tls --password-file pw
expect_error "tls: refuses to overwrite" tls/key.pem "" "already exists"
check "tls files unchanged" test "$(cat tls/*.pem tls/*.p12 | sha256sum)" = "$before"
run "$TBML" keygen tls --out tls2 --days 0 --password-file pw
expect_error "tls: --days 0" "--days" "" ""
run "$TBML" keygen tls --out tls2 --days soon --password-file pw
expect_error "tls: --days not a number" "soon" "" "--help"
run "$TBML" keygen tls --out tls2 --key-type dsa --password-file pw
expect_error "tls: bad --key-type" "dsa" "" ""
run "$TBML" keygen tls --out tls2 --san example.com --password-file pw
expect_error "tls: bad --san" "example.com" "" "DNS:"
run setsid -w "$TBML" keygen tls --out tls2 </dev/null
expect_error "tls: no password on a non-terminal" "" "" "no password"
check "tls: nothing created on errors" test ! -e tls2

# ---- --help everywhere --------------------------------------------------------------------
for args in "keygen --help" "keygen -h" "keygen primary --help" "keygen enclave --help" "keygen tls --help"; do
  # shellcheck disable=SC2086
  run "$TBML" $args
  check "tbml $args prints usage" bash -c '[[ $1 -eq 0 ]] && grep -q "^usage: tbml keygen" "$2"' _ "$RC" "$OUT_FILE"
done
run "$TBML" --help
check "tbml --help lists keygen" grep -q "keygen" "$OUT_FILE"

no_secret_printed "$PW" "$PW2"
finish
