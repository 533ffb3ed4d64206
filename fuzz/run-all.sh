#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each in turn for SECONDS (default
# 30), one at a time; exits non-zero if any target crashes, hangs or fails to
# build. Needs `cargo install cargo-fuzz`; works on stable (`-s none`: no
# sanitizer, debug assertions on).
#
# Each target starts from its committed seeds (fuzz/corpus/TARGET/seed-*).
# New inputs go to a temporary copy, so the checkout stays clean; set
# FUZZ_KEEP_CORPUS=1 to grow fuzz/corpus/TARGET instead (git ignores all
# but the seeds there). Crash inputs land in fuzz/artifacts/TARGET/.
#
# Usage: fuzz/run-all.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

flags=(-s none --debug-assertions)
cargo fuzz build "${flags[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
for t in "${targets[@]}"; do
  if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
    corpus="corpus/$t"
    mkdir -p "$corpus"
  else
    corpus="$work/$t"
    mkdir -p "$corpus"
    cp corpus/"$t"/seed-* "$corpus"/ 2>/dev/null || true
  fi
  mkdir -p "artifacts/$t"
  printf '\n-- %s: %s s --\n' "$t" "$secs"
  if cargo fuzz run "${flags[@]}" "$t" "$corpus" -- \
      -max_total_time="$secs" -rss_limit_mb=1536 -timeout=10 \
      -print_final_stats=1; then
    echo "-- $t: ok ($(find "$corpus" -type f | wc -l) corpus entries)"
  else
    echo "-- $t: FAILED (see fuzz/artifacts/$t/)"
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing: all ${#targets[@]} targets ran ${secs}s without a crash"
