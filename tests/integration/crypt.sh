#!/usr/bin/env bash
# tbml encrypt / decrypt / inspect end to end: round trips of the shared data sets, stdin and
# stdout pipes, segment sizes, empty files, inspect's fields (text and JSON), usage errors and
# --help. (Damaged files and other bad input: crypt_errors.sh.) No password is ever printed.
set -euo pipefail
source "$(dirname "$0")/lib/check.bash"
cd "$WORK"
source "$TBML_SRC/tests/integration/lib/crypt_setup.bash"
# ---- round trips of the shared data sets ---------------------------------------------------
mkdir sealed plain
for f in "${FILES[@]}"; do
  enc "$DATA/$f" "sealed/$f.sealed"
  expect_ok "encrypt $f"
  check "$f: sealed file starts with the magic" test "$(head -c 8 "sealed/$f.sealed")" = TBMLSEAL
  check "$f: sealed file is mode 600" test "$(stat -c %a "sealed/$f.sealed")" = 600
  first=$(head -c 24 "$DATA/$f")
  check "$f: sealed file does not contain the plaintext" bash -c '! grep -qF -- "$1" "$2"' _ "$first" "sealed/$f.sealed"
  dec "sealed/$f.sealed" "plain/$f"
  expect_ok "decrypt $f"
  check "$f: round trip is byte-identical" cmp -s "$DATA/$f" "plain/$f"
done
enc "$DATA/people.json" again.sealed
check "two seals of one file differ (fresh data key and nonces)" bash -c '! cmp -s again.sealed sealed/people.json.sealed'

# ---- stdin / stdout ----------------------------------------------------------------------
run bash -c '"$1" encrypt --key keys/datakey.key --password-file pw - stdin.sealed <"$2"' _ "$TBML" "$DATA/BostonHousing.csv"
expect_ok "encrypt from stdin"
run bash -c '"$1" decrypt --key keys/datakey.key --password-file pw stdin.sealed - >stdout.csv' _ "$TBML"
expect_ok "decrypt to stdout"
check "stdin -> sealed -> stdout round trip" cmp -s "$DATA/BostonHousing.csv" stdout.csv
run bash -c 'cat "$2" | "$1" encrypt --key keys/datakey.key --password-file pw - - |
  "$1" decrypt --key keys/datakey.key --password-fd 3 - - 3<pw >pipe.csv' _ "$TBML" "$DATA/PimaIndiansDiabetes.csv"
expect_ok "encrypt - - | decrypt - - (pipes both ways)"
check "pipe round trip is byte-identical" cmp -s "$DATA/PimaIndiansDiabetes.csv" pipe.csv
run bash -c '"$1" decrypt --key keys/datakey.key --password-file pw - fromstdin.json <sealed/people.json.sealed' _ "$TBML"
expect_ok "decrypt from stdin to a file"
check "stdin decrypt round trip" cmp -s "$DATA/people.json" fromstdin.json

# ---- segment sizes, empty and multi-segment files ------------------------------------------
head -c $((1048576 + 12345)) /dev/urandom >random.bin
: >empty.bin
for seg in 16 1000 4K 65536 1M; do
  enc --segment-size "$seg" random.bin "r-$seg.sealed"
  expect_ok "encrypt --segment-size $seg (1 MiB)"
  dec "r-$seg.sealed" "r-$seg.out"
  check "segment size $seg: round trip" cmp -s random.bin "r-$seg.out"
done
enc empty.bin empty.sealed
expect_ok "encrypt an empty file"
dec empty.sealed empty.out
expect_ok "decrypt an empty sealed file"
check "empty round trip" test -f empty.out -a ! -s empty.out
enc --segment-size 15 random.bin bad.sealed
expect_error "--segment-size below the minimum" "--segment-size" bad.sealed "minimum"
enc --segment-size 65M random.bin bad.sealed
expect_error "--segment-size above the maximum" "--segment-size" bad.sealed "too large"
enc --segment-size lots random.bin bad.sealed
expect_error "--segment-size not a number" "lots" bad.sealed "--help"

# ---- inspect ------------------------------------------------------------------------------
run setsid -w "$TBML" inspect sealed/BostonHousing.csv.sealed </dev/null
expect_ok "inspect needs no key or password"
cp "$OUT_FILE" inspect.txt
hs=$(sed -nE 's/^header size: +([0-9]+) bytes$/\1/p' inspect.txt)
check "inspect: format version 1" grep -qE '^format: +tbml sealed file, version 1$' inspect.txt
check "inspect: key name" grep -qE '^key name: +datakey$' inspect.txt
check "inspect: segment size" grep -qE '^segment size: +65536 bytes$' inspect.txt
check "inspect: plaintext size = the data set's size" \
  grep -qE "^plaintext size: +$(size_of "$DATA/BostonHousing.csv") bytes$" inspect.txt
check "inspect: segments" grep -qE '^segments: +1$' inspect.txt
check "inspect: names the file" grep -qF "sealed/BostonHousing.csv.sealed" inspect.txt
run "$TBML" inspect --json r-1000.sealed
expect_ok "inspect --json"
cp "$OUT_FILE" inspect.json
check "json: one line" test "$(wc -l <inspect.json)" -eq 1
check "json: version" test "$(json_field inspect.json version)" = 1
check "json: key_name" test "$(json_field inspect.json key_name)" = datakey
check "json: segment_size" test "$(json_field inspect.json segment_size)" = 1000
check "json: plaintext_size" test "$(json_field inspect.json plaintext_size)" = "$(size_of random.bin)"
check "json: segments = ceil(size / 1000)" \
  test "$(json_field inspect.json segments)" = $((($(size_of random.bin) + 999) / 1000))
check "json: file" test "$(json_field inspect.json file)" = r-1000.sealed
run "$TBML" inspect --json empty.sealed
check "inspect of the empty file: plaintext_size 0" bash -c '[[ $(grep -o "\"plaintext_size\":[0-9]*" "$1") == "\"plaintext_size\":0" ]]' _ "$OUT_FILE"
run "$TBML" inspect "$DATA/people.txt"
expect_error "inspect a plain file" "$DATA/people.txt" ""
run "$TBML" inspect no-such.sealed
expect_error "inspect a missing file" no-such.sealed ""
run "$TBML" inspect
expect_error "inspect without a file" "" "" "--help"
run "$TBML" inspect --yaml sealed/people.txt.sealed
expect_error "inspect: unknown option" "--yaml" "" "tbml inspect --help"

# usage errors
run "$TBML" encrypt random.bin x.sealed
expect_error "encrypt without --key" "--key" x.sealed "--help"
run "$TBML" encrypt "${K[@]}" random.bin
expect_error "encrypt with one file" "" "" "--help"
run "$TBML" encrypt "${K[@]}" random.bin a b
expect_error "encrypt with three files" "'b'" "" "--help"
run "$TBML" decrypt "${K[@]}" --fast sealed/people.txt.sealed x.out
expect_error "decrypt: unknown option" "--fast" x.out "tbml decrypt --help"
run "$TBML" encrypt "${K[@]}" --fast random.bin x.sealed
expect_error "encrypt: unknown option" "--fast" x.sealed "tbml encrypt --help"
for c in encrypt decrypt inspect; do
  run "$TBML" $c --help
  check "tbml $c --help prints usage" bash -c '[[ $1 -eq 0 ]] && grep -q "^usage: tbml $2" "$3"' _ "$RC" $c "$OUT_FILE"
done

check "sealed files do not contain the password" bash -c '! grep -rqF -- "$1" sealed' _ "$PW"
check "no temporary file left anywhere" test -z "$(find . -name '*.tmp.*' -print -quit)"
no_secret_printed "$PW" "$PW2"
finish
