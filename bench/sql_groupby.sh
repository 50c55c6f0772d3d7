#!/usr/bin/env bash
# SQL over a generated CSV (id, name, age, salary, dept; fixed seed, made by bench_csv_read):
#   Q1  SELECT dept, count(*), avg(salary) FROM people GROUP BY dept
#   Q2  SELECT count(*) FROM people WHERE age > 40
# tbml sql end to end (process start to exit: CSV read with header and inferSchema, both
# queries; also the queries alone from its "Time taken" lines), pandas end to end (read_csv and
# both queries, in-process), and SQLite's two queries alone on a table already imported. Prints
# times (best of 3 for tbml, of 2 for pandas), peak memory, whether the answers agree, and the
# ratios; asserts nothing.
#   bench/sql_groupby.sh [ROWS (10000000)] [THREADS (all cores)]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}
threads=${2:-$(nproc)}
build=${TBML_BUILD:-build}
work=${TBML_BENCH_DIR:-out/bench}
py=/usr/bin/python3
mkdir -p "$work"
csv=$work/people-$rows.csv
# bench_csv_read makes the file when it is missing (it also times its reader; we need the file)
[[ -s $csv ]] || "$build/bench/bench_csv_read" "$csv" "$rows" "$threads" >/dev/null
mb=$(( $(stat -c %s "$csv") / 1000000 ))
echo "input: $csv ($rows rows, $mb MB), $threads threads, $(nproc) cores"
calc() { $py -c "print(f'{$1:.$2f}')"; }

q1="SELECT dept, count(*) AS n, avg(salary) AS avg_salary FROM people GROUP BY dept ORDER BY dept"
q2="SELECT count(*) AS n FROM people WHERE age > 40"
tbml_t=1e9 tbml_q=1e9
for _ in 1 2 3; do
  /usr/bin/time -f '%e %M' -o "$work/tbml.time" "$build/tbml" sql --timing --master "local[$threads]" --format csv \
    -e "CREATE TEMP VIEW people USING csv OPTIONS (path '$csv', header 'true', inferSchema 'true'); $q1; $q2" \
    >"$work/tbml.out" 2>"$work/tbml.err"
  read -r t rss <"$work/tbml.time"
  # the two SELECTs alone: the last two "Time taken" lines (the first is the view's CSV read)
  q=$(grep '^Time taken' "$work/tbml.err" | tail -2 | awk '{s += $3} END {print s}')
  tbml_t=$(calc "min($t, $tbml_t)" 3)
  tbml_q=$(calc "min($q, $tbml_q)" 3)
  tbml_rss=$((rss / 1024))
done
echo "tbml sql:  end to end $tbml_t s, queries alone $tbml_q s, peak $tbml_rss MB"

if $py -c 'import pandas' 2>/dev/null; then
  /usr/bin/time -f '%M' -o "$work/pandas.rss" $py - "$csv" >"$work/pandas.out" 2>"$work/pandas.err" <<'PY'
import sys, time
import pandas as pd
best = 1e9
for _ in range(2):
    t = time.perf_counter()
    df = pd.read_csv(sys.argv[1])
    g = df.groupby("dept").agg(n=("salary", "size"), avg_salary=("salary", "mean")).sort_index()
    n = int((df["age"] > 40).sum())
    best = min(best, time.perf_counter() - t)
    del df
for dept, row in g.iterrows():
    print(f"{dept},{int(row['n'])},{row['avg_salary']:.6f}")
print(n)
print(f"{best:.3f}", file=sys.stderr)
PY
  pandas_t=$(cat "$work/pandas.err")
  echo "pandas:    end to end $pandas_t s, peak $(( $(cat "$work/pandas.rss") / 1024 )) MB"
  echo "  pandas / tbml (end to end): $(calc "$pandas_t / $tbml_t" 1)x"
  awk -F, 'NR > 1 && NF == 3 {printf "%s,%s,%.6f\n", $1, $2, $3} NF == 1 && $1 ~ /^[0-9]+$/ {print}' \
    "$work/tbml.out" >"$work/tbml.cmp"
  if cmp -s "$work/tbml.cmp" "$work/pandas.out"; then echo "  answers: tbml == pandas"; else
    echo "  answers DIFFER: $(diff "$work/tbml.cmp" "$work/pandas.out" | head -4)"; fi
else
  echo "pandas not installed: no pandas ratio"
fi

if command -v sqlite3 >/dev/null; then
  db=$work/people-$rows.db
  if [[ ! -s $db ]]; then
    printf '%s\n' "CREATE TABLE people (id INTEGER, name TEXT, age INTEGER, salary REAL, dept TEXT);" \
      ".import --csv --skip 1 $csv people" | sqlite3 "$db"
  fi
  st=$(printf '.timer on\n%s;\n%s;\n' "$q1" "$q2" | sqlite3 "$db" | awk '/^Run Time/ {s += $4} END {print s}')
  echo "sqlite3:   queries alone $st s"
  echo "  sqlite / tbml (queries alone): $(calc "$st / $tbml_q" 1)x"
fi
