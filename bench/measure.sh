#!/usr/bin/env bash
# The measurements in BENCHMARKS.md, end to end: builds release, then for
# each run starts a fresh server with bench.ron on a free port, runs
# chatsock-bench against it and stops the server. Prints the machine, the
# RESULT lines and the idle wake-up count. Takes about three minutes.
# Needs strace for the wake-up count; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins >&2
bin=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d)
pid=
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"; sleep 0.2; kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=
}
trap 'stop; rm -rf "$work"' EXIT
start() {
  # The server needs a descriptor per client: as many as the hard limit allows.
  ulimit -n "$(ulimit -Hn)"
  : >"$work/out"
  "$bin/chatsock" --config bench.ron --port 0 >"$work/out" 2>/dev/null &
  pid=$!
  for _ in $(seq 1 50); do
    addr=$(sed -n 's/^Now running on //p' "$work/out")
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "measure: the server did not start" >&2
  exit 1
}
bench() { echo "\$ chatsock-bench $*" | sed "s/$pid/PID/; s/$addr/ADDR/" >&2; timeout 300 "$bin/chatsock-bench" "$@" --pid "$pid" | grep --line-buffered '^RESULT'; }

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
if git rev-parse --git-dir >/dev/null 2>&1; then
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml || echo ' (with uncommitted changes in src)')"
fi
echo "open files: soft $(ulimit -n) hard $(ulimit -Hn); ephemeral ports $(cat /proc/sys/net/ipv4/ip_local_port_range | tr '\t' -)"
ls -l "$bin/chatsock" | awk '{print "stripped binary: " $5 " bytes"}'

for rate in 1000 1200 1500 2000; do
  start
  bench fanout --addr "$addr" -n 1000 -s 10 -m $((rate / 2)) --rate "$rate"
  stop
done
start
bench fanout --addr "$addr" -n 1000 -s 10 -m 1000
stop
for _ in 1 2 3; do
  start
  bench fanout --addr "$addr" -n 1000 -s 10 -m 100 --rate 100
  stop
done

hard=$(ulimit -Hn)
for n in 10000 100000; do
  if [ "$n" -gt $((hard - 100)) ]; then
    n=$((hard - 100))
    echo "note: the hard open-file limit is $hard: idle run capped at $n clients"
  fi
  start
  bench idle --addr "$addr" -n "$n" --hold 14 >"$work/idle" &
  bpid=$!
  while ! grep -q RESULT "$work/idle" 2>/dev/null; do
    kill -0 "$bpid" 2>/dev/null || { cat "$work/idle"; exit 1; }
    sleep 0.2
  done
  cat "$work/idle"
  if command -v strace >/dev/null; then
    # A wake-up is an epoll_wait that returns; the one in progress when
    # strace attaches shows as "<detached ...>" when it never returns.
    timeout -s INT 10 strace -f -o "$work/strace" -p "$pid" 2>/dev/null || true
    echo "idle wake-ups in 10 s with $n clients: $(grep -c 'epoll_wait.*= ' "$work/strace" || true)" \
      "($(grep -c . "$work/strace") syscall lines)"
  fi
  wait "$bpid"
  stop
done
