#!/usr/bin/env bash
# tbml decrypt / encrypt on bad input: wrong password, wrong key (other name, or same name),
# missing key, a tampered, truncated, extended or reordered sealed file (as a file and on
# stdin), a plain file, unreadable and unwritable paths, a full disk (RLIMIT_FSIZE, and a tmpfs
# where one can be mounted). Each must fail with one line naming the file and the cause, a
# non-zero exit, and no output or temporary file left behind. No password is ever printed.
set -euo pipefail
source "$(dirname "$0")/lib/check.bash"
cd "$WORK"
source "$TBML_SRC/tests/integration/lib/crypt_setup.bash"

# r-1000.sealed: 1 MiB of random bytes in 1000-byte segments (1061 of them), the victim below
head -c $((1048576 + 12345)) /dev/urandom >random.bin
enc --segment-size 1000 random.bin r-1000.sealed
expect_ok "encrypt the file to damage"
enc --segment-size 65536 random.bin r-65536.sealed
run "$TBML" inspect --json r-1000.sealed
cp "$OUT_FILE" inspect.json
# ---- the layout the tamper tests rely on ----------------------------------------------------
# r-1000.sealed: header, then segments of 1000 plaintext bytes + a 16-byte tag each
HS=$(json_field inspect.json header_size)
NSEG=$(json_field inspect.json segments)
STRIDE=1016
check "sealed size = header + plaintext + 16 bytes per segment" \
  test "$(size_of r-1000.sealed)" -eq $((HS + $(size_of random.bin) + 16 * NSEG))

# ---- bad input -----------------------------------------------------------------------------
S=r-1000.sealed
# damaged copies of S, each decrypted to an output that must not appear
flip() { # flip FILE OFFSET
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
damaged() { # damaged NAME: decrypt NAME.sealed, expect an error naming it and no NAME.out
  local desc=$1 pattern=${2:-}
  dec "$desc.sealed" "$desc.out"
  expect_error "$desc" "$desc.sealed" "$desc.out" "$pattern"
}
cp $S flip-magic.sealed && flip flip-magic.sealed 0 && damaged flip-magic
cp $S flip-header.sealed && flip flip-header.sealed $((HS - 20)) && damaged flip-header
cp $S flip-header-last.sealed && flip flip-header-last.sealed $((HS - 1)) && damaged flip-header-last
cp $S flip-seg0.sealed && flip flip-seg0.sealed $((HS + 10)) && damaged flip-seg0
cp $S flip-mid.sealed && flip flip-mid.sealed $((HS + 700 * STRIDE + 3)) && damaged flip-mid
cp $S flip-tag.sealed && flip flip-tag.sealed $(($(size_of $S) - 1)) && damaged flip-tag
cp $S trunc-1.sealed && truncate -s -1 trunc-1.sealed && damaged trunc-1
last=$(( $(size_of $S) - HS - (NSEG - 1) * STRIDE ))
cp $S trunc-seg.sealed && truncate -s -$last trunc-seg.sealed && damaged trunc-seg
cp $S trunc-half.sealed && truncate -s $((HS + 500 * STRIDE)) trunc-half.sealed && damaged trunc-half
cp $S trunc-header.sealed && truncate -s $((HS - 1)) trunc-header.sealed && damaged trunc-header
cp $S trunc-magic.sealed && truncate -s 5 trunc-magic.sealed && damaged trunc-magic
: >trunc-0.sealed && damaged trunc-0
cp $S extend-1.sealed && printf 'x' >>extend-1.sealed && damaged extend-1
cp $S extend-seg.sealed && tail -c $STRIDE $S >>extend-seg.sealed && damaged extend-seg
cp $S extend-dup.sealed && dd if=$S bs=1 skip=$HS count=$STRIDE status=none >>extend-dup.sealed && damaged extend-dup
# swap segments 0 and 1
{ head -c $HS $S; dd if=$S bs=1 skip=$((HS + STRIDE)) count=$STRIDE status=none
  dd if=$S bs=1 skip=$HS count=$STRIDE status=none; tail -c +$((HS + 2 * STRIDE + 1)) $S; } >reorder.sealed
check "reordered file has the original size" test "$(size_of reorder.sealed)" -eq "$(size_of $S)"
damaged reorder
# drop segment 5 (the file is one segment short, all others intact)
{ head -c $((HS + 5 * STRIDE)) $S; tail -c +$((HS + 6 * STRIDE + 1)) $S; } >drop-seg.sealed
damaged drop-seg
# segment 3 taken from another seal of the same data under the same key
enc --segment-size 1000 random.bin other.sealed
{ head -c $((HS + 3 * STRIDE)) $S; dd if=other.sealed bs=1 skip=$((HS + 3 * STRIDE)) count=$STRIDE status=none
  tail -c +$((HS + 4 * STRIDE + 1)) $S; } >splice.sealed
damaged splice
# header of one file on the body of another
{ head -c $HS other.sealed; tail -c +$((HS + 1)) $S; } >swap-header.sealed
damaged swap-header

# through stdin the same damage is caught, and named as stdin
run bash -c '"$1" decrypt --key keys/datakey.key --password-file pw - stdin-trunc.out <trunc-seg.sealed' _ "$TBML"
expect_error "truncated file on stdin" stdin stdin-trunc.out
run bash -c '"$1" decrypt --key keys/datakey.key --password-file pw - stdin-ext.out <extend-seg.sealed' _ "$TBML"
expect_error "extended file on stdin" stdin stdin-ext.out

# plain files, wrong keys and passwords
dec "$DATA/people.json" plain.out
expect_error "plain file given to decrypt" "$DATA/people.json" plain.out
run bash -c '"$1" decrypt --key keys/datakey.key --password-file pw - plain-stdin.out <"$2"' _ "$TBML" "$DATA/people.txt"
expect_error "plain file on stdin" stdin plain-stdin.out
run "$TBML" decrypt --key keys/datakey.key --password-file pw2 $S wrongpw.out
expect_error "wrong password" keys/datakey.key wrongpw.out "password"
run "$TBML" decrypt --key keys/otherkey.key --password-file pw $S wrongname.out
expect_error "key with another name" $S wrongname.out "otherkey"
run "$TBML" decrypt --key keys2/datakey.key --password-file pw $S wrongkey.out
expect_error "another key of the same name" $S wrongkey.out
run "$TBML" decrypt --key keys/nokey.key --password-file pw $S nokey.out
expect_error "missing key file (decrypt)" keys/nokey.key nokey.out
run setsid -w "$TBML" decrypt --key keys/nokey.key $S nokey.out </dev/null
expect_error "missing key fails before asking for a password" keys/nokey.key nokey.out "key file"
run "$TBML" encrypt --key keys/nokey.key --password-file pw random.bin nokey.sealed
expect_error "missing key file (encrypt)" keys/nokey.key nokey.sealed
run "$TBML" encrypt --key "$DATA/people.json" --password-file pw random.bin notkey.sealed
expect_error "a plain file as the key" "$DATA/people.json" notkey.sealed
run "$TBML" encrypt --key keys/datakey.key --password-file pw2 random.bin wrongpw.sealed
expect_error "wrong password (encrypt)" keys/datakey.key wrongpw.sealed "password"
run setsid -w "$TBML" decrypt --key keys/datakey.key $S nopw.out </dev/null
expect_error "no password source on a non-terminal" "" nopw.out "no password"
run setsid -w "$TBML" decrypt --key keys/datakey.key "$DATA/people.json" nopw.out </dev/null
expect_error "a plain file fails before asking for a password" "$DATA/people.json" nopw.out

# unreadable and unwritable paths
enc no-such-input.csv nsi.sealed
expect_error "missing input (encrypt)" no-such-input.csv nsi.sealed "No such file"
dec no-such-input.sealed nsi.out
expect_error "missing input (decrypt)" no-such-input.sealed nsi.out "No such file"
mkdir adir
enc adir adir.sealed
expect_error "a folder as input (encrypt)" adir adir.sealed "folder"
dec adir adir.out
expect_error "a folder as input (decrypt)" adir adir.out "folder"
enc random.bin no-such-dir/out.sealed
expect_error "output folder missing" no-such-dir/out.sealed no-such-dir/out.sealed
cp "$DATA/people.txt" unreadable.txt
chmod 000 unreadable.txt
if [[ $(id -u) -ne 0 ]]; then
  enc unreadable.txt unreadable.sealed
  expect_error "unreadable input (permissions)" unreadable.txt unreadable.sealed "Permission denied"
  mkdir ro && chmod 500 ro
  enc random.bin ro/out.sealed
  expect_error "unwritable output folder" ro/out.sealed ro/out.sealed "Permission denied"
elif command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups "$TBML" --version >/dev/null 2>&1; then
  # root reads anything: drop to nobody for the permission checks (the work folder opens up
  # to it, the password file too: nobody is the only other user of these checks)
  chmod 755 "$WORK" && chmod 644 pw keys/datakey.key && chmod 755 keys
  mkdir ro && chmod 555 ro
  run setpriv --reuid=65534 --regid=65534 --clear-groups "$TBML" encrypt "${K[@]}" unreadable.txt "$WORK/tmp-nobody.sealed"
  expect_error "unreadable input (permissions, as nobody)" unreadable.txt "" "Permission denied"
  run setpriv --reuid=65534 --regid=65534 --clear-groups "$TBML" encrypt "${K[@]}" "$DATA/people.txt" ro/out.sealed
  expect_error "unwritable output folder (as nobody)" ro/out.sealed ro/out.sealed "Permission denied"
  chmod 700 "$WORK" && chmod 600 pw keys/datakey.key && chmod 700 keys
else
  echo "skip - permission checks (root without setpriv)"
fi

# a full disk: RLIMIT_FSIZE makes writes past 64 KiB fail with EFBIG (root and non-root alike)
limited() { bash -c 'ulimit -f 64; exec "$@"' _ "$@"; }
run limited "$TBML" encrypt "${K[@]}" random.bin full.sealed
expect_error "file size limit while encrypting" full.sealed full.sealed "File too large"
run limited "$TBML" decrypt "${K[@]}" r-65536.sealed full.out
expect_error "file size limit while decrypting" full.out full.out "File too large"
# and a real full file system where we may mount one (root in a mount namespace)
# (root: a mount namespace; others: inside a user namespace where the kernel allows one)
NS=()
if unshare -m true 2>/dev/null; then NS=(unshare -m); elif unshare -r -m true 2>/dev/null; then NS=(unshare -r -m); fi
if ((${#NS[@]})); then
  mkdir tiny
  run "${NS[@]}" bash -c 'mount -t tmpfs -o size=256k tmpfs tiny || exit 99
    rc=0; "$@" || rc=$?; ls -A tiny >tiny.listing; exit $rc' _ "$TBML" encrypt "${K[@]}" random.bin tiny/out.sealed
  if [[ $RC -ne 99 ]]; then
    expect_error "full file system (tmpfs) while encrypting" tiny/out.sealed "" "No space left"
    check "nothing left on the full file system" test ! -s tiny.listing
  else
    echo "skip - tmpfs full-disk check (mount refused)"
  fi
else
  echo "skip - tmpfs full-disk check (no mount or user namespace)"
fi

check "sealed files do not contain the password" bash -c '! grep -qF -- "$1" "$2"' _ "$PW" "$S"
check "no temporary file left anywhere" test -z "$(find . -name '*.tmp.*' -print -quit)"
no_secret_printed "$PW" "$PW2"
finish
