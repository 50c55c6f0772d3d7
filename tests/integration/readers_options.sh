#!/usr/bin/env bash
# Reader options through SQL views: CSV's escape (Spark's default backslash, and '' for none) and
# JSON's _corrupt_record column (columnNameOfCorruptRecord), as spark-sql shows them.
set -euo pipefail
: "${TBML:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

printf '%s\n' 'id,quote' '1,"say \"hi\""' '2,"a\\b"' >"$work/q.csv"
out=$("$TBML" sql -e "CREATE TEMP VIEW q USING csv OPTIONS (path '$work/q.csv', header 'true', inferSchema 'true');
  SELECT * FROM q ORDER BY id")
want='+---+--------+
| id|   quote|
+---+--------+
|  1|say "hi"|
|  2|     a\b|
+---+--------+'
[[ "$out" == "$want" ]] || fail "escape default: $out"
out=$("$TBML" sql -e "CREATE TEMP VIEW q USING csv OPTIONS (path '$work/q.csv', header 'true', escape '');
  SELECT quote FROM q ORDER BY id" --format csv 2>/dev/null)
[[ "$out" == $'quote\n\na\\\\b' ]] || fail "escape '': $out"

printf '%s\n' '{"a":1,"b":"x"}' '{"a":2,' '{"a":3,"b":"y"}' >"$work/c.json"
out=$("$TBML" sql -e "CREATE TEMP VIEW c USING json OPTIONS (path '$work/c.json');
  SELECT * FROM c ORDER BY a" 2>/dev/null)
want='+---------------+----+----+
|_corrupt_record|   a|   b|
+---------------+----+----+
|        {"a":2,|null|null|
|           null|   1|   x|
|           null|   3|   y|
+---------------+----+----+'
[[ "$out" == "$want" ]] || fail "_corrupt_record: $out"
out=$("$TBML" sql -e "CREATE TEMP VIEW c USING json OPTIONS (path '$work/c.json', columnNameOfCorruptRecord 'bad');
  SELECT count(*) AS n FROM c WHERE bad IS NOT NULL" --format csv 2>/dev/null)
[[ "$out" == $'n\n1' ]] || fail "columnNameOfCorruptRecord: $out"
out=$("$TBML" sql -e "CREATE TEMP VIEW c USING json OPTIONS (path '$work/c.json', mode 'DROPMALFORMED');
  DESCRIBE c" --format csv 2>/dev/null)
[[ "$out" != *corrupt* ]] || fail "DROPMALFORMED has no corrupt column: $out"
echo ok
