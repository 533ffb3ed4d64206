#!/usr/bin/env bash
# Issue 12's benchmark: 50 logins (argon2id, OWASP cost) within one second
# while 1,000 viewers chat; compared with the same chat without logins.
# Usage: bench/logins.sh [RATE] [LOGINS]   (run from the repo, after
# `cargo build --release`; CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release")
rate=${1:-100}
logins=${2:-50}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cp bench.ron "$work/"
ulimit -n 20000
( cd "$work" && exec "$bin/chatsock" --config bench.ron --port 0 >server.out 2>server.err ) &
pid=$!
for _ in $(seq 50); do
  grep -q "Now running on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
addr=$(sed -n 's/^Now running on //p' "$work/server.out")
common=(--addr "$addr" -n 1000 -s 10 -m $((rate * 3 / 10)) --rate "$rate" --pid "$pid")
echo "== without logins: ${bin}/chatsock-bench fanout ${common[*]}"
"$bin/chatsock-bench" fanout "${common[@]}" --prefix a | grep -E "^RESULT|latency"
echo "== with $logins logins: ${bin}/chatsock-bench fanout ${common[*]} --logins $logins"
"$bin/chatsock-bench" fanout "${common[@]}" --prefix b --logins "$logins" | grep -E "^RESULT|latency|logins"
