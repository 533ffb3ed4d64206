#!/usr/bin/env bash
# Proves the benchmark works on a tiny workload: builds release, starts the
# server with bench.ron on free ports (plain, TLS, SSH), runs a small
# fanout (line and character mode, TLS, SSH), idle, handshake and stall
# run against it, stops the server. Timings are printed, never asserted.
# Exits non-zero if the server does not start or any run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --bins
. bench/lib.sh
bench_init ci-smoke
start --tls-port 0 --ssh-port 0
echo "ci-smoke: server $pid on $plain, TLS $tls, SSH $ssh"
cafile=$work/chatsock-cert.pem
run() { timeout 60 "$bin/chatsock-bench" "$@" --pid "$pid" --stall 10 --timeout 50; }

run fanout --addr "$plain" -n 20 -s 2 -m 50
# Character mode: clients answer the telnet offer; the server echoes.
run fanout --addr "$plain" -n 20 -s 2 -m 50 --char --prefix c
run idle --addr "$plain" -n 200 --prefix i --settle 0.2
# TLS and SSH: fan-out, idle and handshakes through their listeners.
run fanout --addr "$tls" --tls --cafile "$cafile" -n 20 -s 2 -m 50 --prefix t
run idle --addr "$tls" --tls --cafile "$cafile" -n 100 --prefix ti --settle 0.2
run handshake --addr "$tls" --cafile "$cafile" -n 200 --concurrency 10
run fanout --addr "$ssh" --ssh -n 20 -s 2 -m 50 --prefix s
run idle --addr "$ssh" --ssh -n 50 --prefix si --settle 0.2
run handshake --addr "$ssh" --ssh -n 20 --concurrency 5
run stall --addr "$plain" -n 5 -s 2 --rate 50 --prefix v

if ! kill -0 "$pid" 2>/dev/null; then
  echo "ci-smoke: the server died during the runs:" >&2
  tail -5 "$work/err" >&2
  exit 1
fi
echo "ci-smoke: ok"
