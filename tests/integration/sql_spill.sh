#!/usr/bin/env bash
# tbml sql --executor-memory: a GROUP BY with more groups than the budget holds spills to sealed
# temporary files and gives the rows it gives in memory (and that awk computes); the log says
# how much spilled without showing a row, and no spill file or scratch folder stays behind.
set -euo pipefail
: "${TBML:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 120000 rows over 40000 users (long string keys), amounts 0..99; two shuffle partitions, so
# that each holds 20000 groups (with Spark's 200 each would fit in its share of 1m)
awk 'BEGIN { print "user,amount,tag"; for (i = 0; i < 120000; i++)
       printf "secret-user-%07d,%d,t%d\n", (i * 7919) % 40000, i % 100, i % 13 }' > "$work/t.csv"
q="CREATE TEMP VIEW t USING csv OPTIONS (path '$work/t.csv', header 'true', inferSchema 'true');
   SELECT user, count(*) AS n, sum(amount) AS s, min(tag) AS lo, count(DISTINCT tag) AS d,
          round(stddev(amount), 6) AS sd FROM t GROUP BY user ORDER BY user"

mkdir "$work/tmp"
want=$("$TBML" sql --master 'local[2]' --conf spark.sql.shuffle.partitions=2 --format csv -e "$q")
got=$(TMPDIR="$work/tmp" "$TBML" --log-level info sql --master 'local[2]' --conf spark.sql.shuffle.partitions=2 --executor-memory 1m \
        --format csv -e "$q" 2> "$work/log")
[[ "$got" == "$want" ]] || fail "spilled result differs from the in-memory one"
[[ $(wc -l <<< "$got") == 40001 ]] || fail "not 40000 groups: $(wc -l <<< "$got")"
# awk's own counts and sums per user
diff <(tail -n +2 "$work/t.csv" | awk -F, '{ n[$1]++; s[$1] += $2 }
         END { for (u in n) print u "," n[u] "," s[u] }' | sort) \
     <(tail -n +2 <<< "$got" | cut -d, -f1-3) > /dev/null || fail "awk disagrees"

grep -q 'over its memory budget' "$work/log" || fail "no spill in the log: $(cat "$work/log")"
grep -Eq 'done: [1-9][0-9]* spill files, [1-9][0-9]* bytes spilled' "$work/log" || fail "no spill summary"
if grep -q 'secret-user' "$work/log"; then fail "a row reached the log"; fi
[[ -z "$(ls -A "$work/tmp")" ]] || fail "left behind: $(ls -A "$work/tmp")"
grep "done:" "$work/log" | head -2

# the same through --conf, and a budget large enough never spills
got=$(TMPDIR="$work/tmp" "$TBML" --log-level info sql --master 'local[2]' --conf spark.sql.shuffle.partitions=2 \
        --conf spark.executor.memory=1m --format csv -e "$q" 2> "$work/log2")
[[ "$got" == "$want" ]] || fail "--conf spark.executor.memory result differs"
grep -q 'over its memory budget' "$work/log2" || fail "--conf: no spill"
"$TBML" --log-level info sql --master 'local[2]' --conf spark.sql.shuffle.partitions=2 --executor-memory 4g --format csv -e "$q" \
    2> "$work/log3" > /dev/null
if grep -q 'spill' "$work/log3"; then fail "spilled under 4g"; fi

# a bad size: one clear line, non-zero exit
if "$TBML" sql --executor-memory lots -e 'SELECT 1' 2> "$work/err"; then fail "bad size accepted"; fi
grep -q 'executor-memory' "$work/err" || fail "bad size message: $(cat "$work/err")"
echo "ok"
