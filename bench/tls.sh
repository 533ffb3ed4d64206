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
cargo build --release --bins >&2
. bench/lib.sh
bench_init tls.sh
machine
: >"$work/results"
for round in $(seq 1 "${ROUNDS:-3}"); do
  echo "round $round" >&2
  start --tls-port 0
  bench fanout --addr "$plain" -n 1000 -s 10 -m 500 | sed -u 's/^RESULT /RESULT transport=plain /' | tee -a "$work/results"
  stop
  start --tls-port 0
  bench fanout --addr "$tls" --tls --cafile "$work/chatsock-cert.pem" -n 1000 -s 10 -m 500 | sed -u 's/^RESULT /RESULT transport=tls /' | tee -a "$work/results"
  stop
done
start --tls-port 0
bench idle --addr "$tls" --tls --cafile "$work/chatsock-cert.pem" -n "${IDLE_N:-10000}" | sed -u 's/^RESULT /RESULT transport=tls /'
stop
start --tls-port 0
bench handshake --addr "$tls" --cafile "$work/chatsock-cert.pem" -n "${HS_N:-10000}" --concurrency 50
stop
for load in none 500; do
  start --tls-port 0
  if [ "$load" != none ]; then
    "$bin/chatsock-bench" handshake --addr "$tls" --cafile "$work/chatsock-cert.pem" -n 16000 --rate "$load" \
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
fanout_summary "$work/results"
