#!/usr/bin/env bash
# Proves the benchmark works on a tiny workload: builds release, starts the
# server with bench.ron on a free port, runs a small fanout (line and
# character mode), a small idle and a small stall run against it, stops the
# server. Timings are printed, never asserted.
# Exits non-zero if the server does not start or any run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --bins
root=$PWD
bin=${CARGO_TARGET_DIR:-target}/release
case $bin in /*) ;; *) bin=$root/$bin ;; esac
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # A second signal ends the 5-second grace period at once.
    sleep 0.2
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

: >"$work/out"
# In the temporary directory: the TLS listener makes its self-signed pair there.
(cd "$work" && exec timeout 120 "$bin/chatsock" --config "$root/bench.ron" --port 0 --tls-port 0 \
  >"$work/out" 2>"$work/err") &
server_pid=$!

addr=
for _ in $(seq 1 100); do
  addr=$(sed -n 's/^Now running on //p' "$work/out")
  [ -n "$addr" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "ci-smoke: the server exited:" >&2
    cat "$work/err" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$addr" ]; then
  echo "ci-smoke: the server never printed 'Now running on'" >&2
  exit 1
fi
echo "ci-smoke: server $server_pid on $addr"

timeout 60 "$bin/chatsock-bench" fanout --addr "$addr" -n 20 -s 2 -m 50 \
  --pid "$server_pid" --stall 10 --timeout 50
# Character mode: clients answer the telnet offer; the server echoes.
timeout 60 "$bin/chatsock-bench" fanout --addr "$addr" -n 20 -s 2 -m 50 --char --prefix c \
  --pid "$server_pid" --stall 10 --timeout 50
timeout 60 "$bin/chatsock-bench" idle --addr "$addr" -n 200 --prefix i \
  --pid "$server_pid" --settle 0.2 --stall 10 --timeout 50
# TLS: fan-out, idle and handshakes through the TLS listener.
tls=$(sed -n 's/^TLS on \([^,]*\),.*/\1/p' "$work/out")
timeout 60 "$bin/chatsock-bench" fanout --addr "$tls" --tls --cafile "$work/chatsock-cert.pem" \
  -n 20 -s 2 -m 50 --prefix t --pid "$server_pid" --stall 10 --timeout 50
timeout 60 "$bin/chatsock-bench" idle --addr "$tls" --tls --cafile "$work/chatsock-cert.pem" \
  -n 100 --prefix ti --pid "$server_pid" --settle 0.2 --stall 10 --timeout 50
timeout 60 "$bin/chatsock-bench" handshake --addr "$tls" --cafile "$work/chatsock-cert.pem" \
  -n 200 --concurrency 10 --pid "$server_pid" --stall 10 --timeout 50
timeout 60 "$bin/chatsock-bench" stall --addr "$addr" -n 5 -s 2 --rate 50 --prefix v \
  --pid "$server_pid" --stall 10 --timeout 50

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "ci-smoke: the server died during the runs:" >&2
  tail -5 "$work/err" >&2
  exit 1
fi
echo "ci-smoke: ok"
