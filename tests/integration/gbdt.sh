#!/usr/bin/env bash
# GBDT end to end: the two XGBoost examples run stand-alone and print their golden output
# (tests/gbdt/*.out, the timing line left out); `tbml train --model gbdt` on plain and sealed
# CSV writes plain and sealed models; bad inputs (a non-numeric feature, a missing label
# column, a sealed input without or with the wrong key) fail with one line and leave no model.
set -euo pipefail
source "$(dirname "$0")/lib/check.bash"
cd "$WORK"
source "$TBML_SRC/tests/integration/lib/crypt_setup.bash"
EX=$TBML_BUILD
GOLD=$TBML_SRC/tests/gbdt

# ---- examples ------------------------------------------------------------------------------
run "$EX/tbml-example-xgboost_regressor" --file-path "$DATA/BostonHousing.csv" --master 'local[2]'
expect_ok "xgboost_regressor --file-path BostonHousing.csv"
grep -v ' trained ' "$OUT_FILE" | sed "s|$DATA/||" >reg.out
check "regressor output matches tests/gbdt/xgboost_regressor.out" diff -u "$GOLD/xgboost_regressor.out" reg.out
run "$EX/tbml-example-xgboost_classifier" -f "$DATA/PimaIndiansDiabetes.csv" --master 'local[2]'
expect_ok "xgboost_classifier -f PimaIndiansDiabetes.csv"
grep -v ' trained ' "$OUT_FILE" | sed "s|$DATA/||" >cls.out
check "classifier output matches tests/gbdt/xgboost_classifier.out" diff -u "$GOLD/xgboost_classifier.out" cls.out
run "$EX/tbml-example-xgboost_classifier" --file-path "$DATA/PimaIndiansDiabetes.csv" --master 'local[1]'
grep -v ' trained ' "$OUT_FILE" | sed "s|$DATA/||" >cls1.out
check "classifier output is the same on one thread" diff -q cls.out cls1.out
run "$EX/tbml-example-xgboost_regressor"
check "example without --file-path fails with a usage message" grep -q 'file-path' "$ERR_FILE"
# as the README runs them, through run-example (which passes --master by its settings channel)
run "$TBML" run-example --master 'local[2]' xgboost_regressor --file-path "$DATA/BostonHousing.csv"
expect_ok "tbml run-example xgboost_regressor --file-path"
grep -v ' trained ' "$OUT_FILE" | sed "s|$DATA/||" >reg2.out
check "run-example gives the same regressor output" diff -q reg.out reg2.out
run "$TBML" run-example --master 'local[2]' xgboost_classifier -f "$DATA/PimaIndiansDiabetes.csv"
expect_ok "tbml run-example xgboost_classifier -f"
grep -v ' trained ' "$OUT_FILE" | sed "s|$DATA/||" >cls2.out
check "run-example gives the same classifier output" diff -q cls.out cls2.out
# sealed input to an example
enc "$DATA/BostonHousing.csv" boston.sealed
run "$EX/tbml-example-xgboost_regressor" --file-path boston.sealed "${K[@]}" --master 'local[2]'
expect_ok "regressor on a sealed CSV with --key"
check "sealed input gives the same RMSE" grep -qF "$(tail -1 reg.out)" "$OUT_FILE"
run "$EX/tbml-example-xgboost_regressor" --file-path boston.sealed
check "sealed input without a key fails naming the file" grep -q 'boston.sealed' "$ERR_FILE"

# ---- tbml train --model gbdt ---------------------------------------------------------------
run "$TBML" train --model gbdt -f "$DATA/BostonHousing.csv" --label medv --max-depth 4 --num-round 20 \
  --test-fraction 0.2 --model-out boston.gbdt --master 'local[2]'
expect_ok "train on plain Boston"
check "plain model written" test "$(head -c 8 boston.gbdt)" = TBMLGBDT
check "train prints test RMSE" grep -q '^test: 101 rows, RMSE' "$OUT_FILE"

enc "$DATA/PimaIndiansDiabetes.csv" pima.sealed
run "$TBML" train --model gbdt --file-path pima.sealed "${K[@]}" --objective binary:logistic \
  --model-out pima.gbdt
expect_ok "train on sealed Pima with its key"
check "model sealed under the key" test "$(head -c 8 pima.gbdt)" = TBMLSEAL
check "train prints accuracy and AUC" grep -qE '^train: 768 rows, accuracy 0\.[0-9]+, AUC 0\.[0-9]+' "$OUT_FILE"

run "$TBML" train --model gbdt --file-path pima.sealed --model-out nokey.gbdt
expect_error "sealed CSV without a key" pima.sealed nokey.gbdt
run "$TBML" train --model gbdt --file-path pima.sealed --key keys2/datakey.key --password-file pw --model-out wrongkey.gbdt
expect_error "sealed CSV with another key of the same name" pima.sealed wrongkey.gbdt

printf 'a,b,y\n1,2,3\n4,5,6\n7,seven,9\n' >bad.csv
run "$TBML" train --model gbdt -f bad.csv --model-out bad.gbdt
expect_error "a non-numeric feature names file, line and column" bad.csv bad.gbdt 'bad\.csv:4:3: .*\(b\)'
run "$TBML" train --model gbdt -f "$DATA/BostonHousing.csv" --label price --model-out nolabel.gbdt
expect_error "a missing label column names it" BostonHousing.csv nolabel.gbdt "'price'"
run "$TBML" train --model gbdt -f "$DATA/BostonHousing.csv" --eta 7 --model-out eta.gbdt
expect_error "an out-of-range parameter names it" eta eta.gbdt
run "$TBML" train --model gbdt -f "$DATA/BostonHousing.csv" --colour red --model-out c.gbdt
expect_error "an unknown option" colour c.gbdt
run "$TBML" train --model gbdt --help
check "--help describes the options" grep -q -- '--model-out' "$OUT_FILE"
no_secret_printed "$PW" "$PW2"
finish
