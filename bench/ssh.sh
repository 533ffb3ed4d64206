#!/usr/bin/env bash
# The SSH measurements in BENCHMARKS.md (SPEC §12, issue 13), in one
# sitting, on the server built here (NEW=path: that binary). Each run gets
# a fresh server with bench.ron, a plain and an SSH listener on free ports,
# and a host key made in a temporary directory. The SSH clients are
# chatsock-bench's own (sunset's client side: publickey login, a shell
# without a pty, so the server's terminal is in line mode like a default
# plain client's).
#
#   bash bench/ssh.sh        a few minutes; run on an otherwise idle machine
#
# 1. fan-out, window mode, 1,000 chat-view clients (10 senders, 500
#    messages each): plain and SSH alternately, ROUNDS (3) rounds;
# 2. idle: IDLE_N (2,000) SSH clients, server RSS per client;
# 3. handshakes: HS_N (5,000) full SSH logins (TCP, key exchange,
#    publickey login, channel, shell, the first byte of the session),
#    CONC (20) at once.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins >&2
. bench/lib.sh
bench_init ssh.sh
machine
: >"$work/results"
for round in $(seq 1 "${ROUNDS:-3}"); do
  echo "round $round" >&2
  start --ssh-port 0
  bench fanout --addr "$plain" -n 1000 -s 10 -m 500 | sed -u 's/^RESULT /RESULT transport=plain /' | tee -a "$work/results"
  stop
  start --ssh-port 0
  bench fanout --addr "$ssh" --ssh -n 1000 -s 10 -m 500 | sed -u 's/^RESULT /RESULT transport=ssh /' | tee -a "$work/results"
  stop
done
start --ssh-port 0
bench idle --addr "$ssh" --ssh -n "${IDLE_N:-2000}" | sed -u 's/^RESULT /RESULT transport=ssh /'
stop
start --ssh-port 0
bench idle --addr "$plain" -n "${IDLE_N:-2000}" | sed -u 's/^RESULT /RESULT transport=plain /'
stop
start --ssh-port 0
bench handshake --addr "$ssh" --ssh -n "${HS_N:-5000}" --concurrency "${CONC:-20}"
stop
fanout_summary "$work/results"
