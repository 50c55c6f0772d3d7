#!/usr/bin/env bash
# tbml submit / run-example: option errors with hints, settings reaching the application through
# the memfd (and not through argv or the environment), properties files, and the pi example.
set -euo pipefail
: "${TBML:?}" "${TBML_BUILD:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect CODE PATTERN CMD...: the command exits with CODE and its stderr matches PATTERN
expect() {
  local code=$1 pattern=$2; shift 2
  local rc=0
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [[ $rc == "$code" ]] || fail "$* exited $rc, expected $code: $(cat "$work/err")"
  grep -Eq -- "$pattern" "$work/err" || fail "$*: stderr '$(cat "$work/err")' does not match '$pattern'"
}

expect 2 "unknown option '--mastr' \(did you mean --master\?\)" "$TBML" submit --mastr local[2] /bin/true
expect 2 "unknown option '--executor-memroy=2g' \(did you mean --executor-memory\?\)" "$TBML" submit --executor-memroy=2g /bin/true
expect 2 "unknown option '--zzzzzzzzzzzzzz'" "$TBML" submit --zzzzzzzzzzzzzz /bin/true
expect 2 "bad master 'local\[0\]'" "$TBML" submit --master 'local[0]' /bin/true
expect 2 "master 'spark://h:7077' is not supported" "$TBML" submit --master spark://h:7077 /bin/true
expect 2 "--conf needs KEY=VALUE" "$TBML" submit --conf novalue /bin/true
expect 2 "--master needs a value" "$TBML" submit --master
expect 2 "missing the application APP" "$TBML" submit --master local[2]
expect 2 "bad memory size 'lots'" "$TBML" submit --executor-memory lots /bin/true
expect 2 "--sgx-enabled true needs --enclave-key" "$TBML" submit --master 'local[2]' --sgx-enabled true /bin/true
expect 2 "--sgx-enabled takes true or false" "$TBML" submit --sgx-enabled maybe /bin/true
expect 1 "cannot run $work/nope" "$TBML" submit "$work/nope"
expect 1 "no example named 'nosuch' \(available: .*pi.*\)" "$TBML" run-example nosuch
expect 2 "unknown option '--nmae'.*--name" "$TBML" run-example --nmae x pi

# an application that prints the settings it was handed
cat >"$work/app.sh" <<'APP'
#!/usr/bin/env bash
fd=${TBML_SUBMIT_FD:?no settings fd}
cat "/proc/self/fd/$fd"
echo "args=$*"
env | grep -c hunter2 || true
APP
chmod +x "$work/app.sh"
printf 'spark.master  local[2]\n# a comment\nspark.executor.memory=1g\nspark.sql.x 7\n' >"$work/props.conf"

"$TBML" submit --master 'local[3]' --name job --conf spark.a=1 --conf secret=hunter2 \
  --executor-memory 4g --driver-memory 512m --executor-cores 2 --sgx-enabled false \
  "$work/app.sh" one two >"$work/out" 2>"$work/err"
for want in 'master=local[3]' 'name=job' 'conf.spark.a=1' 'conf.secret=hunter2' \
  'executor-memory=4294967296' 'driver-memory=536870912' 'executor-cores=2' 'args=one two'; do
  grep -qxF "$want" "$work/out" || fail "settings lack '$want': $(cat "$work/out")"
done
[[ $(tail -1 "$work/out") == 0 ]] || fail "a --conf value reached the environment"

"$TBML" submit --properties-file "$work/props.conf" "$work/app.sh" >"$work/out"
grep -qxF 'master=local[2]' "$work/out" || fail "properties file master not used"
grep -qxF 'executor-memory=1073741824' "$work/out" || fail "properties file memory not used"
grep -qxF 'conf.spark.sql.x=7' "$work/out" || fail "properties file entry not passed"
"$TBML" submit --properties-file "$work/props.conf" --master local "$work/app.sh" >"$work/out"
grep -qxF 'master=local' "$work/out" || fail "--master does not override the properties file"

# --verbose shows settings but never --conf values
"$TBML" submit --verbose --conf secret=hunter2 "$work/app.sh" >/dev/null 2>"$work/err"
grep -q 'conf            secret=\*\*\*' "$work/err" || fail "verbose output lacks the conf key"
if grep -q hunter2 "$work/err"; then fail "verbose output shows a conf value"; fi

# pi: Spark's line, the same for any thread count
"$TBML" run-example --master 'local[1]' pi 8 >"$work/pi1"
"$TBML" run-example --master 'local[4]' pi 8 >"$work/pi4"
"$TBML" submit --master 'local[*]' "$TBML_BUILD/tbml-example-pi" 8 >"$work/pis"
grep -Eqx 'Pi is roughly 3\.1[0-9]{5}' "$work/pi1" || fail "pi printed '$(cat "$work/pi1")'"
cmp -s "$work/pi1" "$work/pi4" || fail "pi depends on the thread count"
cmp -s "$work/pi1" "$work/pis" || fail "pi via submit differs"
"$TBML_BUILD/tbml-example-pi" >"$work/pid" # without submit: defaults
grep -Eqx 'Pi is roughly 3\.1[0-9]{5}' "$work/pid" || fail "pi without submit"
expect 2 "partitions must be a number" "$TBML" run-example pi zero

# --sgx-enabled true hands the run to the trusted runtime (simulated here), example found by name
"$TBML" keygen enclave --out "$work/enclave.pem" >/dev/null
"$TBML" run-example --sgx-enabled true --enclave-key "$work/enclave.pem" pi 8 >"$work/pitee" 2>"$work/err"
cmp -s "$work/pi1" "$work/pitee" || fail "pi in the trusted runtime printed '$(cat "$work/pitee")' $(cat "$work/err")"
"$TBML" submit --enclave-key "$work/enclave.pem" --master 'local[2]' --sgx-enabled true \
  "$TBML_BUILD/tbml-example-pi" 8 >"$work/pitee2" 2>"$work/err"
cmp -s "$work/pi1" "$work/pitee2" || fail "submit with --enclave-key first: '$(cat "$work/pitee2")' $(cat "$work/err")"
echo "submit: ok"
