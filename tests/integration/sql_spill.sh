#!/usr/bin/env bash
# tbml sql --executor-memory: a GROUP BY with more groups than the budget holds spills to sealed
# temporary files and gives the rows it gives in memory (and that awk computes); so do a full
# ORDER BY (sorted runs merged: ties keep their order) and shuffled joins of every kind on a
# skewed key (grace hash partitions); the log says how much spilled without showing a row, and
# no spill file or scratch folder stays behind, after success or after a failure.
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

# ORDER BY without LIMIT: sorted runs in sealed files, merged; byte-identical output (amount has
# 1200 rows a value: their order is the input's, as in memory)
conf=(--master 'local[2]' --conf spark.sql.shuffle.partitions=2 --conf spark.sql.autoBroadcastJoinThreshold=-1)
view="CREATE TEMP VIEW t USING csv OPTIONS (path '$work/t.csv', header 'true', inferSchema 'true');"
qs="$view SELECT amount, user, tag FROM t ORDER BY amount DESC"
"$TBML" sql "${conf[@]}" --format csv -e "$qs" > "$work/sort_mem.csv"
TMPDIR="$work/tmp" "$TBML" --log-level info sql "${conf[@]}" --executor-memory 1m --format csv \
    -e "$qs" > "$work/sort_spill.csv" 2> "$work/log4"
cmp "$work/sort_mem.csv" "$work/sort_spill.csv" || fail "spilled sort differs from the in-memory one"
[[ $(wc -l < "$work/sort_spill.csv") == 120001 ]] || fail "sort lost rows"
grep -Eq 'sort of partition [0-9]+ spilled [1-9][0-9]* bytes in [2-9][0-9]* sorted runs' "$work/log4" ||
    fail "no sort spill in the log: $(cat "$work/log4")"
grep -E 'spilled [0-9]+ bytes in [0-9]+ sorted runs' "$work/log4" | head -1
[[ -z "$(ls -A "$work/tmp")" ]] || fail "sort left behind: $(ls -A "$work/tmp")"

# joins: u maps users to regions, a quarter of its rows on one user (skew) and some without a
# user, joined with a fifth of t (and t's rows of that user); every kind, ordered on every
# column so that the text is comparable, with 128k a task
awk 'BEGIN { print "user,region"; for (i = 0; i < 20000; i++) {
       if (i % 4 == 1) printf "secret-user-0000007,r%d\n", i % 50
       else if (i % 10 == 4) printf ",r%d\n", i % 50
       else printf "secret-user-%07d,r%d\n", (i * 13) % 50000, i % 50 } }' > "$work/u.csv"
view2="$view CREATE TEMP VIEW u USING csv OPTIONS (path '$work/u.csv', header 'true', inferSchema 'true');
       CREATE TEMP VIEW p AS SELECT * FROM t WHERE amount < 20 OR user = 'secret-user-0000007';"
# (one run each way: the six queries are statements of one -e, their CSV outputs one after another)
qj="$view2"
for j in "JOIN" "LEFT JOIN" "RIGHT JOIN" "FULL JOIN" "LEFT SEMI JOIN" "LEFT ANTI JOIN"; do
    case "$j" in
    *SEMI* | *ANTI*) qj+=" SELECT p.user, p.amount, p.tag FROM p $j u ON p.user = u.user ORDER BY 1, 2, 3;" ;;
    *) qj+=" SELECT p.user, p.amount, u.user, u.region FROM p $j u ON p.user = u.user AND p.amount < 15 ORDER BY 1, 2, 3, 4;" ;;
    esac
done
"$TBML" sql "${conf[@]}" --format csv -e "$qj" > "$work/join_mem.csv"
TMPDIR="$work/tmp" "$TBML" --log-level info sql "${conf[@]}" --executor-memory 256k --format csv \
    -e "$qj" > "$work/join_spill.csv" 2> "$work/log5"
cmp "$work/join_mem.csv" "$work/join_spill.csv" || fail "spilled joins differ from the in-memory ones"
[[ $(grep -c '^user,amount,' "$work/join_mem.csv") == 6 ]] || fail "not six join results"
[[ $(wc -l < "$work/join_mem.csv") -gt 30000 ]] || fail "trivial join results"
[[ $(grep -Ec 'hash join of partition [0-9]+ done: [1-9][0-9]* spill files, [1-9][0-9]* bytes spilled' "$work/log5") -ge 6 ]] ||
    fail "not every join spilled: $(cat "$work/log5")"
[[ $(grep -c 'does not split (a skewed key)' "$work/log5") -ge 6 ]] || fail "the skewed key was not joined in chunks"
if grep -q 'secret-user' "$work/log4" "$work/log5"; then fail "a row reached the log"; fi
[[ -z "$(ls -A "$work/tmp")" ]] || fail "joins left behind: $(ls -A "$work/tmp")"
grep -E 'hash join of partition [0-9]+ done' "$work/log5" | head -1

# a failure while spilling (a spill file past the file size limit): one error line, non-zero
# exit, no scratch folder left; the same when the limit's signal kills the process
if (trap '' XFSZ; ulimit -f 64; TMPDIR="$work/tmp" exec "$TBML" sql "${conf[@]}" --executor-memory 1m \
        --format csv -e "$qs" > /dev/null 2> "$work/err"); then fail "a spill past ulimit -f succeeded"; fi
grep -q 'File too large' "$work/err" || fail "failed spill: $(cat "$work/err")"
[[ $(wc -l < "$work/err") == 1 ]] || fail "more than one error line: $(cat "$work/err")"
[[ -z "$(ls -A "$work/tmp")" ]] || fail "a failed spill left behind: $(ls -A "$work/tmp")"
rc=0
{ (ulimit -f 64; TMPDIR="$work/tmp" exec "$TBML" sql "${conf[@]}" --executor-memory 1m --format csv \
    -e "$qs" > /dev/null 2> /dev/null); } 2> /dev/null || rc=$?
[[ $rc == $((128 + $(kill -l XFSZ))) ]] || fail "not killed by SIGXFSZ: exit $rc"
[[ -z "$(ls -A "$work/tmp")" ]] || fail "a spill killed by SIGXFSZ left behind: $(ls -A "$work/tmp")"

# a bad size: one clear line, non-zero exit
if "$TBML" sql --executor-memory lots -e 'SELECT 1' 2> "$work/err"; then fail "bad size accepted"; fi
grep -q 'executor-memory' "$work/err" || fail "bad size message: $(cat "$work/err")"
echo "ok"
