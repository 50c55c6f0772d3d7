# Shared helpers for the integration scripts (sourced, not a test itself): a private work
# folder removed on exit, a check counter, and runners that record each command's exit code,
# stdout and stderr, and keep every output so a script can assert that no secret was printed.
: "${TBML:?set TBML to the tbml binary (ctest does)}"
: "${TBML_SHARED:=${TBML_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}/../shared}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tbml-it-XXXXXX")
chmod 700 "$WORK"
trap 'chmod -R u+rwX "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir "$WORK/log"
PASS=0
FAIL=0
NRUN=0

ok() {
  PASS=$((PASS + 1))
  echo "ok   - $*"
}
notok() {
  FAIL=$((FAIL + 1))
  echo "FAIL - $*"
}
# check DESC CMD...: passes when CMD succeeds.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else notok "$desc"; fi
}

# quiet CMD...: CMD with its output dropped (for checks on tools that chatter).
quiet() { "$@" >/dev/null 2>&1; }

# run CMD...: runs it with stdout in $OUT_FILE and stderr in $ERR_FILE, exit code in $RC.
# Stdin is kept (callers redirect it). Copies go to $WORK/log for the secret scan.
run() {
  NRUN=$((NRUN + 1))
  OUT_FILE=$WORK/log/$NRUN.out
  ERR_FILE=$WORK/log/$NRUN.err
  RC=0
  "$@" >"$OUT_FILE" 2>"$ERR_FILE" || RC=$?
}

stderr_lines() { grep -c '' "$ERR_FILE" || true; }

# expect_error DESC NAMED OUTPUT [PATTERN]: the last run failed with exactly one stderr line
# that starts "tbml ", names NAMED (a path) and matches PATTERN (extended regex, if given);
# and OUTPUT (a path, or "" for none) does not exist, nor any temporary beside it.
expect_error() {
  local desc=$1 named=$2 output=$3 pattern=${4:-}
  local why=""
  [[ $RC -ne 0 ]] || why+=" exit code 0;"
  [[ $(stderr_lines) -eq 1 ]] || why+=" $(stderr_lines) stderr lines;"
  grep -q '^tbml ' "$ERR_FILE" || why+=" no 'tbml ' prefix;"
  [[ -z $named ]] || grep -qF -- "$named" "$ERR_FILE" || why+=" message does not name $named;"
  [[ -z $pattern ]] || grep -qE -- "$pattern" "$ERR_FILE" || why+=" message does not match /$pattern/;"
  if [[ -n $output ]]; then
    [[ ! -e $output ]] || why+=" $output exists;"
    local leftovers=0
    if [[ -d $(dirname "$output") ]]; then
      leftovers=$(find "$(dirname "$output")" -maxdepth 1 -name "$(basename "$output").tmp.*" | wc -l)
    fi
    [[ $leftovers -eq 0 ]] || why+=" $leftovers temporary files left;"
  fi
  if [[ -z $why ]]; then
    ok "$desc: $(head -c 200 "$ERR_FILE")"
  else
    notok "$desc:$why stderr: $(head -c 300 "$ERR_FILE")"
  fi
}

# expect_ok DESC: the last run exited 0 with nothing on stderr.
expect_ok() {
  if [[ $RC -eq 0 && ! -s $ERR_FILE ]]; then
    ok "$1"
  else
    notok "$1: exit $RC, stderr: $(head -c 300 "$ERR_FILE")"
  fi
}

# no_secret_printed SECRET...: no stdout or stderr captured by run contains any of them.
no_secret_printed() {
  local s found=0
  for s in "$@"; do
    if grep -rqF -- "$s" "$WORK/log"; then found=1; fi
  done
  check "no password appears in any output ($NRUN commands)" test $found -eq 0
}

finish() {
  echo "$PASS passed, $FAIL failed"
  [[ $FAIL -eq 0 ]]
}

# For the scripts that run mpirun (label mpi): skips (77) when this build has no MPI. Under the
# asan build Open MPI's own allocations live until exit and show up as leaks with unusable
# stacks, so leak checking is off for the ranks (memory errors and UBSan stay on); the same dist
# code runs leak-checked on the local backend in the unit tests (test_comm and friends).
mpi_or_skip() {
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
  if ! command -v mpirun >/dev/null || ! grep -q TBML_HAVE_MPI "$TBML_BUILD/compile_commands.json" 2>/dev/null; then
    echo "skip: no MPI in this build"
    exit 77
  fi
}
