#!/usr/bin/env bash
# SQL on 1, 2 and 4 ranks through `tbml submit --master mpi` (label mpi): the sql_basic example
# prints its golden output, and ~20 `tbml sql` queries (broadcast and shuffle joins, group by,
# order by with and without limit, distinct, union all, subqueries) print byte for byte what one
# process prints, on plain and sealed inputs. A generated table of 150k rows spans several scan
# units, so every rank scans and exchanges rows. Skips (77) when this build has no MPI.
set -uo pipefail
source "$(dirname "$0")/lib/check.bash"
# Under the asan build: Open MPI's own allocations live until exit and show up as leaks with
# unusable stacks, so leak checking is off for ranks (memory errors and UBSan stay on); the
# same engine runs leak-checked in one process in sql_cli and unit.test_sql*.
[[ -z ${ASAN_OPTIONS:-} ]] || export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
B=$TBML_BUILD
D=$TBML_SHARED/datasets
if ! command -v mpirun >/dev/null || ! grep -q TBML_HAVE_MPI "$B/compile_commands.json" 2>/dev/null; then
  echo "skip: no MPI in this build"
  exit 77
fi
cd "$WORK"
umask 077
export TMPDIR=$WORK/tmp
mkdir "$TMPDIR" sealed
printf 'data password 77aa\n' >pw
quiet "$TBML" keygen primary --name data --out keys --password-file pw
awk 'BEGIN { print "id,k,v,s"; srand(11); for (i = 0; i < 150000; i++)
  printf "%d,%d,%.3f,s%d\n", i, int(rand() * 997), rand() * 100, int(rand() * 50) }' >big.csv
for f in people.json people.txt BostonHousing.csv PimaIndiansDiabetes.csv; do
  quiet "$TBML" encrypt --key keys/data.key --password-file pw "$D/$f" "sealed/$f"
done
quiet "$TBML" encrypt --key keys/data.key --password-file pw big.csv sealed/big.csv

# sql_basic: golden output on every rank count, plain and sealed
golden=$TBML_SRC/tests/golden/sql_basic.txt
for n in 1 2 4; do
  run "$TBML" run-example --master mpi --num-executors "$n" sql_basic "$D"
  check "sql_basic on $n ranks: exit 0" test "$RC" -eq 0
  check "sql_basic on $n ranks: golden output" cmp -s "$OUT_FILE" "$golden"
done
run "$TBML" run-example --master mpi --num-executors 2 sql_basic --key keys/data.key --password-file pw sealed
check "sealed sql_basic on 2 ranks: golden output" cmp -s "$OUT_FILE" "$golden"

views() { # DIR [KEY]: the views over DIR's files
  local k=""
  [[ -z ${2:-} ]] || k=", key '$2'"
  cat <<SQL
CREATE TEMP VIEW b USING csv OPTIONS (path '$1/BostonHousing.csv', header 'true', inferSchema 'true'$k);
CREATE TEMP VIEW pima USING csv OPTIONS (path '$1/PimaIndiansDiabetes.csv', header 'true', inferSchema 'true'$k);
CREATE TEMP VIEW people USING json OPTIONS (path '$1/people.json'$k);
CREATE TEMP VIEW t USING text OPTIONS (path '$1/people.txt'$k);
CREATE TEMP VIEW big USING csv OPTIONS (path '$1/big.csv', header 'true', inferSchema 'true'$k);
SQL
}
cat >queries.sql <<'SQL'
SELECT chas, count(*) AS n, round(avg(medv), 2) AS m FROM b GROUP BY chas ORDER BY chas;
SELECT rad, count(*), sum(tax), min(crim), max(medv) FROM b GROUP BY rad;
SELECT * FROM b ORDER BY medv DESC, crim LIMIT 7;
SELECT DISTINCT rad, chas FROM b;
SELECT count(DISTINCT tax), count(*) FROM b;
SELECT x.rad, y.chas, count(*) AS n FROM b x JOIN b y ON x.rad = y.rad AND x.tax = y.tax GROUP BY x.rad, y.chas;
SELECT a.rad, c.n FROM (SELECT DISTINCT rad FROM b) a FULL OUTER JOIN (SELECT pregnant, count(*) AS n FROM pima GROUP BY pregnant) c ON a.rad = c.pregnant ORDER BY a.rad, c.n;
SELECT p.age, count(*) AS n, count(q.age) AS m FROM pima p LEFT JOIN (SELECT DISTINCT CAST(rad AS BIGINT) AS age FROM b) q ON p.age = q.age GROUP BY p.age ORDER BY n DESC, p.age LIMIT 10;
SELECT rad AS k FROM b WHERE rad < 4 UNION ALL SELECT pregnant AS k FROM pima WHERE pregnant > 10;
SELECT k, count(*) AS n FROM (SELECT rad % 3 AS k FROM b) s GROUP BY k ORDER BY k;
SELECT crim, tax FROM b ORDER BY tax, crim;
SELECT * FROM b;
SELECT age, count(*) AS c FROM pima GROUP BY age HAVING count(*) > 10 ORDER BY c DESC, age;
SELECT count(*), sum(glucose), round(avg(mass), 4) FROM pima;
SELECT count(*) FROM pima WHERE glucose > (SELECT avg(glucose) FROM pima);
SELECT count(*) FROM pima WHERE age IN (SELECT CAST(rad AS BIGINT) FROM b) AND EXISTS (SELECT 1 FROM people WHERE age > 20);
SELECT s.name, s.age, trim(split(t.value, ',')[1]) AS txt_age FROM people s JOIN t ON s.name = split(t.value, ',')[0] ORDER BY s.name;
SELECT k, count(*) AS n, round(sum(v), 3) AS sv, max(s) AS ms FROM big GROUP BY k;
SELECT s, count(DISTINCT k) AS dk FROM big GROUP BY s ORDER BY dk DESC, s LIMIT 5;
SELECT id, k, v FROM big ORDER BY v DESC, id LIMIT 12;
SELECT id, k FROM big WHERE v < 0.05 ORDER BY k, id;
SELECT x.s, count(*) AS n FROM big x JOIN (SELECT k FROM big WHERE id % 1000 = 7) y ON x.k = y.k GROUP BY x.s ORDER BY x.s;
SELECT 1 + 1 AS two;
SQL
{ views "$D"; cat queries.sql; } >plain.sql
{ views sealed keys/data.key; cat queries.sql; } >sealed.sql
sed -i "s|'$D/big.csv'|'big.csv'|" plain.sql

run "$TBML" sql --format csv -f plain.sql
check "reference run: exit 0" test "$RC" -eq 0
cp "$OUT_FILE" ref.csv
check "reference has the big group by" test "$(wc -l <ref.csv)" -gt 2000
for n in 1 2 4; do
  run "$TBML" submit --master mpi --num-executors "$n" "$TBML" sql --format csv -f plain.sql
  check "queries on $n ranks: exit 0" test "$RC" -eq 0
  check "queries on $n ranks: same as one process" cmp -s "$OUT_FILE" ref.csv
done
# shuffle joins and a partition count that is no multiple of the ranks
opts=(--conf spark.sql.autoBroadcastJoinThreshold=-1 --conf spark.sql.shuffle.partitions=7)
run "$TBML" sql "${opts[@]}" --format csv -f plain.sql
cp "$OUT_FILE" ref7.csv
run "$TBML" submit --master mpi --num-executors 4 "$TBML" sql "${opts[@]}" --format csv -f plain.sql
check "shuffle joins, 7 partitions on 4 ranks: same as one process" cmp -s "$OUT_FILE" ref7.csv
run "$TBML" submit --master mpi --num-executors 2 "$TBML" sql --password-file pw --format csv -f sealed.sql
check "sealed inputs on 2 ranks: exit 0" test "$RC" -eq 0
check "sealed inputs on 2 ranks: same as one process" cmp -s "$OUT_FILE" ref.csv
# an error fails the whole job, once
run "$TBML" submit --master mpi --num-executors 2 "$TBML" sql -e "SELECT nope FROM (SELECT 1 AS a) s"
check "statement error on 2 ranks: non-zero exit" test "$RC" -ne 0
check "statement error names the column" grep -q "cannot resolve column 'nope'" "$ERR_FILE"
check "no private job files left in TMPDIR" test -z "$(ls -A "$TMPDIR")"
finish
