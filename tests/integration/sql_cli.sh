#!/usr/bin/env bash
# tbml sql: statements from -e, -f and stdin; table, csv and json output; views over json, csv and
# text files, plain and sealed (the key file's password read once); bad input gives one clear
# message with the query position and a caret, and a non-zero exit.
set -euo pipefail
: "${TBML:?}" "${TBML_BUILD:?}" "${TBML_SHARED:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
D="$TBML_SHARED/datasets"

# views over json, csv (header, inferSchema) and text
out=$("$TBML" sql --master 'local[2]' -e "
  CREATE TEMP VIEW people USING json OPTIONS (path '$D/people.json');
  SELECT name, age FROM people WHERE age IS NOT NULL ORDER BY age DESC")
want='+------+---+
|  name|age|
+------+---+
|  Andy| 30|
|Justin| 19|
+------+---+'
[[ "$out" == "$want" ]] || fail "json view: $out"

out=$("$TBML" sql -e "CREATE TEMP VIEW b USING csv OPTIONS (path '$D/BostonHousing.csv', header 'true', inferSchema 'true');
  SELECT chas, count(*) AS n, round(avg(medv), 2) AS m FROM b GROUP BY chas ORDER BY chas" --format csv)
[[ "$out" == $'chas,n,m\n0,471,22.09\n1,35,28.44' ]] || fail "csv view: $out"
n=$(awk -F, 'NR > 1 && $4 == 1' "$D/BostonHousing.csv" | wc -l)
[[ "$n" == 35 ]] || fail "awk disagrees on the csv data: $n"

out=$("$TBML" sql -e "CREATE TEMP VIEW t USING text OPTIONS (path '$D/people.txt');
  SELECT trim(split(value, ',')[1]) AS age FROM t ORDER BY age" --format json)
[[ "$out" == $'{"age":"19"}\n{"age":"29"}\n{"age":"30"}' ]] || fail "text view / json output: $out"

# -f FILE and statements on stdin; comments and ';' inside strings
cat >"$work/q.sql" <<SQL
-- a comment; with a semicolon
CREATE OR REPLACE TEMP VIEW p USING json OPTIONS (path '$D/people.json');
CREATE TEMP VIEW adults AS SELECT * FROM p WHERE age > 21;
SELECT concat(name, ';') AS n FROM adults; /* done */
SQL
out=$("$TBML" sql -f "$work/q.sql" --format csv)
[[ "$out" == $'n\nAndy;' ]] || fail "-f: $out"
out=$("$TBML" sql --format csv <"$work/q.sql")
[[ "$out" == $'n\nAndy;' ]] || fail "stdin: $out"

# sealed view: key file option, password read once for two views
echo 'correct horse battery' >"$work/pw"
"$TBML_BUILD/bench/bench_seal_file" "$work/k.key" "$work/pw" "$D/people.json" "$work/people.sealed"
"$TBML_BUILD/bench/bench_seal_file" "$work/k.key" "$work/pw" "$D/people.txt" "$work/txt.sealed"
out=$("$TBML" sql --password-file "$work/pw" --format csv -e "
  CREATE TEMP VIEW s USING json OPTIONS (path '$work/people.sealed', key '$work/k.key');
  CREATE TEMP VIEW t USING text OPTIONS (path '$work/txt.sealed', key '$work/k.key');
  SELECT s.name, s.age, trim(split(t.value, ',')[1]) AS txt_age FROM s JOIN t ON s.name = split(t.value, ',')[0] ORDER BY s.name")
[[ "$out" == $'name,age,txt_age\nAndy,30,30\nJustin,19,19\nMichael,,29' ]] || fail "sealed views: $out"
echo 'wrong password' >"$work/badpw"
rc=0; "$TBML" sql --password-file "$work/badpw" -e "CREATE TEMP VIEW s USING json OPTIONS (path '$work/people.sealed', key '$work/k.key')" 2>"$work/err" || rc=$?
[[ $rc != 0 ]] && grep -qi "password" "$work/err" || fail "wrong password: rc $rc $(cat "$work/err")"
rc=0; "$TBML" sql -e "CREATE TEMP VIEW s USING json OPTIONS (path '$work/people.sealed'); SELECT * FROM s" >"$work/out" 2>"$work/err" || rc=$?
[[ $rc != 0 && ! -s "$work/out" ]] || fail "sealed view without a key was read"

# bad input: one message naming the position, a caret line under the token, exit 1
check_err() { # SQL, expected message fragment, expected caret column (1-based)
  local rc=0
  "$TBML" sql -e "CREATE TEMP VIEW people USING json OPTIONS (path '$D/people.json'); $1" >"$work/out" 2>"$work/err" || rc=$?
  [[ $rc == 1 ]] || fail "'$1': exit $rc"
  [[ ! -s "$work/out" ]] || fail "'$1': printed output"
  grep -q -- "$2" "$work/err" || fail "'$1': message $(cat "$work/err")"
  local caret; caret=$(sed -n 3p "$work/err")
  [[ "${caret%^}" != "$caret" ]] || fail "'$1': no caret line: $(cat "$work/err")"
  [[ ${#caret} == $(( $3 + 2 )) ]] || fail "'$1': caret at $(( ${#caret} - 2 )), not $3: $(cat "$work/err")"
}
check_err "SELECT name FORM people" "syntax error at 'people'" 18
check_err "SELECT * FORM people" "syntax error at 'FORM'" 10
check_err "SELECT nme FROM people" "cannot resolve column 'nme'; available columns: people.age, people.name" 8
check_err "SELECT * FROM peple" "table or view not found: peple; known views: people" 15
check_err "SELECT name + true FROM people" "data type mismatch" 8
check_err "SELECT name, count(*) FROM people" "neither in the GROUP BY" 8
check_err "SELECT upper(name, 1) FROM people" "takes 1 argument" 8
check_err "SELECT 'abc FROM people" "unterminated string" 8

rc=0; "$TBML" sql --format xml -e "SELECT 1" 2>"$work/err" || rc=$?
[[ $rc == 2 ]] && grep -q "format" "$work/err" || fail "--format xml: rc $rc"
rc=0; "$TBML" sql --bogus 2>"$work/err" || rc=$?
[[ $rc == 2 ]] || fail "--bogus: rc $rc"
# results that cannot be written are an error, not a silent success
rc=0; "$TBML" sql -e "SELECT 1" >/dev/full 2>"$work/err" || rc=$?
[[ $rc == 1 ]] && grep -q "^tbml sql: stdout: write failed" "$work/err" || fail "into /dev/full: rc $rc"
echo "sql_cli: ok"
