#!/usr/bin/env bash
# Golden outputs of the examples (tests/golden/): wordcount on people.txt, plain and sealed, and pi
# with its default partitions for several thread counts.
set -euo pipefail
: "${TBML:?}" "${TBML_SRC:?}" "${TBML_BUILD:?}" "${TBML_SHARED:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
golden=$TBML_SRC/tests/golden

"$TBML" run-example wordcount "$TBML_SHARED/datasets/people.txt" >"$work/wc"
cmp "$golden/wordcount_people.txt" "$work/wc" || fail "wordcount people.txt differs from the golden file"
echo 'pw for the golden test' >"$work/pw"
"$TBML_BUILD/bench/bench_seal_file" "$work/k.key" "$work/pw" "$TBML_SHARED/datasets/people.txt" "$work/people.sealed"
"$TBML" run-example wordcount --key "$work/k.key" --password-file "$work/pw" "$work/people.sealed" >"$work/wcs"
cmp "$golden/wordcount_people.txt" "$work/wcs" || fail "wordcount of sealed people.txt differs"

for m in 'local[1]' 'local[2]' 'local[5]' 'local[*]'; do
  "$TBML" run-example --master "$m" pi >"$work/pi"
  cmp "$golden/pi_default.txt" "$work/pi" || fail "pi with $m differs from the golden file"
done
echo "examples_golden: ok"
