# Shared by the bench scripts (sourced): best CMD... runs CMD REPS times (default 3), stdout
# discarded, and prints the best wall-clock time in seconds.
best() {
  local b=999999 t s e
  for _ in $(seq "${REPS:-3}"); do
    s=$(date +%s.%N)
    "$@" >/dev/null
    e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    b=$(echo "if ($t < $b) $t else $b" | bc -l)
  done
  printf '%.3f' "$b"
}
