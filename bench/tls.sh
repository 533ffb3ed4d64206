#!/usr/bin/env bash
# The TLS measurements in BENCHMARKS.md (SPEC §10, issue 11), in one
# sitting, on the server built here (NEW=path: that binary). Each run gets
# a fresh server with bench.ron, a plain and a TLS listener on free ports,
# and a self-signed pair made in a temporary directory.
#
#   bash bench/tls.sh        about two minutes; run on an otherwise idle machine
#
# 1. fan-out, window mode, 1,000 chat-view clients (10 senders, 500
#    messages each): plain and TLS alternately, ROUNDS (3) rounds;
# 2. idle: IDLE_N (10,000) TLS clients, server RSS per client;
# 3. handshakes: HS_N (10,000) full handshakes, 50 at once;
# 4. plain chat latency while 500 handshakes/s arrive for 30 s: fanout
#    -n 100 -s 10 at 100 msgs/s, alone and under the handshake load.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cargo build --release --bins >&2
bin=${CARGO_TARGET_DIR:-target}/release
case $bin in /*) ;; *) bin=$root/$bin ;; esac
server=${NEW:-$bin/chatsock}
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
  ulimit -n "$(ulimit -Hn)"
  : >"$work/out"
  (cd "$work" && exec "$server" --config "$root/bench.ron" --port 0 --tls-port 0 >"$work/out" 2>/dev/null) &
  pid=$!
  for _ in $(seq 1 50); do
    plain=$(sed -n 's/^Now running on //p' "$work/out")
    tls=$(sed -n 's/^TLS on \([^,]*\),.*/\1/p' "$work/out")
    [ -n "$plain" ] && [ -n "$tls" ] && return 0
    sleep 0.1
  done
  echo "tls.sh: the server did not start" >&2
  exit 1
}
cafile() { echo "$work/chatsock-cert.pem"; }
bench() {
  echo "\$ chatsock-bench $*" | sed "s/$pid/PID/; s|$work|WORK|g; s/$tls/TLS_ADDR/; s/$plain/ADDR/" >&2
  timeout 300 "$bin/chatsock-bench" "$@" --pid "$pid" | grep --line-buffered '^RESULT'
}
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo -)"
: >"$work/results"
for round in $(seq 1 "${ROUNDS:-3}"); do
  echo "round $round" >&2
  start
  bench fanout --addr "$plain" -n 1000 -s 10 -m 500 | sed -u 's/^RESULT /RESULT transport=plain /' | tee -a "$work/results"
  stop
  start
  bench fanout --addr "$tls" --tls --cafile "$(cafile)" -n 1000 -s 10 -m 500 | sed -u 's/^RESULT /RESULT transport=tls /' | tee -a "$work/results"
  stop
done
start
bench idle --addr "$tls" --tls --cafile "$(cafile)" -n "${IDLE_N:-10000}" | sed -u 's/^RESULT /RESULT transport=tls /'
stop
start
bench handshake --addr "$tls" --cafile "$(cafile)" -n "${HS_N:-10000}" --concurrency 50
stop
for load in none 500; do
  start
  if [ "$load" != none ]; then
    "$bin/chatsock-bench" handshake --addr "$tls" --cafile "$(cafile)" -n 16000 --rate "$load" \
      --concurrency 1000 --pid "$pid" >"$work/hs" &
    hs=$!
    sleep 1
  fi
  bench fanout --addr "$plain" -n 100 -s 10 -m 300 --rate 100 | sed -u "s/^RESULT /RESULT handshakes_per_s=$load /"
  if [ "$load" != none ]; then
    wait "$hs" || true
    grep '^RESULT' "$work/hs" || echo "the handshake load did not finish" >&2
  fi
  stop
done
echo
echo "fan-out summary (one row per run, in the order run):"
awk '
  function get(k,   i, kv) {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] }
    return "-"
  }
  /^RESULT/ {
    if (!f++) printf "%-9s %10s %6s %9s %9s %9s %9s\n", "transport", "deliv/s", "lost", "p50_us", "p99_us", "cpu_s/M", "peak_kib"
    printf "%-9s %10s %6s %9s %9s %9s %9s\n", get("transport"), get("deliveries_per_s"), get("lost"), get("p50_us"), get("p99_us"), get("server_cpu_s_per_million"), get("server_peak_rss_kib")
  }
' "$work/results"
