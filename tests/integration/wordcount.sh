#!/usr/bin/env bash
# The wordcount example on a generated Zipf corpus: its counts equal those of
# tr | sort | uniq -c computed here, for any thread count, and a sealed copy gives identical output.
set -euo pipefail
: "${TBML:?}" "${TBML_BUILD:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$TBML_BUILD/bench/bench_gen_zipf" 3 7 20000 >"$work/corpus.txt"
printf 'tail  without\tnewline' >>"$work/corpus.txt"
tr -s ' \t' '\n\n' <"$work/corpus.txt" | grep -v '^$' | LC_ALL=C sort | LC_ALL=C uniq -c |
  awk '{print $2 ": " $1}' >"$work/want"
[[ $(wc -l <"$work/want") -gt 1000 ]] || fail "corpus too small"

"$TBML" run-example --master 'local[1]' wordcount "$work/corpus.txt" >"$work/got1"
"$TBML" run-example --master 'local[4]' wordcount "$work/corpus.txt" >"$work/got4"
cmp -s "$work/want" "$work/got1" || fail "local[1] counts differ: $(diff "$work/want" "$work/got1" | head -5)"
cmp -s "$work/want" "$work/got4" || fail "local[4] counts differ"

echo 'correct horse battery' >"$work/pw"
"$TBML_BUILD/bench/bench_seal_file" "$work/k.key" "$work/pw" "$work/corpus.txt" "$work/corpus.sealed"
cmp -s "$work/corpus.txt" "$work/corpus.sealed" && fail "the sealed copy is plain"
"$TBML" run-example --master 'local[3]' wordcount --key "$work/k.key" --password-file "$work/pw" \
  "$work/corpus.sealed" >"$work/gots"
cmp -s "$work/want" "$work/gots" || fail "sealed input gives other counts"

# a sealed input without its key, and a damaged one: one clear line, non-zero exit
rc=0; "$TBML" run-example wordcount "$work/corpus.sealed" >/dev/null 2>"$work/err" || rc=$?
[[ $rc != 0 ]] && grep -q "sealed and no key" "$work/err" || fail "no-key run: rc $rc, $(cat "$work/err")"
printf '\x55' | dd of="$work/corpus.sealed" bs=1 seek=100000 conv=notrunc status=none
rc=0; "$TBML" run-example wordcount --key "$work/k.key" --password-file "$work/pw" "$work/corpus.sealed" \
  >"$work/out" 2>"$work/err" || rc=$?
[[ $rc != 0 ]] || fail "a tampered input was counted"
[[ ! -s "$work/out" ]] || fail "a tampered input printed counts"
rc=0; "$TBML" run-example wordcount "$work/missing.txt" 2>"$work/err" || rc=$?
[[ $rc != 0 ]] && grep -q "missing.txt" "$work/err" || fail "missing file: $(cat "$work/err")"
echo "wordcount: ok"
