#!/usr/bin/env bash
# The sql_basic example prints what Spark's SQL basic walkthrough prints (tests/golden/sql_basic.txt),
# for one and several threads, and the same on sealed copies of people.json and people.txt.
set -euo pipefail
: "${TBML:?}" "${TBML_BUILD:?}" "${TBML_SRC:?}" "${TBML_SHARED:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
golden="$TBML_SRC/tests/golden/sql_basic.txt"

for m in 'local[1]' 'local[4]'; do
  "$TBML" run-example --master "$m" sql_basic "$TBML_SHARED/datasets" >"$work/out"
  cmp -s "$golden" "$work/out" || fail "$m: $(diff "$golden" "$work/out" | head -20)"
done
# a different partition count changes nothing but the groupBy order; the shuffle still works
"$TBML" run-example --master 'local[3]' --conf spark.sql.shuffle.partitions=7 sql_basic "$TBML_SHARED/datasets" >"$work/out7"
[[ $(sort "$work/out7" | md5sum) == $(sort "$golden" | md5sum) ]] || fail "7 partitions: other rows"

echo 'correct horse battery' >"$work/pw"
mkdir "$work/sealed"
for f in people.json people.txt; do
  "$TBML_BUILD/bench/bench_seal_file" "$work/k.key" "$work/pw" "$TBML_SHARED/datasets/$f" "$work/sealed/$f"
  cmp -s "$TBML_SHARED/datasets/$f" "$work/sealed/$f" && fail "$f: the sealed copy is plain"
done
"$TBML" run-example --master 'local[2]' sql_basic --key "$work/k.key" --password-file "$work/pw" "$work/sealed" >"$work/outs"
cmp -s "$golden" "$work/outs" || fail "sealed inputs: $(diff "$golden" "$work/outs" | head -20)"
rc=0; "$TBML" run-example sql_basic "$work/sealed" >"$work/out" 2>"$work/err" || rc=$?
[[ $rc != 0 ]] || fail "sealed inputs without a key were read"
[[ $(wc -l <"$work/err") == 1 ]] || fail "no-key error is not one line: $(cat "$work/err")"
echo "sql_basic: ok"
