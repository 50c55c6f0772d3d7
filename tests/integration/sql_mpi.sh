#!/usr/bin/env bash
# SQL on 1, 2 and 4 ranks through `tbml submit --master mpi` (label mpi): the sql_basic example
# prints its golden output, and ~20 `tbml sql` queries (broadcast and shuffle joins, group by,
# order by with and without limit, distinct, union all, subqueries) print byte for byte what one
# process prints, on plain and sealed inputs. A generated table of 150k rows spans several scan
# units, so every rank scans and exchanges rows. Skips (77) when this build has no MPI.
set -uo pipefail
source "$(dirname "$0")/lib/check.bash"
B=$TBML_BUILD
D=$TBML_SHARED/datasets
mpi_or_skip
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

# Split scans: with small input ranges (spark.sql.files.maxPartitionBytes) each rank reads only
# its share of a file (range k on rank k % ranks). Column types that change late in the file
# (long then double, date then timestamp, a string among booleans, a JSON field seen only at
# the end) must be inferred as one process infers them, and every output, including queries
# without ORDER BY, must be the one one process prints.
awk 'BEGIN { print "id,a,b,c,d,e"; srand(5); for (i = 0; i < 8000; i++) {
  a = i < 6500 ? int(rand() * 1000) : sprintf("%.2f", rand() * 1000)
  b = i < 2500 ? "" : sprintf("2024-%02d-%02d", 1 + i % 12, 1 + i % 28)
  c = i < 7500 ? sprintf("2023-01-%02d", 1 + i % 28) : "2023-02-01 10:00:00"
  d = i == 7990 ? "maybe" : (rand() < 0.5 ? "true" : "false")
  printf "%d,%s,%s,%s,%s,w%d\n", i, a, b, c, d, int(rand() * 40) } }' >wide.csv
awk 'BEGIN { srand(6); for (i = 0; i < 6000; i++) {
  x = i < 4500 ? int(rand() * 100) : rand() * 100
  printf "{\"id\": %d, \"x\": %s, \"g\": \"g%d\"", i, x, i % 13
  if (i % 7 == 0) printf ", \"o\": {\"k\": [1, %d]}", i
  if (i >= 5990) printf ", \"late\": true"
  print "}" } }' >wide.json
printf 'id,txt\n1,"two\nlines"\n2,plain\n3,"a,b"\n' >multi.csv
for f in wide.csv wide.json; do
  quiet "$TBML" encrypt --key keys/data.key --password-file pw --segment-size 16K "$f" "sealed/$f"
done
split_views() { # DIR [KEY]: the key unlocks three sealed views (key loads are slow by design)
  local k=""
  [[ -z ${2:-} ]] || k=", key '$2'"
  cat <<SQL
CREATE TEMP VIEW w USING csv OPTIONS (path '$1/wide.csv', header 'true', inferSchema 'true'$k);
CREATE TEMP VIEW ws USING csv OPTIONS (path 'wide.csv', header 'true');
CREATE TEMP VIEW j USING json OPTIONS (path '$1/wide.json'$k);
CREATE TEMP VIEW tx USING text OPTIONS (path '$1/wide.csv'$k);
CREATE TEMP VIEW m USING csv OPTIONS (path 'multi.csv', header 'true', multiLine 'true', inferSchema 'true');
SQL
}
cat >split.sql <<'SQL'
DESCRIBE w;
DESCRIBE ws;
DESCRIBE j;
SELECT * FROM w;
SELECT * FROM ws WHERE id LIKE '%7';
SELECT e, count(*), sum(a), avg(a), min(b), max(c), count(DISTINCT d) FROM w GROUP BY e;
SELECT d, count(*) FROM w GROUP BY d ORDER BY d;
SELECT * FROM j;
SELECT g, count(*), sum(x), avg(x), count(o), count(late) FROM j GROUP BY g;
SELECT value FROM tx WHERE value LIKE '%,w3';
SELECT count(*), max(length(value)) FROM tx;
SELECT * FROM w LIMIT 5;
SELECT * FROM m;
SELECT w.id, j.x FROM w JOIN j ON w.id = j.id WHERE w.id % 1000 = 3;
SQL
conf=(--conf spark.sql.files.maxPartitionBytes=16k)
{ split_views .; cat split.sql; } >split_plain.sql
{ split_views sealed keys/data.key; cat split.sql; } >split_sealed.sql
run "$TBML" sql "${conf[@]}" --format csv -f split_plain.sql
check "split scans, reference: exit 0" test "$RC" -eq 0
cp "$OUT_FILE" split_ref.csv
check "split scans, reference: late types inferred (double, date, timestamp, string)" \
  grep -qx 'a,double,null' split_ref.csv
check "split scans, reference: b date, c timestamp" grep -qx 'c,timestamp,null' split_ref.csv
check "split scans, reference: the late JSON field" grep -qx 'late,boolean,null' split_ref.csv
for n in 1 2 4; do
  run "$TBML" submit --master mpi --num-executors "$n" "$TBML" sql "${conf[@]}" --format csv -f split_plain.sql
  check "split scans on $n ranks: exit 0" test "$RC" -eq 0
  check "split scans on $n ranks: same as one process" cmp -s "$OUT_FILE" split_ref.csv
done
run "$TBML" submit --master mpi --num-executors 4 "$TBML" sql "${conf[@]}" --password-file pw --format csv -f split_sealed.sql
check "split sealed scans on 4 ranks: same as one process" cmp -s "$OUT_FILE" split_ref.csv
# 7 partitions on 4 ranks and more ranges than partitions: ranges no longer fall on the rank
# that runs their partition, so the table is gathered first; the output must not change
run "$TBML" sql "${conf[@]}" --conf spark.sql.shuffle.partitions=7 --format csv -f split_plain.sql
cp "$OUT_FILE" split_ref7.csv
run "$TBML" submit --master mpi --num-executors 4 "$TBML" sql "${conf[@]}" --conf spark.sql.shuffle.partitions=7 --format csv -f split_plain.sql
check "split scans, 7 partitions on 4 ranks: same as one process" cmp -s "$OUT_FILE" split_ref7.csv

# each rank read only its share: the debug line of every rank's scan of the text view gives
# its bytes; on 4 ranks each read some and less than half, and together all, of the file
run "$TBML" submit --master mpi --num-executors 4 "$TBML" --log-level debug sql "${conf[@]}" \
  --format csv -e "CREATE TEMP VIEW tx USING text OPTIONS (path 'wide.csv'); SELECT count(*) FROM tx"
size=$(stat -c %s wide.csv)
grep -E "scan wide.csv: rank [0-3] of 4 read" "$ERR_FILE" | sed -E 's/.*rank ([0-9]) of 4 read .* ranges, ([0-9]+) of ([0-9]+) bytes/\1 \2 \3/' | sort -u >shares.txt
check "split scan: four ranks logged their share" test "$(wc -l <shares.txt)" -eq 4
check "split scan: every rank read some but under half of the file" \
  awk -v s="$size" '$2 <= 0 || $2 >= s / 2 || $3 != s { bad = 1 } END { exit bad }' shares.txt
check "split scan: the shares add up to the file" test "$(awk '{ t += $2 } END { print t }' shares.txt)" -eq "$size"
check "split scan: the count is right" grep -qx 8001 "$OUT_FILE"

# malformed records in later ranges: the PERMISSIVE warning gives the global count once, and
# FAILFAST names the first bad record's FILE:LINE:COL as one process does
awk 'NR == 5001 || NR == 7801 { print $0 ",extra"; next } NR == 7001 { print "oops"; next } { print }' wide.csv >bad.csv
perm="CREATE TEMP VIEW p USING csv OPTIONS (path 'bad.csv', header 'true', inferSchema 'true'); SELECT count(*), count(e) FROM p"
fail="CREATE TEMP VIEW f USING csv OPTIONS (path 'bad.csv', header 'true', inferSchema 'true', mode 'FAILFAST')"
run "$TBML" sql "${conf[@]}" --format csv -e "$perm"
cp "$OUT_FILE" perm_ref.csv
grep -o 'bad.csv: [0-9]* malformed.*' "$ERR_FILE" >perm_ref.err
run "$TBML" sql "${conf[@]}" -e "$fail"
grep -o 'bad.csv:[0-9]*:[0-9]*: .*' "$ERR_FILE" >fail_ref.err
check "FAILFAST reference names line 5001" grep -q 'bad.csv:5001:' fail_ref.err
for n in 4; do
  run "$TBML" submit --master mpi --num-executors "$n" "$TBML" sql "${conf[@]}" --format csv -e "$perm"
  check "PERMISSIVE on $n ranks: same rows" cmp -s "$OUT_FILE" perm_ref.csv
  check "PERMISSIVE on $n ranks: one warning with the global count" \
    test "$(grep -o 'bad.csv: [0-9]* malformed.*' "$ERR_FILE")" = "$(cat perm_ref.err)"
  run "$TBML" submit --master mpi --num-executors "$n" "$TBML" sql "${conf[@]}" -e "$fail"
  check "FAILFAST on $n ranks: non-zero exit" test "$RC" -ne 0
  check "FAILFAST on $n ranks: the same FILE:LINE:COL" \
    test "$(grep -o 'bad.csv:[0-9]*:[0-9]*: .*' "$ERR_FILE" | sort -u)" = "$(cat fail_ref.err)"
done

# Directories of part files (as Spark's writers leave them) are split like one file: their
# files' ranges are numbered on as one input's (range k of the directory on rank k % ranks).
# wide.csv in four parts infers other types per part (b all NULL in the first, a double, c
# timestamp and d string only in the last), so the merged types and the parts read again with
# them must agree over the ranks; empty part files, _SUCCESS and hidden files are skipped; a
# malformed JSON line in a middle part adds _corrupt_record; `few` has two ranges, fewer than
# the four ranks.
mkdir -p parts jparts few sealed/parts sealed/jparts
for k in 0 1 2 3; do
  { echo "id,a,b,c,d,e"; sed -n "$((2 + k * 2000)),$((1 + (k + 1) * 2000))p" wide.csv; } >"parts/part-0000$k.csv"
done
for k in 0 1 2; do
  sed -n "$((1 + k * 2000)),$(((k + 1) * 2000))p" wide.json >"jparts/part-0000$k.json"
done
sed -i '1000s/^{/{"oops" /' jparts/part-00001.json
: >parts/part-00004.csv
: >jparts/part-00003.json
touch parts/_SUCCESS jparts/_SUCCESS
echo "not,data" >parts/.part-00000.csv.crc
{ echo "id,a,b,c,d,e"; sed -n 2,4p wide.csv; } >few/part-00000.csv
: >few/part-00001.csv
{ echo "id,a,b,c,d,e"; sed -n 7991,7992p wide.csv; } >few/part-00002.csv
for f in parts/part-0000{0..4}.csv jparts/part-0000{0..3}.json; do
  quiet "$TBML" encrypt --key keys/data.key --password-file pw --segment-size 16K "$f" "sealed/$f"
done
dir_views() { # DIR [KEY]
  local k=""
  [[ -z ${2:-} ]] || k=", key '$2'"
  cat <<SQL
CREATE TEMP VIEW pd USING csv OPTIONS (path '$1/parts', header 'true', inferSchema 'true'$k);
CREATE TEMP VIEW jd USING json OPTIONS (path '$1/jparts'$k);
CREATE TEMP VIEW td USING text OPTIONS (path '$1/parts'$k);
CREATE TEMP VIEW few USING csv OPTIONS (path 'few', header 'true', inferSchema 'true');
SQL
}
cat >dir.sql <<'SQL'
DESCRIBE pd;
DESCRIBE jd;
DESCRIBE few;
SELECT * FROM pd;
SELECT * FROM jd;
SELECT * FROM td;
SELECT * FROM few;
SELECT * FROM pd LIMIT 5;
SELECT e, count(*), sum(a), min(b), max(c), count(DISTINCT d) FROM pd GROUP BY e;
SELECT g, count(*), sum(x), count(o), count(late), count(_corrupt_record) FROM jd GROUP BY g;
SELECT count(*), max(length(value)) FROM td;
SELECT pd.id, jd.x FROM pd JOIN jd ON pd.id = jd.id WHERE pd.id % 1000 = 3;
SQL
{ dir_views .; cat dir.sql; } >dir_plain.sql
{ dir_views sealed keys/data.key; cat dir.sql; } >dir_sealed.sql
run "$TBML" sql "${conf[@]}" --format csv -f dir_plain.sql
check "part-file directories, reference: exit 0" test "$RC" -eq 0
cp "$OUT_FILE" dir_ref.csv
grep -o 'part-0000[0-9].json: [0-9]* malformed.*' "$ERR_FILE" >dir_ref.err
check "part-file directories, reference: types merged over the parts as for the one file" \
  test "$(sed -n 1,7p dir_ref.csv)" = "$(sed -n 1,7p split_ref.csv)"
check "part-file directories, reference: _corrupt_record and the late JSON field" \
  test "$(grep -cxE '_corrupt_record,string,null|late,boolean,null' dir_ref.csv)" -eq 2
check "part-file directories, reference: one malformed JSON record, in the middle part" \
  grep -qx 'part-00001.json: 1 malformed JSON record read with nulls (mode PERMISSIVE)' dir_ref.err
check "part-file directories, reference: all rows (8000 CSV lines + 4 headers as text)" \
  grep -qx '8004,[0-9]*' dir_ref.csv
# the directory holds the rows of the file it was cut from, with the same values
run "$TBML" sql "${conf[@]}" --format csv -e "CREATE TEMP VIEW pd USING csv OPTIONS (path 'parts', header 'true', inferSchema 'true'); SELECT * FROM pd ORDER BY id"
cp "$OUT_FILE" dir_sorted.csv
run "$TBML" sql "${conf[@]}" --format csv -e "CREATE TEMP VIEW w USING csv OPTIONS (path 'wide.csv', header 'true', inferSchema 'true'); SELECT * FROM w ORDER BY id"
check "part-file directory: the rows and values of the file it was cut from" cmp -s "$OUT_FILE" dir_sorted.csv
for n in 1 2 4; do
  run "$TBML" submit --master mpi --num-executors "$n" "$TBML" sql "${conf[@]}" --format csv -f dir_plain.sql
  check "part-file directories on $n ranks: exit 0" test "$RC" -eq 0
  check "part-file directories on $n ranks: same as one process" cmp -s "$OUT_FILE" dir_ref.csv
  check "part-file directories on $n ranks: the same malformed-record warning, once" \
    test "$(grep -o 'part-0000[0-9].json: [0-9]* malformed.*' "$ERR_FILE")" = "$(cat dir_ref.err)"
done
run "$TBML" sql "${conf[@]}" --conf spark.sql.shuffle.partitions=7 --format csv -f dir_plain.sql
cp "$OUT_FILE" dir_ref7.csv
run "$TBML" submit --master mpi --num-executors 4 "$TBML" sql "${conf[@]}" --conf spark.sql.shuffle.partitions=7 --format csv -f dir_plain.sql
check "part-file directories, 7 partitions on 4 ranks: same as one process" cmp -s "$OUT_FILE" dir_ref7.csv
run "$TBML" submit --master mpi --num-executors 4 "$TBML" sql "${conf[@]}" --password-file pw --format csv -f dir_sealed.sql
check "sealed part-file directories on 4 ranks: same as one process" cmp -s "$OUT_FILE" dir_ref.csv
# FAILFAST in a later part names its FILE:LINE:COL on every rank as one process does
cp -r parts badparts
sed -i '1500s/$/,extra/' badparts/part-00002.csv
dfail="CREATE TEMP VIEW f USING csv OPTIONS (path 'badparts', header 'true', inferSchema 'true', mode 'FAILFAST')"
run "$TBML" sql "${conf[@]}" -e "$dfail"
grep -o 'badparts/part-[0-9]*.csv:[0-9]*:[0-9]*: .*' "$ERR_FILE" >dfail_ref.err
check "directory FAILFAST reference names part-00002.csv line 1500" grep -q 'part-00002.csv:1500:' dfail_ref.err
run "$TBML" submit --master mpi --num-executors 4 "$TBML" sql "${conf[@]}" -e "$dfail"
check "directory FAILFAST on 4 ranks: non-zero exit" test "$RC" -ne 0
check "directory FAILFAST on 4 ranks: the same FILE:LINE:COL" \
  test "$(grep -o 'badparts/part-[0-9]*.csv:[0-9]*:[0-9]*: .*' "$ERR_FILE" | sort -u)" = "$(cat dfail_ref.err)"

# each rank read only its share of the directory: summed over the part files, the debug lines
# give every rank some but under half of the bytes, all of them together, and per rank the
# ranges k < T (T: the directory's ranges) with k % 4 == rank, as the numbering on across the
# files deals them (dealing each file's ranges from rank 0 would give rank 0 more)
run "$TBML" submit --master mpi --num-executors 4 "$TBML" --log-level debug sql "${conf[@]}" \
  --format csv -e "CREATE TEMP VIEW td USING text OPTIONS (path 'parts'); SELECT count(*) FROM td"
dsize=$(cat parts/part-* | wc -c)
grep -E "scan parts/part-0000[0-9].csv: rank [0-3] of 4 read" "$ERR_FILE" |
  sed -E 's/.*scan ([^:]*): rank ([0-9]) of 4 read ([0-9]+) of ([0-9]+) ranges, ([0-9]+) of ([0-9]+) bytes/\1 \2 \3 \4 \5 \6/' |
  sort -u >dshares.txt
check "directory split: every rank logged every part" test "$(wc -l <dshares.txt)" -eq 20
awk '{ got[$2] += $5; rg[$2] += $3; if (!($1 in seen)) { seen[$1] = 1; T += $4 } }
  END { for (r = 0; r < 4; r++) printf "%d %d %d\n", r, got[r], rg[r] - int((T - r + 3) / 4) }' \
  dshares.txt >dsums.txt
check "directory split: every rank read some but under half of the bytes" \
  awk -v s="$dsize" '$2 <= 0 || $2 >= s / 2 { bad = 1 } END { exit bad }' dsums.txt
check "directory split: the shares add up to the directory" \
  test "$(awk '{ t += $2 } END { print t }' dsums.txt)" -eq "$dsize"
check "directory split: ranges dealt on across the files" awk '$3 != 0 { bad = 1 } END { exit bad }' dsums.txt
check "directory split: the count is right" grep -qx 8004 "$OUT_FILE"
check "no private job files left in TMPDIR" test -z "$(ls -A "$TMPDIR")"
finish
