#!/usr/bin/env bash
# The main demo: builds tbml, then walks through what a data owner does with it.
# Keys and passwords are generated here into a private work folder (out/demo), never shown.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${TBML_SHARED:-$root/../shared}
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" >/dev/null
tbml=$root/build/tbml
work=$root/out/demo
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "generate a password (stays in a 0600 file) and a primary key 'datakey'"
umask 077
head -c 32 /dev/urandom | base64 > "$work/password"
"$tbml" keygen primary --name datakey --out "$work/keys" --password-file "$work/password"
ls -l "$work/keys"

step "seal the shared data sets"
mkdir -p "$work/sealed"
for f in people.json people.txt BostonHousing.csv PimaIndiansDiabetes.csv; do
  "$tbml" encrypt --key "$work/keys/datakey.key" --password-file "$work/password" \
    "$shared/datasets/$f" "$work/sealed/$f.sealed"
done
ls -l "$work/sealed"

step "inspect a sealed file (no key needed)"
"$tbml" inspect "$work/sealed/BostonHousing.csv.sealed"

step "unseal and compare"
for f in people.json people.txt BostonHousing.csv PimaIndiansDiabetes.csv; do
  "$tbml" decrypt --key "$work/keys/datakey.key" --password-file "$work/password" \
    "$work/sealed/$f.sealed" "$work/$f"
  cmp "$shared/datasets/$f" "$work/$f" && echo "$f: round trip ok"
done

step "a flipped bit is caught"
cp "$work/sealed/people.json.sealed" "$work/tampered.sealed"
printf '\x01' | dd of="$work/tampered.sealed" bs=1 seek=200 conv=notrunc status=none
if "$tbml" decrypt --key "$work/keys/datakey.key" --password-file "$work/password" \
    "$work/tampered.sealed" "$work/tampered.out"; then
  echo "demo: tampering went unnoticed" >&2; exit 1
fi
test ! -e "$work/tampered.out" && echo "no output written"

step "the seed's examples: Pi, and WordCount on a plain and a sealed input (same output)"
"$tbml" run-example --master 'local[2]' pi 10
"$tbml" run-example wordcount "$shared/datasets/people.txt"
"$tbml" run-example wordcount --key "$work/keys/datakey.key" --password-file "$work/password" \
  "$work/sealed/people.txt.sealed"

step "Spark SQL: the SQL basic walkthrough on the sealed people files, and queries over sealed files"
mkdir -p "$work/sealed-people"
ln -sf ../sealed/people.json.sealed "$work/sealed-people/people.json"
ln -sf ../sealed/people.txt.sealed "$work/sealed-people/people.txt"
"$tbml" run-example --master 'local[2]' sql_basic --key "$work/keys/datakey.key" \
  --password-file "$work/password" "$work/sealed-people"
"$tbml" sql --password-file "$work/password" -e "
  CREATE TEMP VIEW people USING json OPTIONS (path '$work/sealed/people.json.sealed', key '$work/keys/datakey.key');
  CREATE TEMP VIEW boston USING csv OPTIONS (path '$work/sealed/BostonHousing.csv.sealed', header 'true',
    inferSchema 'true', key '$work/keys/datakey.key');
  SELECT name, age FROM people WHERE age BETWEEN 13 AND 19;
  SELECT chas, count(*) AS n, round(avg(medv), 2) AS avg_medv, max(crim) FROM boston GROUP BY chas ORDER BY chas"

step "LeNet-5 on Fashion-MNIST (Debian's dataset-fashion-mnist), 2 epochs, BigDL's epoch lines"
"$tbml" run-example --master 'local[2]' lenet --dataPath /usr/share/datasets/fashion-mnist --maxEpoch 2

step "gradient-boosted trees: the XGBoost examples, and training on sealed data"
"$tbml" run-example xgboost_regressor --file-path "$shared/datasets/BostonHousing.csv" --show 5
"$tbml" run-example xgboost_classifier -f "$shared/datasets/PimaIndiansDiabetes.csv" --show 5
"$tbml" train --model gbdt -f "$work/sealed/BostonHousing.csv.sealed" --key "$work/keys/datakey.key" \
  --password-file "$work/password" --test-fraction 0.2 --model-out "$work/boston.gbdt"

step "trusted runtime and key service (scripts/demo_tee.sh)"
TBML_SHARED=$shared "$root/scripts/demo_tee.sh" "$work"

printf '\ndemo: done (work folder %s)\n' "$work"
