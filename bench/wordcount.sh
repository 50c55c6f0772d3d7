#!/usr/bin/env bash
# Word count of a generated Zipf corpus (bench_gen_zipf, fixed seed): tbml's wordcount example
# on the plain file and on a sealed copy, against mawk and `LC_ALL=C sort | uniq -c` on the same
# file, in the same run. Prints seconds and ratios; asserts nothing.
#   [REPS=3] bench/wordcount.sh [MEGABYTES (500)] [THREADS (all cores)]
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-500}
threads=${2:-'*'}
build=${TBML_BUILD:-build}
work=${TBML_BENCH_DIR:-out/bench}
mkdir -p "$work"
chmod 700 "$work"
corpus=$work/zipf-$mb.txt
if [[ ! -s $corpus ]]; then
  echo "generating $mb MB corpus (seed 42) ..."
  "$build/bench/bench_gen_zipf" "$mb" 42 >"$corpus.tmp" && mv "$corpus.tmp" "$corpus"
fi
[[ -s $work/pw ]] || (umask 077; head -c 24 /dev/urandom | base64 >"$work/pw")
if [[ ! -s $corpus.sealed ]]; then
  "$build/bench/bench_seal_file" "$work/bench.key" "$work/pw" "$corpus" "$corpus.sealed"
fi
cat "$corpus" "$corpus.sealed" >/dev/null # warm the page cache for everyone alike

source bench/lib.sh # best CMD...: best of REPS (3) wall-clock seconds
tbml=$build/tbml
t_plain=$(best "$tbml" run-example --master "local[$threads]" wordcount "$corpus")
t_sealed=$(best "$tbml" run-example --master "local[$threads]" wordcount --key "$work/bench.key" \
  --password-file "$work/pw" "$corpus.sealed")
t_mawk=$(best mawk '{for (i = 1; i <= NF; i++) c[$i]++} END {for (w in c) print w ": " c[w]}' "$corpus")
sortuniq() { tr -s ' \t' '\n\n' <"$corpus" | LC_ALL=C sort | LC_ALL=C uniq -c; }
t_sort=$(best sortuniq)

# peak resident memory (KiB) of one run each
peak() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
m_plain=$(peak "$tbml" run-example --master "local[$threads]" wordcount "$corpus")
m_sealed=$(peak "$tbml" run-example --master "local[$threads]" wordcount --key "$work/bench.key" \
  --password-file "$work/pw" "$corpus.sealed")
m_mawk=$(peak mawk '{for (i = 1; i <= NF; i++) c[$i]++} END {for (w in c) print w ": " c[w]}' "$corpus")

echo "wordcount of $(du -m "$corpus" | cut -f1) MB Zipf corpus, local[$threads] on $(nproc) cores:"
printf '  tbml plain    %8.3f s\n  tbml sealed   %8.3f s   (sealed/plain %.2f)\n' "$t_plain" "$t_sealed" \
  "$(echo "$t_sealed / $t_plain" | bc -l)"
printf '  mawk          %8.3f s   (mawk/tbml %.1fx)\n' "$t_mawk" "$(echo "$t_mawk / $t_plain" | bc -l)"
printf '  sort | uniq   %8.3f s   (sort/tbml %.1fx)\n' "$t_sort" "$(echo "$t_sort / $t_plain" | bc -l)"
printf 'peak RSS: tbml plain %d MiB, tbml sealed %d MiB, mawk %d MiB\n' $((m_plain / 1024)) $((m_sealed / 1024)) \
  $((m_mawk / 1024))
