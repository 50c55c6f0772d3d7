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

# alternate F G: runs the shell functions F and G by turns, REPS times each (default 3), stdout
# discarded, and prints their best wall-clock times in seconds ("tF tG"). Taking turns keeps a
# slow spell of a shared machine from falling on one side only.
alternate() {
  local bf=999999 bg=999999 t s e
  for _ in $(seq "${REPS:-3}"); do
    s=$(date +%s.%N); "$1" >/dev/null; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l); bf=$(echo "if ($t < $bf) $t else $bf" | bc -l)
    s=$(date +%s.%N); "$2" >/dev/null; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l); bg=$(echo "if ($t < $bg) $t else $bg" | bc -l)
  done
  printf '%.3f %.3f\n' "$bf" "$bg"
}
