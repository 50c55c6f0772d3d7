#!/usr/bin/env bash
# `tbml train --model gbdt --checkpoint DIR`: checkpoints every N rounds (the newest two kept,
# sealed under --key); `--resume` from them writes the same model file, byte for byte, as the
# uninterrupted run; a damaged newest checkpoint falls back to the previous one with a warning;
# a resume on other data is refused.
set -euo pipefail
source "$(dirname "$0")/lib/check.bash"
# flip_bit FILE OFFSET: flips one bit of the byte at OFFSET in place
flip_bit() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((b ^ 0x10)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
cd "$WORK"
source "$TBML_SRC/tests/integration/lib/crypt_setup.bash"
CSV=$DATA/BostonHousing.csv
ARGS=(train --model gbdt -f "$CSV" --num-round 10 --subsample 0.8 --colsample-bytree 0.8 --master 'local[2]')

run "$TBML" "${ARGS[@]}" --model-out ref.model --checkpoint ck --checkpoint-every 3
expect_ok "train with --checkpoint"
check "checkpoints at rounds 6 and 9 (3 pruned, none after the last round)" \
  test -e ck/ckpt-000000000006.tbck -a -e ck/ckpt-000000000009.tbck -a ! -e ck/ckpt-000000000003.tbck
run "$TBML" "${ARGS[@]}" --model-out resumed.model --checkpoint ck --resume
expect_ok "--resume"
check "resume says where from" grep -q "Resuming from ck/ckpt-000000000009.tbck (9 trees)" "$OUT_FILE"
check "resumed model is byte-identical" cmp -s ref.model resumed.model

flip_bit ck/ckpt-000000000009.tbck 200
run "$TBML" "${ARGS[@]}" --model-out fallback.model --checkpoint ck --resume
check "--resume with a damaged newest checkpoint: exit 0" test "$RC" -eq 0
check "warns naming the damaged file" grep -q "ckpt-000000000009.tbck.*falling back" "$ERR_FILE"
check "resumed from round 6" grep -q "Resuming from ck/ckpt-000000000006.tbck (6 trees)" "$OUT_FILE"
check "still byte-identical" cmp -s ref.model fallback.model

head -200 "$CSV" >other.csv
run "$TBML" train --model gbdt -f other.csv --num-round 10 --subsample 0.8 --colsample-bytree 0.8 \
  --model-out other.model --checkpoint ck --resume
check "other data: refused" test "$RC" -ne 0 -a ! -e other.model
check "other data: says so" grep -q "other training rows" "$ERR_FILE"

# sealed: the checkpoints carry no plaintext model
run "$TBML" "${ARGS[@]}" "${K[@]}" --model-out sealed.model --checkpoint cks --checkpoint-every 4
expect_ok "sealed run with --checkpoint"
check "sealed checkpoints: no plaintext magic" bash -c '! grep -q TBMLCKPT cks/ckpt-*.tbck'
run "$TBML" "${ARGS[@]}" --model-out nokey.model --checkpoint cks --resume
check "sealed checkpoints without the key: refused" test "$RC" -ne 0 -a ! -e nokey.model
echo "without the key: $(tail -1 "$ERR_FILE")"
run "$TBML" "${ARGS[@]}" "${K[@]}" --model-out sealed2.model --checkpoint cks --resume
expect_ok "sealed resume with the key"
finish
