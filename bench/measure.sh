#!/usr/bin/env bash
# The measurements in BENCHMARKS.md, end to end: builds release, then for
# each run starts a fresh server with bench.ron on a free port, runs
# chatsock-bench against it and stops the server. Prints the machine, the
# RESULT lines and the idle wake-up count. Takes about three and a half
# minutes. Needs strace for the wake-up count; run it on an otherwise idle
# machine.
#
#   bash bench/measure.sh                 everything below, against the server
#                                         built here (NEW=path: that binary)
#   OLD=path NEW=path bash bench/measure.sh compare
#                                         before and after in one sitting:
#                                         ROUNDS (3) rounds, each running old
#                                         and new alternately: fanout -n 1000
#                                         -s 10 -m 500 --rate 1000 (line mode
#                                         on both, then --char on new), idle
#                                         -n 10000; then a table of the runs.
#                                         About a minute and a half.
#                                         FANOUT_ARGS="-n ... -s ... -m ...
#                                         [--rate R]" and IDLE_N=N change the
#                                         sizes (a quick check of the script).
#
# Servers are given as paths to release binaries (e.g. copied aside before
# a change); chatsock-bench is always the one built here. Runs on a fresh
# server each, with `ulimit -n` raised to the hard limit.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case $what in
  all | compare) ;;
  *)
    echo "usage: bash bench/measure.sh [compare]   (compare needs OLD=path NEW=path)" >&2
    exit 2
    ;;
esac
bin=${CARGO_TARGET_DIR:-target}/release
if [ "$what" = compare ]; then
  : "${OLD:?compare needs OLD=path to the old server binary}" "${NEW:?compare needs NEW=path to the new server binary}"
  for b in "$OLD" "$NEW"; do
    [ -x "$b" ] || { echo "measure: $b is not an executable" >&2; exit 2; }
  done
  cargo build --release --bin chatsock-bench >&2
elif [ -n "${NEW:-}" ]; then
  [ -x "$NEW" ] || { echo "measure: $NEW is not an executable" >&2; exit 2; }
  cargo build --release --bin chatsock-bench >&2
else
  cargo build --release --bins >&2
fi
. bench/lib.sh
bench_init measure.sh
machine
echo "open files: soft $(ulimit -n) hard $(ulimit -Hn); ephemeral ports $(cat /proc/sys/net/ipv4/ip_local_port_range | tr '\t' -)"
describe() { # LABEL BIN
  echo "$1 server: $2, $(stat -c %s "$2") bytes, sha256 $(sha256sum "$2" | cut -c1-12), built $(date -r "$2" '+%F %T')"
}

if [ "$what" = compare ]; then
  describe old "$OLD"
  describe new "$NEW"
  hard=$(ulimit -Hn)
  idle_n=${IDLE_N:-10000}
  read -r -a fanout_args <<<"${FANOUT_ARGS:--n 1000 -s 10 -m 500 --rate 1000}"
  if [ "$idle_n" -gt $((hard - 100)) ]; then
    idle_n=$((hard - 100))
    echo "note: the hard open-file limit is $hard: idle runs capped at $idle_n clients"
  fi
  # run LABEL BIN ARGS...: one run on a fresh server; its RESULT line gets
  # server=LABEL after the word RESULT.
  run() {
    local label=$1 b=$2
    shift 2
    start "$b"
    bench "$@" --addr "$addr" | sed -u "s/^RESULT /RESULT server=$label /" | tee -a "$work/results"
    stop
  }
  : >"$work/results"
  for round in $(seq 1 "${ROUNDS:-3}"); do
    echo "round $round" >&2
    for label in old new; do
      if [ $label = old ]; then b=$OLD; else b=$NEW; fi
      run $label "$b" fanout "${fanout_args[@]}"
    done
    run new "$NEW" fanout "${fanout_args[@]}" --char
    for label in old new; do
      if [ $label = old ]; then b=$OLD; else b=$NEW; fi
      run $label "$b" idle -n "$idle_n"
    done
  done
  echo
  echo "summary (one row per run, in the order run):"
  awk '
    function get(k,   i, kv) {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] }
      return "-"
    }
    /^RESULT/ && get("mode") == "fanout" {
      if (!f++) printf "%-6s %-5s %10s %6s %9s %9s %9s %9s %9s %9s %9s\n", "server", "term", "deliv/s", "lost", "p50_us", "p99_us", "B/deliv", "B/viewer", "B/sender", "cpu_s/M", "peak_kib"
      printf "%-6s %-5s %10s %6s %9s %9s %9s %9s %9s %9s %9s\n", get("server"), get("term"), get("deliveries_per_s"), get("lost"), get("p50_us"), get("p99_us"), get("bytes_per_delivery"), get("viewer_bytes_per_delivery"), get("sender_bytes_per_delivery"), get("server_cpu_s_per_million"), get("server_peak_rss_kib")
    }
  ' "$work/results"
  echo
  awk '
    function get(k,   i, kv) {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] }
      return "-"
    }
    /^RESULT/ && get("mode") == "idle" {
      if (!f++) printf "%-6s %8s %8s %12s %12s %16s\n", "server", "clients", "login_s", "rss_before", "rss_kib", "bytes/client"
      printf "%-6s %8s %8s %12s %12s %16s\n", get("server"), get("clients"), get("login_s"), get("server_rss_before_kib"), get("server_rss_kib"), get("server_rss_per_client_bytes")
    }
  ' "$work/results"
  exit 0
fi

[ -n "${NEW:-}" ] && describe server "$NEW"
ls -l "$server" | awk '{print "stripped binary: " $5 " bytes"}'

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
# Character mode: every client answered the telnet offer; the server echoes
# what the senders type (viewer_bytes_per_delivery is the chat-view update
# alone).
start
bench fanout --addr "$addr" -n 1000 -s 10 -m 500 --rate 1000 --char
stop
start
bench fanout --addr "$addr" -n 1000 -s 10 -m 100 --rate 100 --char
stop

hard=$(ulimit -Hn)
for n in 10000 100000; do
  if [ "$n" -gt $((hard - 100)) ]; then
    n=$((hard - 100))
    echo "note: the hard open-file limit is $hard: idle run capped at $n clients"
  fi
  start
  # Emptied first: the loop below must not find the previous run's RESULT
  # before this run's bench has opened (and truncated) the file.
  : >"$work/idle"
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
